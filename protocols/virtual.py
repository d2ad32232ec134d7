"""An in-process acquisition on a virtual clock: the runner's interface without radio, as fast as NumPy goes.

:class:`VirtualAcquisition` offers what :class:`protocols.runner.ProtocolRunner` uses of
:class:`drivers.acquisition.Acquisition` — ``buffers`` (one :class:`~drivers.ringbuffer.RingBuffer` per role),
``status(role)``, ``device_infos()``, ``start_recording(path, meta, devices=roles)`` / ``await stop_recording()`` into a
:class:`kinetics.io.TrialWriter`, ``add_event`` — fed by :class:`VirtualSensor` objects that sample a signal
script (``values(first_counter, n)``, as ``drivers.sim`` sensors do) at their device rate. Time is a
:class:`VirtualClock`: the runner's ``sleep`` advances it, and every advance delivers the samples taken until
then. ``drop_link(role, start, duration)`` simulates a link loss: the samples taken meanwhile never arrive (a
counter gap, recorded as a :class:`kinetics.trial.Gap`), the device's state is ``reconnecting``, and the
acquisition writes ``device`` events, as the real one does.

It serves the tests (every built-in protocol end to end in seconds), replays and offline demos; the real thing
over Bluetooth (or the virtual radio) is :class:`drivers.acquisition.Acquisition`.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drivers.devices import DeviceKind, device_kind, to_device_info
from drivers.recording import recording_roles
from drivers.ringbuffer import RingBuffer
from kinetics.io import TrialWriter
from kinetics.trial import DeviceInfo, Event, Gap, TrialMeta

__all__ = ["VirtualAcquisition", "VirtualClock", "VirtualSensor", "VirtualStatus"]


class VirtualClock:
    """Session time that moves only when someone sleeps on it (``now()`` in s, ``await sleep(seconds)``)."""

    speed = math.inf

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._listeners: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self._now

    def subscribe(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(now)`` after every advance."""
        self._listeners.append(listener)

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, float(seconds))
        for listener in list(self._listeners):
            listener(self._now)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


class _Silence:
    def __init__(self, rate: float, n_channels: int) -> None:
        self.rate = rate
        self.n_channels = n_channels

    def values(self, first_counter: int, n: int) -> NDArray[np.float64]:
        return np.zeros((self.n_channels, n))


