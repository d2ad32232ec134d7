"""Replay of a raw packet-log directory: a session rebuilt through the same supervisors, without a radio.

An :class:`~drivers.acquisition.Acquisition` with ``packet_log_dir`` (``kinetics record --packet-log DIR``)
writes one log per device: every notification before it is decoded, the supervisor's link events (state
changes, device description, clock flushes) and the acquisition's session records (devices added, recordings
started and stopped, events), each with its host-clock time (:mod:`drivers.packetlog`).
:class:`ReplayAcquisition` reads such a directory and feeds it, in the order it happened, through the very same
code: one :class:`~drivers.supervisor.DeviceSupervisor` per device (decode, counters, gaps, clock mapping), the
acquisition's ring buffers, pre-roll and :class:`~drivers.recording.TrialRecorder`. Its session clock reads the
logged host time of the record being replayed, so every time computed from the clock is the one computed live::

    acq = ReplayAcquisition("logs/", trial_path=lambda i: f"replayed-{i}.h5")
    paths = await acq.run()          # as fast as possible; speed=1.0 keeps the recorded pace

With ``trial_path`` the recordings of the log are reproduced, bit for bit: the same samples, times, counters,
gaps, events and metadata — the regression test of every stage from the codec to the trial file. Without it
the replay is a device source like any other: start it (at a ``speed``), read ``acq.buffers``, and record
trials of your own with :meth:`~drivers.acquisition.Acquisition.start_recording`.

A log cut short by a crash replays what it holds: a torn last record is ignored, and a recording whose stop
never reached the log is closed incomplete (``trial.complete`` False) with the samples the log holds.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import math
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.acquisition import Acquisition, DeviceSpec, recording_roles
from drivers.devices import device_kind
from drivers.packetlog import (
    LOG_FORMAT,
    MAGIC,
    Packet,
    ReadReport,
    RecordType,
    read_log,
    session_data,
    trial_meta_from_record,
)
from drivers.session_clock import SessionClock
from kinetics._checks import KineticsInputError, input_error
from kinetics.trial import Event

logger = logging.getLogger(__name__)

#: Records replayed between two yields to the event loop when replaying as fast as possible.
YIELD_EVERY = 256
LOG_SUFFIX = ".knlog"


class ReplayClock(SessionClock):
    """The session clock of a replayed session: it reads the logged host time of the record being replayed.

    ``t0`` and ``speed`` are the recorded session clock's, so ``from_host`` and ``now`` give the very times the
    live session computed.
    """

    def __init__(self, t0: float, speed: float) -> None:
        self.host_now = float(t0)
        super().__init__(clock=self._read, speed=speed)

    def _read(self) -> float:
        return self.host_now


@dataclass(frozen=True)
class LoggedDevice:
    """One device log of a directory: its file, role, kind key, and what :func:`read_log` found."""

    path: Path
    role: str
    kind: str
    records: int
    skipped_bytes: int
    torn_tail_bytes: int


@dataclass
class SessionLog:
    """A packet-log directory read and checked: the recorded clock, the first devices, every record.

    ``specs`` are the acquisition's devices when its first log was opened (later ones join as their
    ``device-added`` records come); ``recordings`` counts the recordings the log started.
    """

    directory: Path
    session: str
    t0: float
    speed: float
    settle_span_s: float
    specs: list[DeviceSpec]
    devices: list[LoggedDevice]
    recordings: int
    streams: list[list[Packet]] = field(repr=False)

    @property
    def span(self) -> float:
        """Host seconds from the first record to the last."""
        times = [p.host_time for s in self.streams for p in (s[0], s[-1])]
        return max(times) - min(times)


def _problem(path: Path, problem: str, remedy: str) -> KineticsInputError:
    return input_error("packet log", f"{path} {problem}", remedy)


def load_session_log(directory: str | os.PathLike[str]) -> SessionLog:
    """Read every ``*.knlog`` of ``directory`` (as an acquisition's ``packet_log_dir`` holds them) and check it.

    Raises :class:`~kinetics._checks.KineticsInputError` for a missing or empty directory, a file of another
    format, a log without session records (written by an older Kinetics or by a lone ``PacketLogWriter``), a
    newer format, logs of different sessions mixed in one directory, or an unknown device kind.
    """
    root = Path(directory)
    if not root.is_dir():
        raise _problem(root, "is not a directory", "pass the directory given to --packet-log")
    files = sorted(root.glob(f"*{LOG_SUFFIX}"))
    if not files:
        raise _problem(root, f"holds no packet logs (*{LOG_SUFFIX})", "pass the directory given to --packet-log")
    headers: list[tuple[int, dict[str, Any]]] = []
    devices: list[LoggedDevice] = []
    streams: list[list[Packet]] = []
    sessions: set[str] = set()
    recordings: set[int] = set()
    for path in files:
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise _problem(path, f"is not a Kinetics packet log (it does not start with {MAGIC!r})", "remove it")
        report = ReadReport()
        packets = list(read_log(path, report))
        if not packets:
            logger.info("%s holds no intact record; skipped", path)
            continue
        first = _header(path, packets[0])
        for packet in packets:
            if packet.type is not RecordType.SESSION:
                continue
            data = _session(path, packet)
            if data["what"] == "device-added":
                _check_header(path, data)
                sessions.add(str(data["session"]))
                headers.append((data["seq"], data))
            elif data["what"] == "recording-start":
                recordings.add(data["seq"])
        if len(sessions) > 1:
            raise _problem(
                root, "mixes the logs of several sessions", "give each session its own --packet-log directory"
            )
        devices.append(
            LoggedDevice(
                path,
                str(first["role"]),
                str(first["kind"]),
                report.records,
                report.skipped_bytes,
                report.torn_tail_bytes,
            )
        )
        streams.append(packets)
    if not streams:
        raise _problem(root, "holds packet logs without a single intact record", "replay a directory of a session")
    headers.sort(key=lambda item: item[0])
    origin = headers[0][1]
    specs = [DeviceSpec(str(role), str(kind)) for role, kind in origin["specs"]]
    for spec in specs:  # the initial devices: their addresses from their own headers
        own = next((h for _, h in headers if h["role"] == spec.name), None)
        if own is not None and own["address"]:
            specs[specs.index(spec)] = DeviceSpec(spec.name, str(spec.kind), str(own["address"]))
    return SessionLog(
        directory=root,
        session=str(origin["session"]),
        t0=float(origin["t0"]),
        speed=float(origin["speed"]),
        settle_span_s=float(origin["settle_span_s"]),
        specs=specs,
        devices=devices,
        recordings=len(recordings),
        streams=streams,
    )


def _session(path: Path, packet: Packet) -> dict[str, Any]:
    try:
        return session_data(packet)
    except (ValueError, UnicodeDecodeError) as error:
        raise _problem(path, f"holds a session record that is not valid ({error})", "the file is damaged") from None


def _header(path: Path, packet: Packet) -> dict[str, Any]:
    if packet.type is not RecordType.SESSION:
        raise _problem(
            path,
            "has no session header (written by an older Kinetics, or by a PacketLogWriter outside an Acquisition)",
            "it cannot be replayed; record the session again with this version",
        )
    data = _session(path, packet)
    if data["what"] != "device-added":
        raise _problem(path, f"starts with a {data['what']!r} record, not a device header", "the file is damaged")
    _check_header(path, data)
    return data


def _check_header(path: Path, data: dict[str, Any]) -> None:
    fmt = data.get("format")
    if not isinstance(fmt, int) or fmt > LOG_FORMAT:
        raise _problem(path, f"is of format {fmt!r}; this Kinetics reads format {LOG_FORMAT}", "update Kinetics")
    missing = [
        k for k in ("session", "role", "kind", "address", "t0", "speed", "settle_span_s", "specs") if k not in data
    ]
    if missing:
        raise _problem(path, f"has a device header without {', '.join(missing)}", "the file is damaged")
    for _, kind in data["specs"]:
        device_kind(str(kind))  # unknown kinds fail here with the table's own message
    speed = float(data["speed"])
    if not (math.isfinite(speed) and speed > 0):
        raise _problem(path, f"records a session clock speed of {speed!r}", "the file is damaged")


class ReplayAcquisition(Acquisition):
    """An :class:`~drivers.acquisition.Acquisition` fed from a packet-log directory instead of a radio.

    Parameters
    ----------
    log : path or SessionLog
        The directory an acquisition's ``packet_log_dir`` wrote, or its :func:`load_session_log`.
    speed : float or None
        None (default) replays as fast as possible; 1.0 at the pace it was recorded (host time), 10.0 ten
        times faster.
    trial_path : callable or None
        ``trial_path(i)`` gives the file for the log's ``i``-th recording (1-based): the log's recordings are
        then reproduced exactly. None: the log's recording records are ignored; record with
        :meth:`start_recording` yourself.
    overwrite : bool
        Replace existing trial files of ``trial_path``.
    ring_seconds : float
        Seconds of samples each live ring buffer keeps.

    The public surface is the acquisition's (``buffers``, ``status``, ``device_infos``, ``start_recording``,
    ``stop_recording``, ``add_event``, ``start``/``stop``) plus :meth:`run`, :meth:`wait_finished` and
    ``trial_paths`` (the files written so far). Commands (tare, rate) are not available: a log cannot answer.
    """

    def __init__(
        self,
        log: str | os.PathLike[str] | SessionLog,
        *,
        speed: float | None = None,
        trial_path: Callable[[int], str | os.PathLike[str]] | None = None,
        overwrite: bool = False,
        ring_seconds: float = 10.0,
    ) -> None:
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise input_error("speed", f"{speed!r}", "give a positive factor, or None for as fast as possible")
        self.log = log if isinstance(log, SessionLog) else load_session_log(log)
        self.replay_clock = ReplayClock(self.log.t0, self.log.speed)
        super().__init__(
            None,
            self.log.specs,
            clock=self.replay_clock,
            ring_seconds=ring_seconds,
            settle_span_s=self.log.settle_span_s,
        )
        self.speed = speed
        self.trial_path = trial_path
        self.overwrite = overwrite
        #: Trial files written from the log's recordings, in order.
        self.trial_paths: list[Path] = []
        #: Records replayed so far.
        self.records_replayed = 0
        self._applied: set[int] = set()
        self._feeder: asyncio.Task[None] | None = None
        self._finished = asyncio.Event()

    # -- lifetime --------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the supervisors and start replaying in a background task (returns at once)."""
        await super().start()
        self._feeder = asyncio.get_running_loop().create_task(self._feed(), name="packet-log-replay")

    async def _start_supervisor(self, spec: DeviceSpec) -> None:
        # fed by the replay: created, never started (its states come from the log)
        self.supervisors[spec.name] = self._new_supervisor(spec, None)

    @property
    def finished(self) -> bool:
        """True once every record has been replayed."""
        return self._finished.is_set()

    async def wait_finished(self) -> None:
        """Wait until every record has been replayed; re-raises an error of the replay."""
        if self._feeder is None:
            raise input_error("replay", "not started", "await start() first")
        await asyncio.shield(self._feeder)

    async def run(self) -> list[Path]:
        """Start, replay every record, stop; returns the trial files written (see ``trial_path``)."""
        await self.start()
        try:
            await self.wait_finished()
        finally:
            await self.stop()
        return list(self.trial_paths)

    async def wait_streaming(self, timeout: float = 15.0) -> bool:
        """Wait up to ``timeout`` host seconds for every device to stream in the replay; False if it ends first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not all(sup.is_streaming for sup in self.supervisors.values()):
            if self.finished or loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True

    async def stop(self) -> None:
        """Stop replaying (if it still runs), a recording of yours in progress, and the supervisors."""
        feeder, self._feeder = self._feeder, None
        if feeder is not None and not feeder.done():
            feeder.cancel()
            try:
                await feeder
            except asyncio.CancelledError:
                if (task := asyncio.current_task()) is not None and task.cancelling():
                    raise
        await super().stop()

    # -- the replay ------------------------------------------------------------------------------------

    async def _feed(self) -> None:
        try:
            await self._replay_all()
        finally:
            self._finished.set()

    async def _replay_all(self) -> None:
        loop = asyncio.get_running_loop()
        streams = self.log.streams
        # merge the device logs by host time; at one instant, data before session records (see packetlog)
        heap: list[tuple[float, bool, int, int]] = [
            (s[0].host_time, s[0].type is RecordType.SESSION, i, 0) for i, s in enumerate(streams)
        ]
        heapq.heapify(heap)
        host0 = min(item[0] for item in heap)
        wall0 = loop.time()
        while heap:
            host, _, i, k = heapq.heappop(heap)
            stream = streams[i]
            if k + 1 < len(stream):
                nxt = stream[k + 1]
                heapq.heappush(heap, (nxt.host_time, nxt.type is RecordType.SESSION, i, k + 1))
            if self.speed is not None:
                wait = wall0 + (host - host0) / self.speed - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            elif self.records_replayed % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            self.replay_clock.host_now = host
            await self._apply(stream[k])
            self.records_replayed += 1
        await self._end_of_log()

    async def _apply(self, packet: Packet) -> None:
        sup = self.supervisors.get(packet.device)
        if packet.type is RecordType.NOTIFICATION:
            if sup is not None and packet.characteristic == _uuid_text(sup.kind.data_uuid):
                sup.feed(packet.payload, self.clock.from_host(packet.host_time), packet.host_time)
        elif packet.type is RecordType.LINK:
            if sup is not None:
                sup.apply_link_record(packet.payload.decode(errors="replace"))
        elif packet.type is RecordType.SESSION:
            data = session_data(packet)
            if data["seq"] not in self._applied:  # every device's log holds a copy
                self._applied.add(data["seq"])
                await self._apply_session(data, packet.host_time)

    async def _apply_session(self, data: dict[str, Any], host: float) -> None:
        what = data["what"]
        if what == "device-added":
            role = str(data["role"])
            if role not in self.kinds:
                await self.add_device(DeviceSpec(role, str(data["kind"]), str(data["address"]) or None))
        elif what == "device-removed":
            role = str(data.get("role", ""))
            if role in self.kinds:
                await self.remove_device(role)
        elif self.trial_path is None:
            return  # the log's recordings are not reproduced: the caller records
        elif what == "recording-start":
            if self._recorder is not None:  # the previous recording's stop is missing from every log
                await self._close_unfinished()
            path = Path(self.trial_path(len(self.trial_paths) + 1))
            duration = data.get("duration")
            meta = trial_meta_from_record(data["meta"])
            # the roles the original trial held (logs written before device selection: every device); a role
            # whose own log is missing from the directory is left out as its samples are
            logged = data.get("devices")
            kept = None if logged is None else [str(r) for r in logged if str(r) in self.kinds]
            roles = recording_roles(kept, list(self.kinds))
            self._begin_recording(
                path, meta, host, None if duration is None else float(duration), self.overwrite, 1.0, roles
            )
            self.trial_paths.append(path)
        elif what == "recording-stop-time" and self._recorder is not None:
            self._end_samples_at(self._recorder, float(data["stop"]))
        elif what == "recording-stop" and self._recorder is not None:
            await self._finish_recording(self._recorder, float(data["stop"]))
        elif what == "recording-abort":
            await asyncio.get_running_loop().run_in_executor(None, self.abort_recording)
        elif what == "event":
            self.add_event(Event(float(data["time"]), str(data["kind"]), str(data["label"]), str(data["device"])))

    async def _end_of_log(self) -> None:
        if self.trial_path is not None and self._recorder is not None:
            await self._close_unfinished()

    async def _close_unfinished(self) -> None:
        """The log ends inside a recording (a crash): keep what it holds, close the trial incomplete."""
        recorder = self._recorder
        if recorder is None:
            return
        for sup in self.supervisors.values():
            sup.flush_pending()
        recorder.event(Event(self.clock.now(), "trial", "packet log ended"))
        self._recorder = None
        await asyncio.get_running_loop().run_in_executor(None, recorder.abort)
        self.last_recorded = recorder.recorded_samples


@functools.lru_cache(maxsize=64)
def _uuid_text(value: str) -> str:
    """A characteristic UUID as the packet log writes it (lower-case, 36 characters)."""
    return str(uuid.UUID(value))


def numbered_paths(out: str | os.PathLike[str], count: int) -> Sequence[Path]:
    """Trial files for ``count`` recordings: ``out`` itself for one, ``<stem>-<i><suffix>`` for several."""
    base = Path(out)
    if count <= 1:
        return [base]
    return [base.with_name(f"{base.stem}-{i}{base.suffix}") for i in range(1, count + 1)]
