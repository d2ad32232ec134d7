"""Progress of a patient: each metric's history over sessions, change against the baseline and the previous
session, whether a change is real (larger than the minimal detectable change), and limb symmetry over time.

Definitions
-----------
- **Session value**: a session-level result row when the session has one for the metric and side; otherwise the
  trial rows combined the way the protocol run says (``scoring.aggregate``: ``best`` — max, or min when lower is
  better —, ``mean`` or ``median``).
- **SEM** (standard error of measurement, in the metric's unit): from the metric's published test-retest
  reliability (:data:`RELIABILITY`), else from the patient's own repeated trials: the pooled within-session SD,
  √(Σ(nᵢ−1)·sᵢ² / Σ(nᵢ−1)) over sessions with nᵢ ≥ 2 trials (conservative when the session value is a mean).
  A published SEM given as a percentage (a typical error expressed as CV) is taken relative to the reference
  value of the change (the baseline or the previous session).
- **MDC95** = 1.96 · √2 · SEM (Weir 2005, J Strength Cond Res 19(1):231–240; Haley & Fragala-Pinkham 2006,
  Phys Ther 86(5):735–743): the smallest change that exceeds measurement error with 95 % confidence.
  A change is *real* when \\|change\\| > MDC95.
- **Incomplete sessions** (a run stopped before its end: Ctrl-C, an error, a sensor lost; ``completed`` false)
  are shown in the history with their value and the changes, but by default they are not *counted*: never the
  baseline, never the previous session a later change is measured from, never flagged as a real change, and
  their trials do not enter the within-session SD. ``include_incomplete=True`` counts them like any other.
- **Limb symmetry**: per session, symmetry index (Robinson et al. 1987) = (R − L)/(½(R + L))·100 and, when the
  patient's involved side is recorded, LSI = involved/uninvolved·100 (:mod:`kinetics.strength.symmetry`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clinic.store import ClinicStore, SessionInfo

#: z(0.975) · √2: the MDC95 multiplier of the SEM.
MDC95_FACTOR = 1.96 * math.sqrt(2.0)
_G0 = 9.80665  # standard gravity, N per kgf


@dataclass(frozen=True)
class Reliability:
    """Published test-retest reliability of one metric of one protocol.

    ``sem`` in the metric's SI unit, or ``sem_percent`` (a typical error expressed as a CV, %) — one of them.
    """

    protocol: str
    key: str
    unit: str
    source: str
    note: str
    sem: float | None = None
    sem_percent: float | None = None
    icc: float | None = None

    def sem_at(self, reference: float) -> float:
        """The SEM in the metric's unit around ``reference`` (used for a percentage SEM)."""
        if self.sem is not None:
            return self.sem
        assert self.sem_percent is not None
        return abs(reference) * self.sem_percent / 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "key": self.key,
            "unit": self.unit,
            "sem": self.sem,
            "sem_percent": self.sem_percent,
            "icc": self.icc,
            "source": self.source,
            "note": self.note,
        }


#: Published reliability per (protocol, metric key); extend with care: cite the table the number comes from.
RELIABILITY: tuple[Reliability, ...] = (
    Reliability(
        protocol="grip-asht",
        key="peak_force",
        unit="N",
        sem=1.8 * _G0,
        icc=0.974,
        source=(
            "Bai Z, Shu T, Niu W. Test-retest reliability and measurement errors of grip strength test in patients "
            "with traumatic injuries in the upper extremity: a cross-sectional study. BMC Musculoskelet Disord. "
            "2019;20. doi:10.1186/s12891-019-2623-z"
        ),
        note=(
            "SEM 1.8 kg (= 17.65 N) for grip > 20 kg, Jamar, mean of three trials, tests one week apart, "
            "109 patients after upper-extremity injury; ICC 0.974 (their MDC95: 5.1 kg)"
        ),
    ),
    Reliability(
        protocol="jump-cmj",
        key="jump_height",
        unit="m",
        sem_percent=5.8,
        source=(
            "Alves Souza A, Bottaro M, Araujo Rocha V Jr, Lage V, Tufano JJ, Vieira A. Reliability and test-retest "
            "agreement of mechanical variables obtained during countermovement jump. Int J Exerc Sci. "
            "2020;13(4):6-17"
        ),
        note="CV 5.8 % (r = 0.94) between sessions 48-168 h apart, force plate, 41 physically active men",
    ),
    Reliability(
        protocol="balance-single-leg-stance-eyes-closed",
        key="mean_velocity",
        unit="m/s",
        sem=0.010,
        icc=0.67,
        source=(
            "Reliability of single-leg balance and landing tests in rugby union; J Sports Sci Med. 2018;17:174-180 "
            "(jssm-17-174), Table 4"
        ),
        note=(
            "typical error between tests 7 days apart, two 20 s single-leg stances eyes closed on a force plate, "
            "24 professional players: 0.010 m/s non-dominant leg (ICC 0.67), 0.008 m/s dominant (ICC 0.79); "
            "the larger is used"
        ),
    ),
)


