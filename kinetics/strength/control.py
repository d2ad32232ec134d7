"""Force control against a target (biofeedback tracking): constant, absolute and variable error, time in band.

Error e(t) = force(t) − target(t) at every sample of the scored window (each sample is one observation of the
continuous tracking task). After Schmidt & Lee (*Motor Control and Learning*, Human Kinetics), whose
definitions over n observations are:

- constant error  CE = mean(e)                   — bias (positive: above target)
- absolute error  AE = mean(|e|)                 — overall accuracy
- variable error  VE = sqrt(mean((e − CE)²))     — consistency (population SD of e)
- total error     E  = sqrt(mean(e²)) = sqrt(CE² + VE²)
  (Henry 1975, J Mot Behav 7(3), "Absolute error vs 'E' in target accuracy")
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kinetics._checks import as_signal, check_rate, input_error
from kinetics.results import Metrics
from kinetics.strength._batch import to_batch, unbatch, unit_names


def force_control_metrics(
    force: Any,
    target: Any,
    fs: float,
    *,
    band: float | None = None,
    band_pct: float = 10.0,
    window: tuple[float, float] | None = None,
    unit: str = "N",
) -> Metrics:
    """Accuracy of tracking ``target`` with ``force``.

    Parameters
    ----------
    force : array_like, shape (..., n_samples)
        Produced force (or pressure...) in ``unit``.
    target : float or array_like broadcastable to ``force``
        The target the patient saw (constant, ramp, sine...), same unit.
    fs : float
        Sampling rate, Hz.
    band : float, optional
        Half-width of the target band in ``unit``: in band when |e| ≤ band.
    band_pct : float
        Used when ``band`` is None: half-width = band_pct % of |target| at each sample (default 10 %).
    window : (float, float), optional
        Scored window [t₀, t₁) in s from the first sample (e.g. skip the ramp-up); default the whole trace.

    Returns
    -------
    Metrics
        ``constant_error``, ``absolute_error``, ``variable_error``, ``total_error`` (unit),
        ``time_in_band`` (s: samples in band × 1/fs), ``time_in_band_fraction`` (0–1), ``scored_time`` (s).
    """
    fs = check_rate(fs)
    x, shape = to_batch(force, "force", min_samples=2)
    units = unit_names(unit)
    tgt = as_signal(np.atleast_1d(target), "target", min_samples=1)
    try:
        tgt = np.broadcast_to(tgt, (*shape, x.shape[-1]))
    except ValueError:
        raise input_error(
            "target",
            f"shape {np.shape(target)} does not match force {(*shape, x.shape[-1])}",
            "pass a constant or an array of the force's shape",
        ) from None
    tgt = tgt.reshape(x.shape)
    if band is not None:
        half: Any = float(band)
        if not (math.isfinite(half) and half > 0):
            raise input_error("band", f"must be a positive half-width, got {band}", "pass e.g. band=5.0 (N)")
        band_desc: dict[str, Any] = {"band": half}
    else:
        pct = float(band_pct)
        if not (math.isfinite(pct) and pct > 0):
            raise input_error("band_pct", f"must be a positive percentage, got {band_pct}", "pass e.g. 10.0")
        half = np.abs(tgt) * (pct / 100.0)
        band_desc = {"band_pct": pct}
    n = x.shape[-1]
    if window is None:
        a, b = 0, n
    else:
        t0, t1 = (float(v) for v in window)
        a, b = round(t0 * fs), min(round(t1 * fs), n)
        if not (0 <= a < b):
            raise input_error("window", f"{window} s holds no samples of this {n / fs} s trace", "pass (t0, t1)")
    err = x[:, a:b] - tgt[:, a:b]
    if not isinstance(half, float):
        half = half[:, a:b]
    m = b - a
    ce = err.sum(axis=-1) / m
    ae = np.abs(err).sum(axis=-1) / m
    dev = err - ce[:, None]
    ve = np.sqrt((dev * dev).sum(axis=-1) / m)
    total = np.sqrt((err * err).sum(axis=-1) / m)
    inside = np.count_nonzero(np.abs(err) <= half, axis=-1)
    data = {
        "constant_error": ce,
        "absolute_error": ae,
        "variable_error": ve,
        "total_error": total,
        "time_in_band": inside / fs,
        "time_in_band_fraction": inside / m,
        "scored_time": np.full(x.shape[0], m / fs),
    }
    f = units["force"]
    unit_of = {
        "constant_error": f,
        "absolute_error": f,
        "variable_error": f,
        "total_error": f,
        "time_in_band": "s",
        "time_in_band_fraction": "1",
        "scored_time": "s",
    }
    params = {"fs": fs, "unit": unit, **band_desc, "window": (a / fs, b / fs)}
    return Metrics({k: unbatch(v, shape) for k, v in data.items()}, unit_of, "schmidt_lee", params, {})
