"""The exercise-protocol format: frozen dataclasses, the allowed values, and the validation.

A protocol says which sensors to use and where, which sides, what one repetition looks like (a list of
:class:`Phase`), how many repetitions, which targets to show, which metrics to compute and which one is the
headline, when a trial is flagged, and where its norms come from. The TOML files of ``protocols/library`` are
this structure written down; :func:`protocol_from_dict` turns a parsed TOML table into a :class:`Protocol` and
every problem is a :class:`ProtocolError` naming the field (``phases[2].duration``) and what is expected.

Units are SI (N, Pa, m, s) and degrees for angles, as everywhere in Kinetics. The field reference with every
default and allowed value is ``docs/protocols.md``.

Scorer names and their metric keys live in :data:`SCORERS` — the one list of what a protocol may ask the
``kinetics`` scoring modules for.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union, get_args, get_origin, get_type_hints

from kinetics.trial import DEVICE_KINDS

#: Newest format version this code reads (``format_version`` in a file).
FORMAT_VERSION = 1

CATEGORIES = ("strength", "rom", "balance", "jump", "training")
REGIONS = (
    "hand",
    "wrist",
    "elbow",
    "shoulder",
    "neck",
    "lumbar_spine",
    "hip",
    "knee",
    "ankle",
    "upper_limb",
    "lower_limb",
    "whole_body",
)
#: Sensor kinds: the device kinds of the trial model (``kinetics.trial.DEVICE_KINDS``), one list for all.
SENSOR_KINDS: tuple[str, ...] = tuple(DEVICE_KINDS)
#: The SI unit of the signal a target or an onset refers to, per sensor kind (a plate's is its vertical force).
SIGNAL_UNITS: Mapping[str, str] = types.MappingProxyType(
    {
        "push": "N",
        "grip": "N",
        "pull": "N",
        "force": "N",
        "scale": "N",
        "plate": "N",
        "pneumatic": "Pa",
        "goniometer": "deg",
    }
)
SIDES = ("none", "left", "right", "both", "alternating")
FIRST_SIDES = ("right", "left")
PHASE_KINDS = ("prepare", "countdown", "effort", "hold", "rest", "switch_side")
#: Phase kinds recorded unless the phase says ``record = false``.
RECORDED_KINDS = ("effort", "hold")
PHASE_STARTS = ("cue", "onset")
PHASE_STOPS = ("time", "balance_loss")
#: Longest countdown (s): a countdown is a short "3, 2, 1"; a longer wait is a prepare or rest phase.
MAX_COUNTDOWN = 10.0
#: Longest phase (s).
MAX_PHASE_DURATION = 3600.0
TARGET_KINDS = ("absolute", "percent_max", "angle_range", "cop_zone")
TARGET_PROFILES = ("constant", "ramp", "sine", "steps")
AGGREGATES = ("best", "mean", "median")
BETTER = ("higher", "lower")
SIDE_COMPARISONS = ("auto", "none", "lsi", "symmetry_index", "bishop_asymmetry")
ACCEPTANCE_RULES = ("effort_cv", "quiet_phase", "metric_range", "max_gap")
ACCEPTANCE_ACTIONS = ("flag", "reject")
SEXES = ("any", "female", "male")
NORM_SIDES = ("any", "left", "right", "dominant", "non_dominant")

_FORCE_KINDS = ("push", "grip", "pull", "force", "plate", "pneumatic")
_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_KEY = r"^[a-z][a-z0-9_]*$"


@dataclass(frozen=True)
class ScorerSpec:
    """A ``kinetics`` scoring function a protocol may name, the metric keys it returns and the sensors it reads."""

    name: str
    family: str
    sensors: tuple[str, ...]
    metrics: tuple[str, ...]
    #: Fewest sensors of those kinds it needs (weight bearing compares two plates).
    min_sensors: int = 1


_STRENGTH_SENSORS = ("push", "grip", "pull", "force", "pneumatic", "plate")
_SCORER_LIST = (
    ScorerSpec(
        "strength.isometric_metrics",
        "strength",
        _STRENGTH_SENSORS,
        (
            "onset_time",
            "peak_force",
            "time_to_peak",
            "mean_force",
            "hold_duration",
            "rfd_0_50",
            "rfd_0_100",
            "rfd_0_200",
            "peak_rfd_20ms",
            "rtd_20_80",
            "impulse",
            "net_impulse",
            "force_at_50ms",
            "force_at_100ms",
            "force_at_200ms",
            "relaxation_time",
            "baseline_force",
            "baseline_sd",
        ),
    ),
    ScorerSpec(
        "strength.repetition_metrics",
        "strength",
        _STRENGTH_SENSORS,
        (
            "n_efforts",
            "best_peak_force",
            "mean_peak_force",
            "sd_peak_force",
            "cv_peak_force",
            "fatigue_index",
            "fatigue_slope",
        ),
    ),
    ScorerSpec(
        "strength.endurance_metrics",
        "strength",
        _STRENGTH_SENSORS,
        ("peak_force", "time_above_50pct", "time_to_75pct", "time_to_50pct", "time_to_25pct"),
    ),
    ScorerSpec(
        "strength.force_control_metrics",
        "strength",
        _STRENGTH_SENSORS,
        (
            "constant_error",
            "absolute_error",
            "variable_error",
            "total_error",
            "time_in_band",
            "time_in_band_fraction",
            "scored_time",
        ),
    ),
    ScorerSpec(
        "jumps.cmj_metrics",
        "jumps",
        ("plate",),
        (
            "body_weight",
            "body_mass",
            "quiet_sd",
            "onset_time",
            "unweighting_duration",
            "braking_duration",
            "eccentric_duration",
            "propulsion_duration",
            "time_to_takeoff",
            "flight_time",
            "landing_duration",
            "takeoff_velocity",
            "jump_height",
            "jump_height_flight_time",
            "mrsi",
            "peak_velocity",
            "peak_negative_velocity",
            "landing_velocity",
            "min_unweighting_force",
            "unweighting_impulse",
            "peak_braking_force",
            "mean_braking_force",
            "braking_impulse",
            "braking_rfd",
            "peak_braking_power",
            "force_at_zero_velocity",
            "countermovement_depth",
            "peak_propulsive_force",
            "mean_propulsive_force",
            "net_propulsive_impulse",
            "peak_propulsive_power",
            "mean_propulsive_power",
            "takeoff_momentum",
            "peak_landing_force",
        ),
    ),
    ScorerSpec(
        "jumps.sj_metrics",
        "jumps",
        ("plate",),
        (
            "body_weight",
            "body_mass",
            "quiet_sd",
            "onset_time",
            "propulsion_duration",
            "time_to_takeoff",
            "flight_time",
            "landing_duration",
            "takeoff_velocity",
            "jump_height",
            "jump_height_flight_time",
            "mrsi",
            "peak_velocity",
            "landing_velocity",
            "countermovement_depth",
            "peak_propulsive_force",
            "mean_propulsive_force",
            "net_propulsive_impulse",
            "peak_propulsive_power",
            "mean_propulsive_power",
            "takeoff_momentum",
            "peak_landing_force",
            "min_force_before_peak",
        ),
    ),
    ScorerSpec(
        "jumps.drop_jump_metrics",
        "jumps",
        ("plate",),
        (
            "body_weight",
            "body_mass",
            "contact_time",
            "flight_time",
            "jump_height_flight_time",
            "rsi",
            "rsi_flight_contact",
            "peak_contact_force",
            "time_to_peak_contact_force",
            "contact_net_impulse",
            "peak_landing_force",
            # these need the box height (params: drop_height = ... in m)
            "touchdown_velocity",
            "takeoff_velocity",
            "jump_height",
            "braking_duration",
            "propulsion_duration",
            "braking_impulse",
            "peak_braking_force",
            "mean_braking_force",
            "net_propulsive_impulse",
            "peak_propulsive_force",
            "mean_propulsive_force",
            "peak_propulsive_power",
            "countermovement_depth",
        ),
    ),
    ScorerSpec(
        "jumps.hop_metrics",
        "jumps",
        ("plate",),
        (
            "body_weight",
            "n_hops",
            "rsi",
            "rsi_best",
            "rsi_mean",
            "rsi_flight_contact",
            "contact_time",
            "flight_time",
            "jump_height_flight_time",
            "peak_force",
            "stiffness",
        ),
    ),
    ScorerSpec(
        "balance.sway_metrics",
        "balance",
        ("plate",),
        (
            "path_length",
            "mean_velocity",
            "mean_velocity_ml",
            "mean_velocity_ap",
            "ellipse_area_95",
            "rms",
            "rms_ml",
            "rms_ap",
            "range",
            "range_ml",
            "range_ap",
            "mean_distance",
            "max_distance",
            "sway_area_per_second",
            "mean_frequency",
            "mean_frequency_ml",
            "mean_frequency_ap",
            "total_power",
            "power_frequency_50_ml",
            "power_frequency_50_ap",
            "power_frequency_95_ml",
            "power_frequency_95_ap",
            "principal_sway_direction",
            "fractal_dimension_cc",
            "critical_time",
            "critical_displacement",
        ),
    ),
    ScorerSpec("balance.single_leg_stance", "balance", ("plate",), ("stance_time", "stance_start", "body_weight")),
    ScorerSpec(
        "balance.weight_bearing",
        "balance",
        ("plate",),
        ("weight_share_left", "weight_share_right", "weight_bearing_asymmetry"),
        min_sensors=2,
    ),
    ScorerSpec(
        "balance.limits_of_stability",
        "balance",
        ("plate",),
        (
            "los_forward",
            "los_forward_right",
            "los_right",
            "los_backward_right",
            "los_backward",
            "los_backward_left",
            "los_left",
            "los_forward_left",
            "los_area",
        ),
    ),
    ScorerSpec(
        "rom.rom_metrics",
        "rom",
        ("goniometer",),
        (
            "rom",
            "min_angle",
            "max_angle",
            "repetitions",
            "mean_repetition_range",
            "mean_repetition_duration",
            "peak_angular_velocity",
            "time_at_end_range",
        ),
    ),
    # Computed by the protocol runner from the live target and the COP (not a kinetics function): the time the
    # COP spends inside the moving zone, and its mean distance from the zone's centre.
    ScorerSpec("target.cop_zone_metrics", "target", ("plate",), ("time_in_zone", "mean_target_distance")),
)
#: Scorer families that live in ``kinetics`` (``"<module>.<function>"`` names ``kinetics.<module>.<function>``).
KINETICS_FAMILIES = ("strength", "jumps", "balance", "rom")
#: Every scorer a protocol may name, by name (``"strength.isometric_metrics"``...).
SCORERS: Mapping[str, ScorerSpec] = types.MappingProxyType({s.name: s for s in _SCORER_LIST})
#: The allowed metric keys per scorer: the list to cross-check against the scoring modules.
SCORER_METRICS: Mapping[str, frozenset[str]] = types.MappingProxyType(
    {s.name: frozenset(s.metrics) for s in _SCORER_LIST}
)
#: Which scorer families a category may use (training may use any).
CATEGORY_FAMILIES: Mapping[str, tuple[str, ...]] = types.MappingProxyType(
    {
        "strength": ("strength",),
        "jump": ("jumps",),
        "balance": ("balance",),
        "rom": ("rom",),
        "training": ("strength", "jumps", "balance", "rom", "target"),
    }
)


class ProtocolError(ValueError):
    """A protocol that cannot be used, with where (``source``, field ``path``) and what is expected.

    ``str(error)`` reads ``"<source>: <path>: <problem>"`` (parts left out when unknown).
    """

    def __init__(self, path: str, problem: str, source: str = "") -> None:
        self.path = path
        self.problem = problem
        self.source = source
        super().__init__(": ".join(part for part in (source, path, problem) if part))

    def with_source(self, source: str) -> ProtocolError:
        """The same error, naming the file (or other source) it came from."""
        return ProtocolError(self.path, self.problem, source)


def _meta(
    doc: str,
    *,
    choices: tuple[str, ...] | None = None,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    pattern: str | None = None,
    nonempty: bool = False,
    unit: str = "",
) -> dict[str, Any]:
    return {
        "doc": doc,
        "choices": choices,
        "gt": gt,
        "ge": ge,
        "le": le,
        "pattern": pattern,
        "nonempty": nonempty,
        "unit": unit,
    }


def _f(default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    doc = meta.pop("doc")
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=_meta(doc, **meta))
    return field(default=default, metadata=_meta(doc, **meta))


@dataclass(frozen=True)
class SensorRequirement:
    """A sensor the protocol needs: its kind, how many, where it goes, and the role of each (``plate_left``)."""

    kind: str = _f(doc="sensor kind", choices=SENSOR_KINDS)
    placement: str = _f(doc="where and how to place it (text for the clinician)", nonempty=True)
    count: int = _f(1, doc="how many of this kind", ge=1, le=8)
    roles: tuple[str, ...] = _f((), doc="a name per sensor, e.g. plate_left, plate_right", pattern=_KEY)

    @property
    def role_names(self) -> tuple[str, ...]:
        """The roles given, or ``kind`` (one sensor) / ``kind_1, kind_2...`` (several)."""
        if self.roles:
            return self.roles
        if self.count == 1:
            return (self.kind,)
        return tuple(f"{self.kind}_{i + 1}" for i in range(self.count))


@dataclass(frozen=True)
class Target:
    """What the patient aims at during an effort or hold phase, shown live.

    ``absolute``: ``value`` in the sensor's SI unit (N, Pa, deg) ± ``tolerance``. ``percent_max``: ``percent``
    of the patient's maximum (``reference_metric`` of ``reference_protocol``) ± ``tolerance`` percentage points.
    Both may change over the phase (``profile``: constant, ramp, sine, steps). ``angle_range``: between ``low``
    and ``high`` degrees. ``cop_zone``: a circle of ``radius`` m around (``x``, ``y``) m in the plate frame
    (x medio-lateral, right +; y antero-posterior, forward +), or visiting ``path`` points, ``dwell`` s each;
    it follows the net COP of all the protocol's plates combined in one frame unless ``sensor`` names one plate.
    """

    kind: str = _f(doc="target kind", choices=TARGET_KINDS)
    sensor: str = _f("", doc="role of the sensor it applies to (default: the first sensor)", pattern=r"^$|" + _KEY)
    value: float | None = _f(None, doc="absolute: level in the sensor's unit", gt=0.0)
    unit: str = _f("", doc="absolute: unit of value (the sensor's: N, Pa or deg)")
    percent: float | None = _f(None, doc="percent_max: level in % of the maximum", gt=0.0, le=100.0)
    reference_protocol: str = _f("", doc="percent_max: protocol whose result is the maximum", pattern=r"^$|" + _ID)
    reference_metric: str = _f("peak_force", doc="percent_max: metric giving the maximum", pattern=_KEY)
    tolerance: float = _f(0.0, doc="half-width of the band (unit of the level; % points for percent_max)", ge=0.0)
    profile: str = _f("constant", doc="time course of the level", choices=TARGET_PROFILES)
    start_level: float = _f(0.0, doc="ramp: fraction of the level at the phase start", ge=0.0, le=1.0)
    ramp_time: float | None = _f(None, doc="ramp: seconds to reach the level", gt=0.0, unit="s")
    amplitude: float | None = _f(None, doc="sine: amplitude as a fraction of the level", gt=0.0, le=1.0)
    period: float | None = _f(None, doc="sine: period in seconds", gt=0.0, unit="s")
    levels: tuple[float, ...] = _f((), doc="steps: levels as fractions of the level", gt=0.0, le=1.0)
    step_time: float | None = _f(None, doc="steps: seconds per step", gt=0.0, unit="s")
    low: float | None = _f(None, doc="angle_range: lower bound (deg)", ge=-360.0, le=360.0)
    high: float | None = _f(None, doc="angle_range: upper bound (deg)", ge=-360.0, le=360.0)
    x: float = _f(0.0, doc="cop_zone: centre, medio-lateral (m)", ge=-1.0, le=1.0)
    y: float = _f(0.0, doc="cop_zone: centre, antero-posterior (m)", ge=-1.0, le=1.0)
    radius: float | None = _f(None, doc="cop_zone: radius (m)", gt=0.0, le=0.5)
    path: tuple[tuple[float, float], ...] = _f((), doc="cop_zone: centres visited in turn, [x, y] in m")
    dwell: float | None = _f(None, doc="cop_zone path: seconds at each point", gt=0.0, unit="s")

    def level_at(self, t: float, maximum: float | None = None) -> float:
        """Target level at ``t`` seconds into the phase, in the sensor's unit (absolute and percent_max).

        ``maximum`` is the patient's maximum (same unit) for ``percent_max``. Profiles: ``constant`` L;
        ``ramp`` L·(s + (1 − s)·min(t/T, 1)) with s = ``start_level``, T = ``ramp_time``; ``sine``
        L·(1 + a·sin(2πt/P)); ``steps`` L·levels[⌊t/step_time⌋ mod n].
        """
        if self.kind == "absolute":
            assert self.value is not None
            level = self.value
        elif self.kind == "percent_max":
            if maximum is None or not math.isfinite(maximum) or maximum <= 0:
                raise ValueError(
                    f"percent_max target needs the patient's maximum (a positive number), got {maximum!r}; "
                    f"run {self.reference_protocol or 'a maximal test'} first"
                )
            assert self.percent is not None
            level = maximum * self.percent / 100.0
        else:
            raise ValueError(f"level_at applies to absolute and percent_max targets, not {self.kind!r}")
        t = max(float(t), 0.0)
        if self.profile == "ramp":
            assert self.ramp_time is not None
            frac = min(t / self.ramp_time, 1.0)
            return level * (self.start_level + (1.0 - self.start_level) * frac)
        if self.profile == "sine":
            assert self.amplitude is not None and self.period is not None
            return level * (1.0 + self.amplitude * math.sin(2.0 * math.pi * t / self.period))
        if self.profile == "steps":
            assert self.step_time is not None
            return level * self.levels[int(t // self.step_time) % len(self.levels)]
        return level

    def band_at(self, t: float, maximum: float | None = None) -> tuple[float, float]:
        """(low, high) of the band at ``t`` s: level ± tolerance, or the angle range (deg)."""
        if self.kind == "angle_range":
            assert self.low is not None and self.high is not None
            return (self.low, self.high)
        level = self.level_at(t, maximum)
        if self.kind == "percent_max":
            assert maximum is not None
            half = maximum * self.tolerance / 100.0
        else:
            half = self.tolerance
        return (level - half, level + half)

    def zone_at(self, t: float) -> tuple[float, float, float]:
        """(x, y, radius) in metres of a ``cop_zone`` target at ``t`` s (path points cycle, ``dwell`` s each)."""
        if self.kind != "cop_zone":
            raise ValueError(f"zone_at applies to cop_zone targets, not {self.kind!r}")
        assert self.radius is not None
        if self.path:
            assert self.dwell is not None
            px, py = self.path[int(max(float(t), 0.0) // self.dwell) % len(self.path)]
            return (px, py, self.radius)
        return (self.x, self.y, self.radius)


_PHASE_CUES = {
    "prepare": "Get ready",
    "countdown": "3, 2, 1",
    "effort": "Go!",
    "hold": "Hold",
    "rest": "Rest",
    "switch_side": "Switch side",
}


@dataclass(frozen=True)
class Phase:
    """One step of a repetition: prepare, countdown, effort, hold, rest or switch_side, with its duration.

    An effort or hold phase may repeat ``repeat`` times inside one recording, ``rest_between`` s apart
    (repeaters); it may start on the detected onset of effort (``start = "onset"``) instead of on the cue,
    waiting up to ``onset_timeout`` s; a hold may end early on loss of balance (``stop = "balance_loss"``).
    """

    kind: str = _f(doc="phase kind", choices=PHASE_KINDS)
    duration: float = _f(doc="length in seconds", gt=0.0, le=MAX_PHASE_DURATION, unit="s")
    cue: str = _f("", doc="cue shown or spoken at the start (default per kind)")
    instruction: str = _f("", doc="what the patient does in this phase")
    record: bool | None = _f(None, doc="record the sensors (default: true for effort and hold)")
    start: str = _f("cue", doc="start on the cue or on the detected onset of effort", choices=PHASE_STARTS)
    onset_timeout: float = _f(10.0, doc="start = onset: longest wait for the onset (s)", gt=0.0, le=120.0, unit="s")
    onset_k_sd: float = _f(5.0, doc="start = onset: threshold in SDs of the quiet baseline", gt=0.0, le=50.0)
    stop: str = _f("time", doc="end on time, or early on loss of balance", choices=PHASE_STOPS)
    repeat: int = _f(1, doc="efforts or holds in this phase (one recording)", ge=1, le=100)
    rest_between: float = _f(0.0, doc="seconds between repeats", ge=0.0, le=MAX_PHASE_DURATION, unit="s")
    target: Target | None = field(default=None, metadata=_meta("what to aim at (effort and hold phases)"))

    @property
    def recorded(self) -> bool:
        """Whether the sensors are recorded during this phase."""
        return self.record if self.record is not None else self.kind in RECORDED_KINDS

    @property
    def cue_text(self) -> str:
        """The cue, or the default cue of the kind."""
        return self.cue or _PHASE_CUES[self.kind]

    @property
    def total_duration(self) -> float:
        """Seconds the phase lasts on the clock: repeat × duration + (repeat − 1) × rest_between."""
        return self.repeat * self.duration + (self.repeat - 1) * self.rest_between

    def windows(self) -> tuple[tuple[float, float], ...]:
        """(start, end) in seconds from the phase start of each effort or hold inside it."""
        step = self.duration + self.rest_between
        return tuple((i * step, i * step + self.duration) for i in range(self.repeat))


@dataclass(frozen=True)
class Condition:
    """A test condition run in turn (eyes open / eyes closed, firm / foam, a lean direction)."""

    id: str = _f(doc="condition id", pattern=_KEY)
    name: str = _f(doc="name shown", nonempty=True)
    instruction: str = _f("", doc="extra instruction for this condition")


@dataclass(frozen=True)
class ScorerUse:
    """One ``kinetics`` scoring function to run on each trial, the metric keys to keep, and its arguments."""

    name: str = _f(doc="scorer", choices=tuple(SCORERS))
    metrics: tuple[str, ...] = _f(doc="metric keys to keep", nonempty=True, pattern=_KEY)
    params: Mapping[str, str | int | float | bool] = _f({}, doc="keyword arguments (e.g. method)")


@dataclass(frozen=True)
class Ratio:
    """A metric's ratio between two conditions (Romberg quotient = eyes closed / eyes open)."""

    key: str = _f(doc="key of the derived metric", pattern=_KEY)
    metric: str = _f(doc="metric to divide", pattern=_KEY)
    numerator: str = _f(doc="condition id of the numerator", pattern=_KEY)
    denominator: str = _f(doc="condition id of the denominator", pattern=_KEY)


