"""Shared pieces of the jump scoring: settings, batch handling, rejection reasons, array helpers.

Everything here works on a 2-D batch ``(n_trials, n_samples)``; the public functions flatten the caller's
``(..., n_samples)`` arrays into that shape and restore the batch shape at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import as_signal, check_rate, input_error
from kinetics.results import Metrics

#: Standard gravity (m/s²), the conventional value (CGPM 1901) used by Hawkin, VALD and the literature.
G = 9.80665

FloatArray = NDArray[Any]
IntArray = NDArray[Any]
OnInvalid = Literal["raise", "flag"]

# Rejection reasons: flag name → message template (filled from a per-trial detail string).
REASONS: dict[str, str] = {
    "quiet_phase_too_short": "quiet phase too short: {detail}; record at least {weigh} s of still standing on "
    "the plate before the jump (or pass a shorter weigh_duration)",
    "quiet_phase_not_quiet": "quiet phase not quiet: {detail}; stand still before the jump (or raise "
    "quiet_max_sd if the plate itself is this noisy)",
    "no_flight": "no flight found: {detail}; check that the trace contains a jump with a landing on the plate "
    "(or lower min_flight_time / change takeoff_threshold)",
    "no_contact": "no drop-jump contact found: {detail}; the trace must contain a landing from the box, a "
    "take-off and a landing on the plate",
    "no_hops": "no hop found: {detail}; repeated hops need at least one ground contact between two flights",
}


@dataclass(frozen=True)
class JumpSettings:
    """Thresholds shared by the jump functions (all recorded in ``Metrics.params``).

    Attributes
    ----------
    takeoff_threshold : float
        Force (N) below which the plate is unloaded (take-off) and at or above which it is loaded (landing).
    onset_sd : float
        Movement onset where force departs body weight by this many SD of the quiet phase.
    onset_step_back : float
        Seconds the onset is moved back from the departure sample (Hawkin/VALD use 30 ms).
    weigh_duration : float
        Length (s) of the quiet-standing window that gives body weight.
    quiet_max_sd : float
        Largest quiet-window SD, as a fraction of body weight, accepted as still standing.
    min_flight_time : float
        Shortest unloaded stretch (s) counted as a flight.
    landing_window : float
        Longest landing phase (s) searched after landing.
    search_grid : float
        Block length (s) of the coarse event search (events are then refined to the sample).
    """

    takeoff_threshold: float = 20.0
    onset_sd: float = 5.0
    onset_step_back: float = 0.030
    weigh_duration: float = 1.0
    quiet_max_sd: float = 0.02
    min_flight_time: float = 0.1
    landing_window: float = 0.5
    search_grid: float = 0.010

    def validate(self) -> None:
        """Raise :class:`KineticsInputError` for a non-finite or non-positive setting."""
        for name in ("takeoff_threshold", "onset_sd", "weigh_duration", "quiet_max_sd", "min_flight_time",
                     "landing_window", "search_grid"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise input_error(name, f"must be a positive finite number, got {value!r}", "pass e.g. the default")
        if not (math.isfinite(self.onset_step_back) and self.onset_step_back >= 0):
            raise input_error("onset_step_back", f"must be ≥ 0 s, got {self.onset_step_back!r}", "pass e.g. 0.03")

    def as_params(self, fs: float) -> dict[str, Any]:
        """The settings as a plain dict for ``Metrics.params`` (with ``fs`` and ``g``)."""
        return {
            "fs": fs,
            "g": G,
            "takeoff_threshold": self.takeoff_threshold,
            "onset_sd": self.onset_sd,
            "onset_step_back": self.onset_step_back,
            "weigh_duration": self.weigh_duration,
            "quiet_max_sd": self.quiet_max_sd,
            "min_flight_time": self.min_flight_time,
            "landing_window": self.landing_window,
            "search_grid": self.search_grid,
            "integration": "trapezoid",
            "filter": "none",
        }


@dataclass
class Batch:
    """The caller's force flattened to ``(n_trials, n_samples)``; ``sides`` holds (left, right) if given."""

    total: FloatArray
    sides: tuple[FloatArray, FloatArray] | None
    batch_shape: tuple[int, ...]
    fs: float


