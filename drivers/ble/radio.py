"""The radio under our bleak backend: a Bumble host ``Device`` acting as the BLE central.

Two ways to get one:

* :func:`open_virtual_radio` / :func:`virtual_radio` — an in-process virtual radio: a
  :class:`bumble.link.LocalLink` (the "air") with one :class:`VirtualController` for the central.
  :class:`~drivers.ble.peripheral.SimulatedPeripheral` adds its own controller to the same link, so
  simulated sensors are real GATT servers reached over real HCI/L2CAP/ATT code paths. Time on the
  link is wall-clock time (advertising intervals, timers): it cannot be accelerated.
* :func:`open_hci_radio` — the same host over an external HCI transport given as a Bumble transport
  spec (``usb:0``, ``serial:/dev/ttyACM0``, ``tcp-client:127.0.0.1:9001`` ...): a USB dongle or a
  controller simulated in another process.

One :class:`Radio` serves the whole application: it multiplexes every scanner onto one Bumble scan
(reference counted) and keeps the last advertisement of every address it saw, so a client can connect
by address string. Create it inside the event loop that will run it, and keep that loop for the radio's
lifetime (Bumble's controllers and hosts bind to the running loop).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bumble import hci
from bumble.controller import Controller
from bumble.device import Advertisement, Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport as bumble_open_transport
from bumble.transport.common import AsyncPipeSink, Transport

from drivers.ble.errors import BleTransportError

logger = logging.getLogger(__name__)

#: Random static address of the central on the virtual radio (two top bits set, as the spec requires).
CENTRAL_ADDRESS = "C0:00:00:00:00:01"
#: The central's ATT MTU request: 247 is what phones and recent BlueZ/WinRT/CoreBluetooth ask for.
DEFAULT_CENTRAL_MTU = 247

AdvertisementListener = Callable[[Advertisement], None]


class VirtualController(Controller):
    """Bumble's in-process controller with the create-connection cancel implemented.

    Bumble's :class:`~bumble.controller.Controller` answers *LE Create Connection Cancel* with success
    but leaves the connection pending and never reports its end, so a timed-out connect would hang the
    host forever and block every later connect. A real controller (Core spec Vol 4, Part E, 7.8.13)
    drops the pending connection and sends an *LE Connection Complete* event with status
    *Unknown Connection Identifier*; this subclass does exactly that.
    """

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        # The completion event must follow the command's own Command Complete.
        asyncio.get_running_loop().call_soon(
            self.send_hci_packet,
            hci.HCI_LE_Connection_Complete_Event(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=pending.peer_address_type,
                peer_address=pending.peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            ),
        )
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


class Radio:
    """A powered-on Bumble central, shared by every scanner and client of the application.

    Attributes
    ----------
    central : bumble.device.Device
        The host-side Bumble device that scans and connects.
    link : LocalLink or None
        The virtual air when the radio is virtual; ``None`` on an external HCI transport.
    central_mtu : int
        ATT MTU the clients request after connecting (bytes, 23..517).
    """

    def __init__(
        self,
        central: Device,
        *,
        link: LocalLink | None,
        hci_transport: Transport | None = None,
        description: str,
        central_mtu: int = DEFAULT_CENTRAL_MTU,
    ) -> None:
        self.central = central
        self.link = link
        self.description = description
        self.central_mtu = central_mtu
        self._hci_transport = hci_transport
        self._scan_users = 0
        self._scan_lock = asyncio.Lock()
        self._listeners: dict[int, AdvertisementListener] = {}
        self._listener_ids = itertools.count()
        self._peripheral_addresses = itertools.count(1)
        self._peripheral_controllers: dict[int, tuple[Device, Controller]] = {}
        #: Last advertisement seen per address string (``"F0:00:00:00:00:01"``), for connect-by-address.
        self.last_advertisements: dict[str, Advertisement] = {}
        #: True while a client's LE connection attempt is pending (one at a time per controller).
        self.connect_pending = False
        self.closed = False
        central.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)

    # ------------------------------------------------------------------ description
    @property
    def is_virtual(self) -> bool:
        """True for the in-process virtual radio (simulated peripherals can join it)."""
        return self.link is not None

    def __repr__(self) -> str:
        return f"Radio({self.description})"

    # ------------------------------------------------------------------ scanning
    def add_advertisement_listener(self, listener: AdvertisementListener) -> Callable[[], None]:
        """Call ``listener(advertisement)`` for every advertisement the central receives.

        Returns a function that removes the listener.
        """
        key = next(self._listener_ids)
        self._listeners[key] = listener

        def remove() -> None:
            self._listeners.pop(key, None)

        return remove

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        self.last_advertisements[address_string(advertisement.address)] = advertisement
        for listener in list(self._listeners.values()):
            listener(advertisement)

    async def acquire_scan(self, *, active: bool = True) -> None:
        """Start the central's scan unless another user already started it (reference counted)."""
        async with self._scan_lock:
            if self._scan_users == 0:
                await self.central.start_scanning(active=active, filter_duplicates=False)
            self._scan_users += 1

    async def release_scan(self) -> None:
        """Stop the central's scan when its last user releases it."""
        async with self._scan_lock:
            if self._scan_users == 0:
                return
            self._scan_users -= 1
            if self._scan_users == 0 and not self.closed:
                await self.central.stop_scanning()

    async def find_advertisement(self, address: str, timeout: float) -> Advertisement | None:
        """The latest advertisement from ``address`` (case-insensitive), scanning up to ``timeout`` s."""
        wanted = address.upper()
        if (known := self.last_advertisements.get(wanted)) is not None:
            return known
        found: asyncio.Future[Advertisement] = asyncio.get_running_loop().create_future()

        def listener(advertisement: Advertisement) -> None:
            if address_string(advertisement.address) == wanted and not found.done():
                found.set_result(advertisement)

        remove = self.add_advertisement_listener(listener)
        await self.acquire_scan()
        try:
            return await asyncio.wait_for(found, timeout)
        except TimeoutError:
            return None
        finally:
            remove()
            await self.release_scan()

    # ------------------------------------------------------------------ virtual peripherals
    def new_peripheral_device(self, name: str) -> Device:
        """A new, not yet powered, Bumble device on its own controller on this virtual link.

        Raises :class:`BleTransportError` on an external HCI radio (its air is real, not ours).
        """
        if self.link is None:
            raise BleTransportError(
                f"radio: simulated peripherals need the virtual radio, this one is {self.description}; "
                "open it with open_virtual_radio() or the 'virtual' transport"
            )
        index = next(self._peripheral_addresses)
        if index > 0xFFFF:
            raise BleTransportError("radio: more than 65535 simulated peripherals; reuse a radio less")
        address = hci.Address(f"F0:00:00:00:{index >> 8:02X}:{index & 0xFF:02X}", hci.Address.RANDOM_DEVICE_ADDRESS)
        controller = VirtualController(f"peripheral-{index}", link=self.link)
        device = Device(name=name, address=address, host=Host(controller, AsyncPipeSink(controller)))
        self._peripheral_controllers[id(device)] = (device, controller)
        return device

    def remove_peripheral_device(self, device: Device) -> None:
        """Take a peripheral's controller off the virtual air (after its links were closed)."""
        entry = self._peripheral_controllers.pop(id(device), None)
        if entry is not None and self.link is not None and entry[1] in self.link.controllers:
            self.link.remove_controller(entry[1])

    def drop_links(self, device: Device, reason: int = hci.HCI_CONNECTION_TIMEOUT_ERROR) -> int:
        """Cut every LE link of the virtual ``device`` as a radio would lose them.

        Both ends get *Disconnection Complete* with ``reason`` (default 0x08, connection timeout — what a
        central reports when the peripheral falls silent), without any LL_TERMINATE exchange. Returns the
        number of links cut.
        """
        entry = self._peripheral_controllers.get(id(device))
        if self.link is None or entry is None:
            raise BleTransportError("radio: only links of a simulated peripheral on the virtual radio can be cut")
        controller = entry[1]
        cut = 0
        for peer_address, connection in list(controller.le_connections.items()):
            peer = self.link.find_le_controller(peer_address)
            if peer is not None and (peer_connection := peer.le_connections.get(connection.self_address)):
                peer.on_le_disconnected(peer_connection, reason)
            controller.on_le_disconnected(connection, reason)
            cut += 1
        return cut

    # ------------------------------------------------------------------ lifetime
    async def close(self) -> None:
        """Stop scanning, disconnect everything, power the central off and close an HCI transport."""
        if self.closed:
            return
        try:
            if self._scan_users and self.central.is_scanning:
                await self.central.stop_scanning()
            for connection in list(self.central.connections.values()):
                try:
                    await asyncio.wait_for(connection.disconnect(), 2.0)
                except (TimeoutError, hci.HCI_Error) as error:
                    logger.debug("radio close: disconnect %s failed: %s", connection, error)
            await self.central.power_off()
        finally:
            self.closed = True
            self._scan_users = 0
            for device, _controller in list(self._peripheral_controllers.values()):
                self.remove_peripheral_device(device)
            if self._hci_transport is not None:
                await self._hci_transport.close()

    async def __aenter__(self) -> Radio:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def address_string(address: hci.Address) -> str:
    """Bluetooth address as bleak shows it: ``"F0:00:00:00:00:01"`` (no type suffix)."""
    return address.to_string(with_type_qualifier=False)