@dataclass(frozen=True)
class Scoring:
    """What to compute on each trial and how repetitions and sides are summarised."""

    scorers: tuple[ScorerUse, ...] = _f(doc="scorers to run", nonempty=True)
    headline: str = _f(doc="the metric shown first", pattern=_KEY)
    aggregate: str = _f("best", doc="how repetitions combine for the headline", choices=AGGREGATES)
    better: str = _f("higher", doc="which direction of the headline is better", choices=BETTER)
    side_comparison: str = _f("auto", doc="left/right comparison", choices=SIDE_COMPARISONS)
    ratios: tuple[Ratio, ...] = _f((), doc="ratios between conditions")

    @property
    def metric_keys(self) -> tuple[str, ...]:
        """Every metric key computed, in order."""
        return tuple(k for s in self.scorers for k in s.metrics)


@dataclass(frozen=True)
class AcceptanceRule:
    """A rule a trial (or a side's set of trials) must meet, else it is flagged or rejected.

    ``effort_cv``: CV of ``metric`` (default the headline) across a side's repetitions above ``max_cv`` % →
    ``inconsistent_effort``. ``quiet_phase``: SD of the signal during the recorded hold phase above ``max_sd``
    (sensor unit) or shorter than ``min_duration`` s → ``bad_quiet_phase``. ``metric_range``: ``metric`` outside
    [``minimum``, ``maximum``] → ``out_of_range``. ``max_gap``: more than ``max_missing`` s of data missing →
    ``data_gap``.
    """

    rule: str = _f(doc="rule kind", choices=ACCEPTANCE_RULES)
    action: str = _f(
        "flag", doc="flag the trial, or reject it (excluded, the runner offers a redo)", choices=ACCEPTANCE_ACTIONS
    )
    metric: str = _f("", doc="metric the rule reads", pattern=r"^$|" + _KEY)
    max_cv: float | None = _f(None, doc="effort_cv: highest CV in %", gt=0.0, le=100.0)
    max_sd: float | None = _f(None, doc="quiet_phase: highest SD in the sensor unit", gt=0.0)
    min_duration: float | None = _f(None, doc="quiet_phase: shortest quiet phase (s)", gt=0.0, unit="s")
    minimum: float | None = _f(None, doc="metric_range: lowest accepted value")
    maximum: float | None = _f(None, doc="metric_range: highest accepted value")
    max_missing: float | None = _f(None, doc="max_gap: most missing data (s)", ge=0.0, unit="s")


