"""Simulated BLE peripherals: real Bumble GATT servers on the virtual radio, described as data.

A :class:`SimulatedPeripheral` is a Bumble ``Device`` with its own virtual controller on the radio's
link. It advertises a name and service UUIDs every 100 ms (Bumble's default is 1 s), accepts one central,
answers MTU exchange, service discovery, reads and writes, and sends notifications with
:meth:`SimulatedPeripheral.notify`. It knows nothing about any sensor: the GATT table is data
(:class:`ServiceSpec`, :class:`CharacteristicSpec`) and the bytes come from the caller (the codecs).

Fault knobs (:class:`PeripheralFaults`): drop the link at a given time or on demand (the peripheral then
advertises again, so a reconnect works), limit the MTU exchange (``max_mtu=23`` refuses any increase),
lose a fraction of notifications.

Example — a tiny custom sensor::

    async with virtual_radio() as radio:
        sensor = SimulatedPeripheral(
            radio,
            name="Demo-01",
            services=[ServiceSpec(SERVICE, [CharacteristicSpec(DATA, ("notify",)),
                                            CharacteristicSpec(CONTROL, ("write",))])],
        )
        sensor.on_write(CONTROL, lambda data: print("command", data.hex()))
        async with sensor:
            await sensor.wait_subscribed(DATA)
            await sensor.notify(DATA, b"\\x01\\x02")
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bleak.uuids import normalize_uuid_str
from bumble import att, hci
from bumble.core import UUID, AdvertisingData
from bumble.device import AdvertisingEventProperties, AdvertisingParameters, AdvertisingSet, Connection, Device
from bumble.gatt import Characteristic, Descriptor, Service

from drivers.ble.errors import BleTransportError
from drivers.ble.radio import Radio, address_string

logger = logging.getLogger(__name__)

CharacteristicProperty = Literal["read", "write", "write-without-response", "notify", "indicate"]

_PROPERTY_FLAGS: dict[str, Characteristic.Properties] = {
    "read": Characteristic.Properties.READ,
    "write": Characteristic.Properties.WRITE,
    "write-without-response": Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    "notify": Characteristic.Properties.NOTIFY,
    "indicate": Characteristic.Properties.INDICATE,
}
#: Legacy advertising PDUs carry at most 31 bytes of advertising data (Core spec Vol 6, Part B, 2.3.1).
LEGACY_ADVERTISING_MAX = 31
#: Characteristic User Description descriptor (a human-readable label shown by generic BLE tools).
USER_DESCRIPTION_UUID = "2901"
#: Default ATT MTU a simulated peripheral accepts (what common BLE 4.2+ sensor firmware offers).
DEFAULT_PERIPHERAL_MTU = 247

WriteHandler = Callable[[bytes], "Awaitable[None] | None"]
ConnectionListener = Callable[[bool], None]


@dataclass(frozen=True)
class CharacteristicSpec:
    """One characteristic, as data.

    Attributes
    ----------
    uuid : str
        16-bit (``"2a19"``) or 128-bit UUID string.
    properties : sequence of str
        Any of ``"read"``, ``"write"``, ``"write-without-response"``, ``"notify"``, ``"indicate"``
        (bleak's property names). Notify/indicate characteristics get a CCCD automatically.
    value : bytes
        Initial value returned by reads.
    description : str or None
        When set, a Characteristic User Description descriptor (0x2901) with this text.
    """

    uuid: str
    properties: Sequence[str]
    value: bytes = b""
    description: str | None = None

    def __post_init__(self) -> None:
        unknown = [p for p in self.properties if p not in _PROPERTY_FLAGS]
        if unknown or not self.properties:
            raise ValueError(
                f"characteristic {self.uuid}: properties {list(self.properties)!r} are not all known; "
                f"use some of {sorted(_PROPERTY_FLAGS)}"
            )
        _parse_uuid(self.uuid)


@dataclass(frozen=True)
class ServiceSpec:
    """One primary service, as data.

    Attributes
    ----------
    uuid : str
        16-bit or 128-bit service UUID string.
    characteristics : sequence of CharacteristicSpec
    advertised : bool
        Whether the UUID goes into the advertising data (scan-by-service finds it).
    """

    uuid: str
    characteristics: Sequence[CharacteristicSpec]
    advertised: bool = True

    def __post_init__(self) -> None:
        _parse_uuid(self.uuid)


@dataclass(frozen=True)
class PeripheralFaults:
    """Faults a simulated peripheral can inject.

    Attributes
    ----------
    drop_link_at : float or None
        Seconds after the central first subscribes to a notification (the stream start) at which the link
        is lost, once. ``None``: never. :meth:`SimulatedPeripheral.drop_link` does it on demand.
    readvertise_after : float
        Seconds the peripheral stays silent after a lost link before advertising again (0 = at once).
    max_mtu : int
        Largest ATT MTU accepted in the MTU exchange, 23..517. 23 refuses any increase, so notifications
        are cut to 20 bytes like on a peripheral that never negotiates.
    packet_loss : float
        Probability, 0..1, that a notification is lost instead of sent.
    seed : int
        Seed of the loss draw, for reproducible runs.
    """

    drop_link_at: float | None = None
    readvertise_after: float = 0.0
    max_mtu: int = DEFAULT_PERIPHERAL_MTU
    packet_loss: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not att.ATT_DEFAULT_MTU <= self.max_mtu <= 517:
            raise ValueError(f"max_mtu: {self.max_mtu} is outside 23..517; pass 23 to refuse MTU exchange")
        if not 0.0 <= self.packet_loss <= 1.0:
            raise ValueError(f"packet_loss: {self.packet_loss} is not a probability; pass a value in 0..1")
        if self.drop_link_at is not None and self.drop_link_at < 0:
            raise ValueError(f"drop_link_at: {self.drop_link_at} s is negative; pass seconds >= 0 or None")
        if self.readvertise_after < 0:
            raise ValueError(f"readvertise_after: {self.readvertise_after} s is negative; pass seconds >= 0")


@dataclass
class PeripheralStats:
    """Counters of what a simulated peripheral did (all since construction)."""

    notifications_sent: int = 0
    notifications_lost: int = 0
    notifications_truncated: int = 0
    notifications_unsubscribed: int = 0
    connections: int = 0
    links_dropped: int = 0
    writes: int = 0
    mtus: list[int] = field(default_factory=list)


class WriteRejected(Exception):
    """Raise from a write handler to answer the write request with an ATT error.

    ``att_error_code`` 0x80..0x9F are application errors (e.g. "command in progress").
    """

    def __init__(self, att_error_code: int = 0x80) -> None:
        super().__init__(f"write rejected with ATT error 0x{att_error_code:02X}")
        self.att_error_code = att_error_code


@dataclass
class _Characteristic:
    spec: CharacteristicSpec
    gatt: Characteristic[bytes]
    value: bytes
    handler: WriteHandler | None = None


class SimulatedPeripheral:
    """A BLE peripheral on the virtual radio, built from :class:`ServiceSpec` data.

    Parameters
    ----------
    radio : Radio
        A virtual radio (:func:`drivers.ble.radio.virtual_radio`).
    name : str
        Complete local name advertised and exposed by the GAP service.
    services : sequence of ServiceSpec
    advertising_interval : float
        Seconds between advertisements (default 0.1 s, so a reconnect takes ~0.1–0.2 s).
    manufacturer_data : (int, bytes) or None
        Company identifier and payload advertised as manufacturer-specific data.
    faults : PeripheralFaults or None
    """

    def __init__(
        self,
        radio: Radio,
        *,
        name: str,
        services: Sequence[ServiceSpec],
        advertising_interval: float = 0.1,
        manufacturer_data: tuple[int, bytes] | None = None,
        faults: PeripheralFaults | None = None,
    ) -> None:
        if not 0.02 <= advertising_interval <= 10.24:
            raise ValueError(
                f"advertising_interval: {advertising_interval} s is outside BLE's 0.02..10.24 s; pass e.g. 0.1"
            )
        if not services:
            raise ValueError("services: a peripheral needs at least one ServiceSpec")
        self.radio = radio
        self.name = name
        self.services = tuple(services)
        self.advertising_interval = advertising_interval
        self.manufacturer_data = manufacturer_data
        self.faults = faults or PeripheralFaults()
        self.stats = PeripheralStats()
        self.device: Device = radio.new_peripheral_device(name)
        self.device.gatt_server.max_mtu = self.faults.max_mtu
        #: The peripheral's Bluetooth address as the central sees it (e.g. ``"F0:00:00:00:00:01"``).
        self.address = address_string(self.device.random_address)
        self._characteristics: dict[str, _Characteristic] = {}
        self._build_gatt()
        self.advertising_data = self._build_advertising_data()
        self._rng = random.Random(self.faults.seed)
        self._advertising_set: AdvertisingSet | None = None
        self._running = False
        self._started = False
        self._connection_listeners: list[ConnectionListener] = []
        self._state_changed = asyncio.Event()
        self._subscribed_once = False
        self._drop_task: asyncio.Task[None] | None = None
        self._readvertise_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._advertising_lock = asyncio.Lock()
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)

    # ------------------------------------------------------------------ construction
    def _build_gatt(self) -> None:
        gatt_services = []
        for service_spec in self.services:
            characteristics: list[Characteristic[bytes]] = []
            for spec in service_spec.characteristics:
                key = normalize_uuid_str(spec.uuid)
                if key in self._characteristics:
                    raise ValueError(
                        f"characteristic {spec.uuid} appears twice in {self.name}; "
                        "give each characteristic its own UUID"
                    )
                properties = Characteristic.Properties(0)
                for name in spec.properties:
                    properties |= _PROPERTY_FLAGS[name]
                permissions = att.Attribute.Permissions(0)
                if properties & Characteristic.Properties.READ:
                    permissions |= att.Attribute.Permissions.READABLE
                if properties & (Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE):
                    permissions |= att.Attribute.Permissions.WRITEABLE
                descriptors = []
                if spec.description is not None:
                    descriptors.append(
                        Descriptor(
                            _parse_uuid(USER_DESCRIPTION_UUID), att.Attribute.READABLE, spec.description.encode()
                        )
                    )
                gatt: Characteristic[bytes] = Characteristic(
                    _parse_uuid(spec.uuid),
                    properties,
                    permissions,
                    att.AttributeValue(
                        read=lambda _connection, key=key: self._on_read(key),
                        write=lambda _connection, value, key=key: self._on_write(key, value),
                    ),
                    descriptors,
                )
                gatt.on(Characteristic.EVENT_SUBSCRIPTION, self._on_subscription)
                self._characteristics[key] = _Characteristic(spec, gatt, bytes(spec.value))
                characteristics.append(gatt)
            gatt_services.append(Service(_parse_uuid(service_spec.uuid), characteristics))
        self.device.add_services(gatt_services)

    def _build_advertising_data(self) -> bytes:
        uuids16 = [s.uuid for s in self.services if s.advertised and len(_parse_uuid(s.uuid).uuid_bytes) == 2]
        uuids128 = [s.uuid for s in self.services if s.advertised and len(_parse_uuid(s.uuid).uuid_bytes) != 2]
        structures: list[tuple[int, bytes]] = [
            (
                AdvertisingData.Type.FLAGS,
                bytes(
                    [AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED]
                ),
            )
        ]
        if uuids16:
            structures.append(
                (
                    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                    b"".join(_parse_uuid(u).to_bytes() for u in uuids16),
                )
            )
        if uuids128:
            structures.append(
                (
                    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                    b"".join(_parse_uuid(u).to_bytes(force_128=True) for u in uuids128),
                )
            )
        structures.append((AdvertisingData.Type.COMPLETE_LOCAL_NAME, self.name.encode()))
        if self.manufacturer_data is not None:
            company, payload = self.manufacturer_data
            structures.append(
                (AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA, company.to_bytes(2, "little") + payload)
            )
        data = bytes(AdvertisingData(structures))
        if len(data) > 251:
            raise ValueError(
                f"{self.name}: advertising data is {len(data)} bytes, more than one extended advertising PDU "
                "carries (251); shorten the name or advertise fewer services"
            )
        return data

    @property
    def legacy_advertising(self) -> bool:
        """True when the advertising data fits a legacy (BLE 4) advertisement, False for a BT 5 extended one."""
        return len(self.advertising_data) <= LEGACY_ADVERTISING_MAX

    # ------------------------------------------------------------------ lifetime
    async def start(self) -> None:
        """Power on and start advertising. Calling it twice is an error."""
        if self._started:
            raise BleTransportError(f"{self.name}: already started; create a new SimulatedPeripheral instead")
        self._started = True
        self._running = True
        await self.device.power_on()
        await self._start_advertising()

    async def stop(self) -> None:
        """Stop advertising, disconnect the central (as a user switching the sensor off) and leave the air."""
        if not self._running:
            return
        self._running = False
        self._stopping.set()
        if self._drop_task is not None:
            self._drop_task.cancel()
        if self._readvertise_task is not None:
            # Never cancel it: a cancelled HCI command leaves Bumble's host waiting on a dead future.
            await self._readvertise_task
        await self._stop_advertising()
        for connection in list(self.device.connections.values()):
            try:
                await asyncio.wait_for(
                    connection.disconnect(reason=hci.HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR),
                    2.0,
                )
            except (TimeoutError, hci.HCI_Error) as error:
                logger.debug("%s: disconnect on stop failed: %s", self.name, error)
        await self.device.power_off()
        self.radio.remove_peripheral_device(self.device)

    async def __aenter__(self) -> SimulatedPeripheral:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _start_advertising(self) -> None:
        async with self._advertising_lock:
            await self._stop_advertising_unlocked()
            self._advertising_set = await self._create_advertising_set()

    async def _stop_advertising(self) -> None:
        async with self._advertising_lock:
            await self._stop_advertising_unlocked()

    async def _create_advertising_set(self) -> AdvertisingSet:
        legacy = self.legacy_advertising
        interval_ms = self.advertising_interval * 1000.0
        # Legacy ADV_IND when the data fits (any central hears it); otherwise a BT 5 extended
        # connectable advertisement, which carries up to 251 bytes in one PDU.
        parameters = AdvertisingParameters(
            advertising_event_properties=AdvertisingEventProperties(
                is_connectable=True, is_scannable=legacy, is_legacy=legacy
            ),
            primary_advertising_interval_min=interval_ms,
            primary_advertising_interval_max=interval_ms,
        )
        return await self.device.create_advertising_set(
            advertising_parameters=parameters,
            random_address=self.device.random_address,
            advertising_data=self.advertising_data,
        )

    async def _stop_advertising_unlocked(self) -> None:
        advertising_set, self._advertising_set = self._advertising_set, None
        if advertising_set is None:
            return
        try:
            if advertising_set.enabled:
                await advertising_set.stop()
            await advertising_set.remove()
        except hci.HCI_Error as error:  # already terminated by a connection
            logger.debug("%s: advertising set cleanup: %s", self.name, error)

    # ------------------------------------------------------------------ connection events
    def _on_connection(self, connection: Connection) -> None:
        self.stats.connections += 1
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        connection.on(Connection.EVENT_CONNECTION_ATT_MTU_UPDATE, lambda: self.stats.mtus.append(connection.att_mtu))
        self._signal()
        for listener in list(self._connection_listeners):
            listener(True)

    def _on_disconnection(self, reason: int) -> None:
        self._signal()
        for listener in list(self._connection_listeners):
            listener(False)
        if self._running:
            delay = self.faults.readvertise_after if reason == hci.HCI_CONNECTION_TIMEOUT_ERROR else 0.0
            self._readvertise_task = asyncio.get_running_loop().create_task(self._readvertise(delay))

    async def _readvertise(self, delay: float) -> None:
        if delay > 0:
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
            except TimeoutError:
                pass
        if self._running and not self.device.connections:
            await self._start_advertising()

    def _on_subscription(self, _bearer: object, notify_enabled: bool, indicate_enabled: bool) -> None:
        self._signal()
        if (notify_enabled or indicate_enabled) and not self._subscribed_once:
            self._subscribed_once = True
            if self.faults.drop_link_at is not None:
                self.schedule_drop(self.faults.drop_link_at)

    def _signal(self) -> None:
        self._state_changed.set()
        self._state_changed = asyncio.Event()

    def _on_read(self, key: str) -> bytes:
        entry = self._characteristics[key]
        # Bumble's server does not check permissions itself; a real stack refuses.
        if not entry.gatt.properties & Characteristic.Properties.READ:
            raise att.ATT_Error(error_code=att.ATT_READ_NOT_PERMITTED_ERROR)
        return entry.value

    async def _on_write(self, key: str, value: bytes) -> None:
        entry = self._characteristics[key]
        if not entry.gatt.properties & (
            Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE
        ):
            raise att.ATT_Error(error_code=att.ATT_WRITE_NOT_PERMITTED_ERROR)
        self.stats.writes += 1
        entry.value = bytes(value)
        if entry.handler is None:
            return
        try:
            result = entry.handler(bytes(value))
            if inspect.isawaitable(result):
                await result
        except WriteRejected as rejected:
            raise att.ATT_Error(error_code=rejected.att_error_code) from rejected

    def on_connection_change(self, listener: ConnectionListener) -> Callable[[], None]:
        """Call ``listener(True)`` on every connection and ``listener(False)`` on every disconnection.

        Returns a function that removes the listener.
        """
        self._connection_listeners.append(listener)
        return lambda: self._connection_listeners.remove(listener)

    # ------------------------------------------------------------------ GATT values
    def _entry(self, uuid: str) -> _Characteristic:
        try:
            return self._characteristics[normalize_uuid_str(uuid)]
        except KeyError:
            raise KeyError(
                f"{self.name} has no characteristic {uuid}; it has {sorted(self._characteristics)}"
            ) from None

    def on_write(self, uuid: str, handler: WriteHandler | None) -> None:
        """Call ``handler(data)`` (plain or async) for every write to characteristic ``uuid``.

        The written bytes also become the characteristic's value. Raise :class:`WriteRejected` in the
        handler to answer a write request with an ATT error. ``None`` removes the handler.
        """
        entry = self._entry(uuid)
        if handler is not None and not ({"write", "write-without-response"} & set(entry.spec.properties)):
            raise ValueError(f"characteristic {uuid} of {self.name} is not writable; add 'write' to its properties")
        entry.handler = handler

    def value(self, uuid: str) -> bytes:
        """Current value of a characteristic (what a read returns)."""
        return self._entry(uuid).value

    def set_value(self, uuid: str, value: bytes) -> None:
        """Change what reads of ``uuid`` return (e.g. a battery level)."""
        self._entry(uuid).value = bytes(value)

    # ------------------------------------------------------------------ state
    @property
    def connections(self) -> list[Connection]:
        """Open connections (0 or 1: the simulated sensors accept a single central)."""
        return list(self.device.connections.values())

    @property
    def is_connected(self) -> bool:
        return bool(self.device.connections)

    @property
    def mtu(self) -> int:
        """ATT MTU of the current connection in bytes (23 when not connected)."""
        connections = self.connections
        return connections[0].att_mtu if connections else att.ATT_DEFAULT_MTU

    def is_subscribed(self, uuid: str) -> bool:
        """Whether a connected central enabled notifications or indications of ``uuid``."""
        gatt = self._entry(uuid).gatt
        return any(
            self.device.gatt_server.read_cccd(connection, gatt) != b"\x00\x00" for connection in self.connections
        )

    async def _wait_for(self, condition: Callable[[], bool], timeout: float | None, what: str) -> None:
        async def wait() -> None:
            while not condition():
                await self._state_changed.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.name}: {what} did not happen within {timeout} s") from None

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Return once a central is connected."""
        await self._wait_for(lambda: self.is_connected, timeout, "connection")

    async def wait_disconnected(self, timeout: float | None = None) -> None:
        """Return once no central is connected."""
        await self._wait_for(lambda: not self.is_connected, timeout, "disconnection")

    async def wait_subscribed(self, uuid: str, timeout: float | None = None) -> None:
        """Return once a central has enabled notifications (or indications) of ``uuid``."""
        self._entry(uuid)
        await self._wait_for(lambda: self.is_subscribed(uuid), timeout, f"subscription to {uuid}")

    # ------------------------------------------------------------------ notifications
    async def notify(self, uuid: str, data: bytes) -> bool:
        """Send ``data`` as a notification (or indication, if that is all the characteristic has).

        Like every BLE stack, Bumble cuts the payload to ATT MTU − 3 bytes (20 bytes at MTU 23).
        Returns True when it was handed to the link, False when no central is subscribed or the
        packet-loss fault swallowed it. Updates :attr:`stats`.
        """
        entry = self._entry(uuid)
        entry.value = bytes(data)
        properties = entry.gatt.properties
        if not properties & (Characteristic.Properties.NOTIFY | Characteristic.Properties.INDICATE):
            raise ValueError(f"characteristic {uuid} of {self.name} cannot notify; add 'notify' to its properties")
        targets = [
            connection
            for connection in self.connections
            if self.device.gatt_server.read_cccd(connection, entry.gatt) != b"\x00\x00"
        ]
        if not targets:
            self.stats.notifications_unsubscribed += 1
            return False
        if self.faults.packet_loss > 0 and self._rng.random() < self.faults.packet_loss:
            self.stats.notifications_lost += 1
            return False
        for connection in targets:
            if len(data) > connection.att_mtu - 3:
                self.stats.notifications_truncated += 1
            if properties & Characteristic.Properties.NOTIFY:
                await self.device.gatt_server.notify_subscriber(connection, entry.gatt, bytes(data))
            else:
                await self.device.gatt_server.indicate_subscriber(connection, entry.gatt, bytes(data))
        self.stats.notifications_sent += 1
        return True

    # ------------------------------------------------------------------ faults
    async def drop_link(self) -> int:
        """Lose the link now, as if the sensor went out of range: both ends see a connection timeout.

        The peripheral advertises again after ``faults.readvertise_after`` s. Returns the number of
        links lost (0 when nothing was connected).
        """
        cut = self.radio.drop_links(self.device)
        self.stats.links_dropped += cut
        # Let the disconnection events travel through both hosts before returning.
        await asyncio.sleep(0)
        return cut

    def schedule_drop(self, delay: float) -> None:
        """Lose the link ``delay`` seconds from now (replaces an earlier schedule)."""
        if self._drop_task is not None:
            self._drop_task.cancel()

        async def later() -> None:
            await asyncio.sleep(delay)
            await self.drop_link()

        self._drop_task = asyncio.get_running_loop().create_task(later())


def _parse_uuid(uuid: str) -> UUID:
    text = uuid.strip()
    try:
        if len(text) == 36 and text.lower().endswith("-0000-1000-8000-00805f9b34fb") and text.startswith("0000"):
            return UUID(text[4:8])  # a SIG 16-bit UUID written in full
        return UUID(text)
    except Exception as error:  # bumble raises InvalidArgumentError or ValueError
        raise ValueError(f"uuid: {uuid!r} is not a 16-bit or 128-bit UUID string; e.g. '2a19'") from error


def battery_service(level_percent: int = 100) -> ServiceSpec:
    """Bluetooth SIG Battery Service (0x180F) with a readable, notifying Battery Level (0x2A19, %)."""
    if not 0 <= level_percent <= 100:
        raise ValueError(f"level_percent: {level_percent} is not 0..100")
    return ServiceSpec(
        "180f", [CharacteristicSpec("2a19", ("read", "notify"), bytes([level_percent]))], advertised=False
    )


def device_information_service(
    manufacturer: str, model: str, serial: str, firmware: str, hardware: str | None = None
) -> ServiceSpec:
    """Bluetooth SIG Device Information Service (0x180A) with UTF-8 string characteristics."""
    fields: Iterable[tuple[str, str | None]] = (
        ("2a29", manufacturer),
        ("2a24", model),
        ("2a25", serial),
        ("2a26", firmware),
        ("2a27", hardware),
    )
    return ServiceSpec(
        "180a",
        [CharacteristicSpec(uuid, ("read",), text.encode()) for uuid, text in fields if text is not None],
        advertised=False,
    )
