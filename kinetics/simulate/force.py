"""Analytic force signals with known answers: exponential rise from a known onset, hold, linear release.

One effort (all times in s, forces in N — or Pa for a pneumatic device, see :func:`to_pressure`)::

    F(t) = baseline                                          t < onset
    F(t) = baseline + Fmax·(1 − exp(−(t − onset)/τ))         onset ≤ t ≤ onset + rise
    F(t) falls linearly from its value at onset + rise to baseline over ``release`` s, then stays there.

``rise`` is the time from onset to the start of the release (rise and hold together: with rise ≫ τ the force
plateaus at Fmax). Sample k is at t = k/fs; ``onset``, ``rise`` and ``release`` must fall on the sample grid,
so the onset sample ``round(onset·fs)`` is exact, the rise is sampled exactly from it, and the release ends
exactly on a sample. Noise, if asked for, is Gaussian with a fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import check_rate, input_error

FloatArray = NDArray[np.float64]


def _on_grid(value: float, fs: float, name: str) -> int:
    k = value * fs
    if not math.isfinite(k) or k < 0 or abs(k - round(k)) > 1e-6:
        raise input_error(name, f"{value} s is not a whole number of samples at {fs} Hz", "pick a multiple of 1/fs")
    return round(k)


def effort_shape(fs: float, *, fmax: float, tau: float, rise: float, release: float) -> FloatArray:
    """Samples of one effort from its onset sample to the end of its release (inclusive), above baseline."""
    fs = check_rate(fs)
    if not (tau > 0 and math.isfinite(tau)):
        raise input_error("tau", f"time constant must be positive, got {tau}", "pass e.g. tau=0.1")
    n_rise = _on_grid(rise, fs, "rise")
    n_rel = _on_grid(release, fs, "release")
    if n_rise < 1 or n_rel < 1:
        raise input_error("rise/release", "must each last at least one sample", "lengthen them")
    k = np.arange(n_rise + 1)
    up = fmax * (1.0 - np.exp(-(k / fs) / tau))
    top = up[-1]
    j = np.arange(1, n_rel + 1)
    down = top * (1.0 - j / n_rel)
    down[-1] = 0.0
    return np.concatenate([up, down])


def isometric_force(
    fs: float,
    duration: float,
    *,
    onset: float = 1.0,
    fmax: float = 500.0,
    tau: float = 0.1,
    rise: float = 3.0,
    release: float = 0.5,
    baseline: float = 0.0,
    noise_sd: float = 0.0,
    seed: int = 0,
) -> FloatArray:
    """One isometric effort (N) of ``duration`` s at ``fs`` Hz; shape (round(duration·fs),)."""
    fs = check_rate(fs)
    n = _on_grid(duration, fs, "duration")
    k0 = _on_grid(onset, fs, "onset")
    shape = effort_shape(fs, fmax=fmax, tau=tau, rise=rise, release=release)
    if k0 + shape.size > n:
        raise input_error("duration", f"{duration} s ends before the effort does", "lengthen the trace")
    force = np.full(n, float(baseline))
    force[k0 : k0 + shape.size] += shape
    return add_noise(force, noise_sd, seed)


def repeated_efforts(
    fs: float,
    *,
    fmax: Sequence[float],
    tau: float = 0.1,
    rise: float = 2.0,
    release: float = 0.5,
    rest: float = 2.0,
    lead: float = 1.0,
    tail: float = 1.0,
    baseline: float = 0.0,
    noise_sd: float = 0.0,
    seed: int = 0,
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Efforts of the given ``fmax`` values one after the other, ``rest`` s apart.

    Returns (force, onsets): the trace (N) — ``lead`` s quiet, each effort then ``rest`` s quiet, ``tail``
    extra s at the end — and the onset sample of each effort.
    """
    fs = check_rate(fs)
    if len(fmax) < 1:
        raise input_error("fmax", "needs at least one effort", "pass e.g. fmax=[400, 390, 380]")
    gap = _on_grid(rest, fs, "rest")
    pieces = [np.zeros(_on_grid(lead, fs, "lead"))]
    onsets = []
    at = pieces[0].size
    for f in fmax:
        shape = effort_shape(fs, fmax=float(f), tau=tau, rise=rise, release=release)
        onsets.append(at)
        pieces += [shape[:-1], np.zeros(gap + 1)]
        at += shape.size - 1 + gap + 1
    pieces.append(np.zeros(_on_grid(tail, fs, "tail")))
    force = np.concatenate(pieces) + float(baseline)
    return add_noise(force, noise_sd, seed), np.asarray(onsets, dtype=np.int64)


def fatiguing_efforts(
    fs: float, *, n_efforts: int, fmax: float, decline: float, **kwargs: float
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Efforts whose Fmax falls linearly by ``decline`` × ``fmax`` per repetition: Fmax_i = fmax·(1 − decline·i).

    Extra keyword arguments go to :func:`repeated_efforts`.
    """
    if n_efforts < 1 or not (0 <= decline * (n_efforts - 1) < 1):
        raise input_error("decline", "Fmax must stay positive over the series", "use fewer efforts or less decline")
    values = [fmax * (1.0 - decline * i) for i in range(n_efforts)]
    return repeated_efforts(fs, fmax=values, **kwargs)  # type: ignore[arg-type]


def add_noise(force: FloatArray, sd: float, seed: int = 0) -> FloatArray:
    """``force`` plus Gaussian noise of standard deviation ``sd`` (same unit); unchanged when ``sd == 0``."""
    if sd < 0 or not math.isfinite(sd):
        raise input_error("noise_sd", f"must be ≥ 0, got {sd}", "pass e.g. noise_sd=1.0")
    if sd == 0:
        return force
    return force + np.random.default_rng(seed).normal(0.0, sd, force.shape)


def to_pressure(force: FloatArray, area: float) -> FloatArray:
    """The pneumatic version of a force signal: pressure (Pa) = force (N) / bulb area (m²)."""
    if not (area > 0 and math.isfinite(area)):
        raise input_error("area", f"must be a positive area in m², got {area}", "pass e.g. area=1e-3")
    return np.asarray(force, dtype=np.float64) / area