async def open_virtual_radio(*, central_mtu: int = DEFAULT_CENTRAL_MTU) -> Radio:
    """Create the in-process virtual air and power on a central on it."""
    link = LocalLink()
    controller = VirtualController("central", link=link)
    central = Device(
        name="Kinetics",
        address=hci.Address(CENTRAL_ADDRESS, hci.Address.RANDOM_DEVICE_ADDRESS),
        host=Host(controller, AsyncPipeSink(controller)),
    )
    await central.power_on()
    return Radio(central, link=link, description="virtual radio", central_mtu=central_mtu)


async def open_hci_radio(spec: str, *, central_mtu: int = DEFAULT_CENTRAL_MTU) -> Radio:
    """Power on a central over an external HCI controller named by a Bumble transport spec.

    ``spec`` examples: ``usb:0`` (first USB dongle), ``serial:/dev/ttyACM0`` (HCI over UART),
    ``tcp-client:127.0.0.1:9001`` (a controller simulated in another process), ``hci-socket:0`` (Linux).
    """
    try:
        hci_transport = await bumble_open_transport(spec)
    except Exception as error:  # Bumble raises many types here (spec, OS, USB errors).
        raise BleTransportError(
            f"transport: cannot open Bumble HCI transport {spec!r} ({error}); "
            "check the spec (usb:0, serial:/dev/ttyACM0, tcp-client:HOST:PORT) and that the device is free"
        ) from error
    central = Device.with_hci(
        "Kinetics",
        hci.Address(CENTRAL_ADDRESS, hci.Address.RANDOM_DEVICE_ADDRESS),
        hci_transport.source,
        hci_transport.sink,
    )
    try:
        await central.power_on()
    except Exception as error:
        await hci_transport.close()
        raise BleTransportError(
            f"transport: the controller on {spec!r} did not answer the HCI reset ({error}); "
            "check that it is an HCI controller and not in use by the operating system's stack"
        ) from error
    return Radio(central, link=None, hci_transport=hci_transport, description=f"HCI {spec}", central_mtu=central_mtu)


