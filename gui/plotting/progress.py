"""What a progress chart draws, prepared from :mod:`clinic.progress` — pure Python/NumPy, no Qt.

A chart shows one metric of one protocol over the patient's sessions:

- one series per side (left, right, or the single series of a bilateral/unilateral test): the session values;
- per series the **MDC band**: baseline ± MDC95 (the first session's value ± the minimal detectable change of
  :mod:`clinic.progress`): a later value outside the band is a real change, inside it may be measurement error;
- **real-change markers** at the sessions :mod:`clinic.progress` flags (``real_change_from_baseline``), pointing
  up or down with the change and marked better or worse by the protocol's direction;
- **limb symmetry** over time when both sides were tested: LSI = involved/uninvolved·100 when the involved side
  is recorded, else the symmetry index (R − L)/(½(R + L))·100 (Robinson et al. 1987), as computed by
  :func:`clinic.progress.symmetry_history`.

x is the session start as POSIX seconds; ticks fall on local calendar days, weeks, months or years. Values are
converted from SI to a display unit chosen from the metric's magnitude (m → cm, m/s → mm/s for sway…). Axis
ranges are fixed from the data (round limits, round ticks), computed once per chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from clinic.progress import MetricProgress, PatientProgress, mdc95
from gui.plotting.geometry import nice_ceiling, nice_ticks

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DAY_S = 86400.0
#: Sides in the order they are listed and drawn.
SIDE_ORDER = ("left", "right", "both", "none", "alternating")
SIDE_LABELS = {"left": "Left", "right": "Right", "both": "Both", "none": "", "alternating": "Alternating"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- units ------------------------------------------------------------------------------------------------------
def display_unit(unit: str, values: Sequence[float] | FloatArray) -> tuple[str, float]:
    """The unit to show a metric in and the SI → display factor, from the largest finite ``|value|``.

    Lengths ``m``: m from 1 m, cm from 1 cm, else mm. Speeds ``m/s``: m/s from 0.1 m/s (jump take-off), else mm/s
    (sway). Areas ``m^2``: cm² from 1 cm², else mm². ``Pa`` → kPa. Ratios ``1`` show without a unit. Any other
    unit (N, N/s, s, deg, %, W…) is shown as stored.
    """
    arr = np.asarray(values, dtype=np.float64)
    finite = np.abs(arr[np.isfinite(arr)])
    big = float(finite.max()) if finite.size else 0.0
    if unit == "m":
        return ("m", 1.0) if big >= 1.0 else ("cm", 100.0) if big >= 0.01 else ("mm", 1000.0)
    if unit == "m/s":
        return ("m/s", 1.0) if big >= 0.1 else ("mm/s", 1000.0)
    if unit in ("m^2", "m²"):
        return ("cm²", 1e4) if big >= 1e-4 else ("mm²", 1e6)
    if unit == "Pa":
        return ("kPa", 1e-3)
    if unit == "1":
        return ("", 1.0)
    return (unit, 1.0)


def format_value(value: float, unit: str) -> str:
    """``value`` (already in the display unit) with 3 significant figures at most 1 decimal place beyond units,
    and its unit: ``"190 N"``, ``"31.2 cm"``, ``"0.87"``; ``"—"`` when not finite."""
    if not math.isfinite(value):
        return "—"
    mag = abs(value)
    decimals = 0 if mag >= 100 else 1 if mag >= 10 else 2
    text = f"{value:.{decimals}f}"
    return f"{text} {unit}" if unit else text


def metric_label(key: str) -> str:
    """A metric key as a clinician reads it: ``peak_force`` → ``Peak force``; ``rfd_0_200ms`` → ``Rfd 0 200ms``."""
    words = key.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


# -- dates ------------------------------------------------------------------------------------------------------
def to_epoch(when: datetime) -> float:
    """POSIX seconds of an aware datetime (a naive one is refused: its zone would be a guess)."""
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when}; session times are aware (UTC)")
    return when.timestamp()


def _local_midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day).timestamp()


def _day_label(day: date, with_year: bool) -> str:
    text = f"{day.day} {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if with_year else text


def date_ticks(x0: float, x1: float, target: int = 5) -> list[tuple[float, str]]:
    """About ``target`` (at most ``target + 1``) date ticks over ``x0..x1`` (POSIX seconds), on local calendar
    boundaries: every 1 or 2 days, every Monday or second Monday, the first of every 1, 2, 3 or 6 months, or
    New Year of every 1, 2, 5, 10… years. Labels ``"5 Jan"``, ``"Mar"`` for months, with the year where it changes after
    the first tick (``"4 Jan 2027"``, ``"Jan 2027"``; :func:`date_axis_label` names the years), ``"2026"`` for
    years."""
    if not (math.isfinite(x0) and math.isfinite(x1) and x0 < x1):
        raise ValueError(f"date range ({x0}, {x1}) is not an increasing finite range")
    target = max(2, int(target))
    first = datetime.fromtimestamp(x0).date()
    last = datetime.fromtimestamp(x1).date()
    span_days = (x1 - x0) / DAY_S

    def days(step: int, align_monday: bool) -> list[date]:
        d = first
        if align_monday:
            d += timedelta(days=(7 - d.weekday()) % 7)
        out = []
        while d <= last:
            out.append(d)
            d += timedelta(days=step)
        return out

    def months(step: int) -> list[date]:
        out = []
        y, m = first.year, first.month
        while date(y, m, 1) <= last:
            if (m - 1) % step == 0:
                out.append(date(y, m, 1))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    candidates: list[tuple[list[date], str]] = [
        (days(1, False), "day"), (days(2, False), "day"), (days(7, True), "day"), (days(14, True), "day"),
    ]
    if span_days > 45:
        candidates += [(months(k), "month") for k in (1, 2, 3, 6)]
    for dates, kind in candidates:
        inside = [d for d in dates if x0 <= _local_midnight(d) <= x1]
        if inside and len(inside) <= target + 1:
            return _labelled(inside, kind)
    years = max(1.0, nice_ceiling(span_days / 365.25 / target))
    step = int(years)
    ys = [date(y, 1, 1) for y in range(first.year, last.year + 1) if y % step == 0]
    inside = [d for d in ys if x0 <= _local_midnight(d) <= x1]
    return _labelled(inside, "year")


def _labelled(dates: list[date], kind: str) -> list[tuple[float, str]]:
    out = []
    year = dates[0].year if dates else None
    for d in dates:
        if kind == "year":
            label = str(d.year)
        elif kind == "month":
            label = f"{_MONTHS[d.month - 1]} {d.year}" if d.year != year else _MONTHS[d.month - 1]
        else:
            label = _day_label(d, d.year != year)
        year = d.year
        out.append((_local_midnight(d), label))
    return out


def date_axis_label(x0: float, x1: float) -> str:
    """The year(s) of the range ``x0..x1`` (POSIX s), shown under the date axis: ``"2026"``, ``"2026–2027"``."""
    y0, y1 = datetime.fromtimestamp(x0).year, datetime.fromtimestamp(x1).year
    return str(y0) if y0 == y1 else f"{y0}–{y1}"


def date_range(xs: Sequence[float] | FloatArray) -> tuple[float, float]:
    """The x range (POSIX s) showing sessions ``xs`` with a margin: 8 % of the span each side, at least 2.5 days
    (room for the first and last date labels; a single session sits in the middle of a 5-day range)."""
    arr = np.asarray(xs, dtype=np.float64)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError("no session dates to show")
    lo, hi = float(arr.min()), float(arr.max())
    pad = max(2.5 * DAY_S, 0.08 * (hi - lo))
    return (lo - pad, hi + pad)


def value_range(values: Sequence[float] | FloatArray, target: int = 5) -> tuple[float, float, list[float]]:
    """A fixed y range covering the finite ``values`` with 8 % of their span (at least 1 unit, or 10 % of the
    value for a flat series) each side, and round ticks inside it: the smallest 1-2-2.5-5 step that gives at
    most ``target + 1`` ticks."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return (0.0, 1.0, nice_ticks(0.0, 1.0, target))
    lo, hi = float(arr.min()), float(arr.max())
    span = hi - lo
    pad = 0.08 * span if span > 0 else max(0.1 * abs(hi), 1.0)
    lo, hi = lo - pad, hi + pad
    step = nice_ceiling((hi - lo) / (max(1, target) + 1))
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return (lo, hi, [round(k * step, 10) for k in range(first, last + 1)])


