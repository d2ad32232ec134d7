"""Score one recorded trial the way its protocol says: pick the channels, call the scorers, apply the rules.

``score_trial(trial, protocol)`` reads only the trial (a :class:`kinetics.trial.Trial`, e.g. from
:func:`kinetics.io.read_trial`) and the protocol, so a trial file can be re-scored at any time with the same
result. What it needs to know about the session it finds in the trial itself:

- the phases, from the runner's ``phase`` events: ``"start <kind> <index>"`` / ``"end <kind> <index>"`` at the
  session times the phase began and ended (:data:`PHASE_START` / :data:`PHASE_END`); an effort that started on
  the detected onset of effort starts at the onset;
- the patient's maximum for a ``percent_max`` target, from ``meta.extra["target_maximum"]`` (N or Pa).

Channels per sensor kind: a dynamometer's single channel (``force`` in N, ``pressure`` in Pa); a plate's
vertical force is the sum of its load cells (or its ``fz``) and its centre of pressure comes from
:func:`kinetics.balance.cop_from_recording`; two plates are combined in one frame with
:func:`kinetics.balance.combine_plates` (plate origins from the plate geometry ``origin`` when the device has it,
else side by side :data:`PLATE_HALF_SPACING` m left and right of the centre); a goniometer's gyroscope and
accelerometer give its orientation (:func:`kinetics.rom.orientation`, VQF), the still ``hold`` before the
movement gives the zero pose, and the angle is taken about the axis the segment turned about most (the principal
axis of the rotation vectors during the movement; sign: the larger excursion positive). Two goniometers give
the distal sensor's orientation relative to the proximal one (first role proximal).

A device with missing samples (a reconnection) is put back on its regular sample grid by linear interpolation
between the samples either side of each gap, so that time-based scores keep their meaning; the ``max_gap``
acceptance rule flags the trial when too much is missing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics import balance, jumps, rom, strength
from kinetics._checks import KineticsInputError, KineticsWarning
from kinetics.results import Metrics
from kinetics.targets import cop_zone_metrics
from kinetics.trial import DeviceRecording, Trial
from protocols.schema import SCORERS, Phase, Protocol, Target

__all__ = [
    "PHASE_END",
    "PHASE_START",
    "PLATE_HALF_SPACING",
    "PhaseSpan",
    "TrialScore",
    "phase_label",
    "phase_spans",
    "score_trial",
    "signal_of",
]

FloatArray = NDArray[np.float64]

#: Event labels the runner writes (``kind`` ``"phase"``): ``"start hold 2"``, ``"end hold 2"``.
PHASE_START = "start"
PHASE_END = "end"
#: Half the distance (m) between the centres of two plates standing side by side (left at −, right at +).
PLATE_HALF_SPACING = balance.PLATE_HALF_SPACING
#: Marker event label of a detected loss of balance (its time is the loss).
BALANCE_LOSS = "balance_loss"
#: Flag of a trial whose scorer could not score it (the reason is in ``TrialScore.notes``).
NOT_SCORED = "not_scored"
#: Jump-scorer flags that reject a trial (the jump conventions: an unquiet weighing is no measurement).
_JUMP_REJECT = ("quiet_phase_too_short", "quiet_phase_not_quiet", "no_flight")


def phase_label(edge: str, phase: Phase, index: int) -> str:
    """The label of a phase event: ``"start effort 3"``."""
    return f"{edge} {phase.kind} {index}"


@dataclass(frozen=True)
class PhaseSpan:
    """One recorded phase of a trial: its index in ``protocol.phases``, kind and session times (s)."""

    index: int
    kind: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class TrialScore:
    """The scores of one trial: metric values, units and methods by key, flags, and whether it is rejected.

    ``values`` hold every metric the protocol lists (NaN when a scorer could not score the trial, with flag
    ``not_scored`` and the reason in ``notes``). ``flags`` are the acceptance-rule flags (``bad_quiet_phase``,
    ``out_of_range``, ``data_gap``) and the scorers' own quality flags; ``rejected`` is True when a rule with
    ``action = "reject"`` (or a jump scorer's invalid quiet phase) fired.
    """

    values: Mapping[str, float]
    units: Mapping[str, str]
    methods: Mapping[str, str]
    flags: tuple[str, ...] = ()
    rejected: bool = False
    notes: tuple[str, ...] = ()
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def phase_spans(trial: Trial) -> list[PhaseSpan]:
    """The phases recorded in ``trial``, from its ``phase`` events, in order."""
    starts: dict[int, tuple[str, float]] = {}
    spans: list[PhaseSpan] = []
    for ev in sorted((e for e in trial.events if e.kind == "phase"), key=lambda e: e.time):
        parts = ev.label.split()
        if len(parts) != 3 or not parts[2].isdigit():
            continue
        edge, kind, index = parts[0], parts[1], int(parts[2])
        if edge == PHASE_START:
            starts[index] = (kind, ev.time)
        elif edge == PHASE_END and index in starts:
            k, t0 = starts.pop(index)
            spans.append(PhaseSpan(index, k, t0, ev.time))
    end = _trial_end(trial)
    for index, (k, t0) in starts.items():  # a phase that never ended (interrupted recording): to the last sample
        spans.append(PhaseSpan(index, k, t0, max(t0, end)))
    return sorted(spans, key=lambda s: (s.start, s.index))


def _trial_end(trial: Trial) -> float:
    ends = [float(d.time[-1]) for d in trial.devices.values() if d.n_samples]
    return max(ends) if ends else 0.0


# ---------------------------------------------------------------------------------------------------------
# channels
# ---------------------------------------------------------------------------------------------------------


def signal_of(rec: DeviceRecording) -> tuple[FloatArray, FloatArray, str]:
    """(time, signal, unit) of the quantity a target or an onset refers to: force (N), pressure (Pa), a plate's
    vertical force (N, the sum of its cells or ``fz``), or for a goniometer the angular speed (rad/s)."""
    time, values = rec.on_regular_grid()
    names = rec.info.channel_names
    kind = rec.info.kind
    if kind == "plate":
        if "fz" in names:
            return time, values[names.index("fz")], "N"
        cells = [i for i, n in enumerate(names) if n.startswith("cell_")]
        return time, values[cells].sum(axis=0), "N"
    if kind == "goniometer":
        gyr = [i for i, n in enumerate(names) if n.startswith("gyr_")]
        return time, np.linalg.norm(values[gyr], axis=0), "rad/s"
    return time, values[0], rec.info.channels[0].unit


def _on_grid(t_ref: FloatArray, t: FloatArray, v: FloatArray) -> FloatArray:
    return np.interp(t_ref, t, v) if (t.shape != t_ref.shape or not np.array_equal(t, t_ref)) else v


def _plate_roles(protocol: Protocol, trial: Trial, only: str = "") -> list[str]:
    roles = [r for r in protocol.sensor_roles if protocol.sensor_for_role(r).kind == "plate" and r in trial.devices]
    if only:
        return [only]
    return roles


def _left_right(roles: list[str]) -> tuple[str, str]:
    left = next((r for r in roles if "left" in r), roles[0])
    right = next((r for r in roles if r != left), roles[-1])
    return left, right


def _cop(trial: Trial, roles: list[str]) -> tuple[FloatArray, FloatArray, float]:
    """(time (n,), cop (2, n) in m, fs) of one plate or the net COP of two."""
    both = balance.cop_from_trial(trial, tuple(roles))
    return both.time, both.cop, both.fs


def _plate_forces(trial: Trial, roles: list[str]) -> tuple[FloatArray, FloatArray, float]:
    """(time (n,), vertical force (n_plates, n) in N, fs) of the plates, on the first plate's time grid."""
    t_ref, f0, _ = signal_of(trial.device(roles[0]))
    rows = [f0]
    for role in roles[1:]:
        t, f, _ = signal_of(trial.device(role))
        rows.append(_on_grid(t_ref, t, f))
    return t_ref, np.vstack(rows), trial.device(roles[0]).info.rate


def _window(time: FloatArray, start: float, end: float) -> NDArray[np.bool_]:
    return (time >= start) & (time < end)


# ---------------------------------------------------------------------------------------------------------
# scorers
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    trial: Trial
    protocol: Protocol
    spans: list[PhaseSpan]
    maximum: float | None

    def first_span(self, kinds: tuple[str, ...] = ("effort", "hold")) -> PhaseSpan | None:
        return next((s for s in self.spans if s.kind in kinds), None)

    def last_span(self, kinds: tuple[str, ...] = ("effort", "hold")) -> PhaseSpan | None:
        found = [s for s in self.spans if s.kind in kinds]
        return found[-1] if found else None

    def target_span(self) -> tuple[PhaseSpan, Target] | None:
        for s in self.spans:
            target = self.protocol.phases[s.index].target
            if target is not None:
                return s, target
        return None

    def role_for(self, scorer: str) -> str:
        kinds = SCORERS[scorer].sensors
        ts = self.target_span()
        if ts is not None and ts[1].sensor and self.protocol.sensor_for_role(ts[1].sensor).kind in kinds:
            return ts[1].sensor
        return next(r for r in self.protocol.sensor_roles if self.protocol.sensor_for_role(r).kind in kinds)


def _strength(name: str, ctx: _Context, params: dict[str, Any]) -> Metrics:
    rec = ctx.trial.device(ctx.role_for(name))
    time, signal, unit = signal_of(rec)
    fs = rec.info.rate
    fn = getattr(strength, name.split(".")[1])
    if name == "strength.force_control_metrics":
        ts = ctx.target_span()
        if ts is None:
            raise KineticsInputError("force control needs a phase with a target; the protocol has none recorded")
        span, target = ts
        keep = _window(time, span.start, span.end)
        t_rel = time[keep] - span.start
        level = np.array([target.level_at(float(t), ctx.maximum) for t in t_rel])
        band = target.band_at(0.0, ctx.maximum)
        half = 0.5 * (band[1] - band[0])
        return fn(signal[keep], level, fs, band=half if half > 0 else None, unit=unit, **params)
    return fn(signal, fs, unit=unit, **params)


def _jump(name: str, ctx: _Context, params: dict[str, Any]) -> Metrics:
    roles = _plate_roles(ctx.protocol, ctx.trial)
    _, forces, fs = _plate_forces(ctx.trial, roles)
    fn = getattr(jumps, name.split(".")[1])
    if len(roles) >= 2:
        left, right = _left_right(roles)
        order = [roles.index(left), roles.index(right)]
        return fn(forces[order], fs, sides=True, on_invalid="flag", **params)
    return fn(forces[0], fs, on_invalid="flag", **params)


def _balance(name: str, ctx: _Context, params: dict[str, Any]) -> Metrics:
    roles = _plate_roles(ctx.protocol, ctx.trial)
    func = name.split(".")[1]
    hold = ctx.last_span(("hold", "effort"))
    if hold is None:
        raise KineticsInputError("no recorded hold phase in the trial; record again")
    end = hold.end
    if func == "limits_of_stability":
        time, cop, _ = _cop(ctx.trial, roles)
        first = ctx.first_span(("hold",))
        assert first is not None
        start = first.start
        keep = _window(time, start, end)
        centre_win = _window(time, first.start, first.end)
        centre = cop[:, centre_win].mean(axis=1)
        return balance.limits_of_stability(cop[:, keep], centre=centre, **params)
    if func == "weight_bearing":
        time, forces, _ = _plate_forces(ctx.trial, roles)
        left, right = _left_right(roles)
        keep = _window(time, hold.start, end)
        return balance.weight_bearing(forces[roles.index(left), keep], forces[roles.index(right), keep], **params)
    if func == "single_leg_stance":
        time, forces, fs = _plate_forces(ctx.trial, roles)
        keep = time >= hold.start  # to the end of the recording: the loss of balance may end the phase
        return balance.single_leg_stance(forces[0, keep], fs, **params)
    loss = [e.time for e in ctx.trial.events if e.kind == "marker" and e.label == BALANCE_LOSS]
    if loss:  # sway while standing, not the step down
        end = min(end, min(loss))
    time, cop, fs = _cop(ctx.trial, roles)
    keep = _window(time, hold.start, end)
    return balance.sway_metrics(cop[:, keep], fs, **params)


def _cop_zone(name: str, ctx: _Context, params: dict[str, Any]) -> Metrics:
    ts = ctx.target_span()
    if ts is None or ts[1].kind != "cop_zone":
        raise KineticsInputError("no recorded phase has a cop_zone target; record again")
    span, target = ts
    roles = _plate_roles(ctx.protocol, ctx.trial, target.sensor)
    time, cop, fs = _cop(ctx.trial, roles)
    keep = _window(time, span.start, span.end)
    t_rel = time[keep] - span.start
    zones = np.array([target.zone_at(float(t)) for t in t_rel]).T  # (3, n)
    return cop_zone_metrics(cop[:, keep], zones[:2], zones[2], fs)


def _orientation(rec: DeviceRecording) -> tuple[FloatArray, FloatArray, float]:
    time, values = rec.on_regular_grid()
    names = rec.info.channel_names
    gyr = values[[names.index(f"gyr_{a}") for a in "xyz"]].T
    acc = values[[names.index(f"acc_{a}") for a in "xyz"]].T
    fs = rec.info.rate
    return time, rom.orientation(gyr, acc, fs), fs


def _rom(name: str, ctx: _Context, params: dict[str, Any]) -> Metrics:
    roles = [r for r in ctx.protocol.sensor_roles if ctx.protocol.sensor_for_role(r).kind == "goniometer"]
    time, quat, fs = _orientation(ctx.trial.device(roles[0]))
    if len(roles) >= 2:
        t2, q2, _ = _orientation(ctx.trial.device(roles[1]))
        if t2.shape != time.shape or not np.array_equal(t2, time):
            q2 = np.stack([np.interp(time, t2, q2[:, i]) for i in range(4)], axis=1)
            q2 /= np.linalg.norm(q2, axis=1, keepdims=True)
        quat = rom.relative_orientation(quat, q2)
    still = ctx.first_span(("hold",))
    move = ctx.last_span(("effort",)) or ctx.last_span(("hold",))
    assert move is not None
    if still is not None and still is not move:
        duration = min(still.duration, 2.0)
        zero = rom.calibrate_zero_pose(quat, fs, start=float(still.start - time[0]), duration=duration)
    else:
        zero = quat[0]
    keep = _window(time, move.start, move.end)
    delta = rom.quat_multiply(rom.quat_conjugate(zero), quat[keep])
    rotvec = rom.quat_to_rotvec(delta)
    _, _, vt = np.linalg.svd(rotvec - 0.0, full_matrices=False)
    axis = vt[0]
    angle = rom.segment_angle(quat[keep], axis, zero)
    if abs(float(np.min(angle))) > abs(float(np.max(angle))):
        angle = -angle
    return rom.rom_metrics(angle, fs, **params)


_FAMILIES = {"strength": _strength, "jumps": _jump, "balance": _balance, "target": _cop_zone, "rom": _rom}


# ---------------------------------------------------------------------------------------------------------
# the trial's score
# ---------------------------------------------------------------------------------------------------------


def score_trial(trial: Trial, protocol: Protocol, *, maximum: float | None = None) -> TrialScore:
    """Score ``trial`` with every scorer of ``protocol.scoring`` and apply the per-trial acceptance rules.

    ``maximum`` (N or Pa) is the patient's maximum for a ``percent_max`` target; by default the trial's
    ``meta.extra["target_maximum"]``. The ``effort_cv`` rule compares repetitions and is applied by the
    session (:class:`protocols.session.SessionResult`), not here.
    """
    if maximum is None:
        stored = trial.meta.extra.get("target_maximum")
        maximum = float(stored) if isinstance(stored, (int, float)) and not isinstance(stored, bool) else None
    ctx = _Context(trial, protocol, phase_spans(trial), maximum)
    values: dict[str, float] = {}
    units: dict[str, str] = {}
    methods: dict[str, str] = {}
    used: dict[str, Mapping[str, Any]] = {}
    flags: list[str] = []
    notes: list[str] = []
    rejected = False
    for use in protocol.scoring.scorers:
        family = use.name.split(".")[0]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", KineticsWarning)
                result = _FAMILIES[family](use.name, ctx, dict(use.params))
            notes.extend(f"{use.name}: {w.message}" for w in caught if issubclass(w.category, KineticsWarning))
        except (KineticsInputError, StopIteration, AssertionError) as err:
            for key in use.metrics:
                values[key] = math.nan
                units[key] = ""
                methods[key] = ""
            flags.append(NOT_SCORED)
            notes.append(f"{use.name}: {err}")
            continue
        used[use.name] = dict(result.params)
        for key in use.metrics:
            value = result.data.get(key, math.nan)
            values[key] = float(np.asarray(value, dtype=np.float64)) if np.ndim(value) == 0 else math.nan
            units[key] = result.units.get(key, "")
            methods[key] = result.method
        for flag, on in result.flags.items():
            if bool(np.any(on)):
                flags.append(flag)
                if family == "jumps" and flag in _JUMP_REJECT:
                    rejected = True
                    notes.append(f"{use.name}: {flag.replace('_', ' ')}")
    for rule in protocol.acceptance:
        try:
            fired, note = _rule_fires(rule.rule, rule, ctx, values)
        except KineticsInputError as err:  # e.g. a device that recorded nothing: the rule cannot pass
            fired, note = True, f"{rule.rule}: cannot be checked: {err}"
        if fired:
            flags.append(_RULE_FLAGS[rule.rule])
            notes.append(note)
            rejected = rejected or rule.action == "reject"
    return TrialScore(values, units, methods, tuple(dict.fromkeys(flags)), rejected, tuple(notes), used)


_RULE_FLAGS = {
    "effort_cv": "inconsistent_effort",
    "quiet_phase": "bad_quiet_phase",
    "metric_range": "out_of_range",
    "max_gap": "data_gap",
}


def _rule_fires(kind: str, rule: Any, ctx: _Context, values: Mapping[str, float]) -> tuple[bool, str]:
    if kind == "max_gap":
        missing = max(
            (sum(g.missing_samples for g in d.gaps) / d.info.rate for d in ctx.trial.devices.values()), default=0.0
        )
        return missing > rule.max_missing, f"{missing:.2f} s of data missing (at most {rule.max_missing:g} s)"
    if kind == "metric_range":
        value = values.get(rule.metric, math.nan)
        low = -math.inf if rule.minimum is None else rule.minimum
        high = math.inf if rule.maximum is None else rule.maximum
        ok = math.isfinite(value) and low <= value <= high
        return not ok, f"{rule.metric} = {value:g} outside [{low:g}, {high:g}]"
    if kind == "quiet_phase":
        span = ctx.first_span(("hold",))
        if span is None:
            return True, "no quiet (hold) phase recorded"
        roles = list(ctx.trial.devices)
        plates = [r for r in roles if ctx.trial.devices[r].info.kind == "plate"]
        if plates:
            time, forces, _ = _plate_forces(ctx.trial, plates)
            signal = forces.sum(axis=0)
        else:
            time, signal, _ = signal_of(ctx.trial.device(roles[0]))
        keep = _window(time, span.start, span.end)
        sd = float(np.std(signal[keep])) if np.count_nonzero(keep) > 1 else math.inf
        too_short = rule.min_duration is not None and span.duration < rule.min_duration
        return (
            sd > rule.max_sd or too_short,
            f"quiet phase SD {sd:.2f} (at most {rule.max_sd:g}), {span.duration:.2f} s",
        )
    return False, ""
