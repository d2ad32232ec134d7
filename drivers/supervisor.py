"""One device's supervisor: find it, connect, stream, decode, time-stamp, mark gaps, reconnect.

A :class:`DeviceSupervisor` owns one sensor for the lifetime of a session, over any transport of
:func:`drivers.ble.transport.open_transport` (the real bleak API in every case)::

    notification bytes ─► raw packet log ─► codec ─► counters unwrapped, gaps marked ─► clock mapper
                                                         │                                 │
                                                         │        on_live(block)  ◄────────┤  mapped at once
                                                         └─► held until the mapper settles ─► on_block / on_gap

* **Finding.** The device's address if given; else the first device the shared scanner saw advertising the kind's
  service UUID (or, for kinds found by name such as the Tindeq Progressor, the kind's name prefix) whose address
  no other supervisor of the session has claimed.
* **Connecting.** Under ``transport.connect_lock`` (BlueZ refuses concurrent connects), with a *new*
  ``BleakClient`` each time (a client's services and notification state die with its link). Then battery and
  firmware reads, subscription to the data (and status) characteristic, and the device's start command.
* **Link loss.** ``disconnected_callback`` wakes the supervisor, which reconnects after ``reconnect_backoff``
  delays (0.1, 0.2, 0.5, 1 s, then 1 s forever). The device keeps sampling meanwhile, so its counter shows
  exactly which samples were lost: :class:`kinetics.trial.Gap` ``(first_missing, last_missing, start, end)``.
* **Time.** Each packet's last sample and its arrival on the session clock feed a
  :class:`drivers.clock.ClockMapper`; samples get ``mapper.map(ticks)``, never their arrival time.
  ``on_live`` receives every block at once with the current fit (screens); ``on_block`` / ``on_gap`` receive
  the same blocks in order once the mapper has *settled* (recording-grade times), or at :meth:`flush_pending`.
* **Malformed notifications** (a truncated packet, random bytes) are counted in ``decode_errors`` and dropped;
  they never stop the stream.
* **Raw packet log.** Besides every notification and written command, the supervisor logs the link events that
  change what it hands on (``LINK`` records): ``state <value>`` at every state change, ``device {json}`` once
  connected (address, firmware, model, battery, MTU), ``flush`` at :meth:`flush_pending`, ``rate <Hz>`` when
  :meth:`set_rate` restarts the clock. A supervisor without a transport is fed from such a log
  (:mod:`drivers.replay`): :meth:`feed` for notifications, :meth:`apply_link_record` for link events.

Devices without a sample counter: the Tindeq Progressor's samples are timed from its µs clock and numbered by
arrival; the WitMotion IMU's by arrival order through the mapper at its nominal rate; the Bluetooth SIG force and
weight characteristics, whose peripherals notify when they decide, at their arrival on the session clock (the
notification callback runs on the event loop, not in a GUI timer).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str
from numpy.typing import NDArray

from drivers.ble.scanning import SharedScanner
from drivers.ble.transport import BleTransport
from drivers.clock import ClockMapper, Unwrapper
from drivers.codecs import DecodeError, DeviceMessage, SampleBlock, codec_for
from drivers.devices import DeviceKind
from drivers.packetlog import Packet, PacketLogWriter, RecordType
from drivers.session_clock import SessionClock
from kinetics._checks import input_error
from kinetics.trial import Gap

logger = logging.getLogger(__name__)

BATTERY_LEVEL_UUID = normalize_uuid_str("2a19")
FIRMWARE_REVISION_UUID = normalize_uuid_str("2a26")
#: Codecs whose peripherals notify at moments they choose (no fixed rate): samples are stamped at arrival.
ARRIVAL_STAMPED_CODECS = ("sig-force", "sig-weight")


class LinkState(enum.Enum):
    """Where a supervisor is in its device's life."""

    SEARCHING = "searching"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


@dataclass(frozen=True)
class DeviceStatus:
    """A snapshot of one supervised device.

    ``samples`` counts samples decoded, ``missing_samples`` those inside gaps, ``decode_errors`` malformed
    notifications, ``reconnects`` links re-established after a loss; ``battery`` is percent (None if unknown);
    ``drift_ppm`` the fitted clock drift (device slower +); ``mtu`` the ATT MTU bleak reports.
    """

    name: str
    kind: str
    state: LinkState
    address: str
    battery: int | None
    samples: int
    gaps: int
    missing_samples: int
    decode_errors: int
    reconnects: int
    mtu: int
    drift_ppm: float
    clock_settled: bool
    last_error: str


