"""Stabilogram-diffusion analysis (Collins & De Luca 1993): mean square displacement of the COP against the
time interval, a short-term and a long-term region, their diffusion coefficients and scaling exponents, and
the critical point where the two regimes meet.

Input: a centred COP of shape (..., 2, n) in metres (row 0 ML x, row 1 AP y) at ``fs`` Hz.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import fft as spfft

FloatArray = NDArray[np.float64]

#: Longest time interval of the diffusion plot (s), as in Collins & De Luca (1993).
MAX_LAG = 10.0
#: Range searched for the critical point (s), as in Quijoux et al. (2021).
CRITICAL_SEARCH = (0.3, 2.5)

_KEYS = {
    "diffusion_short": "m^2/s",
    "diffusion_long": "m^2/s",
    "scaling_short": "1",
    "scaling_long": "1",
    "critical_time": "s",
    "critical_displacement": "m^2",
}
UNITS: dict[str, str] = {f"{k}{s}": u for k, u in _KEYS.items() for s in ("", "_ml", "_ap")}


def mean_square_displacement(x: FloatArray, max_lag: int) -> FloatArray:
    """⟨(x(t+k) − x(t))²⟩ over t for k = 1..max_lag samples, shape (..., max_lag); exact (FFT autocorrelation).

    ``x`` has shape (..., n); centre it first for best precision. The mean is over the n − k available pairs.
    """
    n = x.shape[-1]
    if not 1 <= max_lag < n:
        raise ValueError(f"max_lag must be in 1..{n - 1}, got {max_lag}")
    nfft = spfft.next_fast_len(2 * n, real=True)
    spec = spfft.rfft(x, nfft, axis=-1)
    ac = spfft.irfft(spec.real**2 + spec.imag**2, nfft, axis=-1)[..., 1 : max_lag + 1]
    cs = np.concatenate([np.zeros((*x.shape[:-1], 1)), np.cumsum(x * x, axis=-1)], axis=-1)
    k = np.arange(1, max_lag + 1)
    tail = cs[..., n : n + 1] - cs[..., k]  # Σ_{i=k}^{n-1} x_i²
    head = cs[..., n - k]  # Σ_{i=0}^{n-k-1} x_i²
    return np.maximum((tail + head - 2.0 * ac) / (n - k), 0.0)


def _prefix(v: FloatArray) -> FloatArray:
    out = np.empty((*v.shape[:-1], v.shape[-1] + 1))
    out[..., 0] = 0.0
    np.cumsum(v, axis=-1, out=out[..., 1:])
    return out


def _take_last(s: FloatArray, idx: NDArray[np.intp]) -> FloatArray:
    """s[..., idx] row by row (``take_along_axis`` on the last axis) for idx of shape (..., 1)."""
    flat = s.reshape(-1, s.shape[-1])
    return flat[np.arange(flat.shape[0]), idx.reshape(-1)].reshape(idx.shape)


def _line(
    c: FloatArray, st: FloatArray, stt: FloatArray, sy: FloatArray, sty: FloatArray, syy: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Least-squares line y = a + b·t from the sums (count, Σt, Σt², Σy, Σty, Σy²); returns a, b, SSE."""
    with np.errstate(invalid="ignore", divide="ignore"):
        b = (c * sty - st * sy) / (c * stt - st * st)
        a = (sy - b * st) / c
    sse = syy - a * sy - b * sty
    return a, b, sse


def _at(s: FloatArray, idx: NDArray[np.intp]) -> FloatArray:
    """s[..., idx] per row; a 1-D s (shared by every row, e.g. the sums of t) is indexed directly."""
    return s[idx] if s.ndim == 1 else _take_last(s, idx)


