"""sway_metrics: published BDS values, analytic signals, invariances, batching, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import signal, stats

from kinetics import KineticsInputError, KineticsWarning
from kinetics.balance import UNITS, sway_metrics
from kinetics.balance.dynamic import sway_density_curve, velocity_peaks
from kinetics.balance.stochastic import diffusion_fit, mean_square_displacement
from kinetics.simulate import sway as sim

REQUIRED = (
    "path_length",
    "mean_velocity",
    "mean_velocity_ml",
    "mean_velocity_ap",
    "ellipse_area_95",
    "rms_ml",
    "rms_ap",
    "range_ml",
    "range_ap",
    "mean_distance",
    "sway_area_per_second",
    "mean_frequency",
)


def _bds(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    folder = shared_data / "balance-bds"
    ref = np.genfromtxt(folder / "reference.tsv", dtype=None, names=True, encoding=None, delimiter="\t")
    cops = []
    for trial in ref["Trial"]:
        a = np.loadtxt(folder / f"{trial}.txt", skiprows=1)
        # The file's COPx is antero-posterior and COPy medio-lateral, in cm.
        cops.append(np.vstack([a[:, 8], a[:, 7]]) / 100.0)
    return np.array(cops), ref


@pytest.fixture(scope="module")
def bds(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    return _bds(shared_data)


def test_bds_reproduces_published_values(bds: tuple[np.ndarray, np.ndarray]) -> None:
    cops, ref = bds
    assert cops.shape == (20, 2, 6000)
    m = sway_metrics(cops, 100.0, method="duarte2016")
    np.testing.assert_allclose(m["ellipse_area_95"] * 1e4, ref["COParea"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(m["mean_velocity"] * 100.0, ref["COPvelo"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(m["mean_frequency"], ref["COPmfreq"], rtol=1e-9, atol=0)
    assert m.unit("ellipse_area_95") == "m^2" and m.unit("mean_velocity") == "m/s"
    assert m.params["fs"] == 100.0 and m.params["filter"] == "none"


def test_batched_equals_one_at_a_time(bds: tuple[np.ndarray, np.ndarray]) -> None:
    cops = bds[0][:4, :, :3000]
    for method in ("duarte2016", "quijoux2021"):
        batch = sway_metrics(cops.reshape(2, 2, 2, 3000), 100.0, method=method)
        for i in range(4):
            one = sway_metrics(cops[i], 100.0, method=method)
            sel = batch.select((i // 2, i % 2))
            for key in one:
                np.testing.assert_allclose(sel[key], one[key], rtol=1e-10, atol=1e-18, err_msg=key)


def test_quijoux_records_preprocessing(bds: tuple[np.ndarray, np.ndarray]) -> None:
    cop = bds[0][0]
    q = sway_metrics(cop, 100.0, method="quijoux2021")
    d = sway_metrics(cop, 100.0, method="duarte2016")
    assert q.params["fs_input"] == 100.0 and q.params["fs"] == 25.0 and q.params["n_samples"] == 1500
    assert "SWARII" in q.params["resampling"] and "10 Hz" in q.params["filter"]
    assert q.params["welch"]["nperseg"] == 250 and q.params["welch"]["band_hz"] == (0.15, 5.0)
    assert q.method == "quijoux2021"
    # The low-pass and resampling shorten the path (DESIGN.md: ~8 % on average) but barely move positions.
    assert q["mean_velocity"] < d["mean_velocity"]
    assert q["rms_ap"] == pytest.approx(d["rms_ap"], rel=0.01)


def test_every_key_has_a_unit_and_the_required_keys_exist() -> None:
    m = sway_metrics(sim.random_walk_sway(50.0, 30.0, seed=3), 50.0)
    assert set(m) == set(UNITS)
    for key in REQUIRED:
        assert key in m
    assert all(np.isfinite(m[k]) for k in m)


@pytest.mark.parametrize("fs", [50.0, 200.0])
def test_circle_path_length(fs: float) -> None:
    r, turns, duration = 0.01, 3, 30.0
    cop = sim.circle(r, turns, fs, duration, centre=(0.03, -0.2))
    m = sway_metrics(cop, fs)
    n_seg = cop.shape[-1] - 1
    polygon = 2 * n_seg * r * math.sin(math.pi * turns / n_seg)
    assert m["path_length"] == pytest.approx(polygon, rel=1e-12)
    assert m["path_length"] == pytest.approx(2 * math.pi * r * turns, rel=1e-4)
    # The start point is repeated at the end, so the centroid is off the centre by about r/n.
    assert m["mean_distance"] == pytest.approx(r, rel=2 / cop.shape[-1])
    assert m["range"] == pytest.approx(2 * r, rel=1e-6)
    assert m["mean_velocity"] == pytest.approx(polygon / (cop.shape[-1] / fs), rel=1e-12)


@pytest.mark.parametrize("method", ["duarte2016", "quijoux2021"])
@pytest.mark.parametrize("f", [0.5, 1.2])
def test_sinusoid_mean_and_peak_frequency(method: str, f: float) -> None:
    fs, duration = 100.0, 60.0
    cop = sim.sinusoid(f, fs, duration, amplitude=(0.004, 0.006), phase=(0.3, 1.1))
    m = sway_metrics(cop, fs, method=method)
    df = 1.0 / duration if method == "duarte2016" else 0.1  # frequency resolution of the Welch segments
    for axis in ("ml", "ap"):
        assert m[f"frequency_mode_{axis}"] == pytest.approx(f, abs=1e-9)
        # The Hann main lobe is symmetric about f: the power-weighted mean lands on it.
        assert m[f"mean_frequency_{axis}"] == pytest.approx(f, abs=0.02 * df)
        assert m[f"power_frequency_50_{axis}"] == pytest.approx(f, abs=df)
    assert m["mean_frequency"] == pytest.approx(f, abs=0.02 * df)
    # The RMS of a sin(ωt) over whole periods is a/√2; quijoux2021 scales it by the gain of the SWARII
    # weighted average (0.08 s window on a 100 Hz grid: weights 1.5, 1, 1, 1, 1, 1, 1.5 over 8) and of the
    # zero-lag Butterworth (|H|²).
    gain = 1.0
    if method == "quijoux2021":
        w = np.array([1.5, 1, 1, 1, 1, 1, 1.5]) / 8
        gain = float(np.sum(w * np.cos(2 * np.pi * f * np.arange(-3, 4) / fs)))
        b, a = signal.butter(4, 10.0 / 12.5)
        gain *= float(np.abs(signal.freqz(b, a, worN=[f], fs=25.0)[1][0]) ** 2)
    assert m["rms_ml"] == pytest.approx(gain * 0.004 / math.sqrt(2), rel=2e-3)


def test_gaussian_cloud_ellipse_converges_to_analytic_area() -> None:
    cov = np.array([[4e-6, 1.5e-6], [1.5e-6, 9e-6]])
    analytic = math.pi * stats.chi2.ppf(0.95, 2) * math.sqrt(np.linalg.det(cov))
    errors = []
    for n in (2_000, 200_000):
        cloud = sim.gaussian_cloud(cov, n, mean=(0.01, 0.02), seed=11)
        m = sway_metrics(cloud, n / 60.0)  # any rate: positional descriptors do not depend on it
        errors.append(abs(m["ellipse_area_95"] / analytic - 1))
        # A 95 % prediction ellipse holds about 95 % of the points.
    assert errors[1] < 0.01
    assert errors[1] < errors[0] or errors[0] < 0.01


def _rotate(cop: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]]) @ cop


INVARIANT = (
    "path_length",
    "mean_velocity",
    "mean_distance",
    "max_distance",
    "rms",
    "planar_deviation",
    "sd_distance",
    "range",
    "ellipse_area_95",
    "circle_area_95",
    "sway_area_per_second",
    "length_over_area",
    "fractal_dimension_cc",
    "fractal_dimension_ce",
    "mean_frequency_prieto",
    "total_power",
    "sway_density_mean_peak",
    "sway_density_peak_distance",
    "sway_density_peak_interval",
    "diffusion_short",
    "diffusion_long",
    "critical_time",
    "critical_displacement",
)


def test_translation_and_rotation_invariance() -> None:
    cop = sim.random_walk_sway(50.0, 40.0, seed=5)
    base = sway_metrics(cop, 50.0)
    moved = sway_metrics(_rotate(cop, 0.7) + np.array([[0.05], [-0.12]]), 50.0)
    for key in INVARIANT:
        assert moved[key] == pytest.approx(base[key], rel=1e-7), key
    # Per-axis values are not rotation invariant, but translation leaves them alone.
    shifted = sway_metrics(cop + np.array([[0.05], [-0.12]]), 50.0)
    for key in ("rms_ml", "range_ap", "mean_velocity_ml", "power_frequency_95_ap", "diffusion_short_ml"):
        assert shifted[key] == pytest.approx(base[key], rel=1e-9), key
    assert shifted["mean_position_ml"] == pytest.approx(base["mean_position_ml"] + 0.05, abs=1e-12)


def test_sway_density_matches_the_definition() -> None:
    cop = sim.random_walk_sway(25.0, 20.0, seed=9)
    fs, radius = 25.0, 0.002
    fast = sway_density_curve(cop, fs, radius) * fs
    x, y = cop
    n = x.shape[0]
    for i in range(0, n - 1, 7):
        j = i + 1
        while j < n and (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2 <= radius**2:
            j += 1
        assert fast[i] == pytest.approx(j - i - 1, abs=1e-9)


def test_velocity_peaks_on_a_known_sign_pattern() -> None:
    v = np.array([1.0, 2.0, -1.0, -3.0, -2.0, 4.0, 1.0, -5.0, -0.5, 2.0])
    cop_v = np.stack([v, -v])[None]  # (1, 2, n)
    out = velocity_peaks(cop_v, fs=10.0)
    # Runs: [1,2] [-1,-3,-2] [4,1] [-5,-0.5] [2]; bounded: |−3|, 4, |−5|.
    assert out["velocity_zero_crossings_ml"][0] == pytest.approx(4 / 1.0)
    assert out["peak_velocity_pos_ml"][0] == pytest.approx(4.0)
    assert out["peak_velocity_neg_ml"][0] == pytest.approx(4.0)
    assert out["peak_velocity_all_ml"][0] == pytest.approx(4.0)
    assert out["peak_velocity_pos_ap"][0] == pytest.approx(4.0)  # mirrored: positive runs 3, 5


def test_msd_matches_brute_force_and_fit_recovers_two_lines() -> None:
    x = np.random.default_rng(2).normal(size=(2, 500)).cumsum(axis=-1)
    x -= x.mean(axis=-1, keepdims=True)
    msd = mean_square_displacement(x, 40)
    for k in (1, 7, 40):
        brute = np.mean((x[:, k:] - x[:, :-k]) ** 2, axis=-1)
        np.testing.assert_allclose(msd[:, k - 1], brute, rtol=1e-10)
    fs = 100.0
    t = np.arange(1, 1001) / fs
    ds, dl, tc = 3e-6, 4e-7, 1.3
    line_s = 2 * ds * t
    line_l = 2 * ds * tc + 2 * dl * (t - tc)
    curve = np.where(t <= tc, line_s, line_l)
    out = diffusion_fit(t, curve, (29, 249))
    assert out["diffusion_short"] == pytest.approx(ds, rel=1e-9)
    assert out["diffusion_long"] == pytest.approx(dl, rel=1e-9)
    assert out["critical_time"] == pytest.approx(tc, rel=1e-9)
    assert out["critical_displacement"] == pytest.approx(2 * ds * tc, rel=1e-9)
    assert out["scaling_short"] == pytest.approx(0.5, rel=1e-9)  # MSD ∝ Δt → H = 1/2


def test_brownian_walk_short_term_diffusion() -> None:
    fs, sigma = 100.0, 2e-4
    walk = np.random.default_rng(4).normal(scale=sigma, size=(8, 2, 6000)).cumsum(axis=-1)
    m = sway_metrics(walk, fs)
    # MSD(k) = k·σ² per axis → D = σ²·fs/2.
    assert np.median(m["diffusion_short_ml"]) == pytest.approx(sigma**2 * fs / 2, rel=0.1)


def test_nan_runs_error_or_flag() -> None:
    cop = sim.random_walk_sway(100.0, 30.0, seed=1)
    bad = cop.copy()
    bad[:, 1000:1005] = np.nan
    with pytest.raises(KineticsInputError, match="missing samples"):
        sway_metrics(bad, 100.0)
    m = sway_metrics(bad, 100.0, max_gap=0.1)
    assert m.flags["gaps_filled"] is True
    assert sway_metrics(cop, 100.0).flags["gaps_filled"] is False
    long_gap = cop.copy()
    long_gap[:, 1000:1100] = np.nan
    with pytest.raises(KineticsInputError, match="longer than max_gap"):
        sway_metrics(long_gap, 100.0, max_gap=0.1)
    edge = cop.copy()
    edge[:, :3] = np.nan
    with pytest.raises(KineticsInputError, match="starts or ends"):
        sway_metrics(edge, 100.0, max_gap=0.1)


def test_short_and_malformed_input() -> None:
    with pytest.raises(KineticsInputError, match="shorter than"):
        sway_metrics(sim.random_walk_sway(100.0, 3.0), 100.0)
    with pytest.raises(KineticsInputError, match="2 rows"):
        sway_metrics(np.zeros((3, 1000)), 100.0)
    with pytest.raises(KineticsInputError, match="unknown method"):
        sway_metrics(sim.random_walk_sway(100.0, 30.0), 100.0, method="prieto")
    with pytest.warns(KineticsWarning, match="short"):
        m = sway_metrics(sim.random_walk_sway(100.0, 6.0), 100.0)
    assert m.flags["short_trial"] is True
    assert np.isnan(m["critical_time"]) and m.flags["no_critical_point"] is True
    assert np.isfinite(m["mean_velocity"])


def test_still_cop_is_flagged_not_a_warning() -> None:
    """A COP that never moves (a plate loaded by a dead weight) gives zero sway and flags its NaN descriptors."""
    m = sway_metrics(np.zeros((2, 6000)), 100.0)
    assert m["path_length"] == 0.0 and m["diffusion_short"] == 0.0
    assert np.isnan(m["critical_time"])
    assert m.flags["nan_descriptor"] and m.flags["no_critical_point"]
