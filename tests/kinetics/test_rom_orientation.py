"""Orientation (VQF) on the BROAD benchmark and synthetic IMUs; quaternion helpers; accelerometer inclination."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.rom import (
    STANDARD_GRAVITY,
    estimate_orientation,
    inclination_error,
    inclination_from_accelerometer,
    orientation,
    quat_angle,
    quat_angle_about_axis,
    quat_conjugate,
    quat_from_axis_angle,
    quat_from_rotvec,
    quat_mean,
    quat_multiply,
    quat_rotate,
    quat_to_rotvec,
    saturated_samples,
    tilt_from_accelerometer,
)
from kinetics.rom.orientation import DEFAULT_GYR_RANGE
from kinetics.simulate.imu import constant_rate_rotation, imu_from_orientation, segment_motion

SLOW = "02_undisturbed_slow_rotation_B"
FAST = "07_undisturbed_fast_rotation_B"


def _broad(shared_data: Path, trial: str) -> dict[str, Any]:
    with h5py.File(shared_data / "imu-broad" / f"{trial}.hdf5", "r") as f:
        return {
            "gyr": f["imu_gyr"][:],
            "acc": f["imu_acc"][:],
            "ref": f["opt_quat"][:],
            "movement": f["movement"][:].astype(bool),
            "fs": float(f.attrs["sampling_rate"]),
        }


def _inclination_rmse(quat: np.ndarray, ref: np.ndarray, movement: np.ndarray) -> float:
    err = inclination_error(quat, ref)
    scored = movement & np.isfinite(err)
    assert np.count_nonzero(np.isnan(err)) > 1000  # optical drop-outs give NaN errors, never a silent 0
    return float(np.sqrt(np.mean(err[scored] ** 2)))


# The data README gives VQF's published default-settings figures: 0.31°/0.96° offline, 0.43°/1.02° real time.
@pytest.mark.parametrize(
    ("trial", "offline", "published", "limit"),
    [
        (SLOW, False, 0.43, 0.5),
        (SLOW, True, 0.31, 0.5),
        (FAST, False, 1.02, 1.1),
        (FAST, True, 0.96, 1.1),
    ],
)
def test_broad_inclination_rmse(shared_data: Path, trial: str, offline: bool, published: float, limit: float) -> None:
    d = _broad(shared_data, trial)
    quat = orientation(d["gyr"], d["acc"], d["fs"], offline=offline)
    assert quat.shape == (len(d["gyr"]), 4)
    np.testing.assert_allclose(np.linalg.norm(quat, axis=1), 1.0, atol=1e-9)
    rmse = _inclination_rmse(quat, d["ref"], d["movement"])
    assert rmse < limit
    assert round(rmse, 2) == pytest.approx(published, abs=0.006)


def test_broad_inclination_error_is_heading_independent(shared_data: Path) -> None:
    d = _broad(shared_data, SLOW)
    quat = orientation(d["gyr"], d["acc"], d["fs"])
    turned = quat_multiply(quat_from_axis_angle((0, 0, 1), 73.0), quat)  # a different heading, same inclination
    np.testing.assert_allclose(
        _inclination_rmse(turned, d["ref"], d["movement"]), _inclination_rmse(quat, d["ref"], d["movement"]), rtol=1e-9
    )


# --- quaternion helpers ---------------------------------------------------------------------------------------


def test_quaternion_products_and_rotation() -> None:
    i, j, k = np.eye(4)[1], np.eye(4)[2], np.eye(4)[3]
    np.testing.assert_allclose(quat_multiply(i, j), k)
    np.testing.assert_allclose(quat_multiply(j, i), -k)
    q = quat_from_axis_angle((0, 0, 1), 90.0)
    np.testing.assert_allclose(quat_rotate(q, (1.0, 0.0, 0.0)), (0.0, 1.0, 0.0), atol=1e-15)
    rng = np.random.default_rng(3)
    qs = rng.normal(size=(50, 4))
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    np.testing.assert_allclose(quat_multiply(qs, quat_conjugate(qs)), np.tile([1.0, 0, 0, 0], (50, 1)), atol=1e-12)
    v = rng.normal(size=(50, 3))
    np.testing.assert_allclose(np.linalg.norm(quat_rotate(qs, v), axis=1), np.linalg.norm(v, axis=1))
    # composition: rotating by p ⊗ q is rotating by q then by p
    np.testing.assert_allclose(
        quat_rotate(quat_multiply(qs, qs[::-1]), v), quat_rotate(qs, quat_rotate(qs[::-1], v)), atol=1e-12
    )


def test_angle_about_axis_and_rotvec() -> None:
    angles = np.array([-179.0, -90.0, -1e-3, 0.0, 30.0, 120.0, 180.0])
    axis = np.array([1.0, 2.0, -2.0]) / 3.0
    q = quat_from_axis_angle(axis, angles)
    np.testing.assert_allclose(quat_angle_about_axis(q, axis), angles, atol=1e-9)
    np.testing.assert_allclose(quat_angle_about_axis(-q, axis), angles, atol=1e-9)  # sign-invariant
    np.testing.assert_allclose(quat_angle_about_axis(q, -axis), np.where(angles == 180.0, 180.0, -angles), atol=1e-9)
    np.testing.assert_allclose(quat_angle(q), np.abs(angles), atol=1e-9)
    # swing about a perpendicular axis does not leak into the twist
    swing = quat_from_axis_angle(np.cross(axis, (0.0, 0.0, 1.0)), 40.0)
    np.testing.assert_allclose(quat_angle_about_axis(quat_multiply(swing, q), axis), angles, atol=1e-9)
    rotvec = np.radians(angles)[:, None] * axis
    np.testing.assert_allclose(quat_from_rotvec(rotvec), quat_from_axis_angle(axis, angles), atol=1e-12)
    np.testing.assert_allclose(quat_to_rotvec(quat_from_rotvec(rotvec[:-1])), rotvec[:-1], atol=1e-12)


def test_quat_mean_is_sign_invariant() -> None:
    true = quat_from_axis_angle((0.0, 1.0, 1.0), 50.0)
    small = quat_from_axis_angle((1.0, 0.0, 0.0), np.array([-2.0, 2.0, -1.0, 1.0]))
    samples = quat_multiply(true, small)
    samples[1] *= -1  # q and −q are the same orientation
    np.testing.assert_allclose(quat_mean(samples), true, atol=1e-12)


# --- accelerometer inclination ----------------------------------------------------------------------------------


def test_inclination_from_static_accelerometer() -> None:
    rng = np.random.default_rng(7)
    q_true = rng.normal(size=(200, 4))
    q_true /= np.linalg.norm(q_true, axis=1, keepdims=True)
    acc = quat_rotate(quat_conjugate(q_true), np.array([0.0, 0.0, STANDARD_GRAVITY]))
    assert np.max(inclination_error(inclination_from_accelerometer(acc), q_true)) < 1e-6
    noisy = acc + rng.normal(0.0, 0.02, acc.shape)
    assert np.max(inclination_error(inclination_from_accelerometer(noisy), q_true)) < 0.5
    upside_down = inclination_from_accelerometer((0.0, 0.0, -9.81))
    np.testing.assert_allclose(quat_rotate(upside_down, (0.0, 0.0, -1.0)), (0.0, 0.0, 1.0), atol=1e-12)


def test_tilt_from_accelerometer() -> None:
    q = quat_from_axis_angle((1.0, 0.0, 0.0), np.array([0.0, 30.0, 90.0, 180.0]))
    acc = quat_rotate(quat_conjugate(q), np.array([0.0, 0.0, STANDARD_GRAVITY]))
    np.testing.assert_allclose(tilt_from_accelerometer(acc), [0.0, 30.0, 90.0, 180.0], atol=1e-6)
    np.testing.assert_allclose(tilt_from_accelerometer(acc, axis=(1, 0, 0)), 90.0, atol=1e-6)
    with pytest.raises(KineticsInputError, match="zero-length"):
        tilt_from_accelerometer(np.zeros(3))


# --- rest, bias, 9D -----------------------------------------------------------------------------------------------


def test_gyroscope_bias_is_learned_at_rest() -> None:
    bias = np.array([0.02, -0.01, 0.015])  # rad/s, about 1 deg/s per axis
    still = segment_motion(np.zeros(200 * 20), 200.0, gyr_noise=0.002, acc_noise=0.02, gyr_bias=bias)
    est = estimate_orientation(still.gyr, still.acc, still.fs)
    assert est.rest[:200].sum() == 0 and est.rest[400:].all()  # rest needs 1.5 s of stillness
    np.testing.assert_allclose(est.bias[-1], bias, atol=1e-3)
    assert est.flags["never_moved"] and not est.flags["gyro_saturated"]
    heading_drift = quat_angle(quat_multiply(quat_conjugate(est.quat[400]), est.quat[-1]))
    no_bias = estimate_orientation(
        still.gyr, still.acc, still.fs, params={"restBiasEstEnabled": False, "motionBiasEstEnabled": False}
    )
    drift_without = quat_angle(quat_multiply(quat_conjugate(no_bias.quat[400]), no_bias.quat[-1]))
    assert heading_drift < 1.0 < 10.0 < drift_without  # 0.015 rad/s about z over 18 s ≈ 15° uncorrected


def test_magnetometer_gives_absolute_heading() -> None:
    rec = constant_rate_rotation(30.0, 10.0, 200.0, axis=(0.0, 0.0, 1.0), gyr_noise=0.002, acc_noise=0.02)
    field_earth = np.array([0.0, 20.0, -40.0])  # µT, north along y, pointing down
    mag = quat_rotate(quat_conjugate(rec.quat), field_earth)
    est = estimate_orientation(rec.gyr, rec.acc, rec.fs, mag=mag, offline=True)
    assert est.method == "vqf_offline_9d"
    error = quat_angle(quat_multiply(est.quat, quat_conjugate(rec.quat)))
    assert np.max(error[200 * 5 :]) < 1.0
    six_d = orientation(rec.gyr, rec.acc, rec.fs)
    assert np.max(quat_angle(quat_multiply(six_d, quat_conjugate(rec.quat)))) > 5.0  # 6D heading is arbitrary


# --- bad input ------------------------------------------------------------------------------------------------------


def test_saturated_gyroscope_is_an_error_or_a_flag() -> None:
    rec = constant_rate_rotation(2200.0, 1.0, 1000.0, rest_before=2.0, mount=(1.0, 0.0, 0.0, 0.0))  # about x
    clipped = np.clip(rec.gyr, -DEFAULT_GYR_RANGE, DEFAULT_GYR_RANGE)
    with pytest.raises(KineticsInputError, match=r"saturated in \d+ sample"):
        orientation(clipped, rec.acc, rec.fs)
    est = estimate_orientation(clipped, rec.acc, rec.fs)
    assert est.flags["gyro_saturated"]
    assert est.saturated[:2000].sum() == 0 and est.saturated[2001:].all()
    # a sensor with a larger range set: the same data are fine
    assert not saturated_samples(clipped, gyr_range=np.radians(4000.0)).any()
    orientation(clipped, rec.acc, rec.fs, gyr_range=np.radians(4000.0))


@pytest.mark.parametrize(
    ("gyr", "acc", "match"),
    [
        (np.full((100, 3), np.nan), np.tile([0.0, 0.0, 9.81], (100, 1)), "NaN"),
        (np.zeros((100, 3)), np.tile([0.0, 0.0, 1.0], (100, 1)), "m/s²"),  # accelerometer in g
        (np.zeros((3, 100)), np.zeros((3, 100)), r"shape \(n_samples, 3\)"),
        (np.zeros((100, 3)), np.tile([0.0, 0.0, 9.81], (99, 1)), "taken together"),
    ],
)
def test_bad_imu_input(gyr: np.ndarray, acc: np.ndarray, match: str) -> None:
    with pytest.raises(KineticsInputError, match=match):
        orientation(gyr, acc, 100.0)


def test_bad_vqf_parameter_and_rate() -> None:
    rec = segment_motion(np.zeros(100), 100.0)
    with pytest.raises(KineticsInputError, match="params"):
        orientation(rec.gyr, rec.acc, rec.fs, params={"notAParameter": 1.0})
    with pytest.raises(KineticsInputError, match="fs"):
        orientation(rec.gyr, rec.acc, 0.0)


def test_simulated_gyroscope_integrates_to_the_true_orientation() -> None:
    rec = constant_rate_rotation(123.0, 3.0, 100.0, axis=(1.0, 1.0, 0.0))
    q = rec.quat[0]
    for w in rec.gyr[1:]:
        q = quat_multiply(q, quat_from_rotvec(w / rec.fs))
    np.testing.assert_allclose(quat_angle(quat_multiply(quat_conjugate(q), rec.quat[-1])), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(rec.acc, axis=1), STANDARD_GRAVITY)
    np.testing.assert_allclose(np.degrees(np.linalg.norm(rec.gyr[400:], axis=1)), 123.0)
    gyr, _ = imu_from_orientation(rec.quat, rec.fs, gyr_noise=0.01, seed=5)
    assert 0.009 < np.std(gyr[:300] - rec.gyr[:300]) < 0.011