# -- chart data -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricChoice:
    """One entry of the metric chooser: a metric of a protocol, the sides it was measured on."""

    protocol: str
    key: str
    label: str
    sides: tuple[str, ...]
    headline: bool = False


@dataclass(frozen=True)
class SideSeries:
    """One side's history in display units: session values, the MDC band around the baseline, real changes.

    ``x`` POSIX seconds of each session start; ``y`` the session values; ``band`` is ``(baseline − mdc,
    baseline + mdc)`` or None when no MDC is known (no published SEM and no repeated trials). ``real_x/real_y`` are
    the sessions flagged as a real change from baseline, ``real_up`` whether the change was an increase and
    ``real_better`` whether it was an improvement in the protocol's direction.
    """

    side: str
    x: FloatArray
    y: FloatArray
    session_ids: tuple[str, ...]
    baseline: float
    mdc: float
    real_x: FloatArray
    real_y: FloatArray
    real_up: BoolArray
    real_better: BoolArray

    @property
    def band(self) -> tuple[float, float] | None:
        if not (math.isfinite(self.baseline) and math.isfinite(self.mdc)):
            return None
        return (self.baseline - self.mdc, self.baseline + self.mdc)

    @property
    def label(self) -> str:
        return SIDE_LABELS.get(self.side, self.side)


