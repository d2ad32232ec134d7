"""Scores of tracking a live target on screen: the centre of pressure kept inside a moving circle.

A biofeedback exercise shows a circle (a *COP zone*) that the patient keeps the centre of pressure in; the
circle may move along a path. Axes as everywhere in Kinetics: x medio-lateral (right +), y antero-posterior
(forward +), metres. Force targets (a force band) are scored by :func:`kinetics.strength.force_control_metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kinetics._checks import as_signal, check_rate, input_error
from kinetics.results import Metrics

UNITS = {"time_in_zone": "s", "time_in_zone_fraction": "1", "mean_target_distance": "m", "scored_time": "s"}


def cop_zone_metrics(cop: Any, centre: Any, radius: Any, fs: float) -> Metrics:
    """Time the COP spends inside a (moving) circular zone, and its mean distance from the zone's centre.

    Parameters
    ----------
    cop : array_like, shape (..., 2, n)
        Centre of pressure (m), row 0 x (ML), row 1 y (AP).
    centre : array_like, shape (2,) or (..., 2, n)
        The zone's centre (m): fixed, or where it was at each sample (a moving target).
    radius : float or array_like broadcastable to (..., n)
        The zone's radius (m), > 0.
    fs : float
        Sampling rate (Hz).

    Returns
    -------
    Metrics
        ``time_in_zone`` (s) = (number of samples with ‖COP − centre‖ ≤ radius) / fs;
        ``time_in_zone_fraction`` (1) = that count / n; ``mean_target_distance`` (m) = mean of ‖COP − centre‖;
        ``scored_time`` (s) = n / fs. Method ``"zone_dwell"``: the time-on-target score of tracking tasks
        (Schmidt & Lee 2011, *Motor Control and Learning*, 5th ed., ch. 2) with a circular target, and the mean
        radial error to the target's centre.
    """
    fs = check_rate(fs)
    p = as_signal(cop, "cop", min_ndim=2)
    if p.shape[-2] != 2:
        raise input_error("cop", f"has shape {p.shape}, expected (..., 2, n_samples)", "stack x and y on axis -2")
    c = np.asarray(centre, dtype=np.float64)
    if c.shape == (2,):
        c = c[:, None]
    if not np.all(np.isfinite(c)):
        raise input_error("centre", "contains NaN or infinite values", "give the zone's centre in metres")
    try:
        d = np.hypot(*np.moveaxis(np.broadcast_to(p - c, p.shape), -2, 0))
    except ValueError:
        raise input_error(
            "centre", f"shape {np.shape(centre)} does not match the COP {p.shape}", "pass (2,) or (..., 2, n)"
        ) from None
    r = np.asarray(radius, dtype=np.float64)
    if not (np.all(np.isfinite(r)) and np.all(r > 0)):
        raise input_error("radius", f"must be positive and finite, got {radius!r}", "give the radius in metres")
    inside = d <= r
    n = d.shape[-1]
    count = np.count_nonzero(inside, axis=-1)
    data = {
        "time_in_zone": count / fs,
        "time_in_zone_fraction": count / n,
        "mean_target_distance": d.mean(axis=-1),
        "scored_time": np.full(count.shape, n / fs),
    }
    data = {k: (float(v) if np.ndim(v) == 0 else v) for k, v in data.items()}
    return Metrics(data, dict(UNITS), "zone_dwell", {"fs": fs})
