"""The headless protocol runner: walks a protocol's schedule over an acquisition, records and scores each trial.

::

    runner = ProtocolRunner(protocol, acquisition, clock=RealTimeClock(acquisition.clock), out_dir="session-1")
    runner.add_listener(lambda cue: print(cue.kind, cue.text))    # the app draws, a patient reacts
    result = await runner.run()                                   # a SessionResult
    result.save("session-1/session.h5")

The runner is a state machine driven by a :class:`RunnerClock` (session seconds): with the real acquisition it
sleeps on the event loop (:class:`RealTimeClock`, accelerated when the session clock has ``speed`` > 1); in tests
an in-process acquisition advances a virtual clock (:class:`protocols.virtual.VirtualClock`) and the whole
session runs as fast as the computer allows. It follows the rules of ``Protocol.schedule()`` (docs/protocols.md,
"How a session runs") and:

- emits a :class:`Cue` to every listener at each phase (``prepare``, ``countdown``, ``go`` for an effort,
  ``hold``, ``rest``, ``switch_side``), ``stop`` at the end of a trial's recording, ``trial_done`` with the
  scored :class:`~protocols.session.TrialResult`, ``paused``/``resumed`` around a device disconnect, and
  ``done`` at the end;
- records each trial in its own file, from ``lead_in`` s before its first recorded phase (the quiet baseline
  strength scoring needs) to ``tail`` s after the end of its last recorded phase, with ``phase`` events marking
  each recorded phase (``"start hold 2"``/``"end hold 2"``) that :func:`protocols.scoring.score_trial` reads back;
- starts an effort with ``start = "onset"`` when the signal leaves its quiet baseline (mean ± ``onset_k_sd`` SD
  of the second before the cue), the phase lasting ``duration`` from the onset; with no onset within
  ``onset_timeout`` it cues again once, then rejects the trial (flag ``no_onset``);
- ends a hold with ``stop = "balance_loss"`` shortly after the plates see a loss of balance (the stance plate
  below 75 % of the body weight weighed in the phase's first second, or an unloaded plate loaded), event
  ``balance_loss``;
- scores each trial, applies the acceptance rules, offers a redo of rejected trials (``max_redos``), and lets
  a caller :meth:`~ProtocolRunner.redo` or :meth:`~ProtocolRunner.discard` a trial between trials;
- survives a device disconnect: while any device is not streaming the phase clock stops (cue ``paused``), the
  trial gets a ``device`` event and the flag ``disconnected``, and the phase resumes with its remaining time
  when the device is back; the recording keeps running, so every sample that arrived is kept and the missing
  ones are a gap in the file. A device that stays away longer than ``disconnect_timeout`` ends the trial
  (status ``aborted``, flag ``device_lost``) and, if it is still away, the session.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Protocol as TypingProtocol

import numpy as np

from drivers.ringbuffer import RingBuffer
from kinetics.io import read_trial
from kinetics.trial import DeviceInfo, Event, TrialMeta
from protocols.schema import Phase, Protocol, Target, TrialPlan
from protocols.scoring import BALANCE_LOSS, PHASE_END, PHASE_START, TrialScore, phase_label, score_trial
from protocols.session import SessionResult, TrialResult

__all__ = [
    "CUE_KINDS",
    "AcquisitionLike",
    "Cue",
    "ProtocolRunner",
    "RealTimeClock",
    "RunnerClock",
    "RunnerError",
]

#: Every cue kind a listener may receive.
CUE_KINDS = (
    "prepare",
    "countdown",
    "go",
    "hold",
    "rest",
    "switch_side",
    "stop",
    "trial_done",
    "paused",
    "resumed",
    "done",
)
_PHASE_CUE = {
    "prepare": "prepare",
    "countdown": "countdown",
    "effort": "go",
    "hold": "hold",
    "rest": "rest",
    "switch_side": "switch_side",
}
#: Fraction of the weighed body weight below which the stance plate counts as a loss of balance.
BALANCE_LOSS_FRACTION = 0.75
#: Force (N) above which an unloaded plate counts as touched.
CONTACT_FORCE = 20.0
#: Seconds a balance-loss condition must last, and seconds recorded after it before the hold ends.
BALANCE_LOSS_SUSTAIN = 0.1
BALANCE_LOSS_TAIL = 0.5
#: Consecutive samples beyond the onset threshold that make an onset.
ONSET_SAMPLES = 5


class RunnerError(RuntimeError):
    """The runner cannot start or continue (a missing maximum for a percent target, devices not streaming)."""


class RunnerClock(TypingProtocol):
    """Session time for the runner: ``now()`` in s, and ``sleep(seconds)`` of session time."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealTimeClock:
    """A :class:`drivers.session_clock.SessionClock` (or anything with ``now()`` and ``speed``) for the runner:
    ``sleep`` waits ``seconds / speed`` of host time on the event loop."""

    def __init__(self, session_clock: Any) -> None:
        self.session_clock = session_clock

    def now(self) -> float:
        return float(self.session_clock.now())

    async def sleep(self, seconds: float) -> None:
        speed = float(getattr(self.session_clock, "speed", 1.0))
        await asyncio.sleep(max(0.0, seconds) / speed)


