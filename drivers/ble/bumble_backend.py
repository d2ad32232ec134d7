"""A bleak backend over Bumble: ``BleakScanner(backend=BumbleScanner, radio=radio)`` and
``BleakClient(device, backend=BumbleClient, radio=radio)``.

Application code stays plain bleak; only the ``backend=`` class and the ``radio=`` keyword (which bleak
passes through to the backend) differ from the operating-system stack. :mod:`drivers.ble.transport`
builds both for you from a transport spec.

Behaviour follows the OS backends where they agree:

* scanning reports the merged advertising data (name, service UUIDs as 128-bit strings, manufacturer and
  service data, TX power, RSSI) and honours ``service_uuids`` filtering;
* ``connect()`` exchanges the MTU (the radio's ``central_mtu``, 247 by default) and discovers services,
  characteristics and descriptors (only the ``services=`` given, when given);
* ``disconnected_callback`` runs on every disconnection after a completed connect, requested or not
  (as with BlueZ, WinRT and CoreBluetooth);
* a second ``connect()`` while one is pending on the same radio fails with "operation already in
  progress", like BlueZ — serialise connects with one lock (see ``docs/ble-transports.md``);
* ATT error responses raise :class:`bleak.exc.BleakGATTProtocolError`; a link lost during a request
  raises :class:`bleak.exc.BleakError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES, CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str
from bumble import att, core, hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement, Connection, Peer
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR
from bumble.gatt_client import CharacteristicProxy

from drivers.ble.errors import BleTransportError
from drivers.ble.radio import Radio, address_string

logger = logging.getLogger(__name__)

__all__ = ["BumbleClient", "BumbleScanner", "advertisement_data", "bound_client", "bound_scanner", "uuid_string"]


# Keeps fire-and-forget clean-up tasks alive until they finish.
_background_tasks: set[asyncio.Task[None]] = set()


def uuid_string(uuid: UUID) -> str:
    """A Bumble UUID as bleak writes UUIDs: lower-case 128-bit ``"0000180f-0000-1000-8000-00805f9b34fb"``."""
    return normalize_uuid_str(uuid.to_hex_str("-"))


def _require_radio(radio: Radio | None, what: str) -> Radio:
    if radio is None:
        raise BleTransportError(
            f"{what}: the Bumble backend needs radio=<Radio>; get backend and kwargs from "
            "drivers.ble.transport.open_transport(spec)"
        )
    if radio.closed:
        raise BleTransportError(f"{what}: {radio.description} is closed; open a new transport")
    return radio


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """Convert one Bumble advertisement (advertising + scan response data merged) to bleak's form."""
    data: AdvertisingData = advertisement.data
    name = data.get(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.Type.SHORTENED_LOCAL_NAME)
    t = AdvertisingData.Type
    uuid_lists: list[list[UUID]] = [
        *data.get_all(t.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS),
        *data.get_all(t.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS),
        *data.get_all(t.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS),
        *data.get_all(t.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS),
        *data.get_all(t.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS),
        *data.get_all(t.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS),
    ]
    service_uuids: list[str] = []
    for uuids in uuid_lists:
        for uuid in uuids:
            text = uuid_string(uuid)
            if text not in service_uuids:  # scan responses repeat entries
                service_uuids.append(text)
    manufacturer_data: dict[int, bytes] = {}
    for company, payload in data.get_all(t.MANUFACTURER_SPECIFIC_DATA):
        manufacturer_data.setdefault(company, bytes(payload))
    service_data_entries: list[tuple[UUID, bytes]] = [
        *data.get_all(t.SERVICE_DATA_16_BIT_UUID),
        *data.get_all(t.SERVICE_DATA_32_BIT_UUID),
        *data.get_all(t.SERVICE_DATA_128_BIT_UUID),
    ]
    service_data: dict[str, bytes] = {}
    for uuid, payload in service_data_entries:
        service_data.setdefault(uuid_string(uuid), bytes(payload))
    tx_power = data.get(AdvertisingData.Type.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend over a :class:`~drivers.ble.radio.Radio` (keyword ``radio=``).

    Several scanners on one radio share one Bumble scan; each sees every advertisement.
    :func:`bound_scanner` makes a subclass that needs no ``radio=`` (for bleak's typed class methods).
    """

    bound_radio: ClassVar[Radio | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        radio: Radio | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._radio = _require_radio(radio or self.bound_radio, "BumbleScanner")
        self._active = scanning_mode != "passive"
        self._remove_listener: Callable[[], None] | None = None
        if service_uuids:
            # bleak compares advertised UUIDs with these strings: use its normal form.
            self._service_uuids = [normalize_uuid_str(u) for u in service_uuids]

    async def start(self) -> None:
        if self._remove_listener is not None:
            return
        self.seen_devices = {}
        self._remove_listener = self._radio.add_advertisement_listener(self._on_advertisement)
        try:
            await self._radio.acquire_scan(active=self._active)
        except Exception:
            self._remove_listener()
            self._remove_listener = None
            raise

    async def stop(self) -> None:
        if self._remove_listener is None:
            return
        self._remove_listener()
        self._remove_listener = None
        await self._radio.release_scan()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        adv = advertisement_data(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = address_string(advertisement.address)
        device = self.create_or_update_device(address, address, adv.local_name, advertisement.address, adv)
        self.call_detection_callbacks(device, adv)


class BumbleClient(BaseBleakClient):
    """bleak client backend over a :class:`~drivers.ble.radio.Radio` (keyword ``radio=``).

    Create a new ``BleakClient`` for every connection (bleak's rule for all backends).
    :func:`bound_client` makes a subclass that needs no ``radio=``.
    """

    bound_radio: ClassVar[Radio | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        services: set[str] | None = None,
        radio: Radio | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._radio = _require_radio(radio or self.bound_radio, "BumbleClient")
        self._ble_device = address_or_ble_device if isinstance(address_or_ble_device, BLEDevice) else None
        self._service_filter = services
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._connect_complete = False
        self._subscribers: dict[int, Callable[[bytes], None]] = {}
        self._disconnected = asyncio.Event()

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        if self._ble_device is not None and self._ble_device.name:
            return self._ble_device.name
        advertisement = self._radio.last_advertisements.get(self.address.upper())
        if advertisement is not None:
            local_name = advertisement_data(advertisement).local_name
            if local_name:
                return local_name
        return self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU in bytes (23 before/without an exchange)."""
        if self._connection is None:
            return att.ATT_DEFAULT_MTU
        return int(self._connection.att_mtu)

    @property
    def is_connected(self) -> bool:
        return self._connection is not None and self._connect_complete

    # ------------------------------------------------------------------ connection
    async def _resolve_address(self) -> hci.Address:
        details = self._ble_device.details if self._ble_device is not None else None
        if isinstance(details, hci.Address):
            return details
        advertisement = await self._radio.find_advertisement(self.address, self._timeout)
        if advertisement is None:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found by {self._radio.description}"
            )
        return advertisement.address

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if self.is_connected:
            return
        if pair:
            logger.info("BumbleClient: pairing is not needed by the simulated/open sensors; ignored")
        central = self._radio.central
        address = await self._resolve_address()
        # One LE connection attempt at a time per controller. BlueZ answers a second one with
        # "operation already in progress"; Bumble's host would corrupt its state, so refuse it here.
        if self._radio.connect_pending or central.is_le_connecting:
            raise BleakError(f"{self.address}: operation already in progress (another connect is pending)")
        self._radio.connect_pending = True
        try:
            # Bumble's own timeout cancels the pending LE connection in the controller; an outer
            # asyncio timeout would leave it pending and block every later connect.
            connection = await central.connect(address, transport=core.PhysicalTransport.LE, timeout=self._timeout)
        except core.TimeoutError as error:
            raise TimeoutError(f"{self.address}: no connection within {self._timeout} s") from error
        except core.InvalidStateError as error:
            raise BleakError(f"{self.address}: operation already in progress ({error})") from error
        except core.ConnectionError as error:
            raise BleakError(f"{self.address}: connection failed ({error})") from error
        except hci.HCI_Error as error:
            raise BleakError(f"{self.address}: the controller refused to connect ({error})") from error
        except asyncio.CancelledError:
            self._cancel_pending_connection()
            raise
        finally:
            self._radio.connect_pending = False
        self._connection = connection
        self._disconnected = asyncio.Event()
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            async with asyncio.timeout(self._timeout):
                peer = Peer(connection)
                if self._radio.central_mtu > att.ATT_DEFAULT_MTU:
                    await peer.request_mtu(self._radio.central_mtu)
                await self._discover(peer)
        except BaseException:
            await self._abort_connection()
            raise
        self._peer = peer
        self._connect_complete = True

    def _cancel_pending_connection(self) -> None:
        """Tell the controller to drop a connection attempt our cancelled task left pending."""

        async def cancel() -> None:
            try:
                await self._radio.central.send_sync_command(hci.HCI_LE_Create_Connection_Cancel_Command())
            except hci.HCI_Error as error:  # nothing was pending any more
                logger.debug("cancel pending connection to %s: %s", self.address, error)

        task = asyncio.get_running_loop().create_task(cancel())
        _background_tasks.add(task)
        task.add_done_callback(_background_tasks.discard)

    async def _abort_connection(self) -> None:
        connection = self._connection
        self._connection = None
        if connection is not None and connection.handle in self._radio.central.connections:
            try:
                await asyncio.wait_for(connection.disconnect(), 2.0)
            except (TimeoutError, hci.HCI_Error) as error:
                logger.debug("abort connection to %s: %s", self.address, error)

    async def _discover(self, peer: Peer) -> None:
        uuids = [UUID(u) for u in sorted(self._service_filter)] if self._service_filter else []
        # Bumble's peer keeps every service it met; the filtered list is the return value.
        services = await peer.discover_services(uuids)
        collection = BleakGATTServiceCollection()
        for service in services:
            await peer.discover_characteristics(service=service)
            bleak_service = BleakGATTService(service, service.handle, uuid_string(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                await peer.discover_descriptors(characteristic=characteristic)
                bleak_characteristic = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    uuid_string(characteristic.uuid),
                    _property_names(int(characteristic.properties)),
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_characteristic)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, uuid_string(descriptor.type), bleak_characteristic
                        )
                    )
        self.services = collection

    def _on_disconnection(self, reason: int) -> None:
        was_connected = self._connect_complete
        self._connection = None
        self._peer = None
        self._connect_complete = False
        self._subscribers.clear()
        self.services = None
        self._disconnected.set()
        logger.debug("%s disconnected (reason 0x%02X)", self.address, reason)
        if was_connected and self._disconnected_callback is not None:
            # Run outside Bumble's event emitter, as the OS backends run it from their own loop.
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            await asyncio.wait_for(connection.disconnect(), self._timeout)
        except hci.HCI_Error as error:
            logger.debug("disconnect %s: %s", self.address, error)
        if self._connection is not None:  # the disconnection event is still travelling
            await asyncio.wait_for(self._disconnected.wait(), self._timeout)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleTransportError("pairing is not supported on the virtual radio: the Kinetics sensors do not bond")

    async def unpair(self) -> None:
        raise BleTransportError("pairing is not supported on the virtual radio: the Kinetics sensors do not bond")

    # ------------------------------------------------------------------ GATT I/O
    def _require_peer(self) -> Peer:
        if self._peer is None or not self.is_connected:
            raise BleakError(f"{self.address}: not connected")
        return self._peer

    async def _request(self, what: str, coroutine: Any) -> Any:
        """Await a Bumble GATT request, translating its failures to bleak's errors."""
        try:
            return await coroutine
        except att.ATT_Error as error:
            raise BleakGATTProtocolError(error.error_code) from error
        except asyncio.CancelledError:
            # Bumble cancels the pending request when the link drops; that is not our task's cancellation.
            task = asyncio.current_task()
            if self._connection is None and (task is None or task.cancelling() == 0):
                raise BleakError(f"{self.address}: disconnected during {what}") from None
            raise
        except core.TimeoutError as error:
            raise TimeoutError(f"{self.address}: {what} timed out") from error

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        if use_cached and (cached := peer.gatt_client.cached_values.get(characteristic.handle)) is not None:
            return bytearray(cached[1])
        value = await self._request("read", peer.read_value(characteristic.handle))
        return bytearray(value)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        if use_cached and (cached := peer.gatt_client.cached_values.get(descriptor.handle)) is not None:
            return bytearray(cached[1])
        value = await self._request("descriptor read", peer.read_value(descriptor.handle))
        return bytearray(value)

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        peer = self._require_peer()
        await self._request(
            "write", peer.write_value(characteristic.handle, bytes(memoryview(data)), with_response=response)
        )

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        peer = self._require_peer()
        await self._request("descriptor write", peer.write_value(descriptor.handle, bytes(memoryview(data)), True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._require_peer()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        if not any(d.type == GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR for d in proxy.descriptors):
            raise BleakError(f"{characteristic.uuid}: no Client Characteristic Configuration descriptor, cannot notify")
        if characteristic.handle in self._subscribers:
            raise BleakError(f"{characteristic.uuid}: notifications already started; call stop_notify first")

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = on_value
        try:
            await self._request("start_notify", peer.subscribe(proxy, on_value, prefer_notify=True))
        except core.InvalidStateError as error:
            self._subscribers.pop(characteristic.handle, None)
            raise BleakError(f"{characteristic.uuid}: {error}") from error
        except BaseException:
            self._subscribers.pop(characteristic.handle, None)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        on_value = self._subscribers.pop(characteristic.handle, None)
        if on_value is None:
            return
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        await self._request("stop_notify", peer.unsubscribe(proxy, on_value))


def bound_scanner(radio: Radio) -> type[BumbleScanner]:
    """A :class:`BumbleScanner` subclass bound to ``radio``: pass it as ``backend=`` and nothing else.

    Needed where bleak types its keyword arguments (``BleakScanner.discover``, ``find_device_by_*``)
    and an extra ``radio=`` would not type-check.
    """
    return type("BumbleScanner", (BumbleScanner,), {"bound_radio": radio})


def bound_client(radio: Radio) -> type[BumbleClient]:
    """A :class:`BumbleClient` subclass bound to ``radio``: pass it as ``backend=`` and nothing else."""
    return type("BumbleClient", (BumbleClient,), {"bound_radio": radio})


def _property_names(flags: int) -> list[CharacteristicPropertyName]:
    return [name for bit, name in CHARACTERISTIC_PROPERTIES.items() if flags & bit]
