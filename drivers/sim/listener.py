"""A minimal BLE central for checking sensors through the real bleak API: find, connect, subscribe, start, collect.

It is what the simulated sensors' tests use to prove that every sample reaches a central intact, and a handy
probe for a new piece of hardware. It is not the application's driver (that is the device supervisor: reconnects,
gaps, clock mapping); it decodes every notification with the kind's codec and keeps everything::

    async with await open_transport("virtual") as ble, SimulatedSensor(ble.radio, "plate", speed=5) as sensor:
        async with StreamListener(ble, sensor.kind, name=sensor.name) as probe:
            await probe.start()
            await asyncio.sleep(1.0)
            await probe.stop()                 # returns once every notification sent before STOP has arrived
        probe.values()                         # (n_channels, n) float32, what the central decoded
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from numpy.typing import NDArray

from drivers.ble.transport import BleTransport
from drivers.codecs import DecodeError, DeviceMessage, SampleBlock, codec_for, tindeq
from drivers.codecs import kinetics_profile as profile
from drivers.devices import DeviceKind
from kinetics._checks import input_error

DEVICE_NAME_UUID = "00002a00-0000-1000-8000-00805f9b34fb"


def start_command(kind: DeviceKind) -> bytes | None:
    """What a central writes to make a sensor of ``kind`` stream (None: subscribing is enough)."""
    if kind.codec == "kinetics-profile":
        return profile.encode_command(profile.Opcode.START)
    if kind.codec == "tindeq":
        return tindeq.encode_command(tindeq.Command.START_WEIGHT)
    return None


def stop_command(kind: DeviceKind) -> bytes | None:
    """What a central writes to stop a sensor of ``kind`` (None: it has no stop command)."""
    if kind.codec == "kinetics-profile":
        return profile.encode_command(profile.Opcode.STOP)
    if kind.codec == "tindeq":
        return tindeq.encode_command(tindeq.Command.STOP_WEIGHT)
    return None


class StreamListener:
    """Connects to one sensor of ``kind`` (by ``name`` or ``address``; else the first advertising the kind's
    service or, for kinds without an advertised service, the name prefix) and records its data notifications.

    Attributes
    ----------
    packets : list of bytes
        Every data notification, as received.
    blocks : list of SampleBlock
        The decoded sample blocks (counters are arrival indices for protocols without a counter).
    messages : list of DeviceMessage
        Decoded non-sample notifications (command responses, register read-backs).
    errors : list of DecodeError
        Notifications the codec rejected.
    disconnections : int
        Times the link went down (requested or not).
    """

    def __init__(
        self, transport: BleTransport, kind: DeviceKind, *, name: str | None = None, address: str | None = None
    ) -> None:
        self.transport = transport
        self.kind = kind
        self.name = name
        self.address = address
        self.codec = codec_for(kind)
        self.client: BleakClient | None = None
        self.packets: list[bytes] = []
        self.blocks: list[SampleBlock] = []
        self.messages: list[DeviceMessage] = []
        self.errors: list[DecodeError] = []
        self.disconnections = 0
        self._arrivals = 0
        self._lost = asyncio.Event()
        self._message_waiters: list[asyncio.Future[DeviceMessage]] = []

    # ------------------------------------------------------------------ connection
    def _matches(self) -> Callable[[BLEDevice, AdvertisementData], bool]:
        if self.address is not None:
            wanted = self.address.upper()
            return lambda device, _adv: device.address.upper() == wanted
        if self.name is not None:
            return lambda _device, adv: adv.local_name == self.name
        service = self.kind.service_uuid
        prefix = self.kind.name_prefix
        return lambda _device, adv: service in adv.service_uuids or bool(
            prefix and (adv.local_name or "").startswith(prefix)
        )

    async def connect(self, timeout: float = 5.0) -> None:
        """Scan for the sensor and connect a new client (bleak's rule: a new client per connection)."""
        device = await BleakScanner.find_device_by_filter(
            self._matches(), timeout=timeout, **self.transport.scanner_kwargs()
        )
        if device is None:
            raise input_error("sensor", f"no {self.kind.label} found within {timeout} s", "is it advertising?")
        self._lost = asyncio.Event()
        async with self.transport.connect_lock:
            client = BleakClient(device, disconnected_callback=self._on_disconnect, **self.transport.client_kwargs())
            await client.connect()
        self.client = client
        await client.start_notify(self.kind.data_uuid, self._on_data)

    def _on_disconnect(self, _client: BleakClient) -> None:
        self.disconnections += 1
        self._lost.set()

    async def wait_disconnected(self, timeout: float) -> None:
        await asyncio.wait_for(self._lost.wait(), timeout)

    async def disconnect(self) -> None:
        if self.client is not None and self.client.is_connected:
            await self.client.disconnect()

    async def __aenter__(self) -> StreamListener:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()

    @property
    def connected_client(self) -> BleakClient:
        if self.client is None or not self.client.is_connected:
            raise input_error("listener", "not connected", "call connect() first")
        return self.client

    # ------------------------------------------------------------------ commands
    async def write(self, data: bytes, uuid: str | None = None) -> None:
        """Write ``data`` to the command characteristic (or ``uuid``) as the kind's protocol says."""
        await self.connected_client.write_gatt_char(
            uuid or self.kind.command_uuid, data, response=self.kind.command_with_response
        )

    async def read(self, uuid: str) -> bytes:
        return bytes(await self.connected_client.read_gatt_char(uuid))

    async def start(self) -> None:
        """Make the sensor stream (kinds without a start command stream once subscribed)."""
        command = start_command(self.kind)
        if command is not None:
            await self.write(command)

    async def stop(self) -> None:
        """Stop the stream and return once every notification sent before it has arrived.

        The write response travels on the same link after the notifications, so it cannot overtake them.
        Kinds without a stop command are unsubscribed; bleak stops listening before it tells the peripheral, so
        notifications already on their way are not seen — to collect everything, have the sensor stop sending
        and use :meth:`barrier` instead.
        """
        command = stop_command(self.kind)
        if command is not None and self.kind.command_with_response:
            await self.write(command)
        else:
            await self.connected_client.stop_notify(self.kind.data_uuid)

    async def barrier(self) -> None:
        """Return once every notification the peripheral sent before now has arrived: a read of the GAP device
        name, whose response travels on the link after them (notifications stay on)."""
        await self.read(DEVICE_NAME_UUID)

    async def next_message(self, timeout: float = 2.0) -> DeviceMessage:
        """The next non-sample notification (e.g. the answer to a Tindeq or WitMotion command)."""
        future: asyncio.Future[DeviceMessage] = asyncio.get_running_loop().create_future()
        self._message_waiters.append(future)
        return await asyncio.wait_for(future, timeout)

    # ------------------------------------------------------------------ data
    def _on_data(self, _characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
        payload = bytes(data)
        self.packets.append(payload)
        try:
            decoded = self.codec.decode(payload, self._arrivals)
        except DecodeError as error:
            self.errors.append(error)
            return
        if isinstance(decoded, SampleBlock):
            self._arrivals += decoded.n_samples
            self.blocks.append(decoded)
            return
        self.messages.append(decoded)
        while self._message_waiters:
            waiter = self._message_waiters.pop(0)
            if not waiter.done():
                waiter.set_result(decoded)
                break

    def values(self) -> NDArray[np.float32]:
        """Every decoded sample, (n_channels, n) float32, in arrival order."""
        if not self.blocks:
            return np.zeros((self.kind.n_channels, 0), dtype=np.float32)
        return np.concatenate([b.values for b in self.blocks], axis=1)

    def counters(self) -> NDArray[np.int64]:
        """Counter of every decoded sample (arrival indices for protocols without a counter)."""
        if not self.blocks:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([b.counters for b in self.blocks])

    def device_times(self) -> NDArray[np.float64] | None:
        """Device time of every decoded sample (s), when the protocol carries one."""
        if not self.blocks or any(b.device_time is None for b in self.blocks):
            return None
        return np.concatenate([b.device_time for b in self.blocks if b.device_time is not None])