@dataclass(frozen=True)
class SymmetrySeries:
    """Limb symmetry (%) per session with both sides: ``kind`` ``"lsi"`` (reference 100 %) or ``"si"`` (0 %)."""

    x: FloatArray
    y: FloatArray
    kind: str
    reference: float
    label: str
    involved_side: str


@dataclass(frozen=True)
class ProgressChartData:
    """Everything a progress chart draws for one metric, in display units, with its fixed ranges and ticks."""

    protocol: str
    key: str
    title: str
    unit: str
    scale: float
    better: str
    series: tuple[SideSeries, ...]
    symmetry: SymmetrySeries | None
    x_range: tuple[float, float]
    x_ticks: list[tuple[float, str]]
    x_label: str
    y_range: tuple[float, float]
    y_ticks: list[float]
    sym_range: tuple[float, float] = (0.0, 1.0)
    sym_ticks: list[float] = field(default_factory=list)
    sem_note: str = ""

    def side(self, side: str) -> SideSeries:
        for s in self.series:
            if s.side == side:
                return s
        raise KeyError(f"no {side} series for {self.key}; sides: {', '.join(s.side for s in self.series)}")


def metric_choices(progress: PatientProgress, headlines: Mapping[str, str] | None = None) -> list[MetricChoice]:
    """Every (protocol, metric) of ``progress`` once, with its sides; each protocol's headline metric (from
    ``headlines``: protocol id → key) first, then the others by protocol and key."""
    heads = dict(headlines or {})
    sides: dict[tuple[str, str], list[str]] = {}
    for m in progress.metrics:
        sides.setdefault((m.protocol, m.key), []).append(m.side)
    choices = [
        MetricChoice(p, k, metric_label(k), tuple(sorted(s, key=_side_rank)), heads.get(p) == k)
        for (p, k), s in sides.items()
    ]
    return sorted(choices, key=lambda c: (not c.headline, c.protocol, c.key))


def _side_rank(side: str) -> int:
    return SIDE_ORDER.index(side) if side in SIDE_ORDER else len(SIDE_ORDER)


def baseline_mdc(m: MetricProgress) -> float:
    """MDC95 (SI) of a change from the baseline, as :mod:`clinic.progress` flags it: the points' own
    ``mdc95_baseline``; for a history of one session, the same rule (published SEM at the baseline, else the
    repeated trials' pooled SD); NaN when neither exists."""
    for p in m.points[1:]:
        if math.isfinite(p.mdc95_baseline):
            return p.mdc95_baseline
    if not m.points:
        return math.nan
    if m.reliability is not None:
        return mdc95(m.reliability.sem_at(m.points[0].value))
    return mdc95(m.sem) if math.isfinite(m.sem) else math.nan