_RULE_PARAMS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # rule: (required, allowed-optional)
    "effort_cv": (("max_cv",), ("metric",)),
    "quiet_phase": (("max_sd",), ("min_duration",)),
    "metric_range": (("metric",), ("minimum", "maximum")),
    "max_gap": (("max_missing",), ()),
}


@dataclass(frozen=True)
class NormativeValue:
    """One row of a normative table: mean and SD of a metric for a group (SI units of the metric)."""

    metric: str = _f(doc="metric key", pattern=_KEY)
    mean: float = _f(doc="mean")
    sd: float = _f(doc="standard deviation", ge=0.0)
    group: str = _f("", doc="group label")
    sex: str = _f("any", doc="sex", choices=SEXES)
    side: str = _f("any", doc="side", choices=NORM_SIDES)
    age_min: int | None = _f(None, doc="youngest age (years)", ge=0, le=120)
    age_max: int | None = _f(None, doc="oldest age (years)", ge=0, le=120)


@dataclass(frozen=True)
class NormativeReference:
    """Where reference values for the headline come from, and optionally the values themselves."""

    source: str = _f(doc="citation", nonempty=True)
    population: str = _f("", doc="who was measured")
    notes: str = _f("", doc="how to compare (units, conversions, caveats)")
    values: tuple[NormativeValue, ...] = _f((), doc="normative table")


