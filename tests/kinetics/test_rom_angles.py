"""Segment and joint angles from simulated IMUs with exactly known angles, and their calibration."""

from __future__ import annotations

import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.rom import (
    OrientationEstimate,
    calibrate_joint,
    calibrate_zero_pose,
    estimate_orientation,
    joint_angle,
    orientation,
    quat_angle,
    quat_from_axis_angle,
    quat_multiply,
    segment_angle,
)
from kinetics.simulate.imu import (
    JointRecording,
    constant_rate_rotation,
    flexion_profile,
    imu_from_orientation,
    joint_motion,
    sinusoidal_flexion,
)

FS = 200.0


@pytest.mark.parametrize("offline", [False, True])
def test_constant_rate_rotation_angle(offline: bool) -> None:
    rec = constant_rate_rotation(45.0, 20.0, FS, gyr_noise=0.002, acc_noise=0.02)
    quat = orientation(rec.gyr, rec.acc, rec.fs, offline=offline)
    angle = segment_angle(quat, rec.axis)
    assert rec.angle[-1] == pytest.approx(900.0)  # 2.5 turns: the angle is unwrapped past ±180°
    assert np.max(np.abs(angle - rec.angle)) < 0.5


def test_sinusoidal_flexion_angle_with_noise_and_gyro_bias() -> None:
    rec = sinusoidal_flexion(FS, amplitude=90.0, gyr_bias=(0.01, -0.008, 0.005), seed=1)
    quat = orientation(rec.gyr, rec.acc, rec.fs)  # the real-time filter, as on the live screen
    zero = calibrate_zero_pose(quat, rec.fs, start=0.5, duration=2.0)
    angle = segment_angle(quat, rec.axis, zero_pose=zero)
    assert np.max(np.abs(angle - rec.angle)) < 0.5
    # projection on a wrong axis loses angle: the test above would catch a swapped axis
    wrong = segment_angle(quat, np.cross(rec.axis, (0.0, 0.0, 1.0)), zero_pose=zero)
    assert np.max(np.abs(wrong - rec.angle)) > 30.0


def test_segment_angle_is_exact_on_true_orientation_and_batched() -> None:
    rec = sinusoidal_flexion(FS, amplitude=120.0, repetitions=2, gyr_noise=0.0, acc_noise=0.0)
    np.testing.assert_allclose(segment_angle(rec.quat, rec.axis), rec.angle, atol=1e-9)
    other = constant_rate_rotation(-30.0, (rec.quat.shape[0] - 601) / FS, FS)
    both = segment_angle(np.stack([rec.quat, other.quat]), rec.axis)
    np.testing.assert_allclose(both[0], segment_angle(rec.quat, rec.axis))
    np.testing.assert_allclose(both[1], segment_angle(other.quat, rec.axis))
    # the zero pose shifts the angle by the zero pose's own angle about the axis
    shifted = segment_angle(rec.quat, rec.axis, zero_pose=rec.quat[700])
    np.testing.assert_allclose(shifted, rec.angle - rec.angle[700], atol=1e-9)


def test_zero_pose_rejects_movement() -> None:
    rec = sinusoidal_flexion(FS, rest_before=1.0, gyr_noise=0.0, acc_noise=0.0)
    np.testing.assert_allclose(calibrate_zero_pose(rec.quat, FS, duration=1.0), rec.quat[0], atol=1e-12)
    with pytest.raises(KineticsInputError, match="moved"):
        calibrate_zero_pose(rec.quat, FS, start=0.5, duration=1.5)
    with pytest.raises(KineticsInputError, match="no samples"):
        calibrate_zero_pose(rec.quat, FS, start=1000.0)


def _joint_recording(
    offline: bool = False,
) -> tuple[JointRecording, OrientationEstimate, OrientationEstimate, float]:
    calibration_sweep = flexion_profile(FS, amplitude=70.0, frequency=0.4, repetitions=3, rest_before=3.0, rest_after=0)
    exercise = flexion_profile(FS, amplitude=110.0, frequency=0.2, repetitions=4, rest_before=1.0, rest_after=1.0)
    rec = joint_motion(np.concatenate([calibration_sweep, exercise]), FS, proximal_sway=20.0)
    prox = estimate_orientation(rec.proximal.gyr, rec.proximal.acc, FS, offline=offline)
    dist = estimate_orientation(rec.distal.gyr, rec.distal.acc, FS, offline=offline)
    return rec, prox, dist, calibration_sweep.size / FS