class AcquisitionLike(TypingProtocol):
    """What the runner uses of :class:`drivers.acquisition.Acquisition` (and of the in-process one)."""

    buffers: dict[str, RingBuffer]

    def status(self, name: str) -> Any: ...

    def device_infos(self) -> list[DeviceInfo]: ...

    def start_recording(self, path: Any, meta: TrialMeta, *, devices: Sequence[str] | None = None) -> None:
        """Record the roles ``devices`` (None: every device) into a new trial file."""
        ...

    async def stop_recording(self) -> Path: ...

    def add_event(self, event: Event) -> None: ...


@dataclass(frozen=True)
class Cue:
    """What the runner tells the patient and the screen, at session time ``time`` (s).

    ``duration`` is the phase's planned length (s); ``phase``/``phase_index`` the protocol phase (None for
    ``stop``, ``trial_done``, ``paused``, ``resumed`` and ``done``); ``trial`` the trial slot (index into
    ``protocol.trial_plan()``) the cue belongs to; ``target`` the phase's target and ``maximum`` the patient's
    maximum it refers to (N or Pa, ``percent_max`` targets); ``result`` the scored trial (``trial_done``).
    """

    kind: str
    time: float
    text: str
    duration: float = 0.0
    phase_index: int | None = None
    phase: Phase | None = None
    condition: str = "default"
    side: str = "none"
    repetition: int = 0
    trial: int | None = None
    target: Target | None = None
    maximum: float | None = None
    result: TrialResult | None = None


Listener = Callable[[Cue], None]


@dataclass(frozen=True)
class _Slot:
    plan: TrialPlan
    attempt: int = 1


def _streaming(status: Any) -> bool:
    state = getattr(status, "state", status)
    return str(getattr(state, "value", state)) == "streaming"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


