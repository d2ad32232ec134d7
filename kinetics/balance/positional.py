"""Positional COP descriptors (Prieto et al. 1996; Quijoux et al. 2021, "positional" family).

Input: a COP of shape (..., 2, n) in metres, row 0 medio-lateral x, row 1 antero-posterior y. Every descriptor
except ``mean_position_*`` and ``ellipse_orientation`` is computed on the centred COP (mean removed) and is
invariant to a translation; the ``*_ml`` / ``*_ap`` ones also depend on the orientation of the axes.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.spatial import ConvexHull, QhullError

FloatArray = NDArray[np.float64]

#: One-sided 95 % standard normal quantile (Prieto et al. 1996 use 1.645).
Z95 = float(stats.norm.ppf(0.95))

UNITS: dict[str, str] = {
    "mean_position_ml": "m",
    "mean_position_ap": "m",
    "mean_distance": "m",
    "mean_distance_ml": "m",
    "mean_distance_ap": "m",
    "max_distance": "m",
    "max_distance_ml": "m",
    "max_distance_ap": "m",
    "rms": "m",
    "rms_ml": "m",
    "rms_ap": "m",
    "sd_distance": "m",
    "planar_deviation": "m",
    "range": "m",
    "range_ml": "m",
    "range_ap": "m",
    "range_ratio": "1",
    "coefficient_sway_direction": "1",
    "principal_sway_direction": "deg",
    "ellipse_area_95": "m^2",
    "ellipse_semi_major_95": "m",
    "ellipse_semi_minor_95": "m",
    "ellipse_orientation": "deg",
    "circle_area_95": "m^2",
}


def centre(cop: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mean position (..., 2) and the centred COP (..., 2, n)."""
    mean = cop.mean(axis=-1)
    return mean, cop - mean[..., None]


def planar_range(c: FloatArray) -> FloatArray:
    """Largest distance between any two COP samples (the diameter of the sway path), shape (...).

    Exact: the farthest pair are vertices of the convex hull, so only hull vertices are compared (Qhull per
    trial, after discarding the samples strictly inside the octagon of the extreme samples in 8 directions,
    which cannot be hull vertices). Collinear paths (no 2-D hull) use the extent along their line.
    """
    flat = c.reshape(-1, 2, c.shape[-1])
    out = np.empty(flat.shape[0])
    for i, trial in enumerate(flat):
        out[i] = _diameter(trial[0], trial[1])
    return out.reshape(c.shape[:-2])


