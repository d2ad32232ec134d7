"""Quiet baseline and effort onset: the level a force must exceed for an effort to have started.

Two named methods (Maffiuletti et al. 2016, *Rate of force development: physiological and methodological
considerations*, Eur J Appl Physiol 116:1091–1116, review both):

``"noise<k>sd"`` (default ``"noise5sd"``)
    level = baseline mean + k × baseline SD (population SD, ddof = 0) of a quiet window at the start of the
    trace. Any positive k is accepted (``"noise3sd"``, ``"noise2.5sd"``).
``"absolute"``
    level = baseline mean + ``threshold`` (in the signal's unit, e.g. N). With ``baseline=0`` the baseline mean
    is taken as 0 and the threshold is an absolute force level.

The onset of an effort is the last sample at or below the level before the force first rises above it for the
effort (the last "quiet" sample; for a noise-free signal that rises from rest at sample i₀, exactly i₀).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from kinetics._checks import input_error
from kinetics.strength._search import FloatArray

MIN_BASELINE_SAMPLES = 10
"""Fewest samples a noise-relative baseline may hold (an SD from fewer is not a noise estimate)."""

_NOISE = re.compile(r"^noise(\d+(?:\.\d+)?)sd$")


@dataclass(frozen=True)
class OnsetLevel:
    """The baseline and onset level of each trial of a (B, n) batch.

    Attributes
    ----------
    method : str
        The named method (``"noise5sd"``, ``"absolute"``).
    params : dict
        What the level depends on: ``baseline`` (s), ``baseline_samples``, and ``k`` or ``threshold``.
    baseline_samples : int
        Length of the baseline window (samples from the start of the trace).
    mean, sd, level : ndarray, shape (B,)
        Baseline mean and SD and the onset level, in the signal's unit.
    drift : ndarray, shape (B,)
        |mean of the baseline's second half − mean of its first half| (0 without a baseline): a quiet
        baseline drifts by a small fraction of its SD, one that holds the start of an effort by more than it.
    """

    method: str
    params: dict[str, Any]
    baseline_samples: int
    mean: FloatArray
    sd: FloatArray
    level: FloatArray
    drift: FloatArray


def onset_level(
    x: FloatArray, fs: float, *, method: str, baseline: float, threshold: float | None, name: str = "force"
) -> OnsetLevel:
    """Baseline statistics and onset level of every row of ``x`` (shape (B, n), unit of the signal).

    Raises :class:`KineticsInputError` for an unknown method, a missing threshold, or a baseline too short for
    the method or longer than the trace.
    """
    try:
        baseline = float(baseline)
    except (TypeError, ValueError):
        raise input_error("baseline", f"must be a duration in s, got {baseline!r}", "pass e.g. baseline=0.5") from None
    if not math.isfinite(baseline) or baseline < 0:
        raise input_error("baseline", f"must be a duration ≥ 0 s, got {baseline}", "pass e.g. baseline=0.5")
    nb = round(baseline * fs)
    n = x.shape[-1]
    if nb > n - 3:
        raise input_error(
            name,
            f"has {n} samples but the {baseline} s baseline alone takes {nb}",
            "record a longer trial or shorten the baseline window",
        )
    match = _NOISE.match(method)
    if match:
        k = float(match.group(1))
        if k <= 0:
            raise input_error("method", f"{method!r} needs k > 0", "use e.g. 'noise5sd'")
        if nb < MIN_BASELINE_SAMPLES:
            raise input_error(
                "baseline",
                f"{baseline} s at {fs} Hz is {nb} samples; a noise-relative onset needs at least "
                f"{MIN_BASELINE_SAMPLES} quiet samples",
                "record a longer quiet phase before the effort, or use method='absolute' with a threshold",
            )
        mean, sd, drift = _mean_sd(x[:, :nb])
        params = {"baseline": baseline, "baseline_samples": nb, "k": k}
        return OnsetLevel(method, params, nb, mean, sd, mean + k * sd, drift)
    if method == "absolute":
        if threshold is None:
            raise input_error("threshold", "method='absolute' needs a threshold", "pass e.g. threshold=10.0 (N)")
        try:
            thr = float(threshold)
        except (TypeError, ValueError):
            raise input_error("threshold", f"must be a number, got {threshold!r}", "pass e.g. 10.0") from None
        if not math.isfinite(thr) or thr <= 0:
            raise input_error("threshold", f"must be positive and finite, got {thr}", "pass e.g. threshold=10.0")
        if nb > 0:
            mean, sd, drift = _mean_sd(x[:, :nb])
        else:
            mean = np.zeros(x.shape[0])
            sd = np.full(x.shape[0], np.nan)
            drift = np.zeros(x.shape[0])
        params = {"baseline": baseline, "baseline_samples": nb, "threshold": thr}
        return OnsetLevel(method, params, nb, mean, sd, mean + thr, drift)
    raise input_error("method", f"unknown onset method {method!r}", "use 'noise5sd' (any 'noise<k>sd') or 'absolute'")


def _mean_sd(quiet: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Row mean, population SD (ddof = 0) and half-to-half drift of a (B, m) window."""
    m = quiet.shape[-1]
    mean = quiet.sum(axis=-1) / m
    dev = quiet - mean[:, None]
    half = m // 2
    drift = np.abs(dev[:, half:].sum(axis=-1) / (m - half) - dev[:, :half].sum(axis=-1) / max(half, 1))
    return mean, np.sqrt((dev * dev).sum(axis=-1) / m), drift
