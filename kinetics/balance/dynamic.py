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
    n = c.shape[-1]
    counts = stay_counts(c.reshape(-1, 2, n), radius)
    return counts.reshape(*c.shape[:-2], n - 1) / fs


#: Samples per group of the sway-density search: a batch is cut into groups of whole trials of about this
#: many samples, so that the tables of block bounds stay in the CPU cache.
_STAY_CHUNK = 1 << 15
#: Exact-check budget of the sway-density search: when few searches remain, each checks this many samples
#: in total (up to _STAY_WINDOW each) directly after a descent, instead of one.
_STAY_BUDGET = 16384
_STAY_WINDOW = 128


def stay_counts(c: FloatArray, radius: float) -> FloatArray:
    """Sway density in samples (float counts) of trials c (rows, 2, n), shape (rows, n−1); exact."""
    rows, _, n = c.shape
    out = np.empty((rows, n - 1))
    step = max(1, _STAY_CHUNK // (n + 1))
    for r0 in range(0, rows, step):
        out[r0 : r0 + step] = _stay_chunk(c[r0 : r0 + step], radius)
    return out


def _stay_chunk(c: FloatArray, radius: float) -> FloatArray:
    """Sway density in samples of a group of trials (rows, 2, n), exact.

    Binary lifting over a sparse table of bounding boxes: from sample i + 1 the search jumps over blocks of
    2^L samples whose bounding box lies inside the disc of radius R around p_i (then every sample in it does),
    largest blocks first. Where it stops, the next samples are checked exactly (one, or up to
    :data:`_STAY_WINDOW` when few searches remain): the first one outside is the exit (every sample before it
    was proven inside); if all are inside, the box test was too cautious and the search resumes after them.

    The box test takes the farthest corner, max(x_max − x_i, x_i − x_min) and the same in y: rounded
    differences of the block's extreme samples, so it is never more lenient than the direct test
    ‖p_j − p_i‖² ≤ R² on any sample of the block. The trials are laid end to end, each followed by one padding
    entry with an infinite box (every test on a block reaching it fails), so a search never runs into the next
    trial and one that reaches the padding has stayed to the end of its trial. Levels where no block's box has a
    diagonal short enough to fit the disc are not built (no test on them could pass).
    """
    rows, _, n = c.shape
    width = n + 1
    size = rows * width
    r2 = radius * radius
    # One buffer for every level (bounds[L, 0] highs, bounds[L, 1] lows, each (2, size) for x and y): a single
    # allocation rather than two per level, which the allocator would return to the system and fault in again.
    bounds = np.empty((max(1, n.bit_length()), 2, 2, size))
    hi0, lo0 = bounds[0]
    hi0.reshape(2, rows, width)[:, :, :n] = c.transpose(1, 0, 2)
    hi0[:, n::width] = np.inf
    lo0[:] = hi0
    lo0[:, n::width] = -np.inf
    # A box passes only if its farthest corner is within R, which needs width_x² + width_y² ≤ (2R)².
    diagonal = 4.0 * r2 * (1.0 + 1e-3)
    extent = np.empty((2, size))
    levels = 1
    while (2 << (levels - 1)) <= n:
        half = 1 << (levels - 1)
        (hp, lp), (hi, lo) = bounds[levels - 1], bounds[levels]
        np.maximum(hp[:, : size - half], hp[:, half:], out=hi[:, : size - half])
        np.minimum(lp[:, : size - half], lp[:, half:], out=lo[:, : size - half])
        hi[:, size - half :] = np.inf
        lo[:, size - half :] = -np.inf
        np.subtract(hi, lo, out=extent)
        extent *= extent
        if not np.any(extent[0] + extent[1] <= diagonal):
            break
        levels += 1
    points = np.empty((2, size + _STAY_WINDOW))  # sample positions, infinite past the end
    points[:, :size] = hi0
    points[:, size:] = np.inf
    start = (np.arange(rows)[:, None] * width + np.arange(n - 1)).ravel()
    stay = np.empty(start.shape[0])
    slot = np.arange(start.shape[0])
    pos = start + 1  # first sample not yet proven inside
    origin = hi0.take(start, axis=1)  # (x_i, y_i)
    while start.size:
        m = start.size
        for level in range(levels - 1, -1, -1):
            hi, lo = bounds[level]
            far = np.maximum(hi.take(pos, axis=1) - origin, origin - lo.take(pos, axis=1))
            far *= far
            pos += np.left_shift(far[0] + far[1] <= r2, level, dtype=np.intp)
        k = min(_STAY_WINDOW, _STAY_BUDGET // m)
        if k < 4:  # many searches left: check the one sample where each stopped
            k = 1
            d = points.take(pos, axis=1)
            d -= origin
            d *= d
            left = d[0] + d[1] <= r2
            done = ~left
            stay[slot[done]] = pos[done] - start[done] - 1
        else:
            d = points.take(pos[:, None] + np.arange(k), axis=1)
            d -= origin[:, :, None]
            d *= d
            outside = d[0] + d[1] > r2
            first = np.argmax(outside, axis=1)
            done = outside[np.arange(m), first]
            stay[slot[done]] = pos[done] + first[done] - start[done] - 1
            left = ~done
        start, pos, slot, origin = start[left], pos[left] + k, slot[left], origin[:, left]
    return stay.reshape(rows, n - 1)


def sway_density_peaks(c: FloatArray, fs: float, radius: float = SWAY_DENSITY_RADIUS) -> dict[str, FloatArray]:
    """Peaks of the sway-density curve (Baratto et al. 2002): mean peak (s), mean distance between the COP
    positions of consecutive peaks (m), mean time between consecutive peaks (s).

    Peaks are strict local maxima of the curve (Quijoux et al. 2021). NaN when fewer than one (mean peak) or
    two (distance, interval) peaks exist.
    """
    batch = c.shape[:-2]
    n = c.shape[-1]
    cflat = c.reshape(-1, 2, n)
    rows = cflat.shape[0]
    sd = stay_counts(cflat, radius)  # in samples: whole numbers, summed exactly
    is_peak = np.zeros(sd.shape, dtype=bool)
    is_peak[:, 1:-1] = (sd[:, 1:-1] > sd[:, :-2]) & (sd[:, 1:-1] > sd[:, 2:])
    row, idx = np.nonzero(is_peak)  # row-major: each trial's peaks in time order
    count = np.bincount(row, minlength=rows).astype(np.float64)
    total = np.bincount(row, weights=sd[row, idx], minlength=rows)
    first = np.full(rows, -1)
    last = np.full(rows, -1)
    last[row] = idx  # the last assignment of a repeated index wins
    first[row[::-1]] = idx[::-1]
    # Consecutive peaks of the same trial: distance between their COP positions.
    same = row[1:] == row[:-1]
    step = np.hypot(np.diff(cflat[row, 0, idx]), np.diff(cflat[row, 1, idx]))
    dist_sum = np.bincount(row[1:][same], weights=step[same], minlength=rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_peak = np.where(count >= 1, total / count / fs, math.nan)
        distance = np.where(count >= 2, dist_sum / (count - 1), math.nan)
        interval = np.where(count >= 2, (last - first) / (count - 1) / fs, math.nan)
    return {
        "sway_density_mean_peak": mean_peak.reshape(batch),
        "sway_density_peak_distance": distance.reshape(batch),
        "sway_density_peak_interval": interval.reshape(batch),
    }