class ServedController:
    """A virtual controller on a radio's air, reachable by another host over an HCI transport.

    Made by :func:`serve_hci`; :meth:`close` takes it off the air and closes the transport.
    """

    def __init__(self, radio: Radio, controller: VirtualController, hci_transport: Transport, spec: str) -> None:
        self.radio = radio
        self.controller = controller
        self.hci_transport = hci_transport
        self.spec = spec

    async def close(self) -> None:
        link = self.radio.link
        if link is not None and self.controller in link.controllers:
            link.remove_controller(self.controller)
        await self.hci_transport.close()
        # Bumble's TCP/WebSocket server transports keep their listening server outside close().
        server = getattr(self.hci_transport, "server", None)
        if server is not None:
            server.close()
            await server.wait_closed()

    async def __aenter__(self) -> ServedController:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def serve_hci(radio: Radio, spec: str) -> ServedController:
    """Expose a new virtual controller on ``radio``'s air through a Bumble server-side transport.

    ``spec`` is e.g. ``tcp-server:127.0.0.1:9001`` (or ``pty:/tmp/ble`` on Unix). A host in another
    process that opens the matching client spec (``tcp-client:127.0.0.1:9001``) sees the simulated
    peripherals of ``radio`` as if they were in radio range of a dongle: this is how
    ``--transport SPEC`` is exercised without hardware.
    """
    if radio.link is None:
        raise BleTransportError(
            f"radio: only the virtual radio's air can be served, this one is {radio.description}; "
            "serve a radio from open_virtual_radio()"
        )
    try:
        hci_transport = await bumble_open_transport(spec)
    except Exception as error:  # Bumble raises many types here (spec, OS errors).
        raise BleTransportError(
            f"transport: cannot open {spec!r} to serve the virtual controller ({error}); "
            "use a server spec such as tcp-server:127.0.0.1:9001 and a free port"
        ) from error
    controller = VirtualController(
        f"served-{spec}", host_source=hci_transport.source, host_sink=hci_transport.sink, link=radio.link
    )
    return ServedController(radio, controller, hci_transport, spec)


@asynccontextmanager
async def virtual_radio(*, central_mtu: int = DEFAULT_CENTRAL_MTU) -> AsyncIterator[Radio]:
    """``async with virtual_radio() as radio:`` — a virtual radio closed on exit (tests, demos)."""
    radio = await open_virtual_radio(central_mtu=central_mtu)
    try:
        yield radio
    finally:
        await radio.close()
