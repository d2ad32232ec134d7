"""A simulated sensor: a real GATT server on the virtual radio that samples a signal script and speaks its
device's protocol, byte for byte.

Timing model. From :meth:`SimulatedSensor.start` (power-on) the sensor samples on its own clock, which runs
``speed`` × wall time, slowed (or sped up) by ``faults.drift_ppm``: sample ``k`` is taken at wall time
``t_on + (t_epoch + k / rate) · (1 + ppm·10⁻⁶) / speed``. The counter counts from power-on (and from 0 again after
a rate change) and keeps counting whether or not anything is connected, so samples taken while nobody listens —
before the start command, during a lost link — are simply never sent: the host sees them as a counter gap.

Streaming. A Kinetics-profile sensor notifies data only after the central subscribes to its data characteristic
AND writes START (0x01); a Tindeq Progressor after 0x65; a WitMotion, SIG Force or SIG Weight Scale sensor as
soon as the central subscribes (their protocols have no start command). Samples are packed as the protocol's
front end says (:mod:`drivers.sim.frontend`) at the MTU the link negotiated. A lost link ends streaming: after a
reconnection the central subscribes and starts again.

Commands. Profile: START, STOP, TARE (average the next n samples, 0 → 0.5 s, and subtract it from the force
channels), SET_RATE (idle only; the counter restarts at 0), IDENTIFY, each answered with the profile's ATT errors
and followed by a Status notification (also sent once a second while streaming). Tindeq: tare, start/stop weight
measurement, battery voltage, app version, error information, Progressor ID (answers are command-response
frames on the data characteristic); the peak-RFD modes and calibration commands are accepted and ignored.
WitMotion: unlock, save, output rate (needs unlock first, as the real sensor), register read.

Everything that went on air is logged (:meth:`SimulatedSensor.sent`), so a test can check that the host decoded
exactly what the sensor sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from drivers.ble.peripheral import DEFAULT_PERIPHERAL_MTU, PeripheralFaults, SimulatedPeripheral, WriteRejected
from drivers.ble.radio import Radio
from drivers.ble.transport import BleTransport
from drivers.codecs import DecodeError, sig_battery, tindeq, witmotion
from drivers.codecs import kinetics_profile as profile
from drivers.devices import DeviceKind, device_kind
from drivers.sim.frontend import framer_for
from drivers.sim.gatt import default_name, next_serial, services_for
from drivers.sim.signals import SignalScript, default_script
from kinetics._checks import input_error


def virtual_radio_of(radio: Radio | BleTransport) -> Radio:
    """The virtual radio itself, or the one of an open ``virtual`` transport (a clear error for anything else)."""
    found = radio.radio if isinstance(radio, BleTransport) else radio
    if found is None or not found.is_virtual:
        raise input_error(
            "radio",
            f"simulated sensors live on the virtual radio, not on {radio.description}",
            "open the transport with open_transport('virtual') (or --simulated)",
        )
    return found

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

TICK_MAX_S = 0.02
"""Longest wall-time sleep of the sampling loop (s)."""
TX_QUEUE_WALL_S = 5.0
"""The transmit queue holds this many wall seconds of samples; beyond, the oldest are dropped (profile §3)."""
STATUS_PERIOD_S = 1.0
"""A streaming profile sensor notifies its status at least this often (wall s)."""
INDICATION_TIMEOUT_S = 2.0
TINDEQ_APP_VERSION = b"1.2.3-sim"
TINDEQ_ERROR_INFO = b""
WITMOTION_VERSION = 0x1234
FORCE_UNITS = ("N", "Pa")
"""Channels in these units are zeroed by a tare."""


@dataclass(frozen=True)
class SensorFaults:
    """Faults a simulated sensor injects.

    Attributes
    ----------
    drop_link_at : float or None
        Device-time s after the stream started (its first sample) at which the link is lost, once, between two
        notifications: every sample taken before it is sent and arrives, samples after it are lost until the
        central reconnects and restarts the stream (the sensor advertises again at once). ``None``: never.
    mtu : int or None
        Largest ATT MTU the sensor accepts, 23..517 (23 refuses the exchange: 20-byte notifications).
        ``None``: 247.
    drift_ppm : float
        The sensor's clock runs slow by this many parts per million (negative: fast): the true sample period is
        (1 + ppm·10⁻⁶)/rate.
    packet_loss : float
        Probability, 0..1, that a notification is lost on air (seeded by the sensor's seed).
    saturate_at : float or None
        Input range of the front end in SI units (per channel magnitude): beyond it a profile sensor sends its
        saturation code (± full scale) and sets the SATURATED status flag; other protocols clip at ± this value.
    """

    drop_link_at: float | None = None
    mtu: int | None = None
    drift_ppm: float = 0.0
    packet_loss: float = 0.0
    saturate_at: float | None = None

    def __post_init__(self) -> None:
        if self.drop_link_at is not None and not (math.isfinite(self.drop_link_at) and self.drop_link_at >= 0):
            raise input_error("drop_link_at", f"{self.drop_link_at!r} s", "pass device-time seconds ≥ 0 or None")
        if self.mtu is not None and not profile.MIN_ATT_MTU <= self.mtu <= profile.MAX_ATT_MTU:
            raise input_error("mtu", f"{self.mtu!r} is outside the ATT range", "pass 23..517 or None")
        if not (math.isfinite(self.drift_ppm) and abs(self.drift_ppm) < 1e5):
            raise input_error("drift_ppm", f"{self.drift_ppm!r}", "pass parts per million, e.g. 150")
        if not 0.0 <= self.packet_loss <= 1.0:
            raise input_error("packet_loss", f"{self.packet_loss!r} is not a probability", "pass 0..1")
        if self.saturate_at is not None and not (math.isfinite(self.saturate_at) and self.saturate_at > 0):
            raise input_error("saturate_at", f"{self.saturate_at!r}", "pass a positive range in SI units or None")


@dataclass(frozen=True)
class SentLog:
    """Every sample a sensor put on air (in order), including those the packet-loss fault swallowed.

    Attributes
    ----------
    counters : ndarray (n,) int64
        Sample counter of each sample (the profile's on-air counter before its 2³² wrap; for protocols without
        a counter, the sensor's internal sample number). It restarts at 0 after a rate change.
    values : ndarray (n_channels, n) float64
        The values the protocol carried, SI units (decode gives exactly these, as float32).
    device_time : ndarray (n,) float64
        Device-clock time of each sample in s since the stream started (the Tindeq's µs field before rounding).
    host_time : ndarray (n,) float64
        The wall-clock instant (the event loop's clock, ``time.monotonic``) at which each sample was taken —
        the true time a clock mapper should recover.
    lost : ndarray (n,) bool
        True for samples in notifications the packet-loss fault dropped.
    packets : int
        Notifications sent (including lost ones).
    truncated : bool
        True when the log hit ``keep_sent`` and its oldest samples were forgotten.
    """

    counters: IntArray
    values: FloatArray
    device_time: FloatArray
    host_time: FloatArray
    lost: NDArray[np.bool_]
    packets: int
    truncated: bool


@dataclass
class _Epoch:
    rate: float
    start: float  # device-clock time (s since power-on) of counter 0


@dataclass
class _Chunk:
    epoch: int
    first: int
    values: FloatArray
    lost: bool


@dataclass
class _Tare:
    first: int
    n: int
    total: FloatArray
    count: int = 0


class SimulatedSensor:
    """A simulated sensor of one device kind on the virtual radio (see the module docstring).

    Parameters
    ----------
    radio : Radio or BleTransport
        The virtual radio (:func:`drivers.ble.radio.virtual_radio`), or an open ``virtual`` transport.
    kind : str or DeviceKind
        A device-table kind (``"plate"``, ``"tindeq-progressor"``…).
    name : str or None
        Advertised name; default the kind's prefix and a serial (``KN-Plate-0007``).
    script : SignalScript or None
        What it measures; default :func:`drivers.sim.signals.default_script` of the kind.
    speed : float
        Device seconds per wall second (> 0); > 1 runs a long scenario in a short test.
    faults : SensorFaults or None
    seed : int
        Seeds the default script's noise and the packet-loss draw.
    battery : int
        Battery level in percent (0–100).
    keep_sent : int or None
        Most samples the sent log keeps (oldest forgotten first); ``None``: all.
    advertising_interval : float
        Seconds between advertisements (0.1 s makes a reconnection take ≈ 0.1–0.2 s).
    """

    def __init__(
        self,
        radio: Radio | BleTransport,
        kind: str | DeviceKind,
        *,
        name: str | None = None,
        script: SignalScript | None = None,
        speed: float = 1.0,
        faults: SensorFaults | None = None,
        seed: int = 0,
        battery: int = 87,
        keep_sent: int | None = 1_000_000,
        advertising_interval: float = 0.1,
    ) -> None:
        self.kind: DeviceKind = kind if isinstance(kind, DeviceKind) else device_kind(kind)
        if not (math.isfinite(speed) and speed > 0):
            raise input_error("speed", f"{speed!r}", "pass a positive factor (1 = real time)")
        if not 0 <= int(battery) <= 100:
            raise input_error("battery", f"{battery!r} %", "pass 0..100")
        if keep_sent is not None and keep_sent < 1:
            raise input_error("keep_sent", f"{keep_sent!r}", "pass a positive number of samples or None")
        self.speed = float(speed)
        self.faults = faults or SensorFaults()
        self.seed = int(seed)
        self.keep_sent = keep_sent
        serial = next_serial()
        self.serial = f"SIM-{serial:06d}"
        self.name = name if name is not None else default_name(self.kind, serial)
        self._battery = int(battery)
        self._framer = framer_for(self.kind)
        self._epochs = [_Epoch(self.kind.rate, 0.0)]
        self._script = self._checked_script(script if script is not None else default_script(self.kind, seed=seed))
        self._script_origin = 0
        self._ppm_factor = 1.0 + self.faults.drift_ppm * 1e-6
        self._needs_start = self.kind.codec in ("kinetics-profile", "tindeq")
        self._force_mask = np.array([c.unit in FORCE_UNITS for c in self.kind.channels])
        self._offset = np.zeros(self.kind.n_channels)
        self._tare: _Tare | None = None
        self.peripheral = SimulatedPeripheral(
            virtual_radio_of(radio),
            name=self.name,
            services=services_for(self.kind, serial=self.serial, battery=self._battery),
            advertising_interval=advertising_interval,
            faults=PeripheralFaults(
                max_mtu=self.faults.mtu or DEFAULT_PERIPHERAL_MTU, packet_loss=self.faults.packet_loss, seed=seed
            ),
        )
        self.address: str = self.peripheral.address
        # sampling and streaming state
        self._t_on: float | None = None
        self._next = 0
        self._streaming = False
        self._stream_ref: float | None = None
        self._q_first = 0
        self._q_values = np.zeros((self.kind.n_channels, 0))
        self._outbox: deque[bytes] = deque()
        # profile status
        self._flags = profile.StatusFlag.NONE
        self._dropped = 0
        self._last_op = 0
        self._last_result = 0
        self._status_due = True
        self._last_status_wall = -math.inf
        self._identify_until = -math.inf
        # WitMotion configuration lock
        self._unlocked = False
        # faults and bookkeeping
        self._drop_pending = self.faults.drop_link_at is not None
        self._battery_due = False
        self._log: deque[_Chunk] = deque()
        self._log_samples = 0
        self._log_truncated = False
        self._packets = 0
        self.link_drops: list[tuple[float, int]] = []
        """(device time s, first counter not sent) of each link the drop fault cut."""
        self.bad_commands = 0
        """Command writes the sensor could not parse (Tindeq, WitMotion ignore them, as the real devices)."""
        self._paused = False
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._install_handlers()

    # ------------------------------------------------------------------ public state
    @property
    def rate(self) -> float:
        """Current sampling rate (Hz)."""
        return self._epochs[-1].rate

    @property
    def script(self) -> SignalScript:
        return self._script

    @property
    def script_origin(self) -> int:
        """Counter (of the current rate epoch) at which the current script's counter 0 lies."""
        return self._script_origin

    @property
    def streaming(self) -> bool:
        """Whether the sensor sends samples now (stream started and the central subscribed and connected)."""
        return self._sending()

    @property
    def counter(self) -> int:
        """Counter of the next sample to be taken (samples are taken in the sampling loop's ticks)."""
        return self._next

    @property
    def device_time(self) -> float:
        """Device-clock seconds since the stream first started (0 before)."""
        if self._t_on is None or self._stream_ref is None:
            return 0.0
        return self._device_clock(asyncio.get_running_loop().time()) - self._stream_ref

    @property
    def tare_offset(self) -> FloatArray:
        """What the last completed tare subtracts from each channel (SI units; 0 for non-force channels)."""
        return self._offset.copy()

    @property
    def taring(self) -> bool:
        return self._tare is not None

    @property
    def identifying(self) -> bool:
        """Whether an IDENTIFY command's blinking is still going on."""
        return self._t_on is not None and self._device_clock(asyncio.get_running_loop().time()) < self._identify_until

    @property
    def battery(self) -> int:
        return self._battery

    @property
    def status(self) -> profile.Status:
        """The profile Status this sensor would report now."""
        if self._tare is not None:
            state = profile.State.TARING
        elif self._streaming:
            state = profile.State.STREAMING
        else:
            state = profile.State.IDLE
        flags = self._flags | (profile.StatusFlag.LOW_BATTERY if self._battery <= 10 else profile.StatusFlag.NONE)
        counter = max(self._next - 1, 0)
        return profile.Status(
            state, flags, self._dropped, counter, round(self.rate), self._last_op, self._last_result
        )

    def set_script(self, script: SignalScript, *, restart: bool = True) -> None:
        """Measure ``script`` from the next sample on (resampled to the sensor's rate if needed).

        ``restart=True``: the script's counter 0 is the next sample (a scenario starts now); ``False``: the
        script is read at the sensor's own counters.
        """
        checked = self._checked_script(script)
        if self._t_on is not None:
            self._advance(asyncio.get_running_loop().time())
        self._script = checked
        self._script_origin = self._next if restart else 0

    def pause_sending(self) -> None:
        """Send nothing from now on (the sensor keeps sampling; what it samples meanwhile is never sent).

        With a read round trip afterwards (:meth:`drivers.sim.listener.StreamListener.barrier`) a test knows that
        everything in :meth:`sent` has reached the central — for kinds without a stop command.
        """
        self._paused = True
        self._clear_queue()

    def resume_sending(self) -> None:
        """Undo :meth:`pause_sending`."""
        self._paused = False

    def set_battery(self, percent: int) -> None:
        """Change the battery level (notified to a subscribed central)."""
        if not 0 <= int(percent) <= 100:
            raise input_error("battery", f"{percent!r} %", "pass 0..100")
        self._battery = int(percent)
        if self.kind.battery_service:
            self.peripheral.set_value(sig_battery.BATTERY_LEVEL_UUID, sig_battery.encode_battery_level(self._battery))
            self._battery_due = True
        self._status_due = True

    def battery_millivolts(self) -> int:
        """Battery voltage of a Li-ion cell at the current level (3.3 V empty … 4.2 V full), mV."""
        return 3300 + 9 * self._battery

    # ------------------------------------------------------------------ sent log
    def sent(self) -> SentLog:
        """Everything put on air so far (see :class:`SentLog`)."""
        chunks = list(self._log)
        n_ch = self.kind.n_channels
        if not chunks:
            empty = np.zeros(0)
            return SentLog(np.zeros(0, np.int64), np.zeros((n_ch, 0)), empty, empty.copy(), np.zeros(0, bool), 0, False)
        counters = np.concatenate([c.first + np.arange(c.values.shape[1], dtype=np.int64) for c in chunks])
        values = np.concatenate([c.values for c in chunks], axis=1)
        device = np.concatenate([self._device_times(c.epoch, c.first, c.values.shape[1]) for c in chunks])
        ref = self._stream_ref or 0.0
        host = (self._t_on or 0.0) + device * self._ppm_factor / self.speed
        lost = np.concatenate([np.full(c.values.shape[1], c.lost) for c in chunks])
        return SentLog(counters, values, device - ref, host, lost, self._packets, self._log_truncated)

    def sent_counters(self) -> IntArray:
        """Counters of every sample put on air, in order (before loss on air)."""
        return self.sent().counters

    def sent_values(self) -> FloatArray:
        """Values (n_channels, n) of every sample put on air, SI units (before loss on air)."""
        return self.sent().values

    def lost_counters(self) -> IntArray:
        """Counters of the samples the packet-loss fault swallowed."""
        log = self.sent()
        return log.counters[log.lost]

    # ------------------------------------------------------------------ lifetime
    async def start(self, *, clock_origin: float | None = None) -> None:
        """Power on: start sampling and advertising.

        ``clock_origin``: the event-loop time (``loop.time()``, not in the future) at which the sensor's clock
        read 0 — sensors given the same origin take sample k at the same instant (the fleet's two plates).
        Default: now.
        """
        if self._running or self._task is not None:
            raise input_error("sensor", f"{self.name} is already started", "create a new SimulatedSensor")
        now = asyncio.get_running_loop().time()
        if clock_origin is not None and not clock_origin <= now:
            raise input_error("clock_origin", f"{clock_origin} is after now ({now})", "pass loop.time() or earlier")
        self._running = True
        self._t_on = now if clock_origin is None else float(clock_origin)
        self.peripheral.on_connection_change(self._on_connection_change)
        await self.peripheral.start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"sim-{self.name}")
        self._task.add_done_callback(self._report_crash)

    def _report_crash(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: the sampling loop stopped", self.name, exc_info=task.exception())

    async def stop(self) -> None:
        """Stop sampling, disconnect and leave the air."""
        if not self._running:
            return
        self._running = False
        try:
            if self._task is not None:
                await self._task  # raises again whatever ended the sampling loop
        finally:
            await self.peripheral.stop()

    async def __aenter__(self) -> SimulatedSensor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"SimulatedSensor({self.kind.key!r}, name={self.name!r}, address={self.address!r})"

    # ------------------------------------------------------------------ timing
    def _device_clock(self, now: float) -> float:
        """Device-clock seconds since power-on at wall time ``now``."""
        assert self._t_on is not None
        return (now - self._t_on) * self.speed / self._ppm_factor

    def _wall_at(self, device_clock: float) -> float:
        assert self._t_on is not None
        return self._t_on + device_clock * self._ppm_factor / self.speed

    def _taken(self, device_clock: float) -> int:
        """Samples of the current epoch taken by ``device_clock`` (sample 0 at the epoch start)."""
        epoch = self._epochs[-1]
        if device_clock < epoch.start:
            return 0
        return math.floor((device_clock - epoch.start) * epoch.rate + 1e-9) + 1

    def _device_times(self, epoch: int, first: int, n: int) -> FloatArray:
        e = self._epochs[epoch]
        return e.start + (first + np.arange(n)) / e.rate

    # ------------------------------------------------------------------ sampling
    def _checked_script(self, script: SignalScript) -> SignalScript:
        if script.n_channels != self.kind.n_channels:
            raise input_error(
                "script",
                f"{script.n_channels} channels, a {self.kind.label} has {self.kind.n_channels}",
                f"give a script of {self.kind.channel_names}",
            )
        return script if math.isclose(script.rate, self.rate) else script.at_rate(self.rate)

    def _sending(self) -> bool:
        if self._paused or (self._needs_start and not self._streaming):
            return False
        return self.peripheral.is_connected and self.peripheral.is_subscribed(self.kind.data_uuid)

    def _advance(self, now: float) -> None:
        """Take every sample due by wall time ``now``: queue it if streaming, feed a tare in progress."""
        end = self._taken(self._device_clock(now))
        if end <= self._next:
            return
        first, n = self._next, end - self._next
        self._next = end
        sending = self._sending()
        if sending and self._stream_ref is None:
            self._stream_ref = self._device_times(len(self._epochs) - 1, first, 1)[0]
        if not sending and self._tare is None:
            return
        raw = self._script.values(first - self._script_origin, n)
        values = raw - self._offset[:, None]
        if self._tare is not None:
            values = self._feed_tare(first, raw, values)
        if not sending:
            return
        on_air, saturated = self._framer.on_air(values, self.faults.saturate_at)
        if saturated.any():
            self._flags |= profile.StatusFlag.SATURATED
            self._status_due = True
        if self._q_values.shape[1] == 0:
            self._q_first = first
        elif self._q_first + self._q_values.shape[1] != first:  # not contiguous: the queue was stale
            self._q_first, self._q_values = first, self._q_values[:, :0]
        self._q_values = np.concatenate([self._q_values, on_air], axis=1)
        capacity = max(1, math.ceil(self.rate * TX_QUEUE_WALL_S * self.speed))
        excess = self._q_values.shape[1] - capacity
        if excess > 0:
            self._q_values = self._q_values[:, excess:]
            self._q_first += excess
            self._dropped += excess
            self._flags |= profile.StatusFlag.TX_OVERFLOW
            self._status_due = True

    def _feed_tare(self, first: int, raw: FloatArray, values: FloatArray) -> FloatArray:
        tare = self._tare
        assert tare is not None
        end_window = tare.first + tare.n
        lo, hi = max(first, tare.first), min(first + raw.shape[1], end_window)
        if hi > lo:
            tare.total += raw[:, lo - first : hi - first].sum(axis=1)
            tare.count += hi - lo
        if tare.count >= tare.n:
            self._offset = np.where(self._force_mask, tare.total / tare.n, 0.0)
            self._tare = None
            self._status_due = True
            after = max(0, end_window - first)
            values = values.copy()
            values[:, after:] = raw[:, after:] - self._offset[:, None]
        return values

    def _clear_queue(self) -> None:
        self._q_values = self._q_values[:, :0]

    # ------------------------------------------------------------------ the loop
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._running:  # an exception ends the loop and is raised again by stop()
            await self._tick(loop.time())
            await asyncio.sleep(self._sleep_s(loop.time()))

    def _sleep_s(self, now: float) -> float:
        if not self._sending():
            return TICK_MAX_S
        per = self._framer.per_packet(self.peripheral.mtu, self.rate, self.speed)
        due_counter = self._q_first + per - 1 if self._q_values.shape[1] else self._next + per - 1
        due = self._wall_at(self._device_times(len(self._epochs) - 1, due_counter, 1)[0])
        return min(TICK_MAX_S, max(0.001, due - now))

    async def _tick(self, now: float) -> None:
        self._advance(now)
        if self._drop_pending and self._stream_ref is not None and self.peripheral.is_connected:
            drop_clock = self._stream_ref + (self.faults.drop_link_at or 0.0)
            if self._device_clock(now) >= drop_clock:
                await self._drop(drop_clock)
        await self._send_outbox()
        await self._transmit(self._device_clock(now))
        await self._send_status(now)
        if self._battery_due and self.kind.battery_service:
            self._battery_due = False
            level = sig_battery.encode_battery_level(self._battery)
            await self.peripheral.notify(sig_battery.BATTERY_LEVEL_UUID, level)

    async def _drop(self, drop_clock: float) -> None:
        """The drop fault: send what was sampled before ``drop_clock``, then lose the link."""
        epoch = len(self._epochs) - 1
        cut = self._q_first + self._q_values.shape[1]
        if self._q_values.shape[1]:
            times = self._device_times(epoch, self._q_first, self._q_values.shape[1])
            cut = self._q_first + int(np.searchsorted(times, drop_clock))
            await self._transmit(drop_clock, until=cut)
        self._drop_pending = False
        self.link_drops.append((drop_clock - (self._stream_ref or 0.0), cut))
        await self._drain()
        await self.peripheral.drop_link()
        self._on_link_lost()

    async def _drain(self) -> None:
        """Wait until the notifications already handed to the host have left it, so that the drop fault cuts the
        link between packets: everything sent before the drop time arrives, nothing after it (deterministic)."""
        host = self.peripheral.device.host
        for connection in self.peripheral.connections:
            queue = host.get_data_packet_queue(connection.handle)
            if queue is None:
                continue
            with contextlib.suppress(ValueError, TimeoutError):  # ValueError: the queue knows no such link
                await asyncio.wait_for(queue.drain(connection.handle), INDICATION_TIMEOUT_S)
        await asyncio.sleep(0)

    async def _transmit(self, device_clock: float, *, until: int | None = None) -> None:
        """Send queued samples as full packets, or a short one when its oldest sample is 20 ms (wall) old.

        With ``until``: send every queued sample before counter ``until`` now, full packets or not.
        """
        if not self._sending():
            self._clear_queue()
            return
        per = self._framer.per_packet(self.peripheral.mtu, self.rate, self.speed)
        epoch = len(self._epochs) - 1
        latency = math.inf if self._framer.max_latency is None else self._framer.max_latency * self.speed
        while self._q_values.shape[1]:
            queued = self._q_values.shape[1]
            if until is not None:
                n = min(per, until - self._q_first)
                if n <= 0:
                    return
            elif queued >= per:
                n = per
            elif self._device_times(epoch, self._q_first, 1)[0] + latency <= device_clock:
                n = queued
            else:
                return
            first, values = self._q_first, self._q_values[:, :n]
            self._q_first += n
            self._q_values = self._q_values[:, n:]
            times = self._device_times(epoch, first, n) - (self._stream_ref or 0.0)
            payload = self._framer.encode(first, values, times)
            if not await self._notify_data(first, values, payload, epoch):
                return

    async def _notify_data(self, first: int, values: FloatArray, payload: bytes, epoch: int) -> bool:
        """Notify one data packet and log it; False when the link is gone (the queue is then dropped)."""
        if not self._sending():
            self._clear_queue()
            return False
        lost_before = self.peripheral.stats.notifications_lost
        try:
            if self.kind.data_property == "indicate":
                ok = await asyncio.wait_for(self.peripheral.notify(self.kind.data_uuid, payload), INDICATION_TIMEOUT_S)
            else:
                ok = await self.peripheral.notify(self.kind.data_uuid, payload)
        except TimeoutError:  # an indication not confirmed: the link died under it
            ok = False
        lost = self.peripheral.stats.notifications_lost > lost_before
        if ok or lost:
            self._packets += 1
            self._log_chunk(_Chunk(epoch, first, values, lost))
            return True
        self._clear_queue()
        return False

    def _log_chunk(self, chunk: _Chunk) -> None:
        self._log.append(chunk)
        self._log_samples += chunk.values.shape[1]
        while self.keep_sent is not None and self._log_samples > self.keep_sent and len(self._log) > 1:
            self._log_samples -= self._log.popleft().values.shape[1]
            self._log_truncated = True

    async def _send_outbox(self) -> None:
        while self._outbox:
            frame = self._outbox.popleft()
            if self.peripheral.is_subscribed(self.kind.data_uuid):
                await self.peripheral.notify(self.kind.data_uuid, frame)

    async def _send_status(self, now: float) -> None:
        if self.kind.codec != "kinetics-profile":
            return
        status = self.status
        encoded = profile.encode_status(status)
        self.peripheral.set_value(self.kind.status_uuid, encoded)
        periodic = self._streaming and now - self._last_status_wall >= STATUS_PERIOD_S
        if not (self._status_due or periodic) or not self.peripheral.is_subscribed(self.kind.status_uuid):
            return
        self._status_due = False
        self._last_status_wall = now
        if await self.peripheral.notify(self.kind.status_uuid, encoded):
            self._flags &= ~profile.StatusFlag.SATURATED

    # ------------------------------------------------------------------ links
    def _on_connection_change(self, connected: bool) -> None:
        if not connected:
            self._on_link_lost()

    def _on_link_lost(self) -> None:
        self._streaming = False
        self._clear_queue()
        self._outbox.clear()
        self._unlocked = False
        self._status_due = True

    # ------------------------------------------------------------------ commands
    def _install_handlers(self) -> None:
        codec = self.kind.codec
        if codec == "kinetics-profile":
            self.peripheral.on_write(self.kind.command_uuid, self._on_profile_command)
        elif codec == "tindeq":
            self.peripheral.on_write(self.kind.command_uuid, self._on_tindeq_command)
        elif codec == "witmotion":
            self.peripheral.on_write(self.kind.command_uuid, self._on_witmotion_command)

    def _now(self) -> float:
        now = asyncio.get_running_loop().time()
        self._advance(now)
        return now

    def _start_stream(self) -> None:
        self._now()
        if not self._streaming:
            self._streaming = True
            self._clear_queue()
            if self._stream_ref is None and self.peripheral.is_subscribed(self.kind.data_uuid):
                # the stream starts with its first sample, the next one taken
                self._stream_ref = self._device_times(len(self._epochs) - 1, self._next, 1)[0]

    def _stop_stream(self) -> None:
        self._now()
        self._streaming = False
        self._clear_queue()

    def _start_tare(self, n: int) -> None:
        self._now()
        self._tare = _Tare(self._next, max(1, n), np.zeros(self.kind.n_channels))

    def _on_profile_command(self, data: bytes) -> None:
        self._last_op = data[0] if data else 0
        try:
            command = profile.decode_command(data)
            result = self._apply_profile(command)
        except DecodeError:
            result = profile.AttError.BAD_LENGTH
            if data and data[0] not in set(profile.Opcode):
                result = profile.AttError.UNKNOWN_OPCODE
        self._last_result = int(result)
        self._status_due = True
        if result:
            raise WriteRejected(int(result))

    def _apply_profile(self, command: profile.Command) -> int:
        op = command.opcode
        if op == profile.Opcode.START:
            self._start_stream()
        elif op == profile.Opcode.STOP:
            self._stop_stream()
        elif op == profile.Opcode.TARE:
            self._start_tare(command.value or round(0.5 * self.rate))
        elif op == profile.Opcode.SET_RATE:
            return self._set_rate(float(command.value or 0), allowed=not self._streaming)
        elif op == profile.Opcode.IDENTIFY:
            now = self._now()
            self._identify_until = self._device_clock(now) + (command.value or 0)
        return 0

    def _set_rate(self, rate: float, *, allowed: bool) -> int:
        if not allowed:
            return profile.AttError.NOT_ALLOWED
        if not any(math.isclose(rate, r) for r in self.kind.rates):
            return profile.AttError.RATE_NOT_SUPPORTED
        now = self._now()
        self._epochs.append(_Epoch(rate, self._device_clock(now)))
        self._next = 0
        self._clear_queue()
        self._tare = None
        self._script = self._script.at_rate(rate)
        self._script_origin = 0
        return 0

    def _on_tindeq_command(self, data: bytes) -> None:
        try:
            command, _value = tindeq.decode_command(data)
        except DecodeError:
            self.bad_commands += 1
            return
        if command == tindeq.Command.START_WEIGHT:
            self._start_stream()
        elif command in (tindeq.Command.STOP_WEIGHT, tindeq.Command.SLEEP):
            self._stop_stream()
        elif command == tindeq.Command.TARE:
            self._start_tare(round(0.5 * self.rate))
        elif command == tindeq.Command.GET_BATTERY_VOLTAGE:
            self._answer_tindeq(struct.pack("<I", self.battery_millivolts()))
        elif command == tindeq.Command.GET_APP_VERSION:
            self._answer_tindeq(TINDEQ_APP_VERSION)
        elif command == tindeq.Command.GET_ERROR_INFO:
            self._answer_tindeq(TINDEQ_ERROR_INFO)
        elif command == tindeq.Command.GET_PROGRESSOR_ID:
            self._answer_tindeq(self.serial.encode())

    def _answer_tindeq(self, value: bytes) -> None:
        self._outbox.append(tindeq.encode_response(tindeq.Response.COMMAND_RESPONSE, value))

    def _on_witmotion_command(self, data: bytes) -> None:
        try:
            register, value = witmotion.decode_command(data)
        except DecodeError:
            self.bad_commands += 1
            return
        if register == witmotion.REG_UNLOCK and value == witmotion.UNLOCK_VALUE:
            self._unlocked = True
        elif register == witmotion.REG_SAVE:
            self._unlocked = False
        elif register == witmotion.REG_READ:
            registers = [self._witmotion_register(value + i) for i in range(8)]
            self._outbox.append(witmotion.encode_registers(value, registers))
        elif register == witmotion.REG_RATE and self._unlocked:
            rates = {code: rate for rate, code in witmotion.RATE_CODES.items()}
            if value not in rates or self._set_rate(rates[value], allowed=True):
                self.bad_commands += 1
        else:
            self.bad_commands += 1

    def _witmotion_register(self, register: int) -> int:
        if register == witmotion.REG_RATE:
            return witmotion.RATE_CODES.get(self.rate, 0)
        if register == witmotion.REG_VERSION:
            return WITMOTION_VERSION
        if register == witmotion.REG_BATTERY:
            return round(self.battery_millivolts() / 10)
        return 0