class VirtualSensor:
    """A device of ``kind`` sampling ``script`` at its rate from session time ``start`` (counter 0).

    ``counter`` is the next sample to be taken; ``set_script(script, restart=False)`` measures ``script`` from
    the next sample on (``restart=True``: the script's counter 0 is that sample, as ``drivers.sim`` sensors do).
    """

    def __init__(
        self,
        kind: str | DeviceKind,
        clock: VirtualClock,
        *,
        script: Any = None,
        start: float | None = None,
        address: str = "",
    ) -> None:
        self.kind = kind if isinstance(kind, DeviceKind) else device_kind(kind)
        self.clock = clock
        self.rate = float(self.kind.rate)
        self.start = clock.now() if start is None else float(start)
        self.address = address
        self._script = script if script is not None else _Silence(self.rate, self.kind.n_channels)
        self._origin = 0
        self._taken = 0  # samples taken so far (the next counter)
        lsb = [c.lsb for c in self.kind.channels]
        self._lsb = None if any(v is None for v in lsb) else np.array(lsb, dtype=np.float64)[:, None]

    @property
    def counter(self) -> int:
        return self._taken

    @property
    def device_time(self) -> float:
        return self._taken / self.rate

    def set_script(self, script: Any, *, restart: bool = True) -> None:
        if script.n_channels != self.kind.n_channels:
            raise ValueError(f"script has {script.n_channels} channels, a {self.kind.label} has {self.kind.n_channels}")
        self._script = script
        self._origin = self._taken if restart else 0

    def take(self, until: float) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Samples taken up to session time ``until``: (counters, times, values (n_ch, n))."""
        last = math.floor((until - self.start) * self.rate + 1e-9)
        n = last + 1 - self._taken
        if n <= 0:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros((self.kind.n_channels, 0))
        first = self._taken
        counters = np.arange(first, first + n, dtype=np.int64)
        values = np.asarray(self._script.values(first - self._origin, n), dtype=np.float64)
        if self._lsb is not None:  # what the codec transmits: integer codes of one lsb
            values = np.round(values / self._lsb) * self._lsb
        self._taken += n
        return counters, self.start + counters / self.rate, values


@dataclass
class VirtualStatus:
    """State of one virtual device (``state``: ``"streaming"`` or ``"reconnecting"``)."""

    name: str
    kind: str
    state: str = "streaming"
    samples: int = 0
    gaps: int = 0
    missing_samples: int = 0
    reconnects: int = 0
    clock_settled: bool = True


@dataclass
class _Link:
    drops: list[tuple[float, float]] = field(default_factory=list)
    last_counter: int | None = None
    last_time: float = math.nan
    down: bool = False


class VirtualAcquisition:
    """Virtual devices by role on a :class:`VirtualClock` (see the module docstring).

    ``keep_log=True`` keeps every delivered sample per role (:meth:`delivered`), for tests that check that a
    recording holds everything that arrived.
    """

    def __init__(
        self,
        sensors: Mapping[str, VirtualSensor],
        clock: VirtualClock,
        *,
        ring_seconds: float = 10.0,
        keep_log: bool = False,
    ) -> None:
        self.sensors = dict(sensors)
        self.clock = clock
        self.buffers: dict[str, RingBuffer] = {
            role: RingBuffer(s.kind.n_channels, max(2, math.ceil(ring_seconds * s.rate)))
            for role, s in self.sensors.items()
        }
        self._status = {role: VirtualStatus(role, s.kind.trial_kind) for role, s in self.sensors.items()}
        self._links = {role: _Link() for role in self.sensors}
        self._writer: TrialWriter | None = None
        self._rec_start = math.nan
        self._rec_roles: frozenset[str] = frozenset()
        self._keep = keep_log
        self._log: dict[str, list[tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]]] = {
            r: [] for r in self.sensors
        }
        self.events: list[Event] = []
        self._dtypes = {i.name: np.dtype(i.value_dtype) for i in self.device_infos()}
        clock.subscribe(self._advance)

    @classmethod
    def for_protocol(
        cls, roles_kinds: Mapping[str, str], clock: VirtualClock | None = None, **kw: Any
    ) -> VirtualAcquisition:
        """An acquisition with one :class:`VirtualSensor` per ``role: kind``."""
        clock = clock or VirtualClock()
        sensors = {role: VirtualSensor(kind, clock, address=f"virtual:{role}") for role, kind in roles_kinds.items()}
        return cls(sensors, clock, **kw)

    # -- the Acquisition interface ----------------------------------------------------------------------
    async def start(self) -> None:
        self._advance(self.clock.now())

    async def stop(self) -> None:
        if self._writer is not None:
            await self.stop_recording()

    def status(self, name: str) -> VirtualStatus:
        return self._status[name]

    def device_infos(self) -> list[DeviceInfo]:
        return [to_device_info(s.kind, role, s.address) for role, s in self.sensors.items()]

    @property
    def recording(self) -> bool:
        return self._writer is not None

    def start_recording(
        self,
        path: str | os.PathLike[str],
        meta: TrialMeta,
        *,
        overwrite: bool = False,
        devices: Sequence[str] | None = None,
    ) -> None:
        """Record ``devices`` (roles, in that order; None: every sensor) into a new trial file from now on.

        The other sensors keep feeding their live buffers; none of their samples, gaps or link events enter
        the file. An unknown role raises :class:`~kinetics._checks.KineticsInputError`.
        """
        if self._writer is not None:
            raise RuntimeError("a recording is already running; stop_recording() first")
        roles = self._recording_roles(devices)
        infos = {info.name: info for info in self.device_infos()}
        self._writer = TrialWriter(path, meta, [infos[r] for r in roles], overwrite=overwrite, checkpoint_interval=5.0)
        self._rec_roles = frozenset(roles)
        self._rec_start = self.clock.now()
        self._writer.add_event(Event(self._rec_start, "trial", "recording started"))

    async def stop_recording(self) -> Path:
        writer = self._writer
        if writer is None:
            raise RuntimeError("no recording is running; start_recording() first")
        writer.add_event(Event(self.clock.now(), "trial", "recording stopped"))
        self._writer = None
        writer.close()
        return writer.path

    def _recording_roles(self, devices: Sequence[str] | None) -> list[str]:
        """``devices`` checked against the sensors, by the same rules as a real acquisition."""
        return list(recording_roles(devices, list(self.sensors)))

    def add_event(self, event: Event) -> None:
        self.events.append(event)
        if self._writer is not None:
            self._writer.add_event(event)

    # -- faults and inspection ---------------------------------------------------------------------------
    def drop_link(self, role: str, start: float, duration: float) -> None:
        """Lose ``role``'s link from session time ``start`` for ``duration`` s (samples taken meanwhile are lost)."""
        self._links[role].drops.append((float(start), float(start) + float(duration)))

    def delivered(self, role: str) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Every sample of ``role`` that arrived (counters, times, values); needs ``keep_log=True``."""
        parts = self._log[role]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros((self.sensors[role].kind.n_channels, 0))
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts], axis=1),
        )

    # -- delivery --------------------------------------------------------------------------------------------
    def _advance(self, now: float) -> None:
        for role, sensor in self.sensors.items():
            counters, times, values = sensor.take(now)
            link = self._links[role]
            status = self._status[role]
            lost = np.zeros(times.shape, dtype=bool)
            for a, b in link.drops:
                lost |= (times >= a) & (times < b)
            was_down = link.down
            link.down = any(a <= now < b for a, b in link.drops)
            if link.down and not was_down:
                status.state = "reconnecting"
                self._device_event(now, "link lost", role)
            keep = ~lost
            counters, times, values = counters[keep], times[keep], values[:, keep]
            if counters.size:
                if link.last_counter is not None and counters[0] > link.last_counter + 1:
                    gap = Gap(link.last_counter + 1, int(counters[0]) - 1, link.last_time, float(times[0]))
                    status.gaps += 1
                    status.missing_samples += gap.missing_samples
                    if self._writer is not None and role in self._rec_roles and gap.end >= self._rec_start:
                        self._writer.add_gap(role, gap)
                link.last_counter, link.last_time = int(counters[-1]), float(times[-1])
                status.samples += counters.size
                self.buffers[role].extend(times, values)
                if self._keep:
                    self._log[role].append((counters, times, values))
                if self._writer is not None and role in self._rec_roles:
                    rec = times >= self._rec_start
                    if rec.any():
                        dtype = self._dtypes[role]
                        self._writer.append(role, times[rec], counters[rec], values[:, rec].astype(dtype))
            if was_down and not link.down:
                status.state = "streaming"
                status.reconnects += 1
                self._device_event(now, "streaming", role)

    def _device_event(self, time: float, label: str, role: str) -> None:
        ev = Event(time, "device", label, device=role)
        self.events.append(ev)
        if self._writer is not None and role in self._rec_roles:
            self._writer.add_event(ev)
