"""Point budgets for drawing: min/max decimation of time series and thinning of the COP trail.

Drawing cost grows with the number of points handed to Qt, not with what the eye can see: a 10 s window at
1 kHz is 10 000 points on a plot ~600 pixels wide. Keeping the minimum and the maximum of each pixel column
(~2 points per pixel) draws the same picture — every peak stays — for a fraction of the cost (DESIGN.md:
"min/max-decimate windows over ~10k points to ~2 points per pixel").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import input_error

FloatArray = NDArray[np.float64]


def _pair(t: Any, y: Any, names: tuple[str, str]) -> tuple[FloatArray, FloatArray]:
    a = np.asarray(t, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise input_error(
            f"{names[0]}, {names[1]}", f"must be two 1-D arrays of one length, got {a.shape} and {b.shape}",
            "pass one channel's samples",
        )
    return a, b


def minmax_decimate(t: Any, y: Any, n_pixels: int) -> tuple[FloatArray, FloatArray]:
    """The minimum and maximum of each of ``n_pixels`` bins of samples, in time order (~2 points per pixel).

    The samples are cut into ``n_pixels`` runs of equal length (for a constant sampling rate: equal time spans,
    one per pixel column); each run contributes its minimum and its maximum sample, at their own times, the
    earlier first, so the drawn line goes through every extreme exactly. Series of at most ``2·n_pixels``
    samples are returned unchanged (as float64 arrays).

    Parameters
    ----------
    t, y : array_like, shape (n,)
        Times (s) and values (any unit), finite, ``t`` ascending.
    n_pixels : int
        Width of the plot area in device pixels (≥ 1).

    Returns
    -------
    t_out, y_out : ndarray, shape (m,), m ≤ 2·n_pixels
    """
    tt, yy = _pair(t, y, ("t", "y"))
    if int(n_pixels) < 1:
        raise input_error("n_pixels", f"must be ≥ 1, got {n_pixels}", "pass the plot width in pixels")
    n_bins = int(n_pixels)
    n = yy.size
    if n <= 2 * n_bins:
        return tt, yy
    per_bin = -(-n // n_bins)  # ceil: every bin gets per_bin samples, the last one fewer
    n_bins = -(-n // per_bin)
    # Pad with the last sample: argmin/argmax return the first occurrence, so padding is never chosen.
    padded = np.empty(n_bins * per_bin, dtype=np.float64)
    padded[:n] = yy
    padded[n:] = yy[-1]
    rows = padded.reshape(n_bins, per_bin)
    i_min = rows.argmin(axis=1)
    i_max = rows.argmax(axis=1)
    base = np.arange(n_bins) * per_bin
    idx = np.empty((n_bins, 2), dtype=np.intp)
    idx[:, 0] = base + np.minimum(i_min, i_max)
    idx[:, 1] = base + np.maximum(i_min, i_max)
    flat = idx.ravel()
    return tt[flat], yy[flat]


def decimate_trail(x: Any, y: Any, max_points: int) -> tuple[FloatArray, FloatArray]:
    """Thin a COP trail (x, y in any length unit) to at most ``max_points`` points, keeping its shape.

    Non-finite samples (an unloaded plate) are dropped first. The rest is sampled at an even stride, and the
    extreme points in x and in y (so the trail's extent is exact) and the newest point (the current COP) are
    always kept; the order of the samples is preserved.

    Parameters
    ----------
    x, y : array_like, shape (n,)
    max_points : int
        Point budget (≥ 8).

    Returns
    -------
    x_out, y_out : ndarray, shape (m,), m ≤ max_points
    """
    xx, yy = _pair(x, y, ("x", "y"))
    if int(max_points) < 8:
        raise input_error("max_points", f"must be ≥ 8, got {max_points}", "pass e.g. 1000")
    budget = int(max_points)
    finite = np.isfinite(xx) & np.isfinite(yy)
    if not finite.all():
        xx, yy = xx[finite], yy[finite]
    n = xx.size
    if n <= budget:
        return xx, yy
    n_stride = budget - 5  # room for the 4 extremes and the newest point
    stride = -(-n // n_stride)
    keep = np.zeros(n, dtype=bool)
    keep[::stride] = True
    keep[[int(xx.argmin()), int(xx.argmax()), int(yy.argmin()), int(yy.argmax()), n - 1]] = True
    return xx[keep], yy[keep]
