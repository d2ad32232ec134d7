"""``sway_metrics``: the full posturography descriptor set of a COP trace, with a named preprocessing method."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import KineticsWarning, as_signal, check_rate, input_error
from kinetics.balance import dynamic, frequency, positional, stochastic
from kinetics.balance.preprocessing import SWARII_WINDOW, butter_lowpass, fill_gaps, swarii
from kinetics.results import Metrics

FloatArray = NDArray[np.float64]

METHODS = ("duarte2016", "quijoux2021")
#: Shortest trial scored (s): below this the spectral and diffusion estimates are meaningless.
MIN_DURATION = 5.0
#: Quijoux et al. (2021) preprocessing.
QUIJOUX_RATE = 25.0
QUIJOUX_CUTOFF = 10.0
QUIJOUX_ORDER = 4
QUIJOUX_SEGMENT = 10.0
QUIJOUX_BAND = (0.15, 5.0)

UNITS: dict[str, str] = {
    **positional.UNITS,
    **dynamic.UNITS,
    "length_over_area": "1/m",
    "fractal_dimension_cc": "1",
    "fractal_dimension_ce": "1",
    "mean_frequency_prieto": "Hz",
    "mean_frequency_prieto_ml": "Hz",
    "mean_frequency_prieto_ap": "Hz",
    **frequency.UNITS,
    **stochastic.UNITS,
}


def _check_cop(cop: Any) -> FloatArray:
    arr = as_signal(cop, "cop", min_samples=3, allow_nan=True, min_ndim=2)
    if arr.shape[-2] != 2:
        raise input_error(
            "cop",
            f"has shape {arr.shape}; the second-to-last axis must hold 2 rows (ML x, AP y)",
            "stack the COP as (..., 2, n_samples) in metres",
        )
    return arr


def _preprocess(cop: FloatArray, fs: float, method: str) -> tuple[FloatArray, float, dict[str, Any]]:
    """Centred, method-preprocessed COP, its rate, and the preprocessing record."""
    c = cop - cop.mean(axis=-1, keepdims=True)
    if method == "duarte2016":
        return c, fs, {"resampling": "none", "filter": "none"}
    time = np.arange(cop.shape[-1]) / fs
    _, r = swarii(c, time, fs_out=QUIJOUX_RATE, window=SWARII_WINDOW)
    r = butter_lowpass(r, QUIJOUX_RATE, cutoff=QUIJOUX_CUTOFF, order=QUIJOUX_ORDER)
    r = r - r.mean(axis=-1, keepdims=True)
    record = {
        "resampling": f"SWARII to {QUIJOUX_RATE:g} Hz, window {SWARII_WINDOW:g} s (Audiffren & Contal 2016)",
        "filter": f"Butterworth low-pass order {QUIJOUX_ORDER}, {QUIJOUX_CUTOFF:g} Hz, zero-lag (filtfilt)",
    }
    return r, QUIJOUX_RATE, record


def _welch(n: int, fs: float, method: str) -> frequency.WelchSettings:
    if method == "duarte2016":
        return frequency.WelchSettings(nperseg=n // 2, noverlap=n // 4, nfft=n // 2, band=(0.0, fs / 2))
    seg = min(round(QUIJOUX_SEGMENT * fs), n)
    return frequency.WelchSettings(nperseg=seg, noverlap=seg // 2, nfft=seg, band=QUIJOUX_BAND)


def sway_metrics(
    cop: Any,
    fs: float,
    *,
    method: str = "duarte2016",
    max_gap: float = 0.0,
    sway_density_radius: float = dynamic.SWAY_DENSITY_RADIUS,
) -> Metrics:
    """Posturography descriptors of a COP trace (the catalogue of Quijoux et al. 2021 and Prieto et al. 1996).

    Parameters
    ----------
    cop : array_like, shape (..., 2, n_samples)
        Centre of pressure in metres; row 0 medio-lateral x (right +), row 1 antero-posterior y (forward +).
        Leading axes are a batch of trials scored at once.
    fs : float
        Sampling rate in Hz.
    method : {"duarte2016", "quijoux2021"}
        ``"duarte2016"``: the raw signal (no resampling, no filter) and the Welch settings of Santos & Duarte
        (2016) (nperseg = n/2, noverlap = n/4, nfft = n/2, whole spectrum). ``"quijoux2021"``: SWARII
        resampling to 25 Hz, 4th-order 10 Hz zero-lag Butterworth low-pass, Welch with 10 s segments (50 %
        overlap) and the 0.15-5 Hz band (Quijoux et al. 2021). Velocities depend on rate and filter; the result
        records both in ``params``.
    max_gap : float
        Longest run of missing samples (NaN, s) to bridge by linear interpolation (flag ``gaps_filled``);
        default 0: any NaN is an error.
    sway_density_radius : float
        Radius (m) of the sway-density curve; 3 mm by default.

    Returns
    -------
    Metrics
        Every key of :data:`UNITS` (documented in docs/metrics/balance.md), floats for one trial or arrays of
        the batch shape. ``flags``: ``gaps_filled``, ``short_trial`` (Welch has < 2 segments or the diffusion
        plot is shorter than 10 s), ``no_critical_point`` (the diffusion lines do not cross), ``nan_descriptor``
        (some descriptor undefined, e.g. no velocity peaks).

    Raises
    ------
    KineticsInputError
        Wrong shape, unknown method, NaN runs longer than ``max_gap``, trial shorter than 5 s.
    """
    arr = _check_cop(cop)
    fs = check_rate(fs)
    if method not in METHODS:
        raise input_error("method", f"unknown method {method!r}", f"use one of {', '.join(METHODS)}")
    if not (math.isfinite(sway_density_radius) and sway_density_radius > 0):
        raise input_error("sway_density_radius", f"must be a positive length in m, got {sway_density_radius}", "")
    n_in = arr.shape[-1]
    duration = n_in / fs
    if duration < MIN_DURATION:
        raise input_error(
            "cop",
            f"covers {duration:.3g} s ({n_in} samples at {fs:g} Hz), shorter than the {MIN_DURATION:g} s needed",
            "record a longer trial (30 s or more is usual)",
        )
    batch = arr.shape[:-2]
    gaps_filled: NDArray[np.bool_] = np.zeros(batch, dtype=bool)
    if np.isnan(arr).any() or np.isinf(arr).any():
        arr, filled = fill_gaps(arr, fs, max_gap=max_gap)
        gaps_filled = np.asarray(filled.any(axis=-1))
    c, fs_a, record = _preprocess(arr, fs, method)
    n = c.shape[-1]
    welch = _welch(n, fs_a, method)

    data: dict[str, FloatArray] = {}
    data.update(positional.positional_descriptors(c))
    raw_mean = arr.mean(axis=-1)  # c is centred: the mean position comes from the input
    data["mean_position_ml"], data["mean_position_ap"] = raw_mean[..., 0], raw_mean[..., 1]
    data.update(dynamic.path_descriptors(c, fs_a))
    v = dynamic.velocity(c, fs_a)
    data.update(dynamic.phase_plane(c, v))
    data.update(dynamic.velocity_peaks(v, fs_a))
    data.update(dynamic.sway_density_peaks(c, fs_a, sway_density_radius))
    data.update(_prieto_composites(data, n))
    data.update(frequency.frequency_descriptors(c, fs_a, welch))

    max_lag = min(stochastic.MAX_LAG, (n / 3) / fs_a)
    short = welch.nperseg * 2 > n or max_lag < stochastic.MAX_LAG
    try:
        data.update(stochastic.diffusion_descriptors(c, fs_a, max_lag))
    except ValueError:
        data.update({k: np.full(batch, math.nan) for k in stochastic.UNITS})
        short = True

    nan_any = np.asarray(np.isnan(np.stack(list(data.values()))).any(axis=0))
    flags = {
        "gaps_filled": _as_output_bool(gaps_filled),
        "short_trial": bool(short),
        "no_critical_point": _as_output_bool(np.isnan(data["critical_time"])),
        "nan_descriptor": _as_output_bool(nan_any),
    }
    if short:
        import warnings

        warnings.warn(
            f"cop: {duration:.3g} s is short for the spectral and diffusion descriptors; they are flagged "
            "(short_trial) and less reliable — record 30 s or more",
            KineticsWarning,
            stacklevel=2,
        )
    params: dict[str, Any] = {
        "fs_input": fs,
        "fs": fs_a,
        "n_samples_input": n_in,
        "n_samples": n,
        **record,
        "welch": welch.as_params(),
        "velocity_derivative": (
            f"Savitzky-Golay order {dynamic.VELOCITY_POLYORDER}, window {dynamic.savgol_window(fs_a)} samples"
        ),
        "sway_density_radius_m": sway_density_radius,
        "diffusion_max_lag_s": max_lag,
        "diffusion_critical_search_s": stochastic.CRITICAL_SEARCH,
        "max_gap_s": max_gap,
    }
    values: dict[str, Any]
    if batch:
        values = {k: np.asarray(v, dtype=np.float64) for k, v in data.items()}
    else:  # one trial: every value is a 0-d array or a NumPy scalar
        values = {k: float(v) for k, v in data.items()}
    return Metrics(values, dict(UNITS), method, params, flags)


def _as_output_bool(value: NDArray[np.bool_]) -> Any:
    return bool(value) if value.ndim == 0 else value


def _prieto_composites(d: dict[str, FloatArray], n: int) -> dict[str, FloatArray]:
    """Descriptors combining the positional and dynamic families (Prieto et al. 1996)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        d_ce = np.sqrt(4.0 * d["ellipse_area_95"] / np.pi)  # √((2a)(2b)) of the 95 % ellipse
        d_cc = 2.0 * (d["mean_distance"] + positional.Z95 * d["sd_distance"])  # 95 % circle diameter
        log_n = math.log(n)
        return {
            "length_over_area": d["path_length"] / d["ellipse_area_95"],
            "fractal_dimension_cc": log_n / np.log(n * d_cc / d["path_length"]),
            "fractal_dimension_ce": log_n / np.log(n * d_ce / d["path_length"]),
            "mean_frequency_prieto": d["mean_velocity"] / (2.0 * np.pi * d["mean_distance"]),
            "mean_frequency_prieto_ml": d["mean_velocity_ml"] / (4.0 * math.sqrt(2.0) * d["mean_distance_ml"]),
            "mean_frequency_prieto_ap": d["mean_velocity_ap"] / (4.0 * math.sqrt(2.0) * d["mean_distance_ap"]),
        }
