"""Dynamic COP descriptors: path, velocities, swept area, phase plane, velocity zero crossings and peaks,
sway density (Prieto et al. 1996; Riley et al. 1995; Baratto et al. 2002; Quijoux et al. 2021).

Input: a COP of shape (..., 2, n) in metres (row 0 ML x, row 1 AP y) sampled at ``fs`` Hz.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy import signal as sps

FloatArray = NDArray[np.float64]

#: Savitzky-Golay velocity: cubic fit over this span (s); 5 samples at 25 Hz as in Quijoux et al. (2021).
VELOCITY_WINDOW = 0.2
VELOCITY_POLYORDER = 3
#: Sway-density radius (m): 3 mm, as in Quijoux et al. (2021).
SWAY_DENSITY_RADIUS = 0.003

UNITS: dict[str, str] = {
    "path_length": "m",
    "path_length_ml": "m",
    "path_length_ap": "m",
    "mean_velocity": "m/s",
    "mean_velocity_ml": "m/s",
    "mean_velocity_ap": "m/s",
    "sway_area_per_second": "m^2/s",
    "phase_plane_parameter_ml": "m|m/s",
    "phase_plane_parameter_ap": "m|m/s",
    "velocity_zero_crossings_ml": "1/s",
    "velocity_zero_crossings_ap": "1/s",
    "peak_velocity_pos_ml": "m/s",
    "peak_velocity_pos_ap": "m/s",
    "peak_velocity_neg_ml": "m/s",
    "peak_velocity_neg_ap": "m/s",
    "peak_velocity_all_ml": "m/s",
    "peak_velocity_all_ap": "m/s",
    "sway_density_mean_peak": "s",
    "sway_density_peak_distance": "m",
    "sway_density_peak_interval": "s",
}


def savgol_window(fs: float) -> int:
    """Odd Savitzky-Golay window (samples) closest to :data:`VELOCITY_WINDOW`, at least 5."""
    w = round(VELOCITY_WINDOW * fs)
    w = max(w, VELOCITY_POLYORDER + 2)
    return w if w % 2 == 1 else w + 1


def velocity(c: FloatArray, fs: float) -> FloatArray:
    """COP velocity (m/s), same shape as ``c``: Savitzky-Golay cubic derivative over ~0.2 s.

    Same values as ``scipy.signal.savgol_filter(..., deriv=1, mode="interp")`` (the edges use the polynomial
    fitted to the first / last window), computed as one correlation plus two small matrix products.
    """
    w = savgol_window(fs)
    n = c.shape[-1]
    if n < w:
        return np.asarray(np.gradient(c, 1.0 / fs, axis=-1), dtype=np.float64)
    half = w // 2
    rows = _savgol_rows(w, fs)
    out = np.asarray(ndimage.correlate1d(c, rows[half], axis=-1, mode="constant"), dtype=np.float64)
    out[..., :half] = c[..., :w] @ rows[:half].T
    out[..., n - half :] = c[..., n - w :] @ rows[half + 1 :].T
    return out


@functools.lru_cache(maxsize=16)
def _savgol_rows(w: int, fs: float) -> FloatArray:
    """Row k: the derivative coefficients evaluated at position k of a w-sample window."""
    return np.stack(
        [sps.savgol_coeffs(w, VELOCITY_POLYORDER, deriv=1, delta=1.0 / fs, pos=k, use="dot") for k in range(w)]
    )


def path_descriptors(c: FloatArray, fs: float) -> dict[str, FloatArray]:
    """Path length and mean velocities; duration n/fs as in Santos & Duarte (2016)."""
    n = c.shape[-1]
    d = np.diff(c, axis=-1)
    step = np.hypot(d[..., 0, :], d[..., 1, :])
    path = step.sum(axis=-1)
    path_ml = np.abs(d[..., 0, :]).sum(axis=-1)
    path_ap = np.abs(d[..., 1, :]).sum(axis=-1)
    duration = n / fs
    x, y = c[..., 0, :], c[..., 1, :]
    swept = np.abs(x[..., 1:] * y[..., :-1] - y[..., 1:] * x[..., :-1]).sum(axis=-1)
    return {
        "path_length": path,
        "path_length_ml": path_ml,
        "path_length_ap": path_ap,
        "mean_velocity": path / duration,
        "mean_velocity_ml": path_ml / duration,
        "mean_velocity_ap": path_ap / duration,
        "sway_area_per_second": swept / (2.0 * (n - 1) / fs),
    }


def phase_plane(c: FloatArray, v: FloatArray) -> dict[str, FloatArray]:
    """Riley et al. (1995) phase-plane parameter √(σ_pos² + σ_vel²) per axis (position m, velocity m/s)."""
    sd_pos = c.std(axis=-1)
    sd_vel = v.std(axis=-1)
    pp = np.sqrt(sd_pos**2 + sd_vel**2)
    return {"phase_plane_parameter_ml": pp[..., 0], "phase_plane_parameter_ap": pp[..., 1]}


def _velocity_peaks_rows(v: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per row of v (rows, n): crossings count and mean |peak| of positive, negative and all bounded runs."""
    rows, n = v.shape
    positive = v > 0.0
    change = positive[:, 1:] != positive[:, :-1]
    crossings = change.sum(axis=1).astype(np.float64)
    # Label each run of constant sign; labels increase along the flattened (row-major) array.
    run = np.concatenate([np.zeros((rows, 1), dtype=np.int64), np.cumsum(change, axis=1)], axis=1)
    label = run + (np.arange(rows) * (n + 1))[:, None]
    flat_label = label.ravel()
    starts = np.flatnonzero(np.concatenate([[True], flat_label[1:] != flat_label[:-1]]))
    peak = np.maximum.reduceat(np.abs(v).ravel(), starts)
    run_row = starts // n
    run_index = run.ravel()[starts]
    n_runs = crossings.astype(np.int64) + 1
    bounded = (run_index > 0) & (run_index < n_runs[run_row] - 1)
    sign_pos = positive.ravel()[starts]

    def mean_of(sel: NDArray[np.bool_]) -> FloatArray:
        count = np.bincount(run_row[sel], minlength=rows).astype(np.float64)
        total = np.bincount(run_row[sel], weights=peak[sel], minlength=rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / count

    return crossings, mean_of(bounded & sign_pos), mean_of(bounded & ~sign_pos), mean_of(bounded)


def velocity_peaks(v: FloatArray, fs: float) -> dict[str, FloatArray]:
    """Zero crossings of each axis velocity (per second) and the mean peak speed between crossings.

    A run is a maximal stretch of samples where the velocity keeps one sign (v > 0 positive, otherwise
    negative); its peak is the largest |v| in it. The first and last run (cut by the trial's ends) are left out,
    as in Quijoux et al. (2021)'s code. NaN when a trial has no bounded run of that sign.
    """
    batch = v.shape[:-2]
    n = v.shape[-1]
    crossings, pos, neg, allp = _velocity_peaks_rows(v.reshape(-1, n))
    duration = n / fs
    out: dict[str, FloatArray] = {}
    for axis_i, axis in enumerate(("ml", "ap")):

        def pick(a: FloatArray, i: int = axis_i) -> FloatArray:
            return a.reshape(*batch, 2)[..., i]

        out[f"velocity_zero_crossings_{axis}"] = pick(crossings) / duration
        out[f"peak_velocity_pos_{axis}"] = pick(pos)
        out[f"peak_velocity_neg_{axis}"] = pick(neg)
        out[f"peak_velocity_all_{axis}"] = pick(allp)
    return out


def sway_density_curve(c: FloatArray, fs: float, radius: float = SWAY_DENSITY_RADIUS) -> FloatArray:
    """Sway density (Baratto et al. 2002), shape (..., n−1), in s.

    For each sample i < n−1: the time the COP stays within ``radius`` (m) of its position at i, i.e. the
    number of consecutive later samples j with ‖p_j − p_i‖ ≤ radius before the first one outside, divided by
    fs (Quijoux et al. 2021); a COP that never leaves counts the samples to the end of the trial.
    """
    batch = c.shape[:-2]
    n = c.shape[-1]
    flat = c.reshape(-1, 2, n)
    out = np.empty((flat.shape[0], n - 1))
    for r in range(flat.shape[0]):
        out[r] = _stay_samples(flat[r, 0], flat[r, 1], radius)
    return out.reshape(*batch, n - 1) / fs


def _stay_samples(x: FloatArray, y: FloatArray, radius: float) -> FloatArray:
    """Sway density in samples of one trial, exact.

    Binary lifting over a sparse table of bounding boxes: from sample i + 1 the search jumps over blocks of
    2^L samples whose bounding box lies inside the disc of radius R around p_i (then every sample in it does),
    largest blocks first. Where it stops, the sample is checked exactly: outside means the first exit is found
    (every sample before it was proven inside); inside means the box test was too cautious, and the search
    resumes from the next sample.
    """
    n = x.shape[0]
    r2 = radius * radius

    # levels[L] = (xmin, xmax, ymin, ymax) of samples s .. s + 2^L − 1 for each start s, padded to n + 1
    # entries with an infinite box (always fails the test) where the block would run past the end.
    def padded(v: FloatArray, fill: float) -> FloatArray:
        out = np.full(n + 1, fill)
        out[: v.shape[0]] = v
        return out

    cur = (x, x, y, y)
    levels = []
    size = 1
    while True:
        levels.append(tuple(padded(v, f) for v, f in zip(cur, (-np.inf, np.inf, -np.inf, np.inf), strict=True)))
        if 2 * size > n - 1:
            break
        m = cur[0].shape[0] - size
        x0, x1, y0, y1 = cur
        cur = (
            np.minimum(x0[:m], x0[size : size + m]),
            np.maximum(x1[:m], x1[size : size + m]),
            np.minimum(y0[:m], y0[size : size + m]),
            np.maximum(y1[:m], y1[size : size + m]),
        )
        size *= 2
    stay = np.empty(n - 1)
    idx = np.arange(n - 1)
    pos = idx + 1  # first sample not yet proven inside
    while idx.size:
        xi, yi = x[idx], y[idx]
        for level in range(len(levels) - 1, -1, -1):
            bx0, bx1, by0, by1 = levels[level]
            dx = np.maximum(bx1[pos] - xi, xi - bx0[pos])
            dy = np.maximum(by1[pos] - yi, yi - by0[pos])
            pos = pos + (dx * dx + dy * dy <= r2) * (1 << level)
        pc = np.minimum(pos, n - 1)
        inside = (pos < n) & ((x[pc] - xi) ** 2 + (y[pc] - yi) ** 2 <= r2)
        done = ~inside
        stay[idx[done]] = (pos[done] - idx[done] - 1).astype(np.float64)
        idx, pos = idx[inside], pos[inside] + 1
    return stay


def sway_density_peaks(c: FloatArray, fs: float, radius: float = SWAY_DENSITY_RADIUS) -> dict[str, FloatArray]:
    """Peaks of the sway-density curve (Baratto et al. 2002): mean peak (s), mean distance between the COP
    positions of consecutive peaks (m), mean time between consecutive peaks (s).

    Peaks are strict local maxima of the curve (Quijoux et al. 2021). NaN when fewer than one (mean peak) or
    two (distance, interval) peaks exist.
    """
    sd = sway_density_curve(c, fs, radius)
    batch = sd.shape[:-1]
    flat = sd.reshape(-1, sd.shape[-1])
    cflat = c.reshape(-1, 2, c.shape[-1])
    mean_peak = np.full(flat.shape[0], math.nan)
    distance = np.full(flat.shape[0], math.nan)
    interval = np.full(flat.shape[0], math.nan)
    is_peak = np.zeros(flat.shape, dtype=bool)
    is_peak[:, 1:-1] = (flat[:, 1:-1] > flat[:, :-2]) & (flat[:, 1:-1] > flat[:, 2:])
    for r in range(flat.shape[0]):
        idx = np.flatnonzero(is_peak[r])
        if idx.size >= 1:
            mean_peak[r] = flat[r, idx].mean()
        if idx.size >= 2:
            pos = cflat[r][:, idx]
            distance[r] = np.hypot(np.diff(pos[0]), np.diff(pos[1])).mean()
            interval[r] = np.diff(idx).mean() / fs
    return {
        "sway_density_mean_peak": mean_peak.reshape(batch),
        "sway_density_peak_distance": distance.reshape(batch),
        "sway_density_peak_interval": interval.reshape(batch),
    }
