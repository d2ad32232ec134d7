"""ROM scores on exact analytic angles, the full IMU pipeline, batches and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.rom import calibrate_zero_pose, orientation, repetitions, rom_metrics, segment_angle, smooth_angle
from kinetics.simulate.imu import flexion_profile, sinusoidal_flexion

FS = 200.0
A, F, REPS = 90.0, 0.25, 5


def _end_range_time(amplitude: float, frequency: float, reps: int, band: float) -> float:
    return reps * np.arccos(1.0 - 2.0 * band / amplitude) / (np.pi * frequency)


def _rep_duration(frequency: float) -> float:
    # from leaving to re-entering 5 % of the excursion: A(1 − cos φ)/2 = 0.05 A  ⇔  cos φ = 0.9
    return (1.0 - np.arccos(0.9) / np.pi) / frequency


def test_exact_flexion_scores() -> None:
    angle = flexion_profile(FS, amplitude=A, frequency=F, repetitions=REPS)
    m = rom_metrics(angle, FS)
    assert m["rom"] == pytest.approx(A, abs=0.05)
    assert m["max_angle"] == pytest.approx(A, abs=0.01)
    assert m["min_angle"] == pytest.approx(0.0, abs=0.05)
    assert m["repetitions"] == REPS
    assert m["peak_angular_velocity"] == pytest.approx(np.pi * A * F, rel=1e-3)
    assert m["time_at_end_range"] == pytest.approx(_end_range_time(A, F, REPS, 5.0), abs=2 * REPS / FS)
    assert m["mean_repetition_range"] == pytest.approx(A, abs=0.05)
    assert m["mean_repetition_duration"] == pytest.approx(_rep_duration(F), abs=2 / FS)
    assert m.unit("peak_angular_velocity") == "deg/s" and m.unit("time_at_end_range") == "s"
    assert not m.flags["no_movement"]
    assert m.params["cutoff"] == 6.0 and m.params["fs"] == FS


def test_per_repetition_details() -> None:
    angle = flexion_profile(FS, amplitude=A, frequency=F, repetitions=REPS, rest_before=3.0)
    reps = repetitions(angle, FS)
    assert reps.count == REPS and reps.direction == "positive"
    np.testing.assert_allclose(reps.peak, 3.0 + (np.arange(REPS) + 0.5) / F, atol=1.5 / FS)
    np.testing.assert_allclose(reps.range, A, atol=0.05)
    np.testing.assert_allclose(reps.duration, _rep_duration(F), atol=2 / FS)
    np.testing.assert_allclose(reps.start, 3.0 + np.arange(REPS) / F + np.arccos(0.9) / (2 * np.pi * F), atol=2 / FS)
    np.testing.assert_allclose(reps.peak_angle, A, atol=0.01)


def test_raw_range_overstates_and_smoothing_fixes_it() -> None:
    angle = flexion_profile(FS, amplitude=A, frequency=F, repetitions=REPS)
    noisy = angle + np.random.default_rng(0).normal(0.0, 1.0, angle.size)
    assert np.ptp(noisy) > A + 4.0
    m = rom_metrics(noisy, FS)
    assert m["rom"] == pytest.approx(A, abs=1.0)
    assert m["repetitions"] == REPS
    assert rom_metrics(noisy, FS, cutoff=None)["rom"] == pytest.approx(np.ptp(noisy))


def test_imu_pipeline_rom_of_a_90_degree_flexion() -> None:
    rec = sinusoidal_flexion(FS, amplitude=A, frequency=F, repetitions=REPS, gyr_bias=(0.01, -0.008, 0.005), seed=2)
    quat = orientation(rec.gyr, rec.acc, rec.fs)
    angle = segment_angle(quat, rec.axis, zero_pose=calibrate_zero_pose(quat, FS, start=0.5, duration=2.0))
    m = rom_metrics(angle, FS)
    assert m["rom"] == pytest.approx(A, abs=1.0)
    assert m["repetitions"] == REPS
    assert m["peak_angular_velocity"] == pytest.approx(np.pi * A * F, rel=0.02)


def test_negative_direction_and_partial_repetitions() -> None:
    angle = -flexion_profile(FS, amplitude=60.0, frequency=0.5, repetitions=3)
    m = rom_metrics(angle, FS)
    assert m["repetitions"] == 3 and m["min_angle"] == pytest.approx(-60.0, abs=0.01)
    assert m["time_at_end_range"] == pytest.approx(_end_range_time(60.0, 0.5, 3, 5.0), abs=6 / FS)
    assert repetitions(angle, FS).direction == "negative"
    assert rom_metrics(angle, FS, direction="negative")["repetitions"] == 3
    # read as positive, only the 2 returns to 0 between the 3 movements are peaks
    assert rom_metrics(angle, FS, direction="positive")["repetitions"] == 2
    # stopping at the top of a 4th repetition: it never returned, so it does not count
    full = flexion_profile(FS, amplitude=60.0, frequency=0.5, repetitions=4, rest_after=0)
    top_of_fourth = int((3.0 + 3 / 0.5 + 1.0) * FS)  # rest 3 s, three 2-s repetitions, half of the fourth
    assert rom_metrics(full[: top_of_fourth + 1], FS)["repetitions"] == 3
    assert rom_metrics(full, FS)["repetitions"] == 4
    # small wiggles below min_range are not repetitions
    wiggle = full + 8.0 * np.sin(2 * np.pi * 3.0 * np.arange(full.size) / FS) * (full > 30)
    assert rom_metrics(wiggle, FS, min_range=20.0)["repetitions"] == 4


def test_batched_equals_single() -> None:
    trials = [
        flexion_profile(FS, amplitude=90.0, frequency=0.25, repetitions=5, rest_after=8.0),
        flexion_profile(FS, amplitude=40.0, frequency=0.5, repetitions=3, rest_after=16.0),
        -flexion_profile(FS, amplitude=120.0, frequency=0.2, repetitions=4, rest_after=8.0),
        np.random.default_rng(1).normal(0.0, 0.1, 1),
    ]
    n = min(t.size for t in trials[:3])
    trials[3] = np.random.default_rng(1).normal(0.0, 0.1, n)
    batch = np.stack([t[:n] for t in trials]).reshape(2, 2, n)
    m = rom_metrics(batch, FS)
    assert m["rom"].shape == (2, 2)
    for i in range(2):
        for j in range(2):
            single = rom_metrics(batch[i, j], FS)
            for key in single:
                np.testing.assert_allclose(m[key][i, j], single[key], rtol=1e-12)
            assert m.flags["no_movement"][i, j] == single.flags["no_movement"]
    np.testing.assert_array_equal(m["repetitions"], [[5, 3], [4, 0]])


def test_still_sensor_is_flagged() -> None:
    still = np.random.default_rng(4).normal(10.0, 0.05, 2000)
    m = rom_metrics(still, FS)
    assert m.flags["no_movement"]
    assert m["repetitions"] == 0 and np.isnan(m["mean_repetition_range"])
    assert repetitions(still, FS).count == 0


@pytest.mark.parametrize(
    ("angle", "kwargs", "match"),
    [
        (np.r_[np.zeros(50), np.nan, np.zeros(50)], {}, "NaN"),
        (np.zeros(5), {}, "samples"),
        (np.zeros(100), {"cutoff": 150.0}, "Nyquist"),
        (np.zeros(100), {"end_range_band": 0.0}, "end_range_band"),
        (np.zeros(100), {"direction": "up"}, "direction"),
    ],
)
def test_bad_rom_input(angle: np.ndarray, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(KineticsInputError, match=match):
        rom_metrics(angle, FS, **kwargs)  # type: ignore[arg-type]


def test_repetitions_need_one_trial() -> None:
    with pytest.raises(KineticsInputError, match="one trial"):
        repetitions(np.zeros((2, 100)), FS)
    with pytest.raises(KineticsInputError, match="min_range"):
        repetitions(np.zeros(100), FS, min_range=-1.0)


def test_smoothing_keeps_slow_motion_and_removes_noise() -> None:
    t = np.arange(4000) / FS
    slow = 30.0 * np.sin(2 * np.pi * 0.5 * t)
    fast = 5.0 * np.sin(2 * np.pi * 30.0 * t)
    out = smooth_angle(slow + fast, FS)
    assert np.max(np.abs(out - slow)[200:-200]) < 0.05  # 30 Hz is 5× the cutoff: −56 dB after two passes
