"""Multi-repetition traces: split into efforts, score each, compare them (consistency, fatigue).

Definitions and sources: ``docs/metrics/strength.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import check_rate, input_error
from kinetics.results import Metrics
from kinetics.strength._batch import to_batch, unbatch, unit_names
from kinetics.strength._search import FloatArray, IntArray
from kinetics.strength.onset import onset_level

CV_LIMIT_PCT = 15.0
"""Default ``inconsistent_effort`` limit: CV of peak force across efforts above 15 % (Shechtman 2000)."""


@dataclass(frozen=True)
class Efforts:
    """Boundaries of the efforts found in each trace.

    Attributes
    ----------
    start : ndarray of int, shape (..., k_max)
        Sample index of each effort's onset: the last sample at/below the onset level before it rises above;
        -1 where a trace has fewer than ``k_max`` efforts.
    end : ndarray of int, shape (..., k_max)
        Sample index of each effort's end: the first sample at/below the level after it (the last sample of
        the trace if the force never came back down); -1 padding.
    count : int or ndarray of int, shape (...)
        Number of efforts per trace.
    level : float or ndarray, shape (...)
        The onset level used (signal unit).
    method : str
        Onset method; ``params`` has the rest (fs, baseline, k/threshold, min_duration, min_rest).
    """

    start: NDArray[np.int64]
    end: NDArray[np.int64]
    count: Any
    level: Any
    method: str
    params: dict[str, Any]


def split_efforts(
    force: Any,
    fs: float,
    *,
    method: str = "noise5sd",
    baseline: float = 0.5,
    threshold: float | None = None,
    min_duration: float = 0.1,
    min_rest: float = 0.1,
) -> Efforts:
    """Split traces into efforts: runs above the onset level (see :mod:`kinetics.strength.onset`).

    Parameters
    ----------
    force : array_like, shape (..., n_samples)
        Force (or any force-like signal) starting with ``baseline`` s of quiet signal.
    fs : float
        Sampling rate, Hz.
    method, baseline, threshold
        Onset level, as in :func:`kinetics.strength.isometric_metrics`.
    min_duration : float
        Runs above the level shorter than this (s) are not efforts (noise spikes).
    min_rest : float
        Dips below the level shorter than this (s) do not end an effort (the two runs are one effort).
    """
    fs = check_rate(fs)
    x, shape = to_batch(force, "force")
    min_duration = _duration(min_duration, "min_duration")
    min_rest = _duration(min_rest, "min_rest")
    lvl = onset_level(x, fs, method=method, baseline=baseline, threshold=threshold)
    rows, start, end = _runs(x, lvl.level, math.ceil(min_duration * fs - 1e-9), math.ceil(min_rest * fs - 1e-9))
    b = x.shape[0]
    count = np.bincount(rows, minlength=b)
    k_max = int(count.max()) if b else 0
    rank = np.arange(rows.size) - (np.cumsum(count) - count)[rows]
    starts = np.full((b, k_max), -1, dtype=np.int64)
    ends = np.full((b, k_max), -1, dtype=np.int64)
    starts[rows, rank] = start
    ends[rows, rank] = end
    params = {
        "fs": fs,
        **lvl.params,
        "min_duration": min_duration,
        "min_rest": min_rest,
    }
    return Efforts(
        starts.reshape((*shape, k_max)),
        ends.reshape((*shape, k_max)),
        unbatch(count, shape),
        unbatch(lvl.level, shape),
        lvl.method,
        params,
    )


def _runs(x: FloatArray, level: FloatArray, min_len: int, min_gap: int) -> tuple[IntArray, IntArray, IntArray]:
    """(row, start, end) of every run of samples above ``level`` after merging short gaps and dropping short runs."""
    b, n = x.shape
    edges = np.zeros((b, n + 2), dtype=np.int8)
    edges[:, 1:-1] = x > level[:, None]
    step = np.diff(edges, axis=-1)
    r_rows, r_pos = np.nonzero(step == 1)  # first sample above
    f_rows, f_pos = np.nonzero(step == -1)  # first sample back at/below (n if never)
    if r_rows.size > 1:
        merge = (r_rows[1:] == f_rows[:-1]) & (r_pos[1:] - f_pos[:-1] < min_gap)
        keep_rise = np.concatenate(([True], ~merge))
        keep_fall = np.concatenate((~merge, [True]))
        r_rows, r_pos, f_pos = r_rows[keep_rise], r_pos[keep_rise], f_pos[keep_fall]
    long_enough = (f_pos - r_pos) >= max(min_len, 1)
    rows = r_rows[long_enough].astype(np.int64)
    start = np.maximum(r_pos[long_enough] - 1, 0).astype(np.int64)
    end = np.minimum(f_pos[long_enough], n - 1).astype(np.int64)
    return rows, start, end


def repetition_metrics(
    force: Any,
    fs: float,
    *,
    method: str = "noise5sd",
    baseline: float = 0.5,
    threshold: float | None = None,
    min_duration: float = 0.1,
    min_rest: float = 0.1,
    cv_limit: float = CV_LIMIT_PCT,
    fatigue_span: int = 1,
    unit: str = "N",
) -> Metrics:
    """Score every effort of multi-repetition traces and compare them.

    Per effort ``i`` (1-based): ``peak_force_rep<i>``, ``impulse_rep<i>`` (gross, trapezoid from onset to
    end), ``onset_time_rep<i>``, ``duration_rep<i>`` — NaN past a trace's own count. Across efforts:
    ``n_efforts``, ``best_peak_force``, ``mean_peak_force``, ``sd_peak_force`` (sample SD, ddof = 1),
    ``cv_peak_force`` (%), ``fatigue_index`` (%: decline of the mean of the last ``fatigue_span`` peaks from the
    mean of the first ``fatigue_span``, relative to the first), ``fatigue_slope`` (least-squares slope of peak
    force over repetition number, unit/rep; negative when force falls).

    Flags: ``no_effort`` (none found), ``too_few_efforts`` (fewer than 2: no SD, CV or fatigue),
    ``inconsistent_effort`` (CV > ``cv_limit`` %, default 15 % after Shechtman 2000), ``not_released``
    (the last effort runs to the end of the trace).
    """
    fs = check_rate(fs)
    units = unit_names(unit)
    cv_limit = float(cv_limit)
    if not (math.isfinite(cv_limit) and cv_limit > 0):
        raise input_error("cv_limit", f"must be a positive percentage, got {cv_limit}", "pass e.g. 15.0")
    if not isinstance(fatigue_span, int) or fatigue_span < 1:
        raise input_error("fatigue_span", f"must be a whole number ≥ 1, got {fatigue_span!r}", "pass e.g. 1 or 3")
    ef = split_efforts(
        force,
        fs,
        method=method,
        baseline=baseline,
        threshold=threshold,
        min_duration=min_duration,
        min_rest=min_rest,
    )
    x, shape = to_batch(force, "force")
    b, n = x.shape
    starts = ef.start.reshape(b, -1)
    ends = ef.end.reshape(b, -1)
    count = np.asarray(ef.count).reshape(b)
    k_max = starts.shape[1]
    valid = starts >= 0
    rows = np.broadcast_to(np.arange(b)[:, None], starts.shape)[valid]
    s, e = starts[valid], ends[valid]

    peaks = np.full((b, k_max), np.nan)
    impulses = np.full((b, k_max), np.nan)
    if s.size:
        flat_start = rows * n + s
        flat_end = rows * n + e + 1
        bounds = np.empty(2 * s.size, dtype=np.int64)
        bounds[0::2], bounds[1::2] = flat_start, flat_end
        flat = np.append(x.ravel(), 0.0)  # so an effort ending on the last sample has a bound inside
        peaks[valid] = np.maximum.reduceat(flat, bounds)[0::2]
        sums = np.add.reduceat(flat, bounds)[0::2]
        impulses[valid] = (sums - 0.5 * (flat[flat_start] + flat[flat_end - 1])) / fs
    onset = np.where(valid, starts / fs, np.nan)
    duration = np.where(valid, (ends - starts) / fs, np.nan)

    k = count.astype(np.float64)
    safe_k = np.maximum(k, 1.0)
    total = np.nansum(peaks, axis=-1)
    mean = np.where(k > 0, total / safe_k, np.nan)
    dev = np.where(valid, peaks - mean[:, None], 0.0)
    sd = np.where(k > 1, np.sqrt((dev * dev).sum(axis=-1) / np.maximum(k - 1, 1.0)), np.nan)
    cv = sd / mean * 100.0
    best = np.where(k > 0, np.nanmax(np.where(valid, peaks, -np.inf), axis=-1, initial=-np.inf), np.nan)

    span = fatigue_span
    enough = k >= 2 * span
    col = np.arange(k_max)
    first_mask = valid & (col < span)
    last_mask = valid & (col >= (count - span)[:, None])
    first = np.where(first_mask, peaks, 0.0).sum(axis=-1) / span
    last = np.where(last_mask, peaks, 0.0).sum(axis=-1) / span
    fatigue = np.where(enough, (first - last) / np.where(first != 0, first, 1.0) * 100.0, np.nan)
    rep = col + 1.0
    rep_mean = (k + 1.0) / 2.0
    rdev = np.where(valid, rep - rep_mean[:, None], 0.0)
    sxx = (rdev * rdev).sum(axis=-1)
    slope = np.where(k > 1, (rdev * dev).sum(axis=-1) / np.where(sxx > 0, sxx, 1.0), np.nan)

    data: dict[str, Any] = {}
    unit_of: dict[str, str] = {}

    def put(key: str, value: Any, u: str) -> None:
        data[key] = unbatch(value, shape)
        unit_of[key] = u

    put("n_efforts", k, "1")
    put("best_peak_force", best, units["force"])
    put("mean_peak_force", mean, units["force"])
    put("sd_peak_force", sd, units["force"])
    put("cv_peak_force", cv, "%")
    put("fatigue_index", fatigue, "%")
    put("fatigue_slope", slope, f"{units['force']}/rep")
    for i in range(k_max):
        put(f"peak_force_rep{i + 1}", peaks[:, i], units["force"])
        put(f"impulse_rep{i + 1}", impulses[:, i], units["impulse"])
        put(f"onset_time_rep{i + 1}", onset[:, i], "s")
        put(f"duration_rep{i + 1}", duration[:, i], "s")
    if k_max:
        last_end = np.where(k > 0, ends[np.arange(b), np.maximum(count - 1, 0)], -1)
    else:
        last_end = np.full(b, -1)
    flags = {
        "no_effort": unbatch(k == 0, shape),
        "too_few_efforts": unbatch(k < 2, shape),
        "inconsistent_effort": unbatch(np.nan_to_num(cv, nan=0.0) > cv_limit, shape),
        "not_released": unbatch((k > 0) & (last_end == n - 1) & (x[:, -1] > np.reshape(ef.level, b)), shape),
    }
    params = {**ef.params, "unit": unit, "cv_limit": cv_limit, "fatigue_span": span}
    return Metrics(data, unit_of, ef.method, params, flags)


def _duration(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise input_error(name, f"must be a duration in s, got {value!r}", "pass e.g. 0.1") from None
    if not math.isfinite(v) or v < 0:
        raise input_error(name, f"must be a duration ≥ 0 s, got {v}", "pass e.g. 0.1")
    return v
