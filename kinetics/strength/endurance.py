"""Sustained-contraction endurance: time above a fraction of the maximum, time to fall to 75/50/25 %."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kinetics._checks import check_rate
from kinetics.results import Metrics
from kinetics.strength._batch import check_fraction, to_batch, unbatch, unit_names
from kinetics.strength._search import crossing_time, first_from
from kinetics.strength.effort import find_effort
from kinetics.strength.onset import onset_level


def endurance_metrics(
    force: Any,
    fs: float,
    *,
    method: str = "noise5sd",
    baseline: float = 0.5,
    threshold: float | None = None,
    above: float = 0.5,
    fall_to: tuple[float, ...] = (0.75, 0.5, 0.25),
    min_duration: float = 0.02,
    unit: str = "N",
) -> Metrics:
    """Endurance of one sustained effort per trace (e.g. a grip held as long as possible).

    Levels are fractions of the peak above the baseline: L(f) = baseline + f·(peak − baseline).

    Keys: ``peak_force``; ``time_above_<p>pct`` (s) — samples of the effort (onset to end) at or above
    L(``above``), times 1/fs; ``time_to_<p>pct`` (s) for each fraction in ``fall_to`` — from the peak to
    the first fall to L(f) after it, linearly interpolated between samples (NaN, flagged
    ``incomplete_decline``, if the force never falls that far). Flags as in :func:`isometric_metrics`
    (``no_effort``, ``effort_in_baseline``, ``noisy_baseline``, ``not_released``) plus ``incomplete_decline``.
    """
    fs = check_rate(fs)
    x, shape = to_batch(force, "force")
    units = unit_names(unit)
    above = check_fraction(above, "above")
    levels = tuple(check_fraction(f, "fall_to") for f in fall_to)
    lvl = onset_level(x, fs, method=method, baseline=baseline, threshold=threshold)
    ef = find_effort(x, fs, lvl, float(min_duration))
    base = lvl.mean
    rise = ef.peak - base
    bad = ef.no_effort

    idx = np.arange(x.shape[-1])
    inside = (idx >= ef.onset[:, None]) & (idx <= ef.offset[:, None])
    over = (x >= (base + above * rise)[:, None]) & inside
    data: dict[str, Any] = {"peak_force": ef.peak, f"time_above_{_pct(above)}pct": over.sum(axis=-1) / fs}
    unit_of = {"peak_force": units["force"], f"time_above_{_pct(above)}pct": "s"}
    incomplete = np.zeros(x.shape[0], dtype=bool)
    for f in levels:
        level = base + f * rise
        i, found = first_from(x, level, ef.peak_index + 1, np.less_equal)
        t = crossing_time(x, i, level, fs) - ef.peak_index / fs
        incomplete |= ~found
        key = f"time_to_{_pct(f)}pct"
        data[key] = np.where(found, t, np.nan)
        unit_of[key] = "s"
    out = {k: unbatch(np.where(bad, np.nan, v), shape) for k, v in data.items()}
    flags = {
        "no_effort": unbatch(bad, shape),
        "effort_in_baseline": unbatch(ef.effort_in_baseline, shape),
        "noisy_baseline": unbatch(ef.noisy_baseline, shape),  # explains a no_effort, so never masked
        "not_released": unbatch(ef.not_released & ~bad, shape),
        "incomplete_decline": unbatch(incomplete & ~bad, shape),
    }
    params = {
        "fs": fs,
        "unit": unit,
        "onset_method": lvl.method,
        **lvl.params,
        "above": above,
        "fall_to": levels,
        "min_duration": float(min_duration),
    }
    return Metrics(out, unit_of, lvl.method, params, flags)


def _pct(fraction: float) -> str:
    pct = fraction * 100.0
    return str(round(pct)) if math.isclose(pct, round(pct), abs_tol=1e-9) else f"{pct:g}".replace(".", "p")