def prepare(force: Any, fs: Any, sides: bool, name: str = "force") -> Batch:
    """Validate ``force`` ((..., n) or, with ``sides``, (..., 2, n)) and flatten its batch axes."""
    rate = check_rate(fs)
    arr = as_signal(force, name, min_samples=8, min_ndim=2 if sides else 1)
    if sides:
        if arr.shape[-2] != 2:
            raise input_error(
                name, f"with sides=True the second-to-last axis must be (left, right) of length 2, got {arr.shape}",
                "stack the two plates as np.stack([left, right], axis=-2)",
            )
        batch_shape = arr.shape[:-2]
        flat = arr.reshape(-1, 2, arr.shape[-1])
        left = np.ascontiguousarray(flat[:, 0])
        right = np.ascontiguousarray(flat[:, 1])
        return Batch(left + right, (left, right), batch_shape, rate)
    batch_shape = arr.shape[:-1]
    return Batch(arr.reshape(-1, arr.shape[-1]), None, batch_shape, rate)


def check_on_invalid(on_invalid: str) -> None:
    """Raise unless ``on_invalid`` is ``"raise"`` or ``"flag"``."""
    if on_invalid not in ("raise", "flag"):
        raise input_error("on_invalid", f"must be 'raise' or 'flag', got {on_invalid!r}", "pick one of the two")


def raise_first(reasons: list[str | None], details: list[str], batch_shape: tuple[int, ...],
                settings: JumpSettings) -> None:
    """Raise the error of the first rejected trial (its batch index in the message)."""
    for i, reason in enumerate(reasons):
        if reason is None:
            continue
        where = "force" if not batch_shape else f"force[{', '.join(map(str, np.unravel_index(i, batch_shape)))}]"
        problem = REASONS[reason].format(detail=details[i], weigh=settings.weigh_duration)
        text, _, remedy = problem.partition("; ")
        raise input_error(where, text, remedy)


def finish(
    values: dict[str, FloatArray],
    units: dict[str, str],
    valid: NDArray[Any],
    reasons: list[str | None],
    batch_shape: tuple[int, ...],
    method: str,
    params: dict[str, Any],
    flags: dict[str, NDArray[Any]],
) -> Metrics:
    """Scatter per-valid-trial values into the batch (NaN where rejected) and build the :class:`Metrics`."""
    n = valid.shape[0]
    every = bool(valid.all())
    data: dict[str, Any] = {}
    seen: set[int] = set()
    for key, val in values.items():
        if every:
            # no scatter needed; copy only an array that another key already returned (no aliasing)
            full = np.asarray(val, dtype=np.float64)
            if id(val) in seen:
                full = full.copy()
            seen.add(id(val))
        else:
            full = np.full(n, np.nan)
            full[valid] = val
        data[key] = _shape(full, batch_shape)
    all_flags: dict[str, Any] = {}
    if not every:
        for name in REASONS:
            mask = np.array([r == name for r in reasons], dtype=bool)
            if mask.any():
                all_flags[name] = _shape(mask, batch_shape)
    for name, mask_valid in flags.items():
        if every:
            full_b = np.asarray(mask_valid, dtype=bool)
        else:
            full_b = np.zeros(n, dtype=bool)
            full_b[valid] = mask_valid
        all_flags[name] = _shape(full_b, batch_shape)
    return Metrics(data, {k: units[k] for k in data}, method, params, all_flags)


def _shape(arr: NDArray[Any], batch_shape: tuple[int, ...]) -> Any:
    if not batch_shape:
        return arr[0].item()
    return arr.reshape(batch_shape)


# ---------------------------------------------------------------- array helpers (rows = trials)

#: Elements per float array of one row chunk: the working set of a chunk stays in the CPU cache, which makes the
#: many element-wise passes of the scoring several times faster on large batches than whole-batch temporaries.
CHUNK_ELEMENTS = 1 << 17


