"""Isometric force–time metrics of one maximal effort: onset, peak, RFD, impulse, hold, relaxation.

Definitions and sources: ``docs/metrics/strength.md``. Signals are arrays of shape (..., n_samples); pneumatic
(pressure) signals use the same function with ``unit="Pa"``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kinetics._checks import check_rate, input_error
from kinetics.results import Metrics
from kinetics.strength._batch import (
    check_fraction,
    check_times,
    ms_label,
    to_batch,
    unbatch,
    unit_names,
)
from kinetics.strength._search import (
    BoolArray,
    FloatArray,
    IntArray,
    crossing_time,
    first_from,
    last_before,
    value_at,
)
from kinetics.strength.effort import NOISY_BASELINE_FRACTION, find_effort
from kinetics.strength.onset import OnsetLevel, onset_level

RTD_LOW, RTD_HIGH = 0.2, 0.8
RELAX_HIGH, RELAX_LOW = 0.9, 0.1


def isometric_metrics(
    force: Any,
    fs: float,
    *,
    method: str = "noise5sd",
    baseline: float = 0.5,
    threshold: float | None = None,
    hold: float | tuple[float, float] = 0.9,
    fixed_times: tuple[float, ...] = (0.05, 0.1, 0.2),
    rfd_window: float = 0.02,
    min_duration: float = 0.02,
    unit: str = "N",
) -> Metrics:
    """Score one isometric effort per trace.

    Parameters
    ----------
    force : array_like, shape (..., n_samples)
        Force (N) — or pressure (Pa), torque (N·m): any force-like signal, in ``unit``. One effort per trace
        (split multi-repetition traces with :func:`kinetics.strength.split_efforts` first). The trace starts
        with ``baseline`` s of quiet signal.
    fs : float
        Sampling rate, Hz.
    method : str
        Onset method: ``"noise5sd"`` (baseline mean + 5 SD; any ``"noise<k>sd"``) or ``"absolute"`` (baseline
        mean + ``threshold``). Source: Maffiuletti et al. 2016, Eur J Appl Physiol 116:1091–1116.
    baseline : float
        Length (s) of the quiet window at the start of the trace (≥ 10 samples for noise methods).
    threshold : float, optional
        Onset threshold above the baseline mean, in ``unit`` (method ``"absolute"`` only).
    hold : float or (float, float)
        A fraction h: the hold is the contiguous window around the peak where force ≥ baseline +
        h·(peak − baseline) (default 0.9). A pair (t₁, t₂): the fixed window t₁…t₂ s after onset.
    fixed_times : tuple of float
        Δ (s) after onset for ``rfd_0_<ms>`` and ``force_at_<ms>ms``.
    rfd_window : float
        Sliding window (s) of the peak RFD (rounded to whole samples; the window used is in ``params``).
    min_duration : float
        Shortest effort (s above the onset level) that counts; shorter is flagged ``no_effort``.
    unit : str
        Unit of ``force``; rates are ``unit/s`` and impulses ``unit·s``.

    Returns
    -------
    Metrics
        Floats for a 1-D trace, arrays of the batch shape otherwise; NaN where a metric is undefined (no
        effort, window past the end, no release), always with a flag saying why. Flags: ``no_effort``,
        ``effort_in_baseline``, ``noisy_baseline``, ``not_released``, ``window_past_end``.
    """
    fs = check_rate(fs)
    x, shape = to_batch(force, "force")
    unit_names(unit)  # validates the unit name
    times = check_times(fixed_times, "fixed_times")
    win = check_times((rfd_window,), "rfd_window")[0]
    min_duration = _nonneg(min_duration, "min_duration")
    hold_spec = _check_hold(hold)
    lvl = onset_level(x, fs, method=method, baseline=baseline, threshold=threshold)
    w = max(1, round(win * fs))
    cfg = _Config(hold_spec, times, w, min_duration)
    out: dict[str, Any]
    flags: dict[str, Any]
    if x.shape[0] == 1 and shape == ():
        one, one_flags = _score_one(x[0], fs, lvl, cfg)
        if one_flags["no_effort"]:
            out = {k: v if k in _ALWAYS else math.nan for k, v in one.items()}
            flags = {k: v if k in _UNMASKED else False for k, v in one_flags.items()}
        else:
            out, flags = one, one_flags
    else:
        data, raw_flags = _score_batch(x, fs, lvl, cfg)
        bad = raw_flags["no_effort"]
        out = {k: unbatch(v if k in _ALWAYS else np.where(bad, np.nan, v), shape) for k, v in data.items()}
        flags = {k: unbatch(v if k in _UNMASKED else v & ~bad, shape) for k, v in raw_flags.items()}
    params = {
        "fs": fs,
        "unit": unit,
        "onset_method": lvl.method,
        **lvl.params,
        "hold": hold_spec,
        "fixed_times": times,
        "rfd_window": w / fs,
        "min_duration": min_duration,
        "rtd_levels": (RTD_LOW, RTD_HIGH),
        "relaxation_levels": (RELAX_HIGH, RELAX_LOW),
    }
    return Metrics(out, dict(_units(tuple(out), unit)), lvl.method, params, flags)


@functools.lru_cache(maxsize=64)
def _units(keys: tuple[str, ...], unit: str) -> dict[str, str]:
    unit_of = {"time": "s", **unit_names(unit)}
    return {k: unit_of[_kind(k)] for k in keys}


@dataclass(frozen=True)
class _Config:
    hold: float | tuple[float, float]
    times: tuple[float, ...]
    window: int
    min_duration: float


def _kind(key: str) -> str:
    if key in ("onset_time", "time_to_peak", "hold_duration", "relaxation_time"):
        return "time"
    if key.startswith(("rfd_", "peak_rfd_", "rtd_")):
        return "rate"
    if key.endswith("impulse"):
        return "impulse"
    return "force"


def _key_order(times: tuple[float, ...], window: float) -> list[str]:
    return [
        "onset_time",
        "peak_force",
        "time_to_peak",
        "mean_force",
        "hold_duration",
        *[f"rfd_0_{ms_label(t)}" for t in times],
        f"peak_rfd_{ms_label(window)}ms",
        "rtd_20_80",
        "impulse",
        "net_impulse",
        *[f"force_at_{ms_label(t)}ms" for t in times],
        "relaxation_time",
        "baseline_force",
        "baseline_sd",
        "onset_level",
    ]


def _score_one(x: FloatArray, fs: float, lvl: OnsetLevel, cfg: _Config) -> tuple[dict[str, float], dict[str, bool]]:
    """The metrics of one trace (1-D), with Python scalars and slices: the single-trial fast path.

    Every step mirrors :func:`_score_batch` operation for operation, so both give identical numbers.
    """
    n = x.size
    level = float(lvl.level[0])
    base = float(lvl.mean[0])
    nb = lvl.baseline_samples
    p = int(x.argmax())
    pk = float(x[p])
    rise = pk - base
    o, found_on = _last(x[:p] <= level)
    e, released = _first(x[p + 1 :] <= level, p + 1, n)
    no_effort = pk <= level or (e - o) < cfg.min_duration * fs
    past_end = False

    if isinstance(cfg.hold, float):
        hl = base + cfg.hold * rise
        before, found_b = _last(x[:p] < hl)
        h0 = before + 1 if found_b else 0
        after, found_a = _first(x[p + 1 :] < hl, p + 1, n)
        h1 = after - 1 if found_a else n - 1
        hold_ok = True
    else:
        h0 = o + round(cfg.hold[0] * fs)
        h1 = o + round(cfg.hold[1] * fs)
        hold_ok = h1 <= n - 1
        past_end = not hold_ok
        h0, h1 = min(h0, n - 1), min(h1, n - 1)
    x_o = float(x[o])
    d: dict[str, float] = {
        "onset_time": o / fs,
        "peak_force": pk,
        "time_to_peak": (p - o) / fs,
        "mean_force": float(x[h0 : h1 + 1].sum()) / (h1 - h0 + 1) if hold_ok else math.nan,
        "hold_duration": (h1 - h0 + 1) / fs if hold_ok else math.nan,
    }
    at: dict[float, float] = {}
    for t in cfg.times:
        v = _value_at_one(x, o + t * fs)
        past_end = past_end or math.isnan(v)
        at[t] = v
        d[f"rfd_0_{ms_label(t)}"] = (v - x_o) / t
    w = cfg.window
    last_start = min(max(o, p - w), n - 1 - w)
    if last_start >= o:
        best = float((x[o + w : last_start + 1 + w] - x[o : last_start + 1]).max())
    else:
        best = math.nan
    d[f"peak_rfd_{ms_label(w / fs)}ms"] = best * (fs / w)

    l20, l80 = base + RTD_LOW * rise, base + RTD_HIGH * rise
    i20, _ = _first(x[o:] >= l20, o, n)
    i80, _ = _first(x[o:] >= l80, o, n)
    dt = _crossing_one(x, i80, l80, fs) - _crossing_one(x, i20, l20, fs)
    d["rtd_20_80"] = (RTD_HIGH - RTD_LOW) * rise / dt if dt > 0 else math.nan
    gross = (float(x[o : e + 1].sum()) - 0.5 * (x_o + float(x[e]))) / fs
    d["impulse"] = gross
    d["net_impulse"] = gross - base * (e - o) / fs
    for t in cfg.times:
        d[f"force_at_{ms_label(t)}ms"] = at[t]

    l90, l10 = base + RELAX_HIGH * rise, base + RELAX_LOW * rise
    i90, f90 = _first(x[p + 1 :] < l90, p + 1, n)
    i10, f10 = _first(x[i90:] <= l10, i90, n)
    relax = _crossing_one(x, i10, l10, fs) - _crossing_one(x, i90, l90, fs)
    d["relaxation_time"] = relax if (f90 and f10) else math.nan
    d["baseline_force"] = base
    d["baseline_sd"] = float(lvl.sd[0])
    d["onset_level"] = level
    flags = {
        "no_effort": bool(no_effort),
        "effort_in_baseline": (not found_on) or o < nb,
        "noisy_baseline": bool(float(lvl.drift[0]) > float(lvl.sd[0]))
        or (not no_effort and (level - base) > NOISY_BASELINE_FRACTION * (pk - base)),
        "not_released": not released,
        "window_past_end": past_end,
    }
    return {k: d[k] for k in _key_order(cfg.times, w / fs)}, flags


def _first(mask: BoolArray, offset: int, n: int) -> tuple[int, bool]:
    """First True of ``mask`` as an index into the trace (``offset`` + i); (n − 1, False) if none."""
    if mask.size == 0:
        return n - 1, False
    i = int(mask.argmax())
    return (offset + i, True) if mask[i] else (n - 1, False)


def _last(mask: BoolArray) -> tuple[int, bool]:
    """Last True of ``mask`` (which starts at sample 0); (0, False) if none."""
    if mask.size == 0:
        return 0, False
    i = mask.size - 1 - int(mask[::-1].argmax())
    return (i, True) if mask[i] else (0, False)


def _crossing_one(x: FloatArray, index: int, level: float, fs: float) -> float:
    if index <= 0:
        return 0.0
    i = min(index, x.size - 1)
    a = float(x[i - 1])
    step = float(x[i]) - a
    frac = 1.0 if step == 0 else min(max((level - a) / step, 0.0), 1.0)
    return (i - 1 + frac) / fs


def _value_at_one(x: FloatArray, position: float) -> float:
    n = x.size
    if position < 0 or position > n - 1:
        return math.nan
    i0 = min(math.floor(position), n - 2)
    frac = position - i0
    v0 = float(x[i0])
    return v0 + (float(x[i0 + 1]) - v0) * frac


def _score_batch(
    x: FloatArray, fs: float, lvl: OnsetLevel, cfg: _Config
) -> tuple[dict[str, FloatArray], dict[str, BoolArray]]:
    """The metrics of every row of ``x`` (shape (B, n)), vectorised over the batch."""
    ef = find_effort(x, fs, lvl, cfg.min_duration)
    n = x.shape[-1]
    rows = np.arange(x.shape[0])
    base = lvl.mean
    o, p, e, pk = ef.onset, ef.peak_index, ef.offset, ef.peak
    rise = pk - base
    x_o = x[rows, o]
    past_end = np.zeros(x.shape[0], dtype=bool)
    data: dict[str, FloatArray] = {}

    if isinstance(cfg.hold, float):
        hl = base + cfg.hold * rise
        before, found_b = last_before(x, hl, p, np.less)
        h0 = np.where(found_b, before + 1, 0)
        after, found_a = first_from(x, hl, p + 1, np.less)
        h1 = np.where(found_a, after - 1, n - 1)
        hold_ok = np.ones(x.shape[0], dtype=bool)
    else:
        h0 = o + round(cfg.hold[0] * fs)
        h1 = o + round(cfg.hold[1] * fs)
        hold_ok = h1 <= n - 1
        past_end |= ~hold_ok
        h0 = np.minimum(h0, n - 1)
        h1 = np.minimum(h1, n - 1)

    data["onset_time"] = o / fs
    data["peak_force"] = pk
    data["time_to_peak"] = (p - o) / fs
    data["mean_force"] = np.where(hold_ok, _row_sums(x, h0, h1) / (h1 - h0 + 1), np.nan)
    data["hold_duration"] = np.where(hold_ok, (h1 - h0 + 1) / fs, np.nan)

    at: dict[float, FloatArray] = {}
    for t in cfg.times:
        value = value_at(x, (o + t * fs).astype(np.float64))
        past_end |= np.isnan(value)
        at[t] = value
        data[f"rfd_0_{ms_label(t)}"] = (value - x_o) / t
    w = cfg.window
    data[f"peak_rfd_{ms_label(w / fs)}ms"] = _peak_rfd(x, o, p, w) * (fs / w)

    l20, l80 = base + RTD_LOW * rise, base + RTD_HIGH * rise
    i20, _ = first_from(x, l20, o, np.greater_equal)
    i80, _ = first_from(x, l80, o, np.greater_equal)
    dt = crossing_time(x, i80, l80, fs) - crossing_time(x, i20, l20, fs)
    safe_dt = np.where(dt > 0, dt, 1.0)
    data["rtd_20_80"] = np.where(dt > 0, (RTD_HIGH - RTD_LOW) * rise / safe_dt, np.nan)

    gross = (_row_sums(x, o, e) - 0.5 * (x_o + x[rows, e])) / fs
    data["impulse"] = gross
    data["net_impulse"] = gross - base * (e - o) / fs
    for t in cfg.times:
        data[f"force_at_{ms_label(t)}ms"] = at[t]

    l90, l10 = base + RELAX_HIGH * rise, base + RELAX_LOW * rise
    i90, f90 = first_from(x, l90, p + 1, np.less)
    i10, f10 = first_from(x, l10, i90, np.less_equal)
    relax = crossing_time(x, i10, l10, fs) - crossing_time(x, i90, l90, fs)
    data["relaxation_time"] = np.where(f90 & f10, relax, np.nan)
    data["baseline_force"] = base.copy()
    data["baseline_sd"] = lvl.sd.copy()
    data["onset_level"] = lvl.level.copy()
    flags = {
        "no_effort": ef.no_effort,
        "effort_in_baseline": ef.effort_in_baseline,
        "noisy_baseline": ef.noisy_baseline,
        "not_released": ef.not_released,
        "window_past_end": past_end,
    }
    return {k: data[k] for k in _key_order(cfg.times, w / fs)}, flags


def _row_sums(x: FloatArray, a: IntArray, b: IntArray) -> FloatArray:
    """Sum of x[r, a[r] : b[r] + 1] per row — slice by slice, so a batch sums exactly as a single trace does."""
    return np.array([x[r, a[r] : b[r] + 1].sum() for r in range(x.shape[0])], dtype=np.float64)


_ALWAYS = frozenset({"baseline_force", "baseline_sd", "onset_level"})
_UNMASKED = frozenset({"no_effort", "noisy_baseline"})


def _peak_rfd(x: FloatArray, o: IntArray, p: IntArray, w: int) -> FloatArray:
    """Largest rise x[i + w] − x[i] over window starts onset ≤ i ≤ peak − w (≥ onset); NaN if none fits."""
    n = x.shape[-1]
    last_start = np.minimum(np.maximum(o, p - w), n - 1 - w)
    valid = last_start >= o
    if not valid.any():
        return np.full(x.shape[0], np.nan)
    s0 = int(o[valid].min())
    s1 = int(last_start[valid].max()) + 1
    d = x[:, s0 + w : s1 + w] - x[:, s0:s1]
    if x.shape[0] > 1:
        idx = np.arange(s0, s1)
        d = np.where((idx >= o[:, None]) & (idx <= last_start[:, None]), d, -np.inf)
    best = d.max(axis=-1)
    return np.where(valid, best, np.nan)


def _nonneg(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise input_error(name, f"must be a duration in s, got {value!r}", "pass e.g. 0.02") from None
    if not math.isfinite(v) or v < 0:
        raise input_error(name, f"must be a duration ≥ 0 s, got {v}", "pass e.g. 0.02")
    return v


def _check_hold(hold: Any) -> float | tuple[float, float]:
    if isinstance(hold, (tuple, list)):
        if len(hold) != 2:
            raise input_error("hold", f"a fixed window needs (start, end) in s, got {hold!r}", "pass (1.0, 3.0)")
        a, b = (float(v) for v in hold)
        if not (math.isfinite(a) and math.isfinite(b) and 0 <= a < b):
            raise input_error("hold", f"window must satisfy 0 ≤ start < end, got {hold!r}", "pass (1.0, 3.0)")
        return (a, b)
    return check_fraction(hold, "hold")
