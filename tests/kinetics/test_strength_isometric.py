"""Isometric metrics against analytic force curves with exactly known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.simulate.force import add_noise, isometric_force, to_pressure
from kinetics.strength import isometric_metrics

FS = 1000.0
FMAX, TAU = 500.0, 0.08
ONSET, RISE, RELEASE = 1.0, 0.6, 0.5  # rise short enough that the force still grows at its end


def exp_trace(baseline: float = 0.0) -> np.ndarray:
    return isometric_force(FS, 6.0, onset=ONSET, fmax=FMAX, tau=TAU, rise=RISE, release=RELEASE, baseline=baseline)


def rise_force(t: float) -> float:
    return FMAX * (1.0 - math.exp(-t / TAU))


def exact_trapezoid_impulse() -> float:
    """Trapezoid rule over the sampled effort, in closed form (geometric series for the rise, a triangle after)."""
    dt = 1.0 / FS
    n = round(RISE * FS)
    r = math.exp(-dt / TAU)
    total = FMAX * ((n + 1) - (1.0 - r ** (n + 1)) / (1.0 - r))
    top = FMAX * (1.0 - r**n)
    rise_part = dt * (total - 0.5 * (0.0 + top))
    return rise_part + 0.5 * top * RELEASE


def test_exponential_rise_gives_exact_onset_rfd_and_force_at() -> None:
    m = isometric_metrics(exp_trace(), FS)
    assert m["onset_time"] == ONSET  # onset sample 1000 exactly
    assert m.params["onset_method"] == "noise5sd" and m.params["k"] == 5.0 and m.params["fs"] == FS
    for delta in (0.05, 0.1, 0.2):
        ms = round(delta * 1000)
        assert m[f"rfd_0_{ms}"] == pytest.approx(FMAX * (1 - math.exp(-delta / TAU)) / delta, rel=1e-12)
        assert m[f"force_at_{ms}ms"] == pytest.approx(rise_force(delta), rel=1e-12)
    # The rise is concave, so the steepest 20 ms secant is the first one.
    assert m["peak_rfd_20ms"] == pytest.approx(FMAX * (1 - math.exp(-0.02 / TAU)) / 0.02, rel=1e-12)
    assert m["peak_force"] == pytest.approx(rise_force(RISE), rel=1e-14)
    assert m["time_to_peak"] == pytest.approx(RISE, abs=1e-12)
    assert m.unit("rfd_0_50") == "N/s" and m.unit("impulse") == "N·s" and m.unit("onset_time") == "s"
    assert not any(m.flags.values())


def test_exponential_rise_gives_exact_impulse_and_relaxation() -> None:
    m = isometric_metrics(exp_trace(), FS)
    expected = exact_trapezoid_impulse()
    assert m["impulse"] == pytest.approx(expected, rel=1e-11)
    assert m["net_impulse"] == pytest.approx(expected, rel=1e-11)
    # Against the continuous integral: the trapezoid rule's error is dt²/12·(f'(end) − f'(start)) on the
    # exponential rise (Euler–Maclaurin, next term O(dt⁴)); the linear release is integrated exactly.
    continuous = FMAX * (RISE - TAU * (1 - math.exp(-RISE / TAU))) + 0.5 * rise_force(RISE) * RELEASE
    slope_start, slope_end = FMAX / TAU, FMAX / TAU * math.exp(-RISE / TAU)
    assert m["impulse"] == pytest.approx(continuous + (slope_end - slope_start) / (12 * FS**2), rel=1e-10)
    # Linear release from the peak: 90 % → 10 % takes 0.8 of it.
    assert m["relaxation_time"] == pytest.approx(0.8 * RELEASE, abs=1e-12)


def test_baseline_offset_moves_gross_not_net_impulse() -> None:
    offset = 20.0
    plain = isometric_metrics(exp_trace(), FS)
    lifted = isometric_metrics(exp_trace(offset), FS)
    assert lifted["onset_time"] == ONSET
    assert lifted["baseline_force"] == offset
    assert lifted["net_impulse"] == pytest.approx(plain["net_impulse"], rel=1e-11)
    assert lifted["impulse"] == pytest.approx(plain["impulse"] + offset * (RISE + RELEASE), rel=1e-11)
    assert lifted["rfd_0_100"] == pytest.approx(plain["rfd_0_100"], rel=1e-9)


def trapezoid(up: float, hold: float, down: float, peak: float, lead: float = 1.0, tail: float = 1.0) -> np.ndarray:
    """Linear rise to ``peak`` over ``up`` s, flat ``hold`` s, linear fall over ``down`` s (1 kHz)."""
    nu, nh, nd = round(up * FS), round(hold * FS), round(down * FS)
    return np.concatenate(
        [
            np.zeros(round(lead * FS)),
            peak * np.arange(nu) / nu,
            np.full(nh, peak),
            peak * (1 - np.arange(nd + 1) / nd),
            np.zeros(round(tail * FS)),
        ]
    )


def test_linear_ramp_gives_exact_rtd_rfd_impulse_and_fixed_hold() -> None:
    peak, up = 400.0, 0.5
    force = trapezoid(up, 2.0, 0.25, peak)
    m = isometric_metrics(force, FS, hold=(1.0, 2.0))
    slope = peak / up
    assert m["onset_time"] == 1.0
    assert m["rtd_20_80"] == pytest.approx(slope, rel=1e-12)
    assert m["rfd_0_100"] == pytest.approx(slope, rel=1e-12)
    assert m["peak_rfd_20ms"] == pytest.approx(slope, rel=1e-12)
    assert m["impulse"] == pytest.approx(0.5 * peak * up + peak * 2.0 + 0.5 * peak * 0.25, rel=1e-12)
    assert m["mean_force"] == peak  # fixed window on the plateau
    assert m["hold_duration"] == pytest.approx(1.001)  # samples 1000…2000 after onset, inclusive
    assert m["relaxation_time"] == pytest.approx(0.8 * 0.25, abs=1e-12)
    assert m["time_to_peak"] == pytest.approx(up, abs=1e-12)


def test_fraction_hold_is_the_contiguous_window_above_90_percent() -> None:
    peak = 400.0
    force = trapezoid(0.5, 2.0, 0.5, peak)
    m = isometric_metrics(force, FS)  # hold=0.9
    window = force[force >= 0.9 * peak]  # contiguous for a trapezoid
    assert m["mean_force"] == pytest.approx(window.mean(), rel=1e-12)
    assert m["hold_duration"] == pytest.approx(window.size / FS, rel=1e-12)


def test_known_noise_sd_sets_the_onset() -> None:
    # Baseline alternating ±1 N: mean 0, population SD exactly 1, so the 5 SD level is 5 N.
    n0 = 1000
    quiet = np.where(np.arange(n0) % 2 == 0, 1.0, -1.0)
    ramp = np.arange(0, 2001, dtype=float)  # 1000 N/s at 1 kHz: F = k N at k samples after onset
    force = np.concatenate([quiet, ramp, ramp[::-1][1:], np.zeros(500)])
    m = isometric_metrics(force, FS, baseline=0.5)
    assert m["baseline_sd"] == 1.0 and m["onset_level"] == 5.0
    assert m["onset_time"] == (n0 + 5) / FS  # last sample ≤ 5 N
    assert m.method == "noise5sd"
    m3 = isometric_metrics(force, FS, method="noise3sd")
    assert m3["onset_time"] == (n0 + 3) / FS and m3.params["k"] == 3.0
    ab = isometric_metrics(force, FS, method="absolute", threshold=10.0)
    assert ab["onset_time"] == (n0 + 10) / FS
    assert ab.method == "absolute" and ab.params["threshold"] == 10.0


def test_scaling_force_scales_peak_rfd_impulse_not_times() -> None:
    force = add_noise(exp_trace(), 0.8, seed=3)
    c = 2.5
    a = isometric_metrics(force, FS)
    b = isometric_metrics(c * force, FS)
    for key in ("peak_force", "rfd_0_50", "rfd_0_200", "peak_rfd_20ms", "rtd_20_80", "impulse", "net_impulse"):
        assert b[key] == pytest.approx(c * a[key], rel=1e-10), key
    for key in ("onset_time", "time_to_peak", "relaxation_time", "hold_duration"):
        assert b[key] == pytest.approx(a[key], rel=1e-10), key


def test_pressure_uses_the_same_function_in_pa() -> None:
    area = 2.0e-3
    force = add_noise(exp_trace(), 0.5, seed=1)
    f = isometric_metrics(force, FS)
    p = isometric_metrics(to_pressure(force, area), FS, unit="Pa")
    assert p.unit("peak_force") == "Pa" and p.unit("rfd_0_100") == "Pa/s" and p.unit("impulse") == "Pa·s"
    assert p["peak_force"] == pytest.approx(f["peak_force"] / area, rel=1e-12)
    assert p["impulse"] == pytest.approx(f["impulse"] / area, rel=1e-10)
    assert p["onset_time"] == f["onset_time"]


def _batch_signals() -> np.ndarray:
    rows = [
        add_noise(exp_trace(), 0.7, seed=0),
        add_noise(exp_trace(15.0), 1.2, seed=1),
        isometric_force(FS, 6.0, onset=1.7, fmax=250.0, tau=0.03, rise=1.0, release=0.3, noise_sd=0.5, seed=2),
        add_noise(np.zeros(6000), 1.0, seed=3),  # no effort
        # cut before its release: not released
        isometric_force(FS, 7.0, onset=3.0, fmax=300.0, tau=0.1, rise=3.5, release=0.1, noise_sd=0.3, seed=4)[:6000],
        np.concatenate([np.zeros(1000), np.full(5000, 100.0)]) + add_noise(np.zeros(6000), 0.4, seed=5),
    ]
    return np.stack(rows).reshape(2, 3, -1)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"hold": (0.5, 1.5)}, {"method": "absolute", "threshold": 20.0}, {"fixed_times": (0.03, 0.25)}],
)
def test_batched_equals_single(kwargs: dict) -> None:
    signals = _batch_signals()
    batch = isometric_metrics(signals, FS, **kwargs)
    assert batch["peak_force"].shape == (2, 3)
    for idx in np.ndindex(2, 3):
        single = isometric_metrics(signals[idx], FS, **kwargs)
        assert list(single) == list(batch)
        for key in single:
            s, b = single[key], batch[key][idx]
            assert (s == b) or (math.isnan(s) and math.isnan(b)), (idx, key, s, b)
        assert single.flags == batch.select(idx).flags


def test_no_effort_is_flagged_with_nan_metrics() -> None:
    m = isometric_metrics(add_noise(np.zeros(5000), 1.0, seed=7), FS)
    assert m.flags["no_effort"] is True
    assert math.isnan(m["peak_force"]) and math.isnan(m["rfd_0_100"]) and math.isnan(m["impulse"])
    assert not math.isnan(m["baseline_sd"])


def test_not_released_and_window_past_end_are_flagged() -> None:
    force = np.concatenate([np.zeros(1000), np.full(1000, 200.0)])
    force[1000:1100] = np.linspace(0, 200.0, 101)[1:]
    m = isometric_metrics(force, FS, fixed_times=(0.05, 2.0))
    assert m.flags["not_released"] is True and math.isnan(m["relaxation_time"])
    assert m.flags["window_past_end"] is True and math.isnan(m["rfd_0_2000"])
    assert not math.isnan(m["rfd_0_50"])


def test_effort_in_baseline_and_noisy_baseline_are_flagged() -> None:
    started = exp_trace()[800:]  # the effort starts 0.2 s in, inside the 0.5 s baseline
    flags = isometric_metrics(started, FS).flags
    assert flags["noisy_baseline"] is True and (flags["no_effort"] or flags["effort_in_baseline"])
    late = exp_trace()[550:]  # starts 0.45 s in: the baseline's 5 SD level is still below the peak
    late_flags = isometric_metrics(late, FS).flags
    assert late_flags["effort_in_baseline"] is True and late_flags["noisy_baseline"] is True
    quiet = isometric_metrics(add_noise(np.zeros(5000), 1.0, seed=7), FS).flags
    assert quiet["no_effort"] is True and quiet["noisy_baseline"] is False
    noisy = add_noise(exp_trace(), 15.0, seed=2)  # 5 SD = 75 N > 10 % of 500 N
    assert isometric_metrics(noisy, FS).flags["noisy_baseline"] is True


@pytest.mark.parametrize(
    ("force", "kwargs", "match"),
    [
        (np.r_[np.zeros(600), np.nan, np.ones(600)], {}, "NaN"),
        (np.zeros(400), {}, "baseline alone"),
        (np.zeros(2000), {"baseline": 0.005}, "at least 10 quiet samples"),
        (np.zeros(2000), {"method": "absolute"}, "needs a threshold"),
        (np.zeros(2000), {"method": "fancy"}, "unknown onset method"),
        (np.zeros(2000), {"hold": 1.5}, "fraction"),
        (np.zeros(2000), {"fixed_times": (0.05, -0.1)}, "positive"),
        (np.zeros(2000), {"unit": ""}, "unit"),
    ],
)
def test_bad_input_raises_clear_errors(force: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(KineticsInputError, match=match):
        isometric_metrics(force, FS, **kwargs)


def test_bad_rate_raises() -> None:
    with pytest.raises(KineticsInputError, match="fs"):
        isometric_metrics(exp_trace(), 0.0)
