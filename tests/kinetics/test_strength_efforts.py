"""Repetitions, fatigue and endurance on simulated series with known answers."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.simulate.force import fatiguing_efforts, isometric_force, repeated_efforts
from kinetics.strength import endurance_metrics, isometric_metrics, repetition_metrics, split_efforts

FS = 1000.0
TAU, RISE, RELEASE = 0.05, 1.0, 0.4


def plateau(fmax: float) -> float:
    return fmax * (1 - math.exp(-RISE / TAU))


@pytest.mark.parametrize("n_efforts", [1, 2, 3, 6])
def test_split_finds_exact_efforts(n_efforts: int) -> None:
    fmax = [300.0 + 10 * i for i in range(n_efforts)]
    force, onsets = repeated_efforts(FS, fmax=fmax, tau=TAU, rise=RISE, release=RELEASE, rest=1.5)
    ef = split_efforts(force, FS)
    assert ef.count == n_efforts
    np.testing.assert_array_equal(ef.start, onsets)
    np.testing.assert_array_equal(ef.end, onsets + round((RISE + RELEASE) * FS))
    noisy, _ = repeated_efforts(FS, fmax=fmax, tau=TAU, rise=RISE, release=RELEASE, rest=1.5, noise_sd=1.0)
    assert split_efforts(noisy, FS).count == n_efforts


def test_short_dips_merge_and_short_spikes_are_dropped() -> None:
    force = np.zeros(5000)
    force[1000:1500] = 100.0
    force[1550:2000] = 100.0  # a 50 ms dip
    force[3000:3030] = 100.0  # a 30 ms spike
    assert split_efforts(force, FS, method="absolute", threshold=10.0).count == 1
    ef = split_efforts(force, FS, method="absolute", threshold=10.0, min_rest=0.02, min_duration=0.02)
    assert ef.count == 3
    np.testing.assert_array_equal(ef.start, [999, 1549, 2999])
    np.testing.assert_array_equal(ef.end, [1500, 2000, 3030])


def test_repetition_summary_is_exact_for_a_linear_fatigue_series() -> None:
    fmax, decline, n = 400.0, 0.05, 5
    force, _ = fatiguing_efforts(FS, n_efforts=n, fmax=fmax, decline=decline, tau=TAU, rise=RISE, release=RELEASE)
    m = repetition_metrics(force, FS)
    peaks = [plateau(fmax * (1 - decline * i)) for i in range(n)]
    assert m["n_efforts"] == n
    for i, p in enumerate(peaks, start=1):
        assert m[f"peak_force_rep{i}"] == pytest.approx(p, rel=1e-12)
    assert m["best_peak_force"] == pytest.approx(max(peaks), rel=1e-12)
    assert m["mean_peak_force"] == pytest.approx(statistics.fmean(peaks), rel=1e-12)
    assert m["sd_peak_force"] == pytest.approx(statistics.stdev(peaks), rel=1e-10)
    assert m["cv_peak_force"] == pytest.approx(statistics.stdev(peaks) / statistics.fmean(peaks) * 100, rel=1e-10)
    assert m["fatigue_index"] == pytest.approx(decline * (n - 1) * 100, rel=1e-10)  # 20 %
    assert m["fatigue_slope"] == pytest.approx(-plateau(fmax) * decline, rel=1e-10)
    assert m.unit("fatigue_slope") == "N/rep" and m.unit("cv_peak_force") == "%"
    assert m.flags["inconsistent_effort"] is False
    span = repetition_metrics(force, FS, fatigue_span=2)
    first, last = (peaks[0] + peaks[1]) / 2, (peaks[3] + peaks[4]) / 2
    assert span["fatigue_index"] == pytest.approx((first - last) / first * 100, rel=1e-10)


def test_each_effort_scores_like_an_isometric_trial() -> None:
    force, onsets = repeated_efforts(FS, fmax=[300.0, 250.0], tau=TAU, rise=RISE, release=RELEASE, rest=2.0)
    m = repetition_metrics(force, FS)
    ef = split_efforts(force, FS)
    for i in range(2):
        segment = force[max(ef.start[i] - 600, 0) : ef.end[i] + 100]
        single = isometric_metrics(segment, FS)
        assert m[f"impulse_rep{i + 1}"] == pytest.approx(single["impulse"], rel=1e-12)
        assert m[f"peak_force_rep{i + 1}"] == single["peak_force"]
        assert m[f"onset_time_rep{i + 1}"] == onsets[i] / FS
        assert m[f"duration_rep{i + 1}"] == pytest.approx(RISE + RELEASE, abs=1e-12)


def test_inconsistent_effort_flag_uses_the_cv_limit() -> None:
    wild, _ = repeated_efforts(FS, fmax=[300.0, 300.0, 420.0], tau=TAU, rise=RISE, release=RELEASE)
    steady, _ = repeated_efforts(FS, fmax=[300.0, 306.0, 294.0], tau=TAU, rise=RISE, release=RELEASE)
    mw = repetition_metrics(wild, FS)
    assert mw["cv_peak_force"] > 15.0 and mw.flags["inconsistent_effort"] is True
    assert repetition_metrics(steady, FS).flags["inconsistent_effort"] is False
    assert repetition_metrics(wild, FS, cv_limit=25.0).flags["inconsistent_effort"] is False


def test_batched_repetitions_equal_single_calls_with_padding() -> None:
    a, _ = repeated_efforts(FS, fmax=[300.0, 280.0], tau=TAU, rise=RISE, release=RELEASE, rest=1.0)
    b, _ = repeated_efforts(FS, fmax=[300.0, 280.0, 260.0, 240.0], tau=TAU, rise=RISE, release=RELEASE, rest=1.0)
    a = np.pad(a, (0, b.size - a.size))
    c = np.random.default_rng(0).normal(0, 1.0, a.size)  # no effort
    batch = np.stack([a, b, c])
    ef = split_efforts(batch, FS)
    np.testing.assert_array_equal(ef.count, [2, 4, 0])
    assert ef.start.shape == (3, 4) and (ef.start[0, 2:] == -1).all() and (ef.start[2] == -1).all()
    mb = repetition_metrics(batch, FS)
    for row in range(3):
        single = repetition_metrics(batch[row], FS)
        for key in mb:
            s = single.data.get(key, math.nan)
            v = mb[key][row]
            assert (s == v) or (math.isnan(s) and math.isnan(v)), (row, key, s, v)
        assert single.flags == mb.select(row).flags
    assert mb.flags["no_effort"].tolist() == [False, False, True]
    assert mb.flags["too_few_efforts"].tolist() == [False, False, True]


def test_endurance_times_on_a_linear_decline() -> None:
    peak, up, hold, down = 300.0, 1.0, 2.0, 4.0
    nu, nh, nd = round(up * FS), round(hold * FS), round(down * FS)
    force = np.concatenate(
        [
            np.zeros(1000),
            peak * np.arange(nu) / nu,
            np.full(nh, peak),
            peak * (1 - np.arange(nd + 1) / nd),
            np.zeros(500),
        ]
    )
    m = endurance_metrics(force, FS)
    # Time is counted from the (first) peak sample, the start of the plateau.
    assert m["time_to_75pct"] == pytest.approx(hold + 0.25 * down, abs=1e-12)
    assert m["time_to_50pct"] == pytest.approx(hold + 0.5 * down, abs=1e-12)
    assert m["time_to_25pct"] == pytest.approx(hold + 0.75 * down, abs=1e-12)
    # Samples ≥ 50 %: up-ramp k = 500…999 (500), plateau (2000), down-ramp j = 0…2000 (2001).
    assert m["time_above_50pct"] == pytest.approx((500 + 2000 + 2001) / FS, abs=1e-12)
    assert not any(m.flags.values())
    cut = endurance_metrics(force[: 1000 + nu + nh + 2500], FS)
    assert cut.flags["incomplete_decline"] is True and math.isnan(cut["time_to_25pct"])
    assert cut["time_to_50pct"] == pytest.approx(m["time_to_50pct"], abs=1e-12)


def test_endurance_batched_equals_single() -> None:
    rows = np.stack(
        [
            isometric_force(FS, 8.0, onset=1.0 + 0.1 * i, fmax=200 + 30 * i, tau=0.1, rise=2.0, release=3.0)
            for i in range(3)
        ]
    )
    batch = endurance_metrics(rows, FS)
    for i in range(3):
        single = endurance_metrics(rows[i], FS)
        for key in single:
            assert single[key] == batch[key][i]


def test_bad_input_for_repetitions() -> None:
    with pytest.raises(KineticsInputError, match="NaN"):
        split_efforts(np.r_[np.zeros(800), np.nan, np.zeros(800)], FS)
    with pytest.raises(KineticsInputError, match="cv_limit"):
        repetition_metrics(np.zeros(2000), FS, cv_limit=0)
    with pytest.raises(KineticsInputError, match="fatigue_span"):
        repetition_metrics(np.zeros(2000), FS, fatigue_span=0)
    with pytest.raises(KineticsInputError, match="min_rest"):
        split_efforts(np.zeros(2000), FS, min_rest=-1)
    m = repetition_metrics(np.random.default_rng(1).normal(0, 1, 3000), FS)
    assert m.flags["no_effort"] is True and m["n_efforts"] == 0 and math.isnan(m["best_peak_force"])