def _fit_at(
    sums: tuple[FloatArray, ...], lo: NDArray[np.intp], hi: NDArray[np.intp]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Line through points lo..hi−1 (per-row indices of shape (..., 1)) from prefix sums."""
    # A COP that never moves has log-MSD of -inf: its fit is NaN and flagged by sway_metrics, not a warning.
    with np.errstate(invalid="ignore"):
        c, st, stt, sy, sty, syy = (_at(s, hi) - _at(s, lo) for s in sums)
    return _line(c, st, stt, sy, sty, syy)


def _sums(t: FloatArray, y: FloatArray) -> tuple[FloatArray, ...]:
    """Prefix sums of (1, t, t², y, t·y, y²); those of t alone are 1-D, shared by every row of y."""
    return (np.arange(t.shape[0] + 1.0), _prefix(t), _prefix(t * t), _prefix(y), _prefix(t * y), _prefix(y * y))


def diffusion_fit(t: FloatArray, msd: FloatArray, search: tuple[int, int]) -> dict[str, FloatArray]:
    """Two-region linear fit of a diffusion plot.

    Parameters
    ----------
    t : ndarray, shape (K,)
        Time intervals (s), increasing.
    msd : ndarray, shape (..., K)
        Mean square displacement (m²) at each interval.
    search : (int, int)
        Inclusive index range (into ``t``) searched for the break.

    The break index k* minimises the summed squared residuals of a line fitted to points 0..k* (short-term)
    and another fitted to k*..K−1 (long-term), both in the linear MSD-time plot. Diffusion coefficient
    D = slope / 2 (Collins & De Luca 1993: ⟨Δx²⟩ = 2·D·Δt, and the planar ⟨Δr²⟩ = ⟨Δx²⟩ + ⟨Δy²⟩ = 2·D_r·Δt);
    scaling exponent H = half the slope of log MSD against log Δt over the same region; the critical point
    is where the two lines intersect (NaN when they do not cross at a positive time).
    """
    k_total = t.shape[0]
    lo_b, hi_b = search
    if not (1 <= lo_b <= hi_b <= k_total - 2):
        raise ValueError(f"break search {search} does not fit in a diffusion plot of {k_total} points")
    scale = np.max(msd, axis=-1, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    y = msd / scale
    sums = _sums(t, y)
    # Every candidate break k at once: the short line spans points 0..k, the long one k..K−1.
    ends = slice(lo_b + 1, hi_b + 2)
    starts = slice(lo_b, hi_b + 1)
    a_s, b_s, sse_s = _line(*(s[..., ends] - s[..., :1] for s in sums))
    a_l, b_l, sse_l = _line(*(s[..., k_total : k_total + 1] - s[..., starts] for s in sums))
    best = np.argmin(sse_s + sse_l, axis=-1)[..., None]

    def pick(v: FloatArray) -> FloatArray:
        return _take_last(v, best)[..., 0]

    a_s, b_s, a_l, b_l = pick(a_s) * scale[..., 0], pick(b_s) * scale[..., 0], pick(a_l), pick(b_l)
    a_l, b_l = a_l * scale[..., 0], b_l * scale[..., 0]
    k_star = lo_b + best[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        tc = (a_l - a_s) / (b_s - b_l)
        crosses = (b_s > b_l) & (tc > 0)
        tc = np.where(crosses, tc, math.nan)
        msd_c = np.where(crosses, a_s + b_s * tc, math.nan)
        log_sums = _sums(np.log(t), np.log(msd))
    k_idx = k_star[..., None]
    _, hs, _ = _fit_at(log_sums, np.zeros_like(k_idx), k_idx + 1)
    _, hl, _ = _fit_at(log_sums, k_idx, np.full_like(k_idx, k_total))
    return {
        "diffusion_short": b_s / 2.0,
        "diffusion_long": b_l / 2.0,
        "scaling_short": hs[..., 0] / 2.0,
        "scaling_long": hl[..., 0] / 2.0,
        "critical_time": tc,
        "critical_displacement": msd_c,
    }


def diffusion_descriptors(c: FloatArray, fs: float, max_lag_s: float = MAX_LAG) -> dict[str, FloatArray]:
    """Stabilogram-diffusion descriptors per axis (``_ml``, ``_ap``) and planar (no suffix).

    ``max_lag_s`` is the longest interval (s); the caller shortens it for short trials (at most a third of
    the trial). Raises ValueError when the plot cannot hold the critical-point search range.
    """
    k_max = math.floor(max_lag_s * fs + 1e-9)
    lo = round(CRITICAL_SEARCH[0] * fs) - 1
    hi = round(CRITICAL_SEARCH[1] * fs) - 1
    lo = max(lo, 1)
    if hi > k_max - 2:
        raise ValueError("the diffusion plot is shorter than the critical-point search range")
    msd_axes = mean_square_displacement(c, k_max)  # (..., 2, K)
    # The planar plot and the two axes are fitted together as three rows.
    msd = np.concatenate([msd_axes, msd_axes.sum(axis=-2, keepdims=True)], axis=-2)
    t = np.arange(1, k_max + 1) / fs
    fit = diffusion_fit(t, msd, (lo, hi))
    out: dict[str, FloatArray] = {}
    for key in _KEYS:
        out[key] = fit[key][..., 2]
        out[f"{key}_ml"] = fit[key][..., 0]
        out[f"{key}_ap"] = fit[key][..., 1]
    return out
