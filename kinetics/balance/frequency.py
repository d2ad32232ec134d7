"""Frequency-domain COP descriptors from the Welch power spectral density of each axis
(Prieto et al. 1996; Santos & Duarte 2016; Quijoux et al. 2021).

Input: a centred COP of shape (..., 2, n) in metres (row 0 ML x, row 1 AP y) at ``fs`` Hz. The PSD is in m²/Hz;
integrals use the trapezoid rule over the analysis band's frequency bins.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import fft as spfft
from scipy import signal as sps

FloatArray = NDArray[np.float64]

#: Edges (Hz) of the three power bands of Quijoux et al. (2021): below 0.5, 0.5-2, above 2 Hz.
BAND_EDGES = (0.5, 2.0)

_PER_AXIS_UNITS = {
    "total_power": "m^2",
    "mean_frequency": "Hz",
    "power_frequency_50": "Hz",
    "power_frequency_95": "Hz",
    "frequency_mode": "Hz",
    "centroid_frequency": "Hz",
    "frequency_dispersion": "1",
    "power_below_0p5hz": "m^2",
    "power_0p5_to_2hz": "m^2",
    "power_above_2hz": "m^2",
    "frequency_quotient": "1",
}
UNITS: dict[str, str] = {"total_power": "m^2", "mean_frequency": "Hz"}
UNITS.update({f"{k}_{a}": u for k, u in _PER_AXIS_UNITS.items() for a in ("ml", "ap")})


@dataclass(frozen=True)
class WelchSettings:
    """Welch PSD settings: Hann window, ``detrend='constant'``, density scaling; ``band`` (Hz) analysed."""

    nperseg: int
    noverlap: int
    nfft: int
    band: tuple[float, float]

    def as_params(self) -> dict[str, object]:
        return {
            "window": "hann",
            "nperseg": self.nperseg,
            "noverlap": self.noverlap,
            "nfft": self.nfft,
            "detrend": "constant",
            "band_hz": self.band,
        }


def psd(c: FloatArray, fs: float, settings: WelchSettings) -> tuple[FloatArray, FloatArray]:
    """Frequencies (nf,) in Hz and Welch PSD (..., 2, nf) in m²/Hz restricted to ``settings.band``.

    The same computation as ``scipy.signal.welch(c, fs, "hann", nperseg, noverlap, nfft, "constant")`` (mean
    of the one-sided density periodograms), with the short-time FFT object built once per setting.
    """
    nperseg, noverlap = settings.nperseg, settings.noverlap
    if not (1 <= nperseg <= c.shape[-1] and 0 <= noverlap < nperseg <= settings.nfft):
        raise ValueError(f"Welch settings {settings} do not fit a signal of {c.shape[-1]} samples")
    stft = _short_time_fft(nperseg, noverlap, settings.nfft, fs)
    hop, nfft, win = stft.hop, settings.nfft, stft.win
    n_seg = (c.shape[-1] - noverlap) // hop
    # ShortTimeFFT.spectrogram(c, detr="constant", p0=0, p1=n_seg, k_offset=nperseg // 2) step by step: every
    # segment lies inside the signal (no padding), is detrended by its mean, windowed and transformed alone.
    segments = np.empty((*c.shape[:-1], stft.f_pts, n_seg))  # (..., nf, n_segments)
    for k in range(n_seg):
        x = c[..., k * hop : k * hop + nperseg]
        spec = spfft.rfft((x - np.mean(x, -1, keepdims=True)) * win, n=nfft, axis=-1)
        segments[..., k] = spec.real**2 + spec.imag**2
    segments[..., 1 : -1 if nfft % 2 == 0 else None, :] *= 2.0  # one-sided: fold negative frequencies
    p = segments.mean(axis=-1)
    f = stft.f
    lo, hi = settings.band
    keep = (f >= lo - 1e-12) & (f <= hi + 1e-12)
    return np.asarray(f[keep], dtype=np.float64), np.asarray(p[..., keep], dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _short_time_fft(nperseg: int, noverlap: int, nfft: int, fs: float) -> sps.ShortTimeFFT:
    """Hann-windowed, density-scaled one-sided short-time FFT, as ``scipy.signal.welch`` sets it up."""
    return sps.ShortTimeFFT(
        sps.get_window("hann", nperseg),
        nperseg - noverlap,
        fs,
        fft_mode="onesided",
        mfft=nfft,
        scale_to="psd",
        phase_shift=None,
    )


def _at(f: FloatArray, cum: FloatArray, edge: float) -> FloatArray:
    """Cumulative power at frequency ``edge`` (linear between bins, clipped to the band)."""
    e = min(max(edge, float(f[0])), float(f[-1]))
    k = int(np.clip(np.searchsorted(f, e), 1, f.shape[0] - 1))
    w = (e - f[k - 1]) / (f[k] - f[k - 1])
    return np.asarray(cum[..., k - 1] + w * (cum[..., k] - cum[..., k - 1]), dtype=np.float64)


def _quantile_frequency(f: FloatArray, cum: FloatArray, q: float) -> FloatArray:
    """Frequency below which a fraction q of the band's power lies (linear between bins)."""
    thr = q * cum[..., -1:]
    k = np.argmax(cum >= thr, axis=-1)
    k = np.clip(k, 1, f.shape[0] - 1)
    flat = cum.reshape(-1, cum.shape[-1])
    rows = np.arange(flat.shape[0])
    c0 = flat[rows, (k - 1).reshape(-1)].reshape(k.shape)
    c1 = flat[rows, k.reshape(-1)].reshape(k.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(c1 > c0, (thr[..., 0] - c0) / (c1 - c0), 0.0)
    return np.asarray(f[k - 1] + w * (f[k] - f[k - 1]), dtype=np.float64)


def frequency_descriptors(c: FloatArray, fs: float, settings: WelchSettings) -> dict[str, FloatArray]:
    """All frequency descriptors; values of the batch shape (...)."""
    f, p = psd(c, fs, settings)
    if f.shape[0] < 2:
        raise ValueError("the analysis band holds fewer than 2 frequency bins")
    # The trapezoid rule as scipy.integrate.trapezoid / cumulative_trapezoid(initial=0) evaluate it.
    df = f[1:] - f[:-1]
    pf = p * f
    terms = df * (p[..., 1:] + p[..., :-1]) / 2.0
    m0 = terms.sum(axis=-1)
    m1 = (df * (pf[..., 1:] + pf[..., :-1]) / 2.0).sum(axis=-1)
    pff = pf * f
    m2 = (df * (pff[..., 1:] + pff[..., :-1]) / 2.0).sum(axis=-1)
    cum = np.empty(p.shape)
    cum[..., 0] = 0.0
    np.cumsum(terms, axis=-1, out=cum[..., 1:])
    with np.errstate(invalid="ignore", divide="ignore"):
        mpf = m1 / m0
        centroid = np.sqrt(m2 / m0)
        dispersion = np.sqrt(np.maximum(1.0 - m1**2 / (m0 * m2), 0.0))
        low_edge, high_edge = BAND_EDGES
        below = _at(f, cum, low_edge)
        up_to_2 = _at(f, cum, high_edge)
        above = cum[..., -1] - up_to_2
        quotient = above / up_to_2
        weights = p.sum(axis=-1)  # Santos & Duarte (2016): resultant weighted by Σ P per axis
        mpf_resultant = (mpf * weights).sum(axis=-1) / weights.sum(axis=-1)
    per_axis = {
        "total_power": m0,
        "mean_frequency": mpf,
        "power_frequency_50": _quantile_frequency(f, cum, 0.5),
        "power_frequency_95": _quantile_frequency(f, cum, 0.95),
        "frequency_mode": f[np.argmax(p, axis=-1)],
        "centroid_frequency": centroid,
        "frequency_dispersion": dispersion,
        "power_below_0p5hz": below,
        "power_0p5_to_2hz": up_to_2 - below,
        "power_above_2hz": above,
        "frequency_quotient": quotient,
    }
    out: dict[str, FloatArray] = {"total_power": m0.sum(axis=-1), "mean_frequency": mpf_resultant}
    for key, value in per_axis.items():
        out[f"{key}_ml"] = value[..., 0]
        out[f"{key}_ap"] = value[..., 1]
    return out