def published_reliability(protocol: str, key: str) -> Reliability | None:
    """The table entry for ``protocol`` and ``key``, or None."""
    for r in RELIABILITY:
        if r.protocol == protocol and r.key == key:
            return r
    return None


def mdc95(sem: float) -> float:
    """Minimal detectable change at 95 % confidence: 1.96 · √2 · SEM (same unit as the SEM)."""
    return MDC95_FACTOR * sem


def pooled_within_sd(groups: Sequence[Sequence[float]]) -> tuple[float, int]:
    """Pooled within-group SD √(Σ(nᵢ−1)sᵢ²/Σ(nᵢ−1)) over groups of ≥ 2 finite values, and its degrees of freedom
    (NaN, 0 when no group has two values)."""
    num = 0.0
    dof = 0
    for g in groups:
        values = [v for v in g if math.isfinite(v)]
        if len(values) >= 2:
            num += (len(values) - 1) * statistics.variance(values)
            dof += len(values) - 1
    return (math.sqrt(num / dof), dof) if dof else (math.nan, 0)


def aggregate(values: Sequence[float], how: str, better: str) -> float:
    """Combine a session's repetitions: ``best`` (max, or min when ``better == "lower"``), ``mean`` or ``median``."""
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return math.nan
    if how == "best":
        return max(vals) if better == "higher" else min(vals)
    if how == "mean":
        return statistics.fmean(vals)
    if how == "median":
        return float(statistics.median(vals))
    raise ValueError(f"aggregate {how!r} is not best, mean or median")


@dataclass(frozen=True)
class SessionValues:
    """One session's values of a metric on one side: the repeated trials, or a session-level ``value``."""

    session_id: str
    started_at: datetime
    trials: tuple[float, ...] = ()
    value: float | None = None
    completed: bool = True


@dataclass(frozen=True)
class ProgressPoint:
    """One session in a metric's history (changes in the metric's unit; NaN where undefined).

    ``counted`` is False for an incomplete session left out of the baseline, later changes and real-change flags
    (its ``real_change_*`` are then False and its direction ``"none"``).
    """

    session_id: str
    started_at: datetime
    value: float
    n_trials: int
    within_sd: float
    change_from_baseline: float
    change_from_previous: float
    percent_from_baseline: float
    mdc95_baseline: float
    mdc95_previous: float
    real_change_from_baseline: bool
    real_change_from_previous: bool
    direction_from_baseline: str
    completed: bool = True
    counted: bool = True

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "session_id": self.session_id,
            "started_at": self.started_at.isoformat(),
            "value": num(self.value),
            "n_trials": self.n_trials,
            "within_sd": num(self.within_sd),
            "change_from_baseline": num(self.change_from_baseline),
            "change_from_previous": num(self.change_from_previous),
            "percent_from_baseline": num(self.percent_from_baseline),
            "mdc95_baseline": num(self.mdc95_baseline),
            "mdc95_previous": num(self.mdc95_previous),
            "real_change_from_baseline": self.real_change_from_baseline,
            "real_change_from_previous": self.real_change_from_previous,
            "direction_from_baseline": self.direction_from_baseline,
            "completed": self.completed,
            "counted": self.counted,
        }


@dataclass(frozen=True)
class MetricProgress:
    """A metric's history for one protocol and side, with the SEM used and where it came from."""

    protocol: str
    key: str
    side: str
    unit: str
    better: str
    aggregate: str
    points: tuple[ProgressPoint, ...]
    sem: float
    sem_source: str
    reliability: Reliability | None = None

    @property
    def mdc95(self) -> float:
        """MDC95 of the SEM in the metric's unit (NaN for a percentage SEM, which depends on the reference)."""
        return mdc95(self.sem)

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "key": self.key,
            "side": self.side,
            "unit": self.unit,
            "better": self.better,
            "aggregate": self.aggregate,
            "sem": self.sem if math.isfinite(self.sem) else None,
            "sem_percent": self.reliability.sem_percent if self.reliability else None,
            "sem_source": self.sem_source,
            "reliability": self.reliability.to_dict() if self.reliability else None,
            "points": [p.to_dict() for p in self.points],
        }