def _diameter(x: FloatArray, y: FloatArray) -> float:
    # Akl-Toussaint: extreme samples along x, x+y, y, y−x and their opposites, in counter-clockwise order.
    u, v = x + y, y - x
    order = [np.argmax(x), np.argmax(u), np.argmax(y), np.argmax(v), np.argmin(x), np.argmin(u), np.argmin(y)]
    order.append(np.argmin(v))
    px, py = x[order], y[order]
    ex, ey = np.roll(px, -1) - px, np.roll(py, -1) - py
    # Strictly inside ⇔ strictly left of every (non-degenerate) edge of the octagon.
    cross = ex[:, None] * (y[None, :] - py[:, None]) - ey[:, None] * (x[None, :] - px[:, None])
    real_edge = (ex != 0) | (ey != 0)
    inside = np.all((cross > 0) | ~real_edge[:, None], axis=0) & (np.count_nonzero(real_edge) >= 3)
    pts = np.column_stack([x[~inside], y[~inside]])
    try:
        hull = pts[ConvexHull(pts).vertices]
    except (QhullError, ValueError):
        # Degenerate (all points on a line or one point): extent along the principal direction.
        _, _, vt = np.linalg.svd(pts - pts.mean(axis=0), full_matrices=False)
        return float(np.ptp(pts @ vt[0]))
    # Pairwise over the hull vertices, in blocks of rows (a path along a circle has thousands of vertices).
    step = max(1, _PAIRWISE_CHUNK // hull.shape[0])
    best = 0.0
    for i in range(0, hull.shape[0], step):
        diff = hull[i : i + step, None, :] - hull[None, :, :]
        best = max(best, float(np.max(np.einsum("ijk,ijk->ij", diff, diff))))
    return float(np.sqrt(best))


#: Pairwise distances computed per block when comparing hull vertices (bounds the memory).
_PAIRWISE_CHUNK = 1 << 20


def ellipse_95(c: FloatArray) -> dict[str, FloatArray]:
    """95 % prediction ellipse from the sample covariance (ddof = 1), after Santos & Duarte (2016).

    area = π · F₀.₉₅(2, n−2) · 2(n−1)(n+1)/(n(n−2)) · √det(cov); semi-axes √(F·k·λᵢ) with k the factor above and
    λᵢ the covariance eigenvalues; orientation of the major axis in degrees counter-clockwise from +x (ML right),
    in (−90, 90].
    """
    n = c.shape[-1]
    x, y = c[..., 0, :], c[..., 1, :]
    sxx = np.einsum("...i,...i->...", x, x) / (n - 1)
    syy = np.einsum("...i,...i->...", y, y) / (n - 1)
    sxy = np.einsum("...i,...i->...", x, y) / (n - 1)
    det = np.maximum(sxx * syy - sxy**2, 0.0)
    scale = _f95(n) * 2.0 * (n - 1) * (n + 1) / (n * (n - 2))
    half_trace = 0.5 * (sxx + syy)
    disc = np.sqrt(np.maximum(half_trace**2 - det, 0.0))
    lam1, lam2 = half_trace + disc, np.maximum(half_trace - disc, 0.0)
    orientation = np.degrees(0.5 * np.arctan2(2.0 * sxy, sxx - syy))
    return {
        "ellipse_area_95": np.pi * scale * np.sqrt(det),
        "ellipse_semi_major_95": np.sqrt(scale * lam1),
        "ellipse_semi_minor_95": np.sqrt(scale * lam2),
        "ellipse_orientation": np.where(orientation <= -90.0, orientation + 180.0, orientation),
    }


@functools.lru_cache(maxsize=64)
def _f95(n: int) -> float:
    """95th percentile of the F(2, n − 2) distribution."""
    return float(stats.f.ppf(0.95, 2, n - 2))


def positional_descriptors(cop: FloatArray) -> dict[str, FloatArray]:
    """All positional descriptors of a COP (..., 2, n) in metres; values of the batch shape (...)."""
    mean, c = centre(cop)
    x, y = c[..., 0, :], c[..., 1, :]
    ax, ay = np.abs(x), np.abs(y)
    r = np.hypot(x, y)
    mdist = r.mean(axis=-1)
    rms_ml = np.sqrt(np.mean(x * x, axis=-1))
    rms_ap = np.sqrt(np.mean(y * y, axis=-1))
    rms = np.sqrt(rms_ml**2 + rms_ap**2)
    sd_r = np.sqrt(np.maximum(rms**2 - mdist**2, 0.0))  # population SD of the distance: E[r²] − E[r]²
    range_ml = np.ptp(x, axis=-1)
    range_ap = np.ptp(y, axis=-1)
    cov = np.mean(x * y, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        coeff = cov / (rms_ml * rms_ap)
        ratio = range_ml / range_ap
    # Major principal axis at phi from +x; the angle to the AP axis is arccos(|sin phi|), in [0, 90] deg.
    phi = 0.5 * np.arctan2(2.0 * cov, rms_ml**2 - rms_ap**2)
    out: dict[str, FloatArray] = {
        "mean_position_ml": mean[..., 0],
        "mean_position_ap": mean[..., 1],
        "mean_distance": mdist,
        "mean_distance_ml": ax.mean(axis=-1),
        "mean_distance_ap": ay.mean(axis=-1),
        "max_distance": r.max(axis=-1),
        "max_distance_ml": ax.max(axis=-1),
        "max_distance_ap": ay.max(axis=-1),
        "rms": rms,
        "rms_ml": rms_ml,
        "rms_ap": rms_ap,
        "sd_distance": sd_r,
        "planar_deviation": np.sqrt(rms_ml**2 + rms_ap**2),
        "range": planar_range(c),
        "range_ml": range_ml,
        "range_ap": range_ap,
        "range_ratio": ratio,
        "coefficient_sway_direction": coeff,
        "principal_sway_direction": np.degrees(np.arccos(np.clip(np.abs(np.sin(phi)), 0.0, 1.0))),
        "circle_area_95": np.pi * (mdist + Z95 * sd_r) ** 2,
    }
    out.update(ellipse_95(c))
    return out
