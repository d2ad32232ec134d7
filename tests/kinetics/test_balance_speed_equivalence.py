"""The fast code paths of kinetics.balance against direct definitions: sway density (binary lifting over
bounding boxes with windowed exact checks, trials grouped end to end), sway-density peak summaries, planar
range (octagon filter, Qhull, hull vertices compared in blocks), and the Welch PSD (cached short-time FFT)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import signal

from kinetics.balance import dynamic, frequency, positional
from kinetics.balance.scoring import _welch
from kinetics.simulate import sway as sim


def _stay_brute(x: np.ndarray, y: np.ndarray, radius: float) -> np.ndarray:
    n = x.shape[0]
    out = np.empty(n - 1)
    for i in range(n - 1):
        j = i + 1
        while j < n and (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2 <= radius**2:
            j += 1
        out[i] = j - i - 1
    return out


def _walks() -> np.ndarray:
    """Four 20 s trials at 50 Hz: quiet sway, fast sway, a still stretch (stays to the end), a plain random walk."""
    quiet = sim.random_walk_sway(50.0, 20.0, sd=(0.001, 0.0015), seed=21)
    fast = sim.random_walk_sway(50.0, 20.0, sd=(0.006, 0.01), time_constant=0.3, seed=22)
    still = sim.random_walk_sway(50.0, 20.0, seed=23)
    still[:, 600:] = still[:, 600:601]
    walk = np.random.default_rng(24).normal(scale=4e-4, size=(2, 1000)).cumsum(axis=-1)
    return np.stack([quiet, fast, still, walk])


@pytest.mark.parametrize("radius", [0.0005, 0.002, 0.003, 0.02])
def test_sway_density_equals_the_direct_loop(radius: float) -> None:
    cops = _walks()
    fs = 50.0
    batched = dynamic.sway_density_curve(cops, fs, radius)
    for k, cop in enumerate(cops):
        brute = _stay_brute(cop[0], cop[1], radius) / fs
        np.testing.assert_array_equal(dynamic.sway_density_curve(cop, fs, radius), brute)
        np.testing.assert_array_equal(batched[k], brute)
    # The still stretch stays to the end of the trial.
    assert batched[2, -1] == 1 / fs and batched[2, 700] == (1000 - 700 - 1) / fs


def test_sway_density_groups_of_trials_equal_the_direct_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    cops = sim.random_walk_sway(50.0, 12.0, batch=(7,), seed=25)
    brute = np.stack([_stay_brute(c[0], c[1], dynamic.SWAY_DENSITY_RADIUS) for c in cops]) / 50.0
    # One group of 7 trials (over 4096 searches: one exact check per descent), then groups of 3 and one short.
    np.testing.assert_array_equal(dynamic.sway_density_curve(cops, 50.0), brute)
    monkeypatch.setattr(dynamic, "_STAY_CHUNK", 3 * 601)
    np.testing.assert_array_equal(dynamic.sway_density_curve(cops, 50.0), brute)


def test_sway_density_peaks_equal_a_per_trial_loop() -> None:
    cops = _walks()
    fs, radius = 50.0, 0.002
    out = dynamic.sway_density_peaks(cops, fs, radius)
    for k, cop in enumerate(cops):
        sd = _stay_brute(cop[0], cop[1], radius) / fs
        idx = [i for i in range(1, sd.shape[0] - 1) if sd[i] > sd[i - 1] and sd[i] > sd[i + 1]]
        assert len(idx) >= 2
        assert out["sway_density_mean_peak"][k] == pytest.approx(sum(sd[idx]) / len(idx), rel=1e-13)
        steps = [math.dist(cop[:, a], cop[:, b]) for a, b in itertools.pairwise(idx)]
        assert out["sway_density_peak_distance"][k] == pytest.approx(sum(steps) / len(steps), rel=1e-13)
        assert out["sway_density_peak_interval"][k] == (idx[-1] - idx[0]) / (len(idx) - 1) / fs
    flat = dynamic.sway_density_peaks(np.zeros((2, 300)), fs, radius)  # never leaves: no strict peak
    assert all(math.isnan(v) for v in flat.values())


def _diameter_brute(cop: np.ndarray) -> float:
    d = cop[:, :, None] - cop[:, None, :]
    return float(np.sqrt(np.max(d[0] ** 2 + d[1] ** 2)))


def test_planar_range_equals_the_farthest_pair() -> None:
    walks = sim.random_walk_sway(50.0, 20.0, batch=(5,), seed=26)
    circle = sim.circle(0.01, 1, 50.0, 20.0)  # every sample a hull vertex
    line = np.stack([np.linspace(-0.01, 0.02, 1000), np.linspace(0.0, -0.015, 1000)])  # no 2-D hull
    point = np.full((2, 1000), 0.004)
    cases = np.concatenate([walks, np.stack([circle, line, point])])
    batched = positional.planar_range(cases)
    for k, cop in enumerate(cases):
        brute = _diameter_brute(cop)
        assert positional.planar_range(cop) == pytest.approx(brute, rel=1e-15, abs=0)
        assert batched[k] == pytest.approx(brute, rel=1e-15, abs=0)
    assert batched[-1] == 0.0


@pytest.mark.parametrize("method", ["duarte2016", "quijoux2021"])
@pytest.mark.parametrize("n", [1500, 6001])
def test_psd_equals_scipy_welch(method: str, n: int) -> None:
    fs = 25.0 if method == "quijoux2021" else 100.0
    cop = sim.random_walk_sway(fs, n / fs, batch=(3,), seed=27)
    c = cop - cop.mean(axis=-1, keepdims=True)
    settings = _welch(c.shape[-1], fs, method)
    f, p = frequency.psd(c, fs, settings)
    f_ref, p_ref = signal.welch(
        c,
        fs=fs,
        window="hann",
        nperseg=settings.nperseg,
        noverlap=settings.noverlap,
        nfft=settings.nfft,
        detrend="constant",
        axis=-1,
    )
    lo, hi = settings.band
    keep = (f_ref >= lo - 1e-12) & (f_ref <= hi + 1e-12)
    np.testing.assert_array_equal(f, f_ref[keep])
    np.testing.assert_array_equal(p, p_ref[..., keep])