@pytest.mark.parametrize("offline", [False, True])
def test_joint_angle_with_functional_calibration(offline: bool) -> None:
    rec, prox, dist, sweep_end = _joint_recording(offline)
    cal = calibrate_joint(
        prox.quat,
        dist.quat,
        rec.proximal.gyr - prox.bias,
        rec.distal.gyr - dist.bias,
        FS,
        zero=(0.5, 2.5),
        sweep=(2.5, sweep_end),
    )
    assert np.degrees(np.arccos(cal.axis @ rec.axis_distal)) < 1.0  # axis and its flexion-positive sign
    assert np.degrees(np.arccos(cal.axis_proximal @ rec.axis_proximal)) < 1.0
    assert cal.planarity > 0.99 and cal.heading_contrast > 0.05
    assert cal.sweep_range == pytest.approx(70.0, abs=1.0)
    angle = cal.angle(prox.quat, dist.quat)
    assert np.max(np.abs(angle - rec.angle)) < 0.5
    # ignoring the heading offset between two 6D estimates breaks the angle once the thigh tilts
    unaligned = joint_angle(prox.quat, dist.quat, cal.axis, cal.zero_pose)
    assert np.max(np.abs(unaligned - rec.angle)) > 5.0


def test_joint_angle_exact_on_true_orientations() -> None:
    rec = joint_motion(flexion_profile(FS, repetitions=2), FS, gyr_noise=0.0, acc_noise=0.0)
    angle = joint_angle(rec.proximal.quat, rec.distal.quat, rec.axis_distal, rec.zero_pose)
    np.testing.assert_allclose(angle, rec.angle, atol=1e-9)


def test_sign_hint_sets_flexion_positive() -> None:
    rec, prox, dist, sweep_end = _joint_recording()
    gyr_p, gyr_d = rec.proximal.gyr - prox.bias, rec.distal.gyr - dist.bias
    flipped = calibrate_joint(
        prox.quat, dist.quat, gyr_p, gyr_d, FS, zero=(0.5, 2.5), sweep=(2.5, sweep_end), sign_hint=-rec.axis_distal
    )
    assert flipped.axis @ rec.axis_distal < -0.99
    assert np.max(np.abs(flipped.angle(prox.quat, dist.quat) + rec.angle)) < 0.5


def test_joint_calibration_rejects_still_and_twisting_sweeps() -> None:
    still = joint_motion(np.zeros(int(10 * FS)), FS, proximal_sway=0.0)
    with pytest.raises(KineticsInputError, match="moved only"):
        calibrate_joint(still.proximal.quat, still.distal.quat, still.proximal.gyr, still.distal.gyr, FS)
    # a distal segment turning about two axes at once is not a hinge
    rec = joint_motion(flexion_profile(FS, amplitude=60.0, repetitions=3), FS, gyr_noise=0.0, acc_noise=0.0)
    twist = np.radians(np.sin(np.linspace(0, 12 * np.pi, rec.angle.size))) * 2000.0
    q_distal = quat_multiply(rec.distal.quat, quat_from_axis_angle(np.cross(rec.axis_distal, (1, 0, 0)), twist))
    gyr_d, _ = imu_from_orientation(q_distal, FS)
    assert np.max(quat_angle(quat_multiply(q_distal, rec.distal.quat * [1, -1, -1, -1]))) > 30.0
    with pytest.raises(KineticsInputError, match="about one axis"):
        calibrate_joint(rec.proximal.quat, q_distal, rec.proximal.gyr, gyr_d, FS, zero=(0.0, 0.004))
    with pytest.raises(KineticsInputError, match=r"shape \(\d+, 3\)"):
        calibrate_joint(rec.proximal.quat, rec.distal.quat, rec.proximal.gyr[:10], rec.distal.gyr, FS)


def test_bad_angle_input() -> None:
    q = np.tile([1.0, 0.0, 0.0, 0.0], (10, 1))
    with pytest.raises(KineticsInputError, match="zero length"):
        segment_angle(q, (0.0, 0.0, 0.0))
    q[3, 1] = np.nan
    with pytest.raises(KineticsInputError, match="NaN"):
        segment_angle(q, (1.0, 0.0, 0.0))
    with pytest.raises(KineticsInputError, match="one clock"):
        joint_angle(np.tile([1.0, 0, 0, 0], (10, 1)), np.tile([1.0, 0, 0, 0], (9, 1)), (1.0, 0, 0))