def _series(m: MetricProgress, scale: float) -> SideSeries:
    pts = m.points
    x = np.array([to_epoch(p.started_at) for p in pts], dtype=np.float64)
    y = np.array([p.value for p in pts], dtype=np.float64) * scale
    real = [i for i, p in enumerate(pts) if p.real_change_from_baseline]
    return SideSeries(
        side=m.side,
        x=x,
        y=y,
        session_ids=tuple(p.session_id for p in pts),
        baseline=float(y[0]) if y.size else math.nan,
        mdc=baseline_mdc(m) * scale,
        real_x=x[real],
        real_y=y[real],
        real_up=np.array([pts[i].change_from_baseline > 0 for i in real], dtype=bool),
        real_better=np.array([pts[i].direction_from_baseline == "better" for i in real], dtype=bool),
    )


def _sem_note(m: MetricProgress, unit: str, scale: float) -> str:
    if m.sem_source == "published" and m.reliability is not None:
        r = m.reliability
        sem = f"{format_value(r.sem * scale, unit)}" if r.sem is not None else f"{r.sem_percent:g} %"
        author = r.source.split(",")[0].split(".")[0]
        return f"MDC95 = 1.96·√2·SEM, SEM {sem} published ({author})"
    if m.sem_source == "trials":
        return f"MDC95 = 1.96·√2·SEM, SEM {format_value(m.sem * scale, unit)} from this patient's repeated trials"
    return "No MDC: no published reliability and no session with repeated trials"


def chart_data(progress: PatientProgress, protocol: str, key: str, *, target_ticks: int = 5) -> ProgressChartData:
    """The chart of metric ``key`` of ``protocol`` from a patient's progress (see :func:`clinic.progress.
    patient_progress`). Raises KeyError when the patient has no such result."""
    metrics = sorted((m for m in progress.metrics if m.protocol == protocol and m.key == key and m.points),
                     key=lambda m: _side_rank(m.side))
    if not metrics:
        raise KeyError(f"no results of {key} in {protocol} for {progress.patient_id}")
    all_si = np.concatenate([[p.value for p in m.points] for m in metrics])
    unit, scale = display_unit(metrics[0].unit, all_si)
    series = tuple(_series(m, scale) for m in metrics)
    xs = np.concatenate([s.x for s in series])
    x_range = date_range(xs)
    ys: list[float] = [float(v) for s in series for v in s.y]
    for s in series:
        if s.band is not None:
            ys.extend(s.band)
    y_lo, y_hi, y_ticks = value_range(ys, target_ticks)
    symmetry = None
    sym_range: tuple[float, float] = (0.0, 1.0)
    sym_ticks: list[float] = []
    sym = next((h for h in progress.symmetry if h.protocol == protocol and h.key == key and h.points), None)
    if sym is not None:
        lsi = sym.involved_side in ("left", "right")
        sx = np.array([to_epoch(p.started_at) for p in sym.points], dtype=np.float64)
        sy = np.array([p.lsi if lsi else p.symmetry_index for p in sym.points], dtype=np.float64)
        reference = 100.0 if lsi else 0.0
        label = "LSI (%)" if lsi else "Symmetry index (%)"
        symmetry = SymmetrySeries(sx, sy, "lsi" if lsi else "si", reference, label, sym.involved_side)
        s_lo, s_hi, sym_ticks = value_range([*sy.tolist(), reference], 3)
        sym_range = (s_lo, s_hi)
    title = metric_label(key)
    return ProgressChartData(
        protocol=protocol,
        key=key,
        title=title,
        unit=unit,
        scale=scale,
        better=metrics[0].better,
        series=series,
        symmetry=symmetry,
        x_range=x_range,
        x_ticks=date_ticks(*x_range, target=target_ticks),
        x_label=date_axis_label(*x_range),
        y_range=(y_lo, y_hi),
        y_ticks=y_ticks,
        sym_range=sym_range,
        sym_ticks=sym_ticks,
        sem_note=_sem_note(metrics[0], unit, scale),
    )