@dataclass(frozen=True)
class Step:
    """One timed step of a session as a runner walks it (see :meth:`Protocol.schedule`)."""

    phase_index: int
    phase: Phase
    condition: str
    side: str
    repetition: int
    trial: int | None

    @property
    def kind(self) -> str:
        return self.phase.kind

    @property
    def duration(self) -> float:
        return self.phase.total_duration


@dataclass(frozen=True)
class TrialPlan:
    """One recorded trial: its index in the session, condition, side and repetition (1-based)."""

    index: int
    condition: str
    side: str
    repetition: int


@dataclass(frozen=True)
class Protocol:
    """An exercise protocol: a test or an exercise with its sensors, timing, targets, scoring and rules."""

    id: str = _f(doc="stable id (lower-case, hyphens)", pattern=_ID)
    name: str = _f(doc="name shown", nonempty=True)
    category: str = _f(doc="category", choices=CATEGORIES)
    region: str = _f(doc="body region", choices=REGIONS)
    summary: str = _f(doc="one line: what it measures", nonempty=True)
    instructions: str = _f(doc="instructions for the clinician and the patient", nonempty=True)
    sensors: tuple[SensorRequirement, ...] = _f(doc="sensors needed", nonempty=True)
    phases: tuple[Phase, ...] = _f(doc="one repetition, in order", nonempty=True)
    scoring: Scoring = _f(doc="what to compute")  # noqa: RUF009 (required: _f without a default)
    format_version: int = _f(FORMAT_VERSION, doc="format version", ge=1)
    sides: str = _f("none", doc="sides tested", choices=SIDES)
    first_side: str = _f("right", doc="side tested first (both, alternating)", choices=FIRST_SIDES)
    repetitions: int = _f(1, doc="trials per side and condition", ge=1, le=50)
    conditions: tuple[Condition, ...] = _f((), doc="conditions run in turn")
    acceptance: tuple[AcceptanceRule, ...] = _f((), doc="trial acceptance rules")
    normative: NormativeReference | None = field(default=None, metadata=_meta("normative reference"))
    references: tuple[str, ...] = _f((), doc="sources of the method", nonempty=False)
    tags: tuple[str, ...] = _f((), doc="search words", pattern=_KEY)

    def __post_init__(self) -> None:
        _check_constraints(self, "")
        _check_protocol(self)

    # -- what a runner walks ------------------------------------------------------------------------------
    @property
    def sensor_roles(self) -> tuple[str, ...]:
        """Every sensor role, in order (``("grip",)``, ``("plate_left", "plate_right")``)."""
        return tuple(r for s in self.sensors for r in s.role_names)

    def sensor_for_role(self, role: str) -> SensorRequirement:
        """The requirement that provides ``role``."""
        for s in self.sensors:
            if role in s.role_names:
                return s
        raise KeyError(role)

    def side_sequence(self) -> tuple[str, ...]:
        """Side of each repetition slot, for one condition: e.g. ``right, right, left, left`` for ``both``."""
        other = "left" if self.first_side == "right" else "right"
        n = self.repetitions
        if self.sides in ("none", "left", "right"):
            return (self.sides,) * n
        if self.sides == "both":
            return (self.first_side,) * n + (other,) * n
        return tuple(s for _ in range(n) for s in (self.first_side, other))

    def trial_plan(self) -> tuple[TrialPlan, ...]:
        """Every recorded trial in order: conditions outermost, then sides, then repetitions."""
        conditions = [c.id for c in self.conditions] or ["default"]
        plans: list[TrialPlan] = []
        for cond in conditions:
            counts: dict[str, int] = {}
            for side in self.side_sequence():
                counts[side] = counts.get(side, 0) + 1
                plans.append(TrialPlan(len(plans), cond, side, counts[side]))
        return tuple(plans)

    def schedule(self) -> tuple[Step, ...]:
        """The session as timed steps.

        Per trial, the phases run in order, except: ``prepare`` phases run only before the first trial of each
        (condition, side) pair; the ``switch_side`` phase runs between two trials whose side differs; ``rest``
        phases after the last recorded phase run between two trials of the same side and never after the last
        trial.
        """
        last_rec = max(i for i, p in enumerate(self.phases) if p.recorded)
        trailing = [i for i, p in enumerate(self.phases) if i > last_rec and p.kind == "rest"]
        prepare = [i for i, p in enumerate(self.phases) if p.kind == "prepare"]
        switch = [i for i, p in enumerate(self.phases) if p.kind == "switch_side"]
        body = [i for i, p in enumerate(self.phases) if i not in trailing and i not in prepare and i not in switch]
        steps: list[Step] = []
        plan = self.trial_plan()

        def add(indices: list[int], tp: TrialPlan, trial: int | None) -> None:
            for i in indices:
                steps.append(Step(i, self.phases[i], tp.condition, tp.side, tp.repetition, trial))

        prepared: set[tuple[str, str]] = set()
        for k, tp in enumerate(plan):
            prev = plan[k - 1] if k else None
            if prev is not None:
                if prev.side != tp.side:
                    add(switch, tp, None)
                else:
                    add(trailing, prev, None)
            if (tp.condition, tp.side) not in prepared:
                prepared.add((tp.condition, tp.side))
                add(prepare, tp, None)
            add(body, tp, tp.index)
        return tuple(steps)

    def estimated_duration(self) -> float:
        """Seconds the session takes on the clock (onset waits not counted)."""
        return float(sum(s.duration for s in self.schedule()))

    def to_dict(self) -> dict[str, Any]:
        """The protocol as plain data: what the TOML file holds, every default filled in, unset options left out."""
        plain: dict[str, Any] = _to_plain(self)
        return plain