@dataclass(frozen=True, eq=False)
class TimedBlock:
    """Consecutive samples of one device on the session clock.

    ``counter`` (n,) int64 unwrapped device counters (arrival indices for devices without one), ``time`` (n,)
    float64 session s, ``values`` (n_channels, n) float32 SI units, ``arrival`` session time the notification
    arrived, ``host_arrival`` its host-clock reading (latency measurements).
    """

    device: str
    counter: NDArray[np.int64]
    time: NDArray[np.float64]
    values: NDArray[np.float32]
    arrival: float
    host_arrival: float

    @property
    def n_samples(self) -> int:
        return int(self.counter.shape[0])


@dataclass(eq=False)
class _Held:
    """A block or a gap waiting for the clock mapper to settle (ticks kept, times computed at release)."""

    counter: NDArray[np.int64] | None
    ticks: NDArray[np.float64]  # block: ticks of each sample; gap: ticks before and after it
    values: NDArray[np.float32] | None
    arrival: float
    host_arrival: float
    gap: tuple[int, int] | None = None


BlockCallback = Callable[[TimedBlock], None]
GapCallback = Callable[[str, Gap], None]
StateCallback = Callable[[str, LinkState], None]


@dataclass
class _Counters:
    samples: int = 0
    gaps: int = 0
    missing: int = 0
    decode_errors: int = 0
    reconnects: int = 0
    gap_list: list[Gap] = field(default_factory=list)


def start_command(kind: DeviceKind) -> bytes | None:
    """The bytes that make a device of ``kind`` stream (None: it streams once subscribed)."""
    if kind.codec == "kinetics-profile":
        from drivers.codecs.kinetics_profile import Opcode, encode_command

        return encode_command(Opcode.START)
    if kind.codec == "tindeq":
        from drivers.codecs.tindeq import Command
        from drivers.codecs.tindeq import encode_command as tindeq_command

        return tindeq_command(Command.START_WEIGHT)
    return None


def stop_command(kind: DeviceKind) -> bytes | None:
    """The bytes that stop a streaming device of ``kind`` (None: unsubscribing is enough)."""
    if kind.codec == "kinetics-profile":
        from drivers.codecs.kinetics_profile import Opcode, encode_command

        return encode_command(Opcode.STOP)
    if kind.codec == "tindeq":
        from drivers.codecs.tindeq import Command
        from drivers.codecs.tindeq import encode_command as tindeq_command

        return tindeq_command(Command.STOP_WEIGHT)
    return None


def kind_filter(kind: DeviceKind) -> Callable[[BLEDevice, AdvertisementData], bool]:
    """Scanner predicate for devices of ``kind``: its service UUID advertised, or its name prefix.

    Kinds found by name (the Tindeq Progressor does not advertise its service) match on the prefix alone; the
    open-profile kinds need both the service and the prefix, SIG kinds the service alone.
    """
    service = normalize_uuid_str(kind.service_uuid)
    prefix = kind.name_prefix

    def match(_device: BLEDevice, adv: AdvertisementData) -> bool:
        name = adv.local_name or ""
        has_service = service in adv.service_uuids
        if kind.codec == "tindeq":
            return name.startswith(prefix)
        if prefix:
            return has_service and name.startswith(prefix)
        return has_service

    return match