def metric_progress(
    sessions: Sequence[SessionValues],
    *,
    protocol: str,
    key: str,
    side: str,
    unit: str,
    better: str = "higher",
    how: str = "best",
    reliability: Reliability | None = None,
    sem_source: str = "auto",
    include_incomplete: bool = False,
) -> MetricProgress:
    """A metric's history from its per-session values (pure: no database).

    ``sem_source``: ``auto`` (published when ``reliability`` is given, else the repeated trials), ``published``
    or ``trials``. ``include_incomplete``: count sessions with ``completed`` False like the others (default: they
    are shown but are never the baseline or the previous session, never flagged, and their trials do not enter
    the within-session SD).
    """
    ordered = sorted(sessions, key=lambda s: (s.started_at, s.session_id))
    values = [s.value if s.value is not None else aggregate(s.trials, how, better) for s in ordered]
    counts = [include_incomplete or s.completed for s in ordered]
    own_sd, dof = pooled_within_sd([s.trials for s, c in zip(ordered, counts, strict=True) if c])
    use_published = reliability is not None and sem_source in ("auto", "published")
    if sem_source == "published" and reliability is None:
        raise ValueError(f"no published reliability for {protocol} {key}; use sem_source='trials'")
    if use_published:
        source = "published"
    elif dof:
        source = "trials"
    else:
        source = "none"

    def sem_around(reference: float) -> float:
        if use_published:
            assert reliability is not None
            return reliability.sem_at(reference)
        return own_sd

    points: list[ProgressPoint] = []
    baseline = math.nan
    prev = math.nan
    for s, value, counted in zip(ordered, values, counts, strict=True):
        trials = [v for v in s.trials if math.isfinite(v)]
        within = statistics.stdev(trials) if len(trials) >= 2 else math.nan
        if not math.isfinite(value):
            continue
        d_base = value - baseline
        d_prev = value - prev
        m_base = mdc95(sem_around(baseline)) if math.isfinite(baseline) else math.nan
        m_prev = mdc95(sem_around(prev)) if math.isfinite(prev) else math.nan
        real_base = bool(counted and math.isfinite(d_base) and math.isfinite(m_base) and abs(d_base) > m_base)
        real_prev = bool(counted and math.isfinite(d_prev) and math.isfinite(m_prev) and abs(d_prev) > m_prev)
        direction = "none"
        if real_base:
            direction = "better" if (d_base > 0) == (better == "higher") else "worse"
        points.append(
            ProgressPoint(
                session_id=s.session_id,
                started_at=s.started_at,
                value=value,
                n_trials=len(trials) if s.value is None else max(len(trials), 1),
                within_sd=within,
                change_from_baseline=d_base,
                change_from_previous=d_prev,
                percent_from_baseline=d_base / abs(baseline) * 100.0
                if math.isfinite(d_base) and baseline
                else math.nan,
                mdc95_baseline=m_base,
                mdc95_previous=m_prev,
                real_change_from_baseline=real_base,
                real_change_from_previous=real_prev,
                direction_from_baseline=direction,
                completed=s.completed,
                counted=counted,
            )
        )
        if not counted:
            continue
        if not math.isfinite(baseline):
            baseline = value
        prev = value
    if use_published:
        assert reliability is not None
        sem = reliability.sem if reliability.sem is not None else math.nan
    else:
        sem = own_sd
    return MetricProgress(
        protocol, key, side, unit, better, how, tuple(points), sem, source, reliability if use_published else None
    )


@dataclass(frozen=True)
class SymmetryPoint:
    """Left and right session values and their symmetry (%) in one session."""

    session_id: str
    started_at: datetime
    left: float
    right: float
    symmetry_index: float
    lsi: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "started_at": self.started_at.isoformat(),
            "left": self.left,
            "right": self.right,
            "symmetry_index": self.symmetry_index,
            "lsi": self.lsi if math.isfinite(self.lsi) else None,
        }


@dataclass(frozen=True)
class SymmetryHistory:
    protocol: str
    key: str
    unit: str
    involved_side: str
    points: tuple[SymmetryPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "key": self.key,
            "unit": self.unit,
            "involved_side": self.involved_side,
            "points": [p.to_dict() for p in self.points],
        }