class ProtocolRunner:
    """Run ``protocol`` over ``acquisition`` (see the module docstring).

    Parameters
    ----------
    protocol : Protocol
    acquisition : AcquisitionLike
        Started, with one device per sensor role of the protocol (``buffers`` keyed by role).
    clock : RunnerClock, optional
        Default: :class:`RealTimeClock` over ``acquisition.clock``.
    out_dir : path
        Folder for the trial files (created).
    patient_id : str
        Pseudonymous id written into every trial.
    maxima : mapping side → float, optional
        The patient's maximum (N or Pa) per side (``"left"``, ``"right"``, ``"none"``) for ``percent_max``
        targets; a single value for all sides under ``"any"``.
    involved_side : "left" | "right" | None
        The affected side, for the limb symmetry index (default: the weaker side).
    lead_in : float
        Seconds recorded before the first recorded phase of a trial.
    tail : float
        Seconds recorded after the last recorded phase (the release of an effort, the landing of a jump).
    poll_interval : float
        Session seconds between checks during recorded phases and onset waits.
    disconnect_timeout : float
        Session seconds to wait for a lost device.
    max_redos : int
        Automatic redos of a rejected trial slot.
    ready_timeout : float
        Session seconds to wait for every device to stream (and its clock to settle) before the first trial.
    """

    def __init__(
        self,
        protocol: Protocol,
        acquisition: AcquisitionLike,
        *,
        clock: RunnerClock | None = None,
        out_dir: str | Path = ".",
        patient_id: str = "",
        maxima: Mapping[str, float] | None = None,
        involved_side: str | None = None,
        lead_in: float = 1.0,
        tail: float = 0.5,
        poll_interval: float = 0.1,
        disconnect_timeout: float = 30.0,
        max_redos: int = 1,
        ready_timeout: float = 60.0,
    ) -> None:
        missing = [r for r in protocol.sensor_roles if r not in acquisition.buffers]
        if missing:
            raise RunnerError(
                f"the acquisition has no device for role(s) {', '.join(missing)}; "
                f"start it with one device per role: {', '.join(protocol.sensor_roles)}"
            )
        if involved_side not in (None, "left", "right"):
            raise RunnerError(f"involved_side must be 'left', 'right' or None, got {involved_side!r}")
        self.protocol = protocol
        self.acquisition = acquisition
        if clock is None:
            session_clock = getattr(acquisition, "clock", None)
            if session_clock is None:
                raise RunnerError("no clock given and the acquisition has none; pass clock=...")
            clock = RealTimeClock(session_clock)
        self.clock = clock
        self.out_dir = Path(out_dir)
        self.patient_id = patient_id
        self.maxima = dict(maxima or {})
        self.lead_in = float(lead_in)
        self.tail = float(tail)
        self.poll_interval = float(poll_interval)
        self.disconnect_timeout = float(disconnect_timeout)
        self.max_redos = int(max_redos)
        self.ready_timeout = float(ready_timeout)
        self.result = SessionResult(protocol, patient_id=patient_id, involved_side=involved_side)
        self._listeners: list[Listener] = []
        self._queue: list[_Slot] = [_Slot(p) for p in protocol.trial_plan()]
        self._pos = 0
        self._stop = False
        self._infos = {i.name: i for i in acquisition.device_infos()}
        for phase in protocol.phases:
            if phase.target is not None and phase.target.kind == "percent_max":
                for side in dict.fromkeys(p.side for p in protocol.trial_plan()):
                    if self.maximum_for(side) is None:
                        ref = phase.target.reference_protocol or "a maximal test"
                        raise RunnerError(
                            f"{protocol.id}: the target is {phase.target.percent:g} % of the patient's maximum; "
                            f"no maximum for side {side!r}; run {ref} first and pass maxima={{side: value}}"
                        )

    # -- listeners and controls ------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(cue)`` for every cue, in order, on the runner's event loop."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def maximum_for(self, side: str) -> float | None:
        for key in (side, "any"):
            value = self.maxima.get(key)
            if value is not None and math.isfinite(value) and value > 0:
                return float(value)
        if len(self.maxima) == 1:
            (value,) = self.maxima.values()
            return float(value) if math.isfinite(value) and value > 0 else None
        return None

    def redo(self, index: int) -> None:
        """Record trial slot ``index`` again (next, before the remaining trials); its current attempt no
        longer counts (status ``redone``). Call between trials, e.g. from a ``trial_done`` listener."""
        latest = self.result.latest(index)
        if any(s.plan.index == index for s in self._queue[self._pos :]):
            return  # a redo is already queued
        self.result.replace_latest(index, latest.with_status("redone"))
        self._queue.insert(self._pos, _Slot(self._plan(index), latest.attempt + 1))

    def discard(self, index: int) -> None:
        """Throw away the latest attempt at trial slot ``index`` (status ``discarded``; its file is kept)."""
        latest = self.result.latest(index)
        self.result.replace_latest(index, latest.with_status("discarded"))

    def request_stop(self) -> None:
        """End the session after the current trial (the result is marked not completed)."""
        self._stop = True

    def _plan(self, index: int) -> TrialPlan:
        return self.protocol.trial_plan()[index]

    # -- cues ----------------------------------------------------------------------------------------------
    def _emit(self, kind: str, text: str, slot: _Slot | None = None, **kw: Any) -> Cue:
        plan = slot.plan if slot is not None else None
        cue = Cue(
            kind,
            self.clock.now(),
            text,
            condition=plan.condition if plan else "default",
            side=plan.side if plan else "none",
            repetition=plan.repetition if plan else 0,
            trial=plan.index if plan else None,
            **kw,
        )
        self.result.events.append((cue.time, f"{kind}: {text}"))
        for listener in list(self._listeners):
            listener(cue)
        return cue

    def _phase_cue(self, phase: Phase, index: int, slot: _Slot, text: str | None = None) -> Cue:
        target = phase.target
        maximum = self.maximum_for(slot.plan.side) if target is not None and target.kind == "percent_max" else None
        return self._emit(
            _PHASE_CUE[phase.kind],
            text or phase.cue_text,
            slot,
            duration=phase.total_duration,
            phase_index=index,
            phase=phase,
            target=target,
            maximum=maximum,
        )

    # -- waiting -------------------------------------------------------------------------------------------
    def _down(self) -> list[str]:
        return [r for r in self.protocol.sensor_roles if not _streaming(self.acquisition.status(r))]

    async def _until(self, t_end: float, poll: float | None = None) -> None:
        step = self.poll_interval if poll is None else poll
        while (left := t_end - self.clock.now()) > 1e-9:
            await self.clock.sleep(min(step, left))

    async def _wait_devices(self, slot: _Slot | None, timeout: float) -> bool:
        """Wait until every device streams; True if they do within ``timeout`` session seconds."""
        if not self._down():
            return True
        down = self._down()
        self._emit("paused", f"waiting for {', '.join(down)}", slot)
        deadline = self.clock.now() + timeout
        while self._down():
            if self.clock.now() >= deadline:
                return False
            await self.clock.sleep(self.poll_interval)
        self._emit("resumed", "devices back", slot)
        return True

    async def _catch_up(self, until: float) -> None:
        """Wait until every streaming device has delivered its samples up to session time ``until`` (samples
        still on their way when a radio lags behind), at most ``disconnect_timeout`` s."""
        deadline = self.clock.now() + self.disconnect_timeout
        while self.clock.now() < deadline:
            behind = False
            for role in self.protocol.sensor_roles:
                if not _streaming(self.acquisition.status(role)):
                    continue
                info = self._infos.get(role)
                period = 1.0 / info.rate if info is not None else 0.0
                time, _ = self.acquisition.buffers[role].latest(1)
                if time.size == 0 or time[-1] < until - 2 * period:
                    behind = True
                    break
            if not behind:
                return
            await self.clock.sleep(self.poll_interval)

    async def _wait_ready(self) -> None:
        deadline = self.clock.now() + self.ready_timeout
        while True:
            statuses = [self.acquisition.status(r) for r in self.protocol.sensor_roles]
            if all(_streaming(s) and getattr(s, "clock_settled", True) for s in statuses):
                return
            if self.clock.now() >= deadline:
                raise RunnerError(
                    f"devices not streaming after {self.ready_timeout:g} s: {', '.join(self._down()) or 'clocks'}; "
                    "check that the sensors are on and in range"
                )
            await self.clock.sleep(self.poll_interval)

    # -- the session ---------------------------------------------------------------------------------------
    async def run(self) -> SessionResult:
        """Run every trial and return the :class:`SessionResult` (also kept as ``self.result``)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        await self._wait_ready()
        phases = self.protocol.phases
        last_rec = max(i for i, p in enumerate(phases) if p.recorded)
        trailing = [i for i, p in enumerate(phases) if i > last_rec and p.kind == "rest"]
        prepare = [i for i, p in enumerate(phases) if p.kind == "prepare"]
        switch = [i for i, p in enumerate(phases) if p.kind == "switch_side"]
        body = [i for i in range(len(phases)) if i not in trailing + prepare + switch]
        prepared: set[tuple[str, str]] = set()
        prev: _Slot | None = None
        ended_early = False
        while self._pos < len(self._queue):
            if self._stop:
                ended_early = True
                break
            slot = self._queue[self._pos]
            self._pos += 1
            if not await self._wait_devices(slot, self.disconnect_timeout):
                ended_early = True
                self._emit("done", f"stopped: {', '.join(self._down())} did not come back", slot)
                break
            if prev is not None:
                between = switch if prev.plan.side != slot.plan.side else trailing
                owner = slot if prev.plan.side != slot.plan.side else prev
                for i in between:
                    self._phase_cue(phases[i], i, owner)
                    await self._until(self.clock.now() + phases[i].total_duration, poll=phases[i].total_duration)
            key = (slot.plan.condition, slot.plan.side)
            if key not in prepared:
                prepared.add(key)
                for i in prepare:
                    self._phase_cue(phases[i], i, slot)
                    await self._until(self.clock.now() + phases[i].total_duration, poll=phases[i].total_duration)
            trial = await self._run_trial(slot, body)
            self.result.add(trial)
            if trial.status == "rejected" and slot.attempt <= self.max_redos:
                self.result.replace_latest(trial.index, trial.with_status("redone"))
                self._queue.insert(self._pos, _Slot(slot.plan, slot.attempt + 1))
            self._emit(
                "trial_done", f"trial {trial.index + 1} {trial.status}", slot, result=self.result.latest(trial.index)
            )
            prev = slot
        self.result.effort_cv_flags()
        self.result.completed = not ended_early
        if not ended_early or self._stop:
            self._emit("done", "session complete" if not ended_early else "session stopped")
        return self.result

    def _trial_path(self, slot: _Slot) -> Path:
        p = slot.plan
        name = f"{self.protocol.id}-t{p.index + 1:02d}-{p.side}-{_slug(p.condition)}-r{p.repetition}-a{slot.attempt}.h5"
        return self.out_dir / name

    def _meta(self, slot: _Slot) -> TrialMeta:
        p = slot.plan
        extra: dict[str, str | int | float] = {
            "condition": p.condition,
            "repetition": p.repetition,
            "trial_index": p.index,
            "attempt": slot.attempt,
        }
        maximum = self.maximum_for(p.side)
        if maximum is not None and any(
            ph.target is not None and ph.target.kind == "percent_max" for ph in self.protocol.phases
        ):
            extra["target_maximum"] = maximum
        return TrialMeta(protocol=self.protocol.id, side=p.side, patient_id=self.patient_id, extra=extra)

    async def _run_trial(self, slot: _Slot, body: Sequence[int]) -> TrialResult:
        phases = self.protocol.phases
        recorded = [i for i in body if phases[i].recorded]
        first_rec, last_rec = recorded[0], recorded[-1]
        path = self._trial_path(slot)
        state = _TrialState()
        recording = False
        t_start = math.nan

        def start_recording() -> None:
            nonlocal recording, t_start
            # only the protocol's sensors: other connected devices (the app keeps several) stay out of the trial
            self.acquisition.start_recording(path, self._meta(slot), devices=self.protocol.sensor_roles)
            recording = True
            t_start = self.clock.now()

        for i in body:
            phase = phases[i]
            if i < first_rec and body.index(i) == body.index(first_rec) - 1:
                # the step just before the recording: start the recording lead_in s before its end
                self._phase_cue(phase, i, slot)
                end = self.clock.now() + phase.total_duration
                await self._until(max(self.clock.now(), end - self.lead_in), poll=phase.total_duration)
                start_recording()
                await self._until(end, poll=phase.total_duration)
                continue
            if i == first_rec and not recording:
                start_recording()
                await self._until(self.clock.now() + self.lead_in, poll=self.lead_in)
            if phase.recorded and recording:
                ok = await self._run_recorded(phase, i, slot, state)
                if not ok:
                    break
                if i == last_rec:
                    self._emit("stop", "Relax", slot)
                    await self._until(self.clock.now() + self.tail, poll=self.tail)
                    await self._stop_recording(state)
                    recording = False
                continue
            self._phase_cue(phase, i, slot)
            await self._until(self.clock.now() + phase.total_duration, poll=phase.total_duration)
        if recording:
            self._emit("stop", "Relax", slot)
            await self._stop_recording(state)
        return await self._score(slot, state, t_start)

    async def _stop_recording(self, state: _TrialState) -> None:
        await self._catch_up(self.clock.now())
        state.path = await self.acquisition.stop_recording()
        state.end = self.clock.now()

    def _event(self, kind: str, label: str, device: str = "", time: float | None = None) -> None:
        self.acquisition.add_event(Event(self.clock.now() if time is None else time, kind, label, device))

    async def _run_recorded(self, phase: Phase, index: int, slot: _Slot, state: _TrialState) -> bool:
        """Run one recorded phase; False when the trial cannot go on (no onset, device lost)."""
        cue = self._phase_cue(phase, index, slot)
        start = cue.time
        if phase.start == "onset":
            onset = await self._wait_onset(phase, slot, cue.time)
            if onset is None:
                self._phase_cue(phase, index, slot, text=f"{phase.cue_text} (again)")
                onset = await self._wait_onset(phase, slot, self.clock.now())
            if onset is None:
                state.flags.append("no_onset")
                state.notes.append(f"no effort detected within 2 × {phase.onset_timeout:g} s")
                state.rejected = True
                return False
            start = onset
            self._event("marker", f"onset {index}", time=onset)
        self._event("phase", phase_label(PHASE_START, phase, index), time=start)
        end = start + phase.total_duration
        balance = _BalanceWatch(self, phase, start) if phase.stop == "balance_loss" else None
        while (left := end - self.clock.now()) > 1e-9:
            await self.clock.sleep(min(self.poll_interval, left))
            down = self._down()
            if down:
                lost_at = self.clock.now()
                state.flags.append("disconnected")
                for role in down:
                    self._event("device", f"disconnected during {phase.kind} {index}", device=role)
                back = await self._wait_devices(slot, self.disconnect_timeout)
                if not back:
                    state.flags.append("device_lost")
                    state.notes.append(
                        f"{', '.join(self._down())} did not come back within {self.disconnect_timeout:g} s"
                    )
                    state.aborted = True
                    self._event("phase", phase_label(PHASE_END, phase, index))
                    return False
                paused = self.clock.now() - lost_at
                state.notes.append(f"paused {paused:.1f} s for {', '.join(down)}")
                for role in down:
                    self._event("device", f"reconnected after {paused:.1f} s", device=role)
                end += paused
            if balance is not None:
                lost = balance.check()
                if lost is not None:
                    self._event("marker", BALANCE_LOSS, time=lost)
                    end = min(end, max(self.clock.now(), lost + BALANCE_LOSS_TAIL))
                    balance = None
        self._event("phase", phase_label(PHASE_END, phase, index), time=end)
        return True

    def _onset_role(self, phase: Phase) -> str:
        if phase.target is not None and phase.target.sensor:
            return phase.target.sensor
        return self.protocol.sensor_roles[0]

    def _signal(self, role: str, t_from: float) -> tuple[np.ndarray, np.ndarray]:
        """(time, signal) in the ring buffer of ``role`` from session time ``t_from``: force/pressure, a plate's
        vertical force (sum of its cells) or a goniometer's angular speed."""
        buf = self.acquisition.buffers[role]
        time, values = buf.latest()
        keep = time >= t_from
        time, values = time[keep], values[:, keep]
        info = self._infos.get(role)
        names = info.channel_names if info is not None else ()
        if info is not None and info.kind == "plate":
            cells = [k for k, n in enumerate(names) if n.startswith("cell_")] or list(range(values.shape[0]))
            return time, values[cells].sum(axis=0)
        if info is not None and info.kind == "goniometer":
            gyr = [k for k, n in enumerate(names) if n.startswith("gyr_")] or [0, 1, 2]
            return time, np.linalg.norm(values[gyr], axis=0)
        return time, values[0]

    async def _wait_onset(self, phase: Phase, slot: _Slot, cue_time: float) -> float | None:
        role = self._onset_role(phase)
        t_base, base = self._signal(role, cue_time - 1.0)
        base = base[t_base < cue_time]
        if base.size < 3:
            await self.clock.sleep(self.poll_interval)
            t_base, base = self._signal(role, cue_time - 1.0)
            base = base[t_base < cue_time]
        mean = float(np.mean(base)) if base.size else 0.0
        info = self._infos.get(role)
        lsb = 0.01
        if info is not None:
            lsb = max((v for k, v in info.calibration.items() if k.endswith("_lsb")), default=0.01)
        sd = max(float(np.std(base)) if base.size > 1 else 0.0, 2.0 * lsb)
        threshold = phase.onset_k_sd * sd
        deadline = cue_time + phase.onset_timeout
        while True:
            time, signal = self._signal(role, cue_time)
            beyond = np.abs(signal - mean) > threshold
            if beyond.size >= ONSET_SAMPLES:
                runs = np.convolve(beyond.astype(np.int64), np.ones(ONSET_SAMPLES, dtype=np.int64), "valid")
                hit = np.flatnonzero(runs == ONSET_SAMPLES)
                if hit.size:
                    return float(time[hit[0]])
            if self.clock.now() >= deadline:
                return None
            await self.clock.sleep(self.poll_interval)

    async def _score(self, slot: _Slot, state: _TrialState, t_start: float) -> TrialResult:
        p = slot.plan
        if state.path is None:
            raise RunnerError("internal: a trial ended without its file")  # pragma: no cover
        path = Path(state.path)
        loop = asyncio.get_running_loop()
        score: TrialScore = await loop.run_in_executor(None, _score_file, path, self.protocol)
        trial_id = await loop.run_in_executor(None, _trial_id, path)
        status = "accepted"
        if state.aborted:
            status = "aborted"
        elif state.rejected or score.rejected:
            status = "rejected"
        return TrialResult(
            trial_id=trial_id,
            path=path,
            values=dict(score.values),
            units=dict(score.units),
            methods=dict(score.methods),
            flags=tuple(dict.fromkeys(tuple(state.flags) + score.flags)),
            notes=tuple(state.notes) + score.notes,
            status=status,
            start=t_start,
            end=state.end,
            index=p.index,
            condition=p.condition,
            side=p.side,
            repetition=p.repetition,
            attempt=slot.attempt,
        )