class DeviceSupervisor:
    """Keeps one device streaming for a session; see the module docstring.

    Parameters
    ----------
    transport : BleTransport or None
        None for a supervisor fed from a packet log (:mod:`drivers.replay`): :meth:`start` then refuses.
    kind : DeviceKind
    name : str
        The device's role in the session (``"plate_left"``, ``"push"``): names the raw-log records and blocks.
    scanner : SharedScanner or None
        The session's one scanner (started by the caller); None with no transport.
    clock : SessionClock
    address : str or None
        Connect to this address; None takes the first unclaimed device of ``kind``.
    packet_log : PacketLogWriter or None
        Every notification and written command is logged here before it is decoded.
    on_block, on_gap : callables or None
        Recording-grade output, in counter order: ``on_block(TimedBlock)``, ``on_gap(name, Gap)``.
    on_live : callable or None
        ``on_live(TimedBlock)`` for every block as soon as it is decoded (times from the current fit).
    on_state : callable or None
        ``on_state(name, LinkState)`` on every state change.
    reconnect_backoff : sequence of float
        Seconds (host time) to wait before successive reconnection attempts; the last repeats.
    claimed : set of str or None
        Addresses taken by the session's supervisors (share one set between them).
    connect_timeout : float
        Seconds for one connection attempt (scan wait + connect).
    settle_span_s : float
        Device seconds of observations the clock mapper needs before blocks are released as recording-grade.
    """

    def __init__(
        self,
        transport: BleTransport | None,
        kind: DeviceKind,
        *,
        name: str,
        scanner: SharedScanner | None,
        clock: SessionClock,
        address: str | None = None,
        packet_log: PacketLogWriter | None = None,
        on_block: BlockCallback | None = None,
        on_gap: GapCallback | None = None,
        on_live: BlockCallback | None = None,
        on_state: StateCallback | None = None,
        reconnect_backoff: Sequence[float] = (0.1, 0.2, 0.5, 1.0),
        claimed: set[str] | None = None,
        connect_timeout: float = 10.0,
        settle_span_s: float = 10.0,
    ) -> None:
        if not reconnect_backoff or any(not d >= 0 for d in reconnect_backoff):
            raise input_error("reconnect_backoff", f"{reconnect_backoff!r}", "give seconds ≥ 0, e.g. (0.1, 0.2, 0.5)")
        self.transport = transport
        self.kind = kind
        self.name = name
        self.scanner = scanner
        self.clock = clock
        self.address = address.upper() if address else ""
        self._fixed_address = bool(address)
        self.packet_log = packet_log
        self.on_block = on_block
        self.on_gap = on_gap
        self.on_live = on_live
        self.on_state = on_state
        self.reconnect_backoff = tuple(float(d) for d in reconnect_backoff)
        self.claimed = claimed if claimed is not None else set()
        self.connect_timeout = float(connect_timeout)
        self.codec = codec_for(kind)
        self.state = LinkState.STOPPED
        #: Session time (s) of the last state change.
        self.state_time = 0.0
        self._streamed = False  # streamed at least once: a later STREAMING is a reconnection
        self.battery: int | None = None
        self.firmware = ""
        self.mtu = 0
        self.last_error = ""
        self._counts = _Counters()
        self._stamp_at_arrival = kind.codec in ARRIVAL_STAMPED_CODECS
        rate = kind.device_clock_hz if kind.timing == "device_time" and kind.device_clock_hz else kind.rate
        self._settle_span_s = float(settle_span_s)
        self.mapper = ClockMapper(rate, settle_span_s=self._settle_span_s)
        self._unwrap = Unwrapper(32)
        self._tick_unwrap = Unwrapper(32)
        self._next_counter: int | None = None  # counter expected next (counter timing)
        self._last_ticks: float | None = None  # ticks of the last sample received (gap start)
        self._arrival_index = 0
        self._held: deque[_Held] = deque()
        self._released: tuple[float, float] | None = None  # ticks and time of the last released sample
        self._client: BleakClient | None = None
        self._lost = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._responses: asyncio.Queue[DeviceMessage] = asyncio.Queue()
        self._command_lock = asyncio.Lock()

    # -- status ----------------------------------------------------------------------------------------

    def status(self) -> DeviceStatus:
        c = self._counts
        return DeviceStatus(
            name=self.name,
            kind=self.kind.key,
            state=self.state,
            address=self.address,
            battery=self.battery,
            samples=c.samples,
            gaps=c.gaps,
            missing_samples=c.missing,
            decode_errors=c.decode_errors,
            reconnects=c.reconnects,
            mtu=self.mtu,
            drift_ppm=self.mapper.drift_ppm if self.mapper.observations else 0.0,
            clock_settled=self.mapper.settled,
            last_error=self.last_error,
        )

    @property
    def gaps(self) -> tuple[Gap, ...]:
        """Every gap marked so far (session times from the fit at the moment it was released)."""
        return tuple(self._counts.gap_list)

    @property
    def is_streaming(self) -> bool:
        return self.state is LinkState.STREAMING

    def _set_state(self, state: LinkState) -> None:
        if state is not self.state:
            host = self.clock.clock()
            if state is LinkState.STREAMING:
                if self._streamed:
                    self._counts.reconnects += 1
                self._streamed = True
            self.state = state
            self.state_time = self.clock.from_host(host)
            self._log_link(f"state {state.value}", host)
            if self.on_state is not None:
                self.on_state(self.name, state)

    # -- lifetime --------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start finding, connecting and streaming in a background task (returns at once)."""
        if self._task is not None:
            raise input_error("supervisor", f"{self.name} is already started", "create a new DeviceSupervisor")
        if self.transport is None or self.scanner is None:
            raise input_error("supervisor", f"{self.name} has no transport", "feed it with feed() (a replay)")
        self._stopping = False
        self._set_state(LinkState.SEARCHING)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"supervisor-{self.name}")

    async def wait_streaming(self, timeout: float) -> bool:
        """Wait up to ``timeout`` host seconds for the device to stream; True if it does."""
        deadline = time.monotonic() + timeout
        while not self.is_streaming:
            if self._task is not None and self._task.done():
                return False
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def stop(self) -> None:
        """Stop the device's stream, disconnect and end the task; held blocks are flushed first."""
        self._stopping = True
        self._lost.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, 5.0)
            except TimeoutError:
                logger.warning("%s: supervisor did not stop within 5 s; cancelled", self.name)
            except Exception as error:  # the task already recorded it in last_error
                logger.debug("%s: supervisor task ended with %r", self.name, error)
        self.flush_pending()
        if not self._fixed_address and self.address:
            self.claimed.discard(self.address)
        self._set_state(LinkState.STOPPED)

    async def _run(self) -> None:
        attempt = 0
        first = True
        while not self._stopping:
            self._set_state(LinkState.SEARCHING if first else LinkState.RECONNECTING)
            try:
                connected = await self._connect_once()
            except (BleakError, TimeoutError, OSError, ValueError) as error:
                self.last_error = f"{type(error).__name__}: {error}"
                logger.info("%s: connection attempt failed: %s", self.name, self.last_error)
                connected = False
            if connected:
                first = False
                attempt = 0
                if self._stopping:
                    break
                self._set_state(LinkState.STREAMING)
                await self._lost.wait()
                if self._stopping:
                    break
                self._log_link("disconnected")
                self.mtu = 0
            if self._stopping:
                break
            self._set_state(LinkState.RECONNECTING if not first else LinkState.SEARCHING)
            delay = self.reconnect_backoff[min(attempt, len(self.reconnect_backoff) - 1)]
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_stopping(), delay)
        await self._shutdown_client()

    async def _wait_stopping(self) -> None:
        while not self._stopping:
            await asyncio.sleep(0.05)

    async def _find(self) -> BLEDevice | None:
        if self.address:
            wanted = self.address

            def predicate(device: BLEDevice, adv: AdvertisementData) -> bool:
                return device.address.upper() == wanted

        else:
            matches = kind_filter(self.kind)

            def predicate(device: BLEDevice, adv: AdvertisementData) -> bool:
                return device.address.upper() not in self.claimed and matches(device, adv)

        assert self.scanner is not None  # start() checked it
        found = await self.scanner.find(predicate, timeout=self.connect_timeout)
        if found is None:
            return None
        device = found[0]
        if not self.address:
            self.address = device.address.upper()
            self.claimed.add(self.address)
        return device

    async def _connect_once(self) -> bool:
        device = await self._find()
        if device is None or self._stopping:
            return False
        self._set_state(LinkState.CONNECTING)
        self._lost = asyncio.Event()
        lost = self._lost

        def on_disconnect(_client: BleakClient) -> None:
            lost.set()

        assert self.transport is not None  # start() checked it
        async with self.transport.connect_lock:
            if self._stopping:
                return False
            client = BleakClient(
                device,
                disconnected_callback=on_disconnect,
                timeout=self.connect_timeout,
                **self.transport.client_kwargs(),
            )
            await client.connect()
        self._client = client
        try:
            self.mtu = int(client.mtu_size)
            self._log_link("connected")
            await self._read_info(client)
            self._log_link("device " + json.dumps(self.description(), separators=(",", ":")))
            await client.start_notify(self.kind.data_uuid, self._on_data)
            if self.kind.status_uuid:
                with contextlib.suppress(BleakError):
                    await client.start_notify(self.kind.status_uuid, self._on_status)
            command = start_command(self.kind)
            if command is not None:
                await self._write_command(client, command)
        except BaseException:
            await self._disconnect(client)
            raise
        return not lost.is_set()

    async def _read_info(self, client: BleakClient) -> None:
        if self.kind.battery_service:
            try:
                self.battery = int((await client.read_gatt_char(BATTERY_LEVEL_UUID))[0])
            except (BleakError, IndexError) as error:
                logger.debug("%s: battery read failed: %s", self.name, error)
        if self.kind.device_information and not self.firmware:
            try:
                self.firmware = bytes(await client.read_gatt_char(FIRMWARE_REVISION_UUID)).decode(errors="replace")
            except BleakError as error:
                logger.debug("%s: firmware read failed: %s", self.name, error)

    async def _write_command(self, client: BleakClient, payload: bytes) -> None:
        if not self.kind.command_uuid:
            raise input_error("command", f"{self.kind.label} has no command characteristic", "use another device")
        if self.packet_log is not None:
            self.packet_log.write(
                Packet(self.clock.clock(), self.name, self.address, self.kind.command_uuid, payload, RecordType.WRITE)
            )
        async with self._command_lock:  # one command in flight at a time (Tindeq, our profile)
            await client.write_gatt_char(self.kind.command_uuid, payload, response=self.kind.command_with_response)

    async def _disconnect(self, client: BleakClient) -> None:
        with contextlib.suppress(BleakError, TimeoutError, OSError):
            await asyncio.wait_for(client.disconnect(), 2.0)

    async def _shutdown_client(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        command = stop_command(self.kind)
        if command is not None:
            with contextlib.suppress(BleakError, TimeoutError, OSError):
                await asyncio.wait_for(self._write_command(client, command), 2.0)
        await self._disconnect(client)
        self._log_link("disconnected")

    def _log_link(self, text: str, host: float | None = None) -> None:
        if self.packet_log is not None:
            when = self.clock.clock() if host is None else host
            self.packet_log.write(Packet(when, self.name, self.address, "", text.encode(), RecordType.LINK))

    def description(self) -> dict[str, Any]:
        """What the raw log's ``device`` record holds: kind key, role, address, model, firmware, battery, MTU."""
        return {
            "kind": self.kind.key,
            "role": self.name,
            "address": self.address,
            "model": self.kind.model,
            "firmware": self.firmware,
            "battery": self.battery,
            "mtu": self.mtu,
        }

    def apply_link_record(self, text: str) -> None:
        """Replay one ``LINK`` record of this supervisor's raw log (see the module docstring).

        ``state``, ``device``, ``flush`` and ``rate`` records act exactly as they did live; ``connected`` and
        ``disconnected`` are informative only. The session clock must read the record's host time.
        """
        word, _, rest = text.partition(" ")
        if word == "state":
            self._set_state(LinkState(rest))
        elif word == "device":
            info = json.loads(rest)
            self.address = str(info.get("address", ""))
            self.firmware = str(info.get("firmware", ""))
            battery = info.get("battery")
            self.battery = None if battery is None else int(battery)
            self.mtu = int(info.get("mtu", 0))
        elif word == "flush":
            self.flush_pending()
        elif word == "rate":
            self._restart_clock(float(rest))

    # -- commands --------------------------------------------------------------------------------------

    def _require_client(self) -> BleakClient:
        client = self._client
        if client is None or not client.is_connected:
            raise input_error("device", f"{self.name} is not connected", "wait until its state is streaming")
        return client

    async def tare(self) -> None:
        """Zero the device's force channels (profile TARE with the device's default window; Tindeq 0x64)."""
        client = self._require_client()
        if self.kind.codec == "kinetics-profile":
            from drivers.codecs.kinetics_profile import Opcode, encode_command

            await self._write_command(client, encode_command(Opcode.TARE, 0))
        elif self.kind.codec == "tindeq":
            from drivers.codecs.tindeq import Command
            from drivers.codecs.tindeq import encode_command as tindeq_command

            await self._write_command(client, tindeq_command(Command.TARE))
        else:
            raise input_error("tare", f"{self.kind.label} has no tare command", "tare it on the device")

    async def identify(self, seconds: int = 5) -> None:
        """Make the device blink/beep for ``seconds`` (open-profile kinds)."""
        client = self._require_client()
        if self.kind.codec != "kinetics-profile":
            raise input_error("identify", f"{self.kind.label} has no identify command", "use a Kinetics-profile device")
        from drivers.codecs.kinetics_profile import Opcode, encode_command

        await self._write_command(client, encode_command(Opcode.IDENTIFY, int(seconds)))

    async def set_rate(self, rate: float) -> None:
        """Change the sampling rate (open-profile kinds): stop, set, restart; the counter restarts at 0.

        The clock mapper and the counter unwrapping restart with it; the recording's counters stay increasing
        because the supervisor continues its own numbering across the restart.
        """
        client = self._require_client()
        if self.kind.codec != "kinetics-profile":
            raise input_error("rate", f"{self.kind.label}'s rate cannot be set", "use a Kinetics-profile device")
        value = self.kind.check_rate(rate)
        from drivers.codecs.kinetics_profile import Opcode, encode_command

        await self._write_command(client, encode_command(Opcode.STOP))
        await self._write_command(client, encode_command(Opcode.SET_RATE, round(value)))
        self._restart_clock(value)
        await self._write_command(client, encode_command(Opcode.START))

    def _restart_clock(self, rate: float) -> None:
        """Release what is held, then map a counter restarting at 0 at ``rate`` Hz (after SET_RATE)."""
        self.flush_pending()
        self._log_link(f"rate {rate!r}")
        offset = self._next_counter or 0
        self.mapper = ClockMapper(rate, settle_span_s=self._settle_span_s)
        self._unwrap = _OffsetUnwrapper(offset)
        self._next_counter = None
        self._last_ticks = None
        self._released = None

    async def read_battery(self) -> int | None:
        """Battery level in percent (SIG Battery Service); None when the device has none."""
        client = self._require_client()
        if not self.kind.battery_service:
            return None
        self.battery = int((await client.read_gatt_char(BATTERY_LEVEL_UUID))[0])
        return self.battery

    # -- notifications ---------------------------------------------------------------------------------

    def _on_status(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        if self.packet_log is not None:
            self.packet_log.notification(
                self.clock.clock(), self.name, self.address, self.kind.status_uuid, bytes(data)
            )

    def _on_data(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        host = self.clock.clock()
        arrival = self.clock.from_host(host)
        payload = bytes(data)
        if self.packet_log is not None:
            self.packet_log.notification(host, self.name, self.address, self.kind.data_uuid, payload)
        self.feed(payload, arrival, host)

    def feed(self, payload: bytes, arrival: float, host_arrival: float | None = None) -> None:
        """Process one notification of the data characteristic that arrived at session time ``arrival``.

        The notification handler calls it; so does a replay of a raw packet log.
        """
        try:
            decoded = self.codec.decode(payload, self._arrival_index)
        except DecodeError as error:
            self._counts.decode_errors += 1
            logger.debug("%s: malformed notification (%d bytes): %s", self.name, len(payload), error)
            return
        if isinstance(decoded, DeviceMessage):
            self._responses.put_nowait(decoded)
            return
        try:
            self._accept(decoded, arrival, arrival if host_arrival is None else host_arrival)
        except ValueError as error:  # e.g. the device clock jumped back: counted, never fatal
            self._counts.decode_errors += 1
            logger.info("%s: block rejected: %s", self.name, error)

    def _accept(self, block: SampleBlock, arrival: float, host_arrival: float) -> None:
        n = block.n_samples
        if self.codec.has_counter:
            first = self._unwrap(block.first_counter)
            counter = first + np.arange(n, dtype=np.int64)
            ticks = counter.astype(np.float64)
            if self._next_counter is not None:
                if first < self._next_counter:  # duplicate or late samples: keep only what is new
                    keep = counter >= self._next_counter
                    if not keep.any():
                        return
                    counter, ticks, values = counter[keep], ticks[keep], block.values[:, keep]
                    first, n = int(counter[0]), int(counter.shape[0])
                else:
                    values = block.values
                    if first > self._next_counter:
                        self._mark_gap(self._next_counter, first - 1, float(ticks[0]))
            else:
                values = block.values
            self._next_counter = int(counter[-1]) + 1
        else:
            counter = block.counters
            values = block.values
            self._arrival_index += n
            if block.device_time is not None and self.kind.device_clock_hz:
                raw = np.rint(block.device_time * self.kind.device_clock_hz).astype(np.int64)
                ticks = self._tick_unwrap.unwrap_array(raw).astype(np.float64)
            else:
                ticks = counter.astype(np.float64)
        self._counts.samples += int(counter.shape[0])
        if self._stamp_at_arrival:
            times = np.full(counter.shape[0], arrival, dtype=np.float64)
            timed = TimedBlock(self.name, counter, times, values, arrival, host_arrival)
            if self.on_live is not None:
                self.on_live(timed)
            if self.on_block is not None:
                self.on_block(timed)
            return
        self.mapper.add(float(ticks[-1]), arrival)
        self._last_ticks = float(ticks[-1])
        if self.on_live is not None:
            self.on_live(TimedBlock(self.name, counter, self.mapper.map(ticks), values, arrival, host_arrival))
        self._held.append(_Held(counter, ticks, values, arrival, host_arrival))
        if self.mapper.settled:
            self._release()

    def _mark_gap(self, first_missing: int, last_missing: int, ticks_after: float) -> None:
        before = self._last_ticks if self._last_ticks is not None else ticks_after
        self._counts.gaps += 1
        self._counts.missing += last_missing - first_missing + 1
        self._held.append(
            _Held(None, np.array([before, ticks_after]), None, 0.0, 0.0, gap=(first_missing, last_missing))
        )

    def _release(self) -> None:
        while self._held:
            item = self._held.popleft()
            times = self.mapper.map(item.ticks)
            if item.gap is not None:
                start = self._released[1] if self._released is not None else float(times[0])
                gap = Gap(item.gap[0], item.gap[1], start, float(max(times[1], start)))
                self._counts.gap_list.append(gap)
                if self.on_gap is not None:
                    self.on_gap(self.name, gap)
            elif item.counter is not None and item.values is not None:
                times = self._monotonic(item.ticks, times)
                if self.on_block is not None:
                    self.on_block(
                        TimedBlock(self.name, item.counter, times, item.values, item.arrival, item.host_arrival)
                    )

    def _monotonic(self, ticks: NDArray[np.float64], times: NDArray[np.float64]) -> NDArray[np.float64]:
        """Keep released times strictly increasing across blocks.

        The running fit can move between two blocks (a new least-delayed packet lowers the line); a sample is
        then never placed earlier than the previous one plus 99.9 % of the ticks between them.
        """
        if self._released is not None:
            last_ticks, last_time = self._released
            floor = last_time + (ticks - last_ticks) * self.mapper.period * 0.999
            times = np.maximum(times, floor)
        self._released = (float(ticks[-1]), float(times[-1]))
        return times

    def flush_pending(self) -> None:
        """Release every held block and gap now, mapped with the current fit (end of a recording)."""
        self._log_link("flush")
        if self._held and self.mapper.observations:
            self._release()

    async def command_response(self, payload: bytes, timeout: float = 2.0) -> DeviceMessage:
        """Write a command and wait for the device's response notification (Tindeq-style protocols)."""
        client = self._require_client()
        while not self._responses.empty():
            self._responses.get_nowait()
        await self._write_command(client, payload)
        return await asyncio.wait_for(self._responses.get(), timeout)


class _OffsetUnwrapper(Unwrapper):
    """An unwrapper whose output continues from ``offset`` (after the device restarted its counter)."""

    def __init__(self, offset: int) -> None:
        super().__init__(32)
        self.offset = int(offset)

    def __call__(self, raw: int) -> int:
        return super().__call__(raw) + self.offset


def describe(status: DeviceStatus) -> dict[str, Any]:
    """A plain-JSON dict of a :class:`DeviceStatus` (for ``--json`` output)."""
    return {
        "name": status.name,
        "kind": status.kind,
        "state": status.state.value,
        "address": status.address,
        "battery": status.battery,
        "samples": status.samples,
        "gaps": status.gaps,
        "missing_samples": status.missing_samples,
        "decode_errors": status.decode_errors,
        "reconnects": status.reconnects,
        "mtu": status.mtu,
        "drift_ppm": round(status.drift_ppm, 3),
        "clock_settled": status.clock_settled,
        "last_error": status.last_error,
    }
