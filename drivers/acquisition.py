"""Several devices at once on one session clock, feeding live ring buffers and a trial recording.

::

    async with await open_transport("virtual") as ble:
        acq = Acquisition(ble, [DeviceSpec("plate_left", "plate"), DeviceSpec("plate_right", "plate"),
                                DeviceSpec("push", "push")], clock=SessionClock())
        await acq.start()
        await acq.wait_streaming(timeout=10.0)
        acq.start_recording("trial.h5", TrialMeta(protocol="balance"))
        ...                                   # a GUI reads acq.buffers["plate_left"].latest(2000) meanwhile
        path = await acq.stop_recording()
        await acq.stop()

Devices can also come and go while it runs (the app's Sensors screen connects them one by one)::

    acq = Acquisition(ble, [], scanner=app_scanner, on_state=show_state)
    await acq.start()
    await acq.add_device(DeviceSpec("grip", "grip", address))
    ...
    await acq.remove_device("grip")

One :class:`~drivers.supervisor.DeviceSupervisor` per device (sharing the transport's connect lock, one
:class:`~drivers.ble.scanning.SharedScanner` and one set of claimed addresses). Every decoded block goes at once
into the device's :class:`~drivers.ringbuffer.RingBuffer` (a reader on any thread copies windows out under a
short lock), and, once its times are recording-grade, into the :class:`~drivers.recording.TrialRecorder`,
whose writer thread keeps HDF5 and fsync off the event loop. Link losses and reconnections become device
events of the trial; gaps are recorded with their exact missing counter ranges.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drivers.ble.scanning import SharedScanner
from drivers.ble.transport import BleTransport
from drivers.devices import DeviceKind, device_kind, to_device_info
from drivers.packetlog import LOG_FORMAT, PacketLogWriter, session_packet, trial_meta_record
from drivers.recording import TrialRecorder, recording_roles
from drivers.ringbuffer import RingBuffer
from drivers.session_clock import SessionClock
from drivers.supervisor import DeviceStatus, DeviceSupervisor, LinkState, StateCallback, TimedBlock
from kinetics._checks import input_error
from kinetics.trial import DeviceInfo, Event, Gap, TrialMeta

#: Session seconds of recording-grade blocks kept before a recording starts (their samples may be after it).
PRE_ROLL_S = 1.0
#: Host seconds waited at stop for samples taken before the stop instant that are still on the air.
STOP_GRACE_S = 0.05
#: Notification → ring-buffer latencies kept per device for :meth:`Acquisition.latencies`.
LATENCY_HISTORY = 100_000


@dataclass(frozen=True)
class DeviceSpec:
    """One device of an acquisition: its role ``name`` (``"plate_left"``), ``kind`` key or record, and
    optionally its Bluetooth ``address`` (else the first unclaimed device of the kind)."""

    name: str
    kind: str | DeviceKind
    address: str | None = None

    @property
    def device_kind(self) -> DeviceKind:
        return self.kind if isinstance(self.kind, DeviceKind) else device_kind(self.kind)


def role_names(kinds: Sequence[str]) -> list[str]:
    """Role names for devices of ``kinds`` in order: two plates become ``plate_left``/``plate_right``, a repeated
    kind's later devices ``<kind>_2``, ``<kind>_3``… (``["plate", "plate", "push"]`` → ``["plate_left",
    "plate_right", "push"]``); the simulated fleet names its sensors' roles the same way."""
    names: list[str] = []
    total = {k: list(kinds).count(k) for k in kinds}
    seen: dict[str, int] = {}
    for k in kinds:
        seen[k] = seen.get(k, 0) + 1
        if k == "plate" and total[k] == 2:
            names.append("plate_left" if seen[k] == 1 else "plate_right")
        else:
            names.append(k if seen[k] == 1 else f"{k}_{seen[k]}")
    return names