def row_chunks(n_rows: int, n_cols: int) -> list[slice]:
    """Row slices covering ``n_rows`` rows, each about :data:`CHUNK_ELEMENTS` / ``n_cols`` rows."""
    step = max(1, CHUNK_ELEMENTS // max(n_cols, 1))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)] or [slice(0, 0)]


def gather(x: FloatArray, idx: IntArray) -> FloatArray:
    """``x[r, idx[r]]`` for every row ``r``."""
    return x[np.arange(idx.shape[0]), idx]


def window(x: FloatArray, start: IntArray, length: int) -> FloatArray:
    """Rows ``x[r, start[r] : start[r] + length]`` as a (n_trials, length) array (start clipped inside)."""
    start = np.clip(start, 0, x.shape[1] - length)
    return x[np.arange(start.shape[0])[:, None], start[:, None] + np.arange(length)[None, :]]


def segment(x: FloatArray, a: IntArray, b: IntArray) -> tuple[FloatArray, NDArray[Any], int]:
    """Columns of ``x`` spanning every row's [a, b) plus the row mask of [a, b) and the column offset."""
    lo = int(a.min())
    hi = max(int(b.max()), lo + 1)
    cols = np.arange(lo, hi)
    mask = (cols >= a[:, None]) & (cols < b[:, None])
    return x[:, lo:hi], mask, lo


def crossing_fraction(x: FloatArray, idx: IntArray, threshold: float) -> FloatArray:
    """Where ``x`` crosses ``threshold`` between samples idx − 1 and idx, as a fraction in (0, 1] of the interval.

    The crossing instant is ``idx - 1 + fraction`` samples (linear interpolation).
    """
    before = gather(x, idx - 1)
    after = gather(x, idx)
    step = before - after
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(step != 0, (before - threshold) / np.where(step != 0, step, 1.0), 1.0)
    return np.clip(frac, 0.0, 1.0)


def seg_argmax(x: FloatArray, a: IntArray, b: IntArray) -> IntArray:
    """Index of the maximum of each row of ``x`` over [a, b) (``a`` where the segment is empty)."""
    xs, mask, lo = segment(x, a, b)
    return np.where(b > a, lo + np.where(mask, xs, -np.inf).argmax(axis=1), a)


def seg_argmin(x: FloatArray, a: IntArray, b: IntArray) -> IntArray:
    """Index of the minimum of each row of ``x`` over [a, b) (``a`` where the segment is empty)."""
    xs, mask, lo = segment(x, a, b)
    return np.where(b > a, lo + np.where(mask, xs, np.inf).argmin(axis=1), a)


def seg_max(x: FloatArray, a: IntArray, b: IntArray) -> FloatArray:
    """``gather(x, seg_argmax(x, a, b))``: the maximum of each row of ``x`` over [a, b) (``x[a]`` where empty)."""
    return _seg_extreme(x, a, b, np.maximum, seg_argmax)


def seg_min(x: FloatArray, a: IntArray, b: IntArray) -> FloatArray:
    """``gather(x, seg_argmin(x, a, b))``: the minimum of each row of ``x`` over [a, b) (``x[a]`` where empty)."""
    return _seg_extreme(x, a, b, np.minimum, seg_argmin)


def seg_argmax_first(x: FloatArray, a: IntArray, b: IntArray) -> IntArray:
    """:func:`seg_argmax` (same indices) from the :func:`seg_max` value and one equality pass."""
    return _seg_arg_of(x, a, b, seg_max(x, a, b), seg_argmax)


def seg_argmin_first(x: FloatArray, a: IntArray, b: IntArray) -> IntArray:
    """:func:`seg_argmin` (same indices) from the :func:`seg_min` value and one equality pass."""
    return _seg_arg_of(x, a, b, seg_min(x, a, b), seg_argmin)


def _seg_arg_of(x: FloatArray, a: IntArray, b: IntArray, value: FloatArray,
                arg: Callable[[FloatArray, IntArray, IntArray], IntArray]) -> IntArray:
    # the first sample of the spanned columns equal to the extreme is the answer unless it lies before the
    # row's own segment (or none is equal: a NaN extreme); those rare rows are redone by the masked search
    lo = int(a.min())
    hi = max(int(b.max()), lo + 1)
    eq = x[:, lo:hi] == value[:, None]
    out: IntArray = lo + eq.argmax(axis=1)
    redo = np.flatnonzero((out < a) | ~gather(eq, out - lo))
    if redo.size:
        out[redo] = arg(x[redo], a[redo], b[redo])
    return np.where(b > a, out, a)


def _seg_extreme(x: FloatArray, a: IntArray, b: IntArray, ufunc: np.ufunc,
                 arg: Callable[[FloatArray, IntArray, IntArray], IntArray]) -> FloatArray:
    # one reduceat pass over the flattened rows (segment r is [r·n + a, r·n + b); an empty one gives x[r, a])
    # instead of a masked search; a 0.0 result is redone by the arg-search so that the sign of zero is the one
    # of the first extreme sample, as with gather(x, arg(...))
    n_rows, n = x.shape
    if n_rows == 0:
        return np.empty(0)
    base = np.arange(n_rows) * n
    idx = np.empty(2 * n_rows, dtype=np.intp)
    idx[0::2] = base + a
    idx[1::2] = base + b
    if idx[-1] >= x.size:
        idx = idx[:-1]
    out: FloatArray = ufunc.reduceat(x.reshape(-1), idx)[0::2]
    zero = np.flatnonzero(out == 0.0)
    if zero.size:
        out[zero] = gather(x[zero], arg(x[zero], a[zero], b[zero]))
    return out


def seg_first(cond: NDArray[Any], a: IntArray, b: IntArray) -> tuple[IntArray, NDArray[Any]]:
    """First index in [a, b) where ``cond`` holds, and whether one was found (``b`` when not)."""
    cs, mask, lo = segment(cond, a, b)
    hit = mask & cs
    found = np.asarray(hit.any(axis=1))
    return np.where(found, lo + hit.argmax(axis=1), b), found


def seg_first_ge(x: FloatArray, value: float, a: IntArray, b: IntArray) -> tuple[IntArray, NDArray[Any]]:
    """:func:`seg_first` of ``x >= value``, comparing only the columns spanned by the segments."""
    lo = int(a.min())
    hi = max(int(b.max()), lo + 1)
    # only the start bound is masked: a first hit at or past b means none in [a, b)
    hit = np.greater_equal(np.arange(lo, hi), a[:, None])
    hit &= x[:, lo:hi] >= value
    first = hit.argmax(axis=1)
    found = np.asarray(gather(hit, first) & (lo + first < b))
    return np.where(found, lo + first, b), found


def seg_mean(x: FloatArray, a: IntArray, b: IntArray) -> FloatArray:
    """Mean of each row of ``x`` over [a, b) (NaN where empty)."""
    xs, mask, _ = segment(x, a, b)
    count = b - a
    total = np.where(mask, xs, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def asymmetry(left: FloatArray, right: FloatArray) -> FloatArray:
    """Asymmetry (%) = (L − R) / max(L, R) × 100; positive when the left side is larger.

    The percentage-difference form with the larger side as denominator ((stronger − weaker)/stronger × 100,
    signed by side; Bishop C et al. (2018) Strength Cond J 40(4):1-6). NaN when both are zero.
    """
    big = np.maximum(np.abs(left), np.abs(right))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(big > 0, (left - right) / np.where(big > 0, big, 1.0) * 100.0, np.nan)


def height_from_velocity(v: FloatArray) -> FloatArray:
    """Jump height (m) = v² / 2g for an upward take-off velocity ``v`` (m/s); a downward one gives 0·sign."""
    return np.sign(v) * v * v / (2.0 * G)


def height_from_flight_time(t: FloatArray) -> FloatArray:
    """Jump height (m) = g·t² / 8 from the flight time ``t`` (s) (Bosco et al. 1983)."""
    return G * t * t / 8.0