def _score_file(path: Path, protocol: Protocol) -> TrialScore:
    return score_trial(read_trial(path), protocol)


def _trial_id(path: Path) -> str:
    return read_trial(path).meta.trial_id


class _TrialState:
    def __init__(self) -> None:
        self.flags: list[str] = []
        self.notes: list[str] = []
        self.rejected = False
        self.aborted = False
        self.path: Path | None = None
        self.end = math.nan


class _BalanceWatch:
    """Watches the plates during a hold for a loss of balance (see the module docstring)."""

    def __init__(self, runner: ProtocolRunner, phase: Phase, start: float) -> None:
        self.runner = runner
        self.start = start
        self.roles = [r for r in runner.protocol.sensor_roles if runner.protocol.sensor_for_role(r).kind == "plate"]
        self.weight: float | None = None
        self.unloaded: list[str] = []

    def check(self) -> float | None:
        r = self.runner
        series = [r._signal(role, self.start) for role in self.roles]
        if self.weight is None:
            if any(t.size == 0 or t[-1] < self.start + 1.0 for t, _ in series):
                return None
            firsts = [f[t < self.start + 1.0] for t, f in series]
            self.weight = float(sum(np.mean(f) for f in firsts))
            self.unloaded = [role for role, f in zip(self.roles, firsts, strict=True) if np.mean(f) < CONTACT_FORCE]
            return None
        n = min(int(np.count_nonzero(t >= self.start + 1.0)) for t, _ in series)  # after the weighing second
        if n == 0:
            return None
        time = series[0][0][-n:]
        total = np.sum([f[-n:] for _, f in series], axis=0)
        lost: np.ndarray = np.asarray(total < BALANCE_LOSS_FRACTION * self.weight)
        for role, (_, f) in zip(self.roles, series, strict=True):
            if role in self.unloaded:
                lost = lost | (f[-n:] >= CONTACT_FORCE)
        info = r._infos.get(self.roles[0])
        need = max(1, round(BALANCE_LOSS_SUSTAIN * (info.rate if info is not None else 100.0)))
        if lost.size < need:
            return None
        runs = np.convolve(lost.astype(np.int64), np.ones(need, dtype=np.int64), "valid")
        hit = np.flatnonzero(runs == need)
        return float(time[hit[0]]) if hit.size else None