class Acquisition:
    """Several supervised devices on one :class:`~drivers.session_clock.SessionClock`.

    Parameters
    ----------
    transport : BleTransport or None
        None for an acquisition fed from a raw packet log (:class:`drivers.replay.ReplayAcquisition`).
    devices : sequence of DeviceSpec
        Role names must be unique; may be empty when devices are added later (:meth:`add_device`).
    clock : SessionClock or None
        A new real-time clock when None.
    ring_seconds : float
        Seconds of samples each live ring buffer keeps.
    packet_log_dir : path or None
        Directory for one raw packet log per device (``<name>.knlog``), written before decoding, with the
        session records (devices, recordings, events) that let :mod:`drivers.replay` reproduce the session.
        Give each session its own directory.
    scanner : SharedScanner or None
        The application's scanner; a new one (started and stopped here) when None.
    reconnect_backoff : sequence of float
        Passed to every supervisor.
    settle_span_s : float
        Device seconds each clock mapper observes before its blocks count as recording-grade.
    on_state : callable or None
        ``on_state(name, LinkState)`` on every device's state change (on the event loop), e.g. to show it.
    """

    def __init__(
        self,
        transport: BleTransport | None,
        devices: Sequence[DeviceSpec],
        *,
        clock: SessionClock | None = None,
        ring_seconds: float = 10.0,
        packet_log_dir: str | os.PathLike[str] | None = None,
        scanner: SharedScanner | None = None,
        reconnect_backoff: Sequence[float] = (0.1, 0.2, 0.5, 1.0),
        settle_span_s: float = 10.0,
        on_state: StateCallback | None = None,
    ) -> None:
        specs = list(devices)
        names = [d.name for d in specs]
        if len(set(names)) != len(names):
            raise input_error("devices", f"role names repeat: {names}", "name each device once (plate_left...)")
        if not ring_seconds > 0:
            raise input_error("ring_seconds", f"{ring_seconds!r}", "give the live window in seconds, e.g. 10")
        self.transport = transport
        self.specs = specs
        self.clock = clock if clock is not None else SessionClock()
        self.ring_seconds = float(ring_seconds)
        self.on_state = on_state
        self.kinds = {d.name: d.device_kind for d in specs}
        self.buffers: dict[str, RingBuffer] = {name: self._ring(kind) for name, kind in self.kinds.items()}
        self.packet_log_dir = None if packet_log_dir is None else Path(packet_log_dir)
        self._own_scanner = scanner is None and transport is not None
        self.scanner = scanner if scanner is not None or transport is None else SharedScanner(transport)
        self._claimed: set[str] = set()
        self._logs: dict[str, PacketLogWriter] = {}
        self._session_id = uuid.uuid4().hex
        self._session_seq = 0
        self._reconnect_backoff = tuple(reconnect_backoff)
        self._settle_span_s = float(settle_span_s)
        self.supervisors: dict[str, DeviceSupervisor] = {}
        self._recorder: TrialRecorder | None = None
        self._recording_roles: frozenset[str] = frozenset()
        self._pre_roll: dict[str, deque[TimedBlock]] = {name: deque() for name in self.kinds}
        self._latency: dict[str, deque[float]] = {name: deque(maxlen=LATENCY_HISTORY) for name in self.kinds}
        self._started = False
        #: Samples per device kept by the last finished recording.
        self.last_recorded: dict[str, int] = {}

    # -- lifetime --------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the scanner (if ours) and one supervisor per device; returns without waiting for links."""
        if self._started:
            raise input_error("acquisition", "already started", "create a new Acquisition")
        self._started = True
        if self._own_scanner and self.scanner is not None:
            await self.scanner.start()
        if self.packet_log_dir is not None:
            self.packet_log_dir.mkdir(parents=True, exist_ok=True)
        fixed = {d.address.upper() for d in self.specs if d.address}
        self._claimed.update(fixed)
        for spec in self.specs:
            await self._start_supervisor(spec)

    def _ring(self, kind: DeviceKind) -> RingBuffer:
        return RingBuffer(kind.n_channels, max(2, int(np.ceil(self.ring_seconds * kind.rate))))

    async def _start_supervisor(self, spec: DeviceSpec) -> None:
        log = None
        if self.packet_log_dir is not None:
            log = PacketLogWriter(self.packet_log_dir / f"{spec.name}.knlog")
            self._logs[spec.name] = log
            self._log_session("device-added", [spec.name], **self._log_header(spec))
        sup = self._new_supervisor(spec, log)
        self.supervisors[spec.name] = sup
        await sup.start()

    def _log_header(self, spec: DeviceSpec) -> dict[str, Any]:
        return {
            "session": self._session_id,
            "format": LOG_FORMAT,
            "role": spec.name,
            "kind": self.kinds[spec.name].key,
            "address": spec.address or "",
            "t0": self.clock.t0,
            "speed": self.clock.speed,
            "settle_span_s": self._settle_span_s,
            "specs": [[s.name, self.kinds[s.name].key] for s in self.specs],
        }

    def _new_supervisor(self, spec: DeviceSpec, log: PacketLogWriter | None) -> DeviceSupervisor:
        return DeviceSupervisor(
            self.transport,
            self.kinds[spec.name],
            name=spec.name,
            scanner=self.scanner,
            clock=self.clock,
            address=spec.address,
            packet_log=log,
            on_block=self._on_block,
            on_gap=self._on_gap,
            on_live=self._on_live,
            on_state=self._on_state,
            reconnect_backoff=self._reconnect_backoff,
            claimed=self._claimed,
            settle_span_s=self._settle_span_s,
        )

    async def add_device(self, spec: DeviceSpec) -> RingBuffer:
        """Add a device under a new role; it starts at once if the acquisition runs. Returns its live buffer.

        Not while recording: a trial file's devices are fixed when it starts.
        """
        if spec.name in self.kinds:
            raise input_error("device", f"the role {spec.name!r} is taken", "choose another role or remove it first")
        if self._recorder is not None:
            raise input_error("device", "a recording is running", "add devices before start_recording()")
        kind = spec.device_kind
        address = spec.address.upper() if spec.address else None
        if address is not None and address in self._claimed:
            raise input_error("address", f"{address} is already in this acquisition", "connect each device once")
        self.specs.append(spec)
        self.kinds[spec.name] = kind
        self.buffers[spec.name] = buffer = self._ring(kind)
        self._pre_roll[spec.name] = deque()
        self._latency[spec.name] = deque(maxlen=LATENCY_HISTORY)
        if self._started:
            if address is not None:
                self._claimed.add(address)
            await self._start_supervisor(spec)
        return buffer

    async def remove_device(self, name: str) -> None:
        """Stop device ``name`` (disconnecting it) and forget its role, buffer and packet log.

        Not while recording: a trial file's devices are fixed when it starts.
        """
        if name not in self.kinds:
            raise input_error("device", f"no device {name!r}", f"use one of {list(self.kinds)}")
        if self._recorder is not None:
            raise input_error("device", "a recording is running", "stop_recording() before removing a device")
        spec = next(s for s in self.specs if s.name == name)
        sup = self.supervisors.pop(name, None)
        if sup is not None:
            await sup.stop()
        if spec.address:
            self._claimed.discard(spec.address.upper())
        self._log_session("device-removed", [name])
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()
        self.specs.remove(spec)
        for table in (self.kinds, self.buffers, self._pre_roll, self._latency):
            del table[name]

    async def wait_streaming(self, timeout: float = 15.0) -> bool:
        """Wait up to ``timeout`` host seconds for every device to stream; True if they all do."""
        deadline = time.monotonic() + timeout
        for sup in self.supervisors.values():
            if not await sup.wait_streaming(max(0.0, deadline - time.monotonic())):
                return False
        return True

    async def stop(self) -> None:
        """Stop a recording in progress (keeping its file), every supervisor, the scanner and the logs."""
        if self._recorder is not None:
            await self.stop_recording()
        for sup in self.supervisors.values():
            await sup.stop()
        if self._own_scanner and self.scanner is not None:
            with contextlib.suppress(Exception):
                await self.scanner.stop()
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    async def __aenter__(self) -> Acquisition:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- state -----------------------------------------------------------------------------------------

    def status(self, name: str) -> DeviceStatus:
        """The status of device ``name`` (state, battery, samples, gaps, decode errors...)."""
        try:
            return self.supervisors[name].status()
        except KeyError:
            raise input_error("device", f"no device {name!r}", f"use one of {list(self.kinds)}") from None

    def device_infos(self) -> list[DeviceInfo]:
        """The kinetics :class:`~kinetics.trial.DeviceInfo` of every device, by role, in order."""
        infos = []
        for spec in self.specs:
            sup = self.supervisors.get(spec.name)
            infos.append(
                to_device_info(
                    self.kinds[spec.name],
                    spec.name,
                    sup.address if sup is not None else (spec.address or ""),
                    firmware=sup.firmware if sup is not None else "",
                )
            )
        return infos

    def latencies(self, name: str | None = None) -> NDArray[np.float64]:
        """Host seconds from notification arrival to its samples being in the ring buffer (one per block)."""
        names = list(self.kinds) if name is None else [name]
        parts = [np.fromiter(self._latency[n], dtype=np.float64) for n in names]
        return np.concatenate(parts) if parts else np.zeros(0)

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    @property
    def recorder(self) -> TrialRecorder | None:
        return self._recorder

    # -- recording -------------------------------------------------------------------------------------

    def start_recording(
        self,
        path: str | os.PathLike[str],
        meta: TrialMeta,
        *,
        overwrite: bool = False,
        checkpoint_interval: float = 1.0,
        duration: float | None = None,
        devices: Sequence[str] | None = None,
    ) -> None:
        """Start recording into a new trial file; samples from this session instant on.

        ``devices`` names the roles the trial holds (in that order; None: every device of the acquisition);
        the others keep streaming to their live buffers but none of their samples, gaps or link events enter
        the file. An unknown or unconnected role raises :class:`~kinetics._checks.KineticsInputError`.
        ``duration`` (session s) ends the trial's samples that long after its start even if
        :meth:`stop_recording` comes later (a timed recording holds exactly ``duration`` s of samples).
        """
        if duration is not None and not duration > 0:
            raise input_error("duration", f"{duration!r}", "give the recording length in seconds, or None")
        if self._recorder is not None:
            raise input_error("recording", "one is already running", "stop_recording() first")
        roles = recording_roles(devices, list(self.kinds))
        self._begin_recording(path, meta, self.clock.clock(), duration, overwrite, checkpoint_interval, roles)

    def _begin_recording(
        self,
        path: str | os.PathLike[str],
        meta: TrialMeta,
        host: float,
        duration: float | None,
        overwrite: bool,
        checkpoint_interval: float,
        roles: Sequence[str],
    ) -> None:
        """Start the recorder of ``roles`` (checked) at host-clock instant ``host`` (a replay passes the logged one)."""
        start = self.clock.from_host(host)
        infos = {info.name: info for info in self.device_infos()}
        recorder = TrialRecorder(
            path,
            meta,
            [infos[r] for r in roles],
            start=start,
            checkpoint_interval=checkpoint_interval,
            overwrite=overwrite,
        )
        if duration is not None:
            recorder.stop_time = start + float(duration)
        self._recorder = recorder
        self._recording_roles = frozenset(roles)
        self._log_session(
            "recording-start",
            host=host,
            start=start,
            duration=duration,
            meta=trial_meta_record(meta),
            devices=list(roles),
        )
        recorder.event(Event(start, "trial", "recording started"))
        for name in roles:
            blocks = self._pre_roll[name]
            for block in blocks:
                recorder.block(name, block.counter, block.time, block.values)
            blocks.clear()

    async def stop_recording(self, at: float | None = None) -> Path:
        """Stop recording: wait for samples still on the air, release held blocks, close the file complete.

        ``at`` (session s, not in the future) ends the recording at that instant instead of now, so that a
        recording of S seconds holds exactly the samples taken within S seconds of its start.
        """
        recorder = self._recorder
        if recorder is None:
            raise input_error("recording", "none is running", "start_recording() first")
        now = self.clock.now()
        stop = now if at is None else min(float(at), now)
        self._end_samples_at(recorder, stop)  # before the grace: samples taken from the stop on are not kept
        await asyncio.sleep(STOP_GRACE_S)
        return await self._finish_recording(recorder, stop)

    def _end_samples_at(self, recorder: TrialRecorder, stop: float) -> None:
        recorder.stop_time = min(recorder.stop_time, stop)
        self._log_session("recording-stop-time", stop=stop)

    async def _finish_recording(self, recorder: TrialRecorder, stop: float) -> Path:
        """Release held blocks, add the stop event and close the file complete."""
        for sup in self.supervisors.values():
            sup.flush_pending()
        self._log_session("recording-stop", stop=stop)
        recorder.event(Event(min(recorder.stop_time, stop), "trial", "recording stopped"))
        self._recorder = None
        path = await asyncio.get_running_loop().run_in_executor(None, recorder.close)
        self.last_recorded = recorder.recorded_samples
        return path

    def abort_recording(self) -> Path | None:
        """Close a running recording at once, marked incomplete (blocking; for emergencies)."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        self._log_session("recording-abort")
        return recorder.abort()

    def add_event(self, event: Event) -> None:
        """Record a marker (phase change, cue...) in the running recording; ignored when not recording."""
        if self._recorder is not None:
            self._log_session("event", time=event.time, kind=event.kind, label=event.label, device=event.device)
            self._recorder.event(event)

    def _log_session(
        self, what: str, names: Sequence[str] | None = None, *, host: float | None = None, **data: Any
    ) -> None:
        """Write a session record to the packet logs of ``names`` (default: every device's) at one host instant."""
        if not self._logs:
            return
        when = self.clock.clock() if host is None else host
        self._session_seq += 1
        record = {"what": what, "seq": self._session_seq, **data}
        for name in list(self._logs) if names is None else names:
            log = self._logs.get(name)
            if log is not None:
                log.write(session_packet(when, name, record))

    # -- supervisor callbacks (event loop) -------------------------------------------------------------

    def _on_live(self, block: TimedBlock) -> None:
        self.buffers[block.device].extend(block.time, block.values)
        self._latency[block.device].append(self.clock.clock() - block.host_arrival)

    def _recording(self, name: str) -> TrialRecorder | None:
        """The running recorder if it records device ``name``."""
        return self._recorder if name in self._recording_roles else None

    def _on_block(self, block: TimedBlock) -> None:
        recorder = self._recorder
        if recorder is not None and block.device in self._recording_roles:
            recorder.block(block.device, block.counter, block.time, block.values)
            return
        roll = self._pre_roll[block.device]
        roll.append(block)
        while roll and roll[0].time[-1] < block.time[-1] - PRE_ROLL_S:
            roll.popleft()

    def _on_gap(self, name: str, gap: Gap) -> None:
        recorder = self._recording(name)
        if recorder is not None:
            recorder.gap(name, gap)

    def _on_state(self, name: str, state: LinkState) -> None:
        if self.on_state is not None:
            self.on_state(name, state)
        labels = {
            LinkState.STREAMING: "streaming",
            LinkState.RECONNECTING: "link lost",
            LinkState.STOPPED: "stopped",
        }
        recorder = self._recording(name)
        if recorder is not None and state in labels:
            sup = self.supervisors.get(name)  # the time of the change itself, as the raw log holds it
            when = sup.state_time if sup is not None else self.clock.now()
            recorder.event(Event(when, "device", labels[state], device=name))