def symmetry_history(left: MetricProgress, right: MetricProgress, involved_side: str = "none") -> SymmetryHistory:
    """Symmetry per session where both sides have a positive value (magnitudes only)."""
    from kinetics.strength.symmetry import limb_symmetry_index, symmetry_index

    by_session = {p.session_id: p for p in right.points}
    points = []
    for lp in left.points:
        rp = by_session.get(lp.session_id)
        if rp is None or not (lp.value > 0 and rp.value > 0):
            continue
        si = float(symmetry_index(rp.value, lp.value))
        lsi = math.nan
        if involved_side == "left":
            lsi = float(limb_symmetry_index(lp.value, rp.value))
        elif involved_side == "right":
            lsi = float(limb_symmetry_index(rp.value, lp.value))
        points.append(SymmetryPoint(lp.session_id, lp.started_at, lp.value, rp.value, si, lsi))
    return SymmetryHistory(left.protocol, left.key, left.unit, involved_side, tuple(points))


@dataclass(frozen=True)
class PatientProgress:
    patient_id: str
    metrics: tuple[MetricProgress, ...]
    symmetry: tuple[SymmetryHistory, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "metrics": [m.to_dict() for m in self.metrics],
            "symmetry": [s.to_dict() for s in self.symmetry],
        }


def _scoring_of(toml_text: str, cache: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(aggregate, better) of the protocol definition stored with a session; ("best", "higher") if unreadable."""
    if toml_text not in cache:
        from protocols.loader import parse_protocol
        from protocols.schema import ProtocolError

        try:
            p = parse_protocol(toml_text, source="stored session")
            cache[toml_text] = (p.scoring.aggregate, p.scoring.better)
        except ProtocolError:
            cache[toml_text] = ("best", "higher")
    return cache[toml_text]


def progress_from_sessions(
    patient_id: str,
    sessions: Sequence[SessionInfo],
    *,
    metric: str | None = None,
    involved_side: str = "none",
    sem_source: str = "auto",
    include_incomplete: bool = False,
) -> PatientProgress:
    """Every metric's progress from stored sessions (see :meth:`ClinicStore.patient_sessions`);
    ``include_incomplete`` as in :func:`metric_progress`."""
    cache: dict[str, tuple[str, str]] = {}
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for s in sessions:
        how, better = _scoring_of(s.protocol_toml, cache)
        per: dict[tuple[str, str, str], dict[str, Any]] = {}
        for r in s.results:
            if metric is not None and r.key != metric:
                continue
            k = (r.protocol or s.protocol_id, r.key, r.side)
            slot = per.setdefault(k, {"trials": [], "value": None, "unit": r.unit})
            if r.trial_id:
                slot["trials"].append(r.value)
            elif math.isfinite(r.value):
                slot["value"] = r.value
        for k, slot in per.items():
            g = groups.setdefault(k, {"unit": slot["unit"], "how": how, "better": better, "sessions": []})
            g["sessions"].append(SessionValues(s.id, s.started_at, tuple(slot["trials"]), slot["value"], s.completed))
    results: dict[tuple[str, str, str], MetricProgress] = {}
    for (protocol, key, side), g in sorted(groups.items()):
        rel = published_reliability(protocol, key)
        results[(protocol, key, side)] = metric_progress(
            g["sessions"], protocol=protocol, key=key, side=side, unit=g["unit"], better=g["better"], how=g["how"],
            reliability=rel, sem_source=sem_source, include_incomplete=include_incomplete,
        )  # fmt: skip
    symmetry = []
    for (protocol, key, side), left in results.items():
        if side == "left" and (protocol, key, "right") in results:
            sym = symmetry_history(left, results[(protocol, key, "right")], involved_side)
            if sym.points:
                symmetry.append(sym)
    return PatientProgress(patient_id, tuple(results.values()), tuple(symmetry))


def patient_progress(
    store: ClinicStore,
    patient_id: str,
    *,
    metric: str | None = None,
    sem_source: str = "auto",
    include_incomplete: bool = False,
) -> PatientProgress:
    """Progress of every metric of a patient (or only ``metric``); audited as a ``view`` of the patient.
    Incomplete sessions are shown but not counted unless ``include_incomplete`` (see :func:`metric_progress`)."""
    info = store.get_patient(patient_id, identified=False)
    sessions = store.patient_sessions(patient_id)
    with store.transaction() as s:
        store.audit(s, "view", patient_id, {"what": "progress", "metric": metric or "*"})
    return progress_from_sessions(
        patient_id, sessions, metric=metric, involved_side=info.involved_side, sem_source=sem_source,
        include_incomplete=include_incomplete,
    )  # fmt: skip