# ---------------------------------------------------------------------------------------------------------
# conversion from parsed TOML
# ---------------------------------------------------------------------------------------------------------

_TOML_TYPE = {str: "string", int: "integer", float: "float", bool: "boolean", list: "array", dict: "table"}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _describe(tp: Any) -> str:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        parts = [_describe(a) for a in args if a is not type(None)]
        return " or ".join(parts)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"an array of {_plural(args[0])}"
        return f"an array of {len(args)} numbers"
    if origin in (Mapping, dict) or tp is Mapping:
        return "a table of names to values"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return str(tp)


def _plural(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "tables"
    if get_origin(tp) is tuple:
        return f"[{', '.join('number' for _ in get_args(tp))}] pairs"
    return {str: "strings", int: "integers", float: "numbers", bool: "booleans"}.get(tp, str(tp))


def _toml_type(value: Any) -> str:
    return _TOML_TYPE.get(type(value), type(value).__name__)


def _type_error(path: str, value: Any, tp: Any) -> ProtocolError:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return ProtocolError(path, f"expected {_describe(tp)}, got {_toml_type(value)} {shown}")


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(value, options[0], path)
        for option in options:  # scalar unions (params): keep the value if it is one of them
            if option in (str, int, float, bool) and _is_scalar_of(value, option):
                return float(value) if option is float else value
        raise _type_error(path, value, tp)
    if tp is bool:
        if not isinstance(value, bool):
            raise _type_error(path, value, tp)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, value, tp)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(path, value, tp)
        if not math.isfinite(value):
            raise ProtocolError(path, f"expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _type_error(path, value, tp)
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _type_error(path, value, tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ProtocolError(path, f"expected {_describe(tp)}, got {len(value)} item(s)")
        return tuple(_convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is Mapping or origin is dict:
        if not isinstance(value, dict):
            raise _type_error(path, value, tp)
        return {k: _convert(v, args[1], _join(path, k)) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _from_table(value, tp, path)
    raise TypeError(f"unsupported field type {tp!r} at {path}")  # a bug in this module, not in the file


def _is_scalar_of(value: Any, tp: type) -> bool:
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, float) and math.isfinite(value)
    return isinstance(value, tp)


def _from_table(data: Any, cls: type, path: str) -> Any:
    if not isinstance(data, dict):
        raise _type_error(path, data, cls)
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed fields: {', '.join(fields)}"
            raise ProtocolError(_join(path, key), f"unknown field; {hint}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], _join(path, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            choices = f.metadata.get("choices")
            expected = f"one of: {', '.join(choices)}" if choices else _describe(hints[name])
            raise ProtocolError(_join(path, name), f"missing; expected {expected} ({f.metadata['doc']})")
    return cls(**kwargs)


def protocol_from_dict(data: Mapping[str, Any], source: str = "") -> Protocol:
    """Build and validate a :class:`Protocol` from parsed TOML (or JSON) data.

    Raises :class:`ProtocolError` naming ``source``, the field path and what is expected.
    """
    try:
        result = _from_table(dict(data), Protocol, "")
    except ProtocolError as err:
        raise err.with_source(source) from None
    assert isinstance(result, Protocol)
    return result


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {name: _to_plain(v) for name, v in fields if v is not None}  # TOML has no null
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------------------


def _check_scalar(value: Any, meta: Mapping[str, Any], path: str) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        close = difflib.get_close_matches(str(value), list(choices), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ProtocolError(path, f"unknown value {value!r}{hint}; expected one of: {', '.join(choices)}")
    pattern = meta.get("pattern")
    if pattern is not None and isinstance(value, str) and not re.match(pattern, value):
        shape = "lower-case words joined by hyphens" if _ID in pattern else "lower-case snake_case"
        raise ProtocolError(path, f"{value!r} is not a valid name; expected {shape}")
    if meta.get("nonempty") and isinstance(value, str) and not value.strip():
        raise ProtocolError(path, f"is empty; expected {meta['doc']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        unit = f" {meta['unit']}" if meta.get("unit") else ""
        if meta.get("gt") is not None and not value > meta["gt"]:
            raise ProtocolError(path, f"must be > {meta['gt']:g}{unit}, got {value!r} ({meta['doc']})")
        if meta.get("ge") is not None and not value >= meta["ge"]:
            raise ProtocolError(path, f"must be ≥ {meta['ge']:g}{unit}, got {value!r} ({meta['doc']})")
        if meta.get("le") is not None and not value <= meta["le"]:
            raise ProtocolError(path, f"must be ≤ {meta['le']:g}{unit}, got {value!r} ({meta['doc']})")


def _check_constraints(obj: Any, path: str) -> None:
    """Check every field's allowed values, bounds and name patterns, depth first, in field order."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        fpath = _join(path, f.name)
        meta = f.metadata
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            _check_constraints(value, fpath)
        elif isinstance(value, tuple):
            if meta.get("nonempty") and not value:
                raise ProtocolError(fpath, f"is empty; expected at least one item ({meta['doc']})")
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    _check_constraints(item, f"{fpath}[{i}]")
                elif not isinstance(item, tuple):
                    _check_scalar(item, meta, f"{fpath}[{i}]")
        elif not isinstance(value, Mapping):
            _check_scalar(value, meta, fpath)


def _set_fields(obj: Any) -> set[str]:
    """Fields whose value differs from the default."""
    out = set()
    for f in dataclasses.fields(obj):
        if f.default is not dataclasses.MISSING and getattr(obj, f.name) != f.default:
            out.add(f.name)
    return out


_TARGET_FIELDS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required, optional)
    "absolute": (("value", "unit"), ("sensor", "tolerance", "profile")),
    "percent_max": (("percent",), ("sensor", "tolerance", "profile", "reference_protocol", "reference_metric")),
    "angle_range": (("low", "high"), ("sensor",)),
    "cop_zone": (("radius",), ("sensor", "x", "y", "path", "dwell")),
}
_PROFILE_FIELDS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "constant": ((), ()),
    "ramp": (("ramp_time",), ("start_level",)),
    "sine": (("amplitude", "period"), ()),
    "steps": (("levels", "step_time"), ()),
}
_TARGET_SENSORS: Mapping[str, tuple[str, ...]] = {
    "absolute": tuple(SIGNAL_UNITS),
    "percent_max": _FORCE_KINDS,
    "angle_range": ("goniometer",),
    "cop_zone": ("plate",),
}


def _check_fields_for(
    obj: Any, path: str, what: str, required: tuple[str, ...], optional: tuple[str, ...], always: tuple[str, ...]
) -> None:
    present = _set_fields(obj)
    for name in required:
        if getattr(obj, name) in (None, (), ""):
            raise ProtocolError(_join(path, name), f"missing; {what} needs it")
    for name in sorted(present - set(required) - set(optional) - set(always)):
        raise ProtocolError(_join(path, name), f"does not apply to {what}; remove it")


def _check_target(p: Protocol, target: Target, phase: Phase, path: str) -> None:
    req, opt = _TARGET_FIELDS[target.kind]
    profile_fields = tuple(f for pr in _PROFILE_FIELDS.values() for f in pr[0] + pr[1])
    allowed_opt = opt + (profile_fields if "profile" in opt else ())
    _check_fields_for(target, path, f"kind = {target.kind!r}", req, allowed_opt, ("kind",))
    if "profile" in opt:
        preq, popt = _PROFILE_FIELDS[target.profile]
        others = tuple(f for f in profile_fields if f not in preq + popt)
        for name in others:
            if name in _set_fields(target):
                raise ProtocolError(_join(path, name), f"does not apply to profile = {target.profile!r}; remove it")
        for name in preq:
            if getattr(target, name) in (None, ()):
                raise ProtocolError(_join(path, name), f"missing; profile = {target.profile!r} needs it")
    role = target.sensor or p.sensor_roles[0]
    if role not in p.sensor_roles:
        raise ProtocolError(
            _join(path, "sensor"), f"no sensor has role {role!r}; expected one of: {', '.join(p.sensor_roles)}"
        )
    kind = p.sensor_for_role(role).kind
    if kind not in _TARGET_SENSORS[target.kind]:
        raise ProtocolError(
            _join(path, "kind"),
            f"a {target.kind} target cannot be shown for a {kind} sensor; "
            f"expected a sensor of kind {', '.join(_TARGET_SENSORS[target.kind])}",
        )
    if target.kind == "absolute" and target.unit != SIGNAL_UNITS[kind]:
        raise ProtocolError(
            _join(path, "unit"), f"a {kind} sensor measures in {SIGNAL_UNITS[kind]!r}, got {target.unit!r}"
        )
    if target.kind == "angle_range":
        assert target.low is not None and target.high is not None
        if not target.low < target.high:
            raise ProtocolError(_join(path, "high"), f"must be greater than low ({target.low:g}), got {target.high:g}")
    if target.kind == "cop_zone":
        if bool(target.path) != (target.dwell is not None):
            name = "dwell" if target.path else "path"
            raise ProtocolError(_join(path, name), "path and dwell go together; give both or neither")
        for i, (px, py) in enumerate(target.path):
            if not (-1.0 <= px <= 1.0 and -1.0 <= py <= 1.0):
                raise ProtocolError(f"{_join(path, 'path')}[{i}]", f"point ({px}, {py}) m lies outside ±1 m")
    if target.profile == "ramp" and target.ramp_time is not None and target.ramp_time > phase.duration:
        raise ProtocolError(
            _join(path, "ramp_time"),
            f"the ramp ({target.ramp_time:g} s) is longer than its phase ({phase.duration:g} s); shorten it",
        )


def _check_phases(p: Protocol) -> None:
    phases = p.phases
    kinds = [ph.kind for ph in phases]
    seen_other = False
    for i, ph in enumerate(phases):
        path = f"phases[{i}]"
        if ph.kind == "prepare" and seen_other:
            raise ProtocolError(_join(path, "kind"), "prepare phases must come first, before any other phase")
        if ph.kind != "prepare":
            seen_other = True
        if ph.kind == "switch_side" and i != len(phases) - 1:
            raise ProtocolError(_join(path, "kind"), "the switch_side phase must be the last phase")
        if ph.kind == "countdown" and ph.duration > MAX_COUNTDOWN:
            raise ProtocolError(
                _join(path, "duration"),
                f"a countdown of {ph.duration:g} s is too long; expected ≤ {MAX_COUNTDOWN:g} s "
                "(use a prepare or rest phase for longer waits)",
            )
        active = ph.kind in RECORDED_KINDS
        if ph.repeat > 1 and not active:
            raise ProtocolError(_join(path, "repeat"), f"only effort and hold phases repeat, not {ph.kind}")
        if ph.repeat > 1 and ph.rest_between <= 0:
            raise ProtocolError(_join(path, "rest_between"), "missing; repeat > 1 needs the seconds between repeats")
        if ph.repeat == 1 and ph.rest_between != 0:
            raise ProtocolError(_join(path, "rest_between"), "applies only with repeat > 1; remove it")
        if ph.start == "onset" and not active:
            raise ProtocolError(_join(path, "start"), f"only effort and hold phases can start on onset, not {ph.kind}")
        if ph.start != "onset":
            for name in ("onset_timeout", "onset_k_sd"):
                if name in _set_fields(ph):
                    raise ProtocolError(_join(path, name), "applies only with start = 'onset'; remove it")
        if ph.stop == "balance_loss":
            if not active:
                raise ProtocolError(
                    _join(path, "stop"), f"only effort and hold phases stop on balance loss, not {ph.kind}"
                )
            if not any(s.kind == "plate" for s in p.sensors):
                raise ProtocolError(_join(path, "stop"), "balance loss is detected by force plates; add a plate sensor")
        if ph.target is not None:
            if not active:
                raise ProtocolError(_join(path, "target"), f"only effort and hold phases show a target, not {ph.kind}")
            _check_target(p, ph.target, ph, _join(path, "target"))
        if ph.kind in ("switch_side", "prepare") and ph.record:
            raise ProtocolError(_join(path, "record"), f"a {ph.kind} phase is never recorded; remove it")
    switch = [i for i, k in enumerate(kinds) if k == "switch_side"]
    two_sided = p.sides in ("both", "alternating")
    if two_sided and not switch:
        raise ProtocolError(
            "phases", f"sides = {p.sides!r} needs a phase with kind = 'switch_side' (last) for changing side"
        )
    if switch and not two_sided:
        raise ProtocolError(
            f"phases[{switch[0]}].kind", f"a switch_side phase needs sides = 'both' or 'alternating', not {p.sides!r}"
        )
    recorded = [i for i, ph in enumerate(phases) if ph.recorded]
    if not recorded:
        raise ProtocolError("phases", "no phase is recorded; expected at least one effort or hold phase")
    for i in range(recorded[0], recorded[-1] + 1):
        if not phases[i].recorded:
            raise ProtocolError(
                f"phases[{i}].record",
                f"this {phases[i].kind} phase sits between recorded phases; set record = true "
                "(one trial is one continuous recording) or move it",
            )
    if p.category == "training":
        efforts = [i for i, ph in enumerate(phases) if ph.kind in RECORDED_KINDS]
        if efforts and all(phases[i].target is None for i in efforts):
            raise ProtocolError(
                f"phases[{efforts[0]}].target",
                "missing; a training protocol needs a target on at least one effort or hold phase",
            )


def _check_scoring(p: Protocol) -> None:
    sc = p.scoring
    kinds = {s.kind for s in p.sensors}
    seen: dict[str, str] = {}
    for i, use in enumerate(sc.scorers):
        path = f"scoring.scorers[{i}]"
        spec = SCORERS[use.name]
        if spec.family not in CATEGORY_FAMILIES[p.category]:
            raise ProtocolError(
                _join(path, "name"),
                f"a {p.category} protocol uses {', '.join(CATEGORY_FAMILIES[p.category])} scorers, not {use.name}",
            )
        if not kinds & set(spec.sensors):
            raise ProtocolError(
                _join(path, "name"),
                f"{use.name} reads a sensor of kind {', '.join(spec.sensors)}; add one to sensors",
            )
        available = sum(s.count for s in p.sensors if s.kind in spec.sensors)
        if available < spec.min_sensors:
            raise ProtocolError(
                _join(path, "name"),
                f"{use.name} needs {spec.min_sensors} sensors of kind {', '.join(spec.sensors)}, "
                f"the protocol has {available}",
            )
        if use.name == "target.cop_zone_metrics" and not any(
            ph.target is not None and ph.target.kind == "cop_zone" for ph in p.phases
        ):
            raise ProtocolError(_join(path, "name"), f"{use.name} scores a cop_zone target; no phase has one")
        for j, key in enumerate(use.metrics):
            if key not in spec.metrics:
                close = difflib.get_close_matches(key, list(spec.metrics), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ProtocolError(
                    f"{path}.metrics[{j}]",
                    f"{use.name} has no metric {key!r}{hint}; expected one of: {', '.join(spec.metrics)}",
                )
            if key in seen:
                raise ProtocolError(f"{path}.metrics[{j}]", f"metric {key!r} is already computed by {seen[key]}")
            seen[key] = use.name
    if sc.headline not in seen:
        raise ProtocolError(
            "scoring.headline", f"{sc.headline!r} is not among the metrics computed; expected one of: {', '.join(seen)}"
        )
    two_sided = p.sides in ("both", "alternating")
    if sc.side_comparison not in ("auto", "none") and not two_sided:
        raise ProtocolError(
            "scoring.side_comparison", f"comparing sides needs sides = 'both' or 'alternating', not {p.sides!r}"
        )
    cond_ids = [c.id for c in p.conditions]
    for i, ratio in enumerate(sc.ratios):
        path = f"scoring.ratios[{i}]"
        if ratio.metric not in seen:
            raise ProtocolError(_join(path, "metric"), f"{ratio.metric!r} is not among the metrics computed")
        for name in ("numerator", "denominator"):
            if getattr(ratio, name) not in cond_ids:
                raise ProtocolError(
                    _join(path, name),
                    f"unknown condition {getattr(ratio, name)!r}; expected one of: {', '.join(cond_ids) or '(none)'}",
                )
        if ratio.numerator == ratio.denominator:
            raise ProtocolError(_join(path, "denominator"), "must differ from the numerator")
        if ratio.key in seen:
            raise ProtocolError(_join(path, "key"), f"{ratio.key!r} is already a metric key; choose another")


def _check_protocol(p: Protocol) -> None:
    if p.format_version > FORMAT_VERSION:
        raise ProtocolError(
            "format_version",
            f"version {p.format_version} is newer than this Kinetics reads ({FORMAT_VERSION}); update Kinetics",
        )
    roles: list[str] = []
    for i, s in enumerate(p.sensors):
        if s.roles and len(s.roles) != s.count:
            raise ProtocolError(
                f"sensors[{i}].roles", f"has {len(s.roles)} name(s) for count = {s.count}; give one per sensor"
            )
        for role in s.role_names:
            if role in roles:
                raise ProtocolError(f"sensors[{i}].roles", f"role {role!r} is used twice; roles must be unique")
            roles.append(role)
    ids = [c.id for c in p.conditions]
    for i, cid in enumerate(ids):
        if cid in ids[:i]:
            raise ProtocolError(f"conditions[{i}].id", f"condition {cid!r} is listed twice")
    _check_phases(p)
    _check_scoring(p)
    metrics = p.scoring.metric_keys
    for i, rule in enumerate(p.acceptance):
        path = f"acceptance[{i}]"
        req, opt = _RULE_PARAMS[rule.rule]
        _check_fields_for(rule, path, f"rule = {rule.rule!r}", req, opt, ("rule", "action"))
        if rule.metric and rule.metric not in metrics:
            raise ProtocolError(
                _join(path, "metric"), f"{rule.metric!r} is not among the metrics computed: {', '.join(metrics)}"
            )
        if rule.rule == "effort_cv" and p.repetitions < 2:
            raise ProtocolError(_join(path, "rule"), "effort_cv compares repetitions; it needs repetitions ≥ 2")
        if rule.rule == "quiet_phase" and not any(ph.kind == "hold" and ph.recorded for ph in p.phases):
            raise ProtocolError(_join(path, "rule"), "quiet_phase reads a recorded hold phase; add one")
        if rule.rule == "metric_range":
            if rule.minimum is None and rule.maximum is None:
                raise ProtocolError(_join(path, "minimum"), "missing; metric_range needs minimum, maximum or both")
            if rule.minimum is not None and rule.maximum is not None and rule.minimum >= rule.maximum:
                raise ProtocolError(_join(path, "maximum"), "must be greater than minimum")
    if p.normative is not None:
        for i, row in enumerate(p.normative.values):
            path = f"normative.values[{i}]"
            if row.metric not in metrics:
                raise ProtocolError(_join(path, "metric"), f"{row.metric!r} is not among the metrics computed")
            if row.age_min is not None and row.age_max is not None and row.age_min > row.age_max:
                raise ProtocolError(_join(path, "age_max"), "must be ≥ age_min")
