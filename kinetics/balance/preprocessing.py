"""COP preprocessing: gap filling, SWARII resampling and the zero-lag Butterworth low-pass.

Every function works on arrays of shape (..., n_samples) (a COP is (..., 2, n): row 0 ML x, row 1 AP y, metres)
and returns new arrays; nothing is modified in place.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import signal as sps

from kinetics._checks import as_signal, check_rate, input_error

FloatArray = NDArray[np.float64]

#: SWARII window length used by Audiffren & Contal (2016) and by Quijoux et al. (2021), in s.
SWARII_WINDOW = 0.08
#: Samples closer than this to a window edge (s) count as outside it (a sample exactly on the edge of a
#: regular grid would otherwise fall in or out by rounding).
_EDGE_TOLERANCE = 1e-6


def swarii(
    signal: Any, time: Any, *, fs_out: float = 25.0, window: float = SWARII_WINDOW
) -> tuple[FloatArray, FloatArray]:
    """Resample a (possibly irregularly sampled) signal with SWARII.

    Sliding Window Weighted Averaged Repetition-Interpolation, after Audiffren J, Contal E (2016) "Preprocessing
    the Nintendo Wii Board Signal to Derive More Accurate Descriptors of Statokinesigrams", Sensors 16(8):1208.
    Output sample ``j`` sits at ``c_j = t_0 + j / fs_out`` (while ``c_j < t_last``). It is the average of the
    input samples strictly inside the window ``|t - c_j| < window / 2``, each weighted by the time it "holds"
    (repetition interpolation: a sample's value is repeated until half-way to its neighbour), the first and last
    sample of the window holding up to the window's edges (clipped to the recording). A window with one sample
    takes its value; an empty window (a gap) is filled by linear interpolation between its neighbours (nearest
    value at the ends).

    Parameters
    ----------
    signal : array_like, shape (..., n)
        Values; every row shares ``time``.
    time : array_like, shape (n,)
        Sample times in s, strictly increasing.
    fs_out : float
        Output rate in Hz (Quijoux et al. 2021: 25 Hz).
    window : float
        Window length in s (Audiffren & Contal: 0.08 s).

    Returns
    -------
    time_out : ndarray, shape (m,)
    values_out : ndarray, shape (..., m)
    """
    x = as_signal(signal, "signal", min_samples=2)
    t = as_signal(time, "time", min_samples=2)
    fs_out = check_rate(fs_out, "fs_out")
    if t.ndim != 1 or t.shape[0] != x.shape[-1]:
        raise input_error("time", f"has shape {t.shape}, expected ({x.shape[-1]},)", "give one time per sample")
    if np.any(np.diff(t) <= 0):
        raise input_error("time", "is not strictly increasing", "sort the samples and drop duplicates")
    if not (math.isfinite(window) and window > _EDGE_TOLERANCE):
        raise input_error("window", f"must be a positive length in s, got {window}", "use e.g. 0.08")
    half = 0.5 * (window - _EDGE_TOLERANCE)
    t0, t_last = float(t[0]), float(t[-1])
    m = math.ceil((t_last - t0) * fs_out)
    centres = t0 + np.arange(m + 1) / fs_out
    centres = centres[centres < t_last]
    first = np.searchsorted(t, centres - half, side="right")  # first sample inside each window
    last = np.searchsorted(t, centres + half, side="left") - 1  # last sample inside
    left = np.maximum(t0, centres - half)
    right = np.minimum(t_last, centres + half)
    mid = 0.5 * (t[1:] + t[:-1])  # mid[i] is between samples i and i+1
    # held[i] = x_i · (mid_i − mid_{i−1}) for the interior samples; cumulative with a leading zero.
    held = x[..., 1:-1] * np.diff(mid)
    cum = np.concatenate([np.zeros((*x.shape[:-1], 1)), np.cumsum(held, axis=-1)], axis=-1)

    present = last >= first
    single = present & (last == first)
    multi = present & (last > first)
    a = np.where(present, first, 0)
    b = np.where(present, last, 0)
    out = np.empty((*x.shape[:-1], centres.shape[0]))
    out[..., single] = x[..., a[single]]
    if np.any(multi):
        am, bm = a[multi], b[multi]
        weight_first = mid[am] - left[multi]
        weight_last = right[multi] - mid[bm - 1]
        middle = cum[..., bm - 1] - cum[..., am]
        total = x[..., am] * weight_first + middle + x[..., bm] * weight_last
        out[..., multi] = total / (right[multi] - left[multi])
    if not np.all(present):
        if not np.any(present):
            raise input_error("time", "no sample falls in any SWARII window", "check the time stamps (s)")
        keep = np.flatnonzero(present)
        holes = np.flatnonzero(~present)
        flat = out.reshape(-1, out.shape[-1])
        for row in flat:
            row[holes] = np.interp(centres[holes], centres[keep], row[keep])
        out = flat.reshape(out.shape)
    return centres, out


def butter_lowpass(signal: Any, fs: float, *, cutoff: float = 10.0, order: int = 4) -> FloatArray:
    """Zero-lag Butterworth low-pass (``scipy.signal.filtfilt``, default odd padding) along the last axis.

    The forward-backward pass doubles the order of the magnitude response: ``order=4`` gives the 4th-order
    design applied twice, as in Quijoux et al. (2021)'s published code. ``cutoff`` in Hz must be below fs/2.
    """
    x = as_signal(signal, "signal", min_samples=2)
    fs = check_rate(fs)
    if not (0 < cutoff < fs / 2):
        raise input_error(
            "cutoff", f"{cutoff} Hz is not between 0 and the Nyquist frequency {fs / 2} Hz", "lower the cutoff"
        )
    b, a = sps.butter(order, cutoff / (fs / 2), btype="lowpass")
    padlen = 3 * max(len(a), len(b))
    if x.shape[-1] <= padlen:
        raise input_error(
            "signal", f"has {x.shape[-1]} samples, the filter needs more than {padlen}", "record a longer trial"
        )
    return np.asarray(sps.filtfilt(b, a, x, axis=-1), dtype=np.float64)


def nan_runs(mask: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Starts and (exclusive) ends of the runs of True in a 1-D boolean mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def fill_gaps(cop: Any, fs: float, *, max_gap: float) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Linearly interpolate interior NaN runs no longer than ``max_gap`` seconds.

    Parameters
    ----------
    cop : array_like, shape (..., n)
        Signal with NaN where samples are missing (e.g. a COP while nobody stood on the plate).
    fs : float
        Sampling rate in Hz.
    max_gap : float
        Longest run (s) that may be bridged. 0 means any NaN is an error.

    Returns
    -------
    filled : ndarray, shape (..., n)
    was_filled : ndarray of bool, the batch shape (``cop.shape[:-1]`` reduced over a COP's 2 rows by the caller)
        True for every row where something was interpolated.

    Raises
    ------
    KineticsInputError
        For a run longer than ``max_gap``, a run touching the start or end of the trial, or infinite values.
    """
    x = as_signal(cop, "cop", min_samples=2, allow_nan=True)
    fs = check_rate(fs)
    if np.any(np.isinf(x)):
        raise input_error("cop", "contains infinite values", "check the force channels (Fz near zero?)")
    flat = x.reshape(-1, x.shape[-1]).copy()
    filled = np.zeros(flat.shape[0], dtype=bool)
    max_run = math.floor(max_gap * fs + 1e-9)
    idx = np.arange(flat.shape[1])
    for r, row in enumerate(flat):
        bad = np.isnan(row)
        if not bad.any():
            continue
        starts, ends = nan_runs(bad)
        lengths = ends - starts
        longest = int(np.argmax(lengths))
        where = f"{lengths[longest]} sample(s) ({lengths[longest] / fs:.3g} s) from t = {starts[longest] / fs:.3g} s"
        if starts[0] == 0 or ends[-1] == row.shape[0]:
            raise input_error(
                "cop", f"starts or ends with missing samples (NaN); longest run {where}", "cut the trial to valid data"
            )
        if lengths[longest] > max_run:
            raise input_error(
                "cop",
                f"has a run of missing samples (NaN) of {where}, longer than max_gap = {max_gap} s",
                "cut the trial, or pass a larger max_gap to interpolate short gaps",
            )
        row[bad] = np.interp(idx[bad], idx[~bad], row[~bad])
        filled[r] = True
    return flat.reshape(x.shape), filled.reshape(x.shape[:-1])
