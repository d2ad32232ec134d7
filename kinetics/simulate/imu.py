"""Synthetic IMU recordings whose orientation and angles are known exactly (for tests, demos, simulated devices).

Every recording is built from a true orientation trajectory ``q_k`` (sensor to earth, z up, w x y z):

- gyroscope (rad/s, sensor frame): ``gyr_k = rotvec(q_{k−1}* ⊗ q_k) · fs`` — the constant rate that carries
  ``q_{k−1}`` exactly onto ``q_k`` in one sample (``q_{−1} = q_0``), which is how VQF and other strapdown
  integrators use a gyroscope sample; so integrating the noise-free gyroscope reproduces the truth exactly;
- accelerometer (m/s², sensor frame): gravity only, ``acc_k = q_k* ⊗ (0, 0, g) ⊗ q_k``. The sensors sit on the
  rotation axis (no centripetal or tangential acceleration, no translation);
- optional white noise (``gyr_noise`` rad/s, ``acc_noise`` m/s², standard deviations per axis) and a constant
  gyroscope bias ``gyr_bias`` (rad/s, sensor frame), from a seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kinetics._checks import check_rate, input_error
from kinetics.rom.orientation import STANDARD_GRAVITY
from kinetics.rom.quaternion import (
    FloatArray,
    as_axis,
    as_quat,
    quat_conjugate,
    quat_from_axis_angle,
    quat_multiply,
    quat_rotate,
    quat_to_rotvec,
)

# A fixed, deliberately oblique sensor mounting (sensor to earth at the zero pose), so that the anatomical axis
# is not one of the sensor's axes: rotation of 35° about (0.3, −0.5, 0.8).
DEFAULT_MOUNT = quat_from_axis_angle((0.3, -0.5, 0.8), 35.0)


@dataclass(frozen=True)
class ImuRecording:
    """One simulated IMU.

    Attributes
    ----------
    time : ndarray (n,)
        Sample times in s from 0.
    gyr : ndarray (n, 3)
        Angular rate in rad/s, sensor frame (with noise and bias if asked).
    acc : ndarray (n, 3)
        Specific force in m/s², sensor frame, gravity included (with noise if asked).
    fs : float
        Sampling rate in Hz.
    quat : ndarray (n, 4)
        True orientation, sensor to earth, w x y z.
    angle : ndarray (n,)
        True angle in degrees about ``axis`` relative to the first sample (the zero pose).
    axis : ndarray (3,)
        The motion's rotation axis in the sensor frame (unit vector).
    """

    time: FloatArray
    gyr: FloatArray
    acc: FloatArray
    fs: float
    quat: FloatArray
    angle: FloatArray
    axis: FloatArray


@dataclass(frozen=True)
class JointRecording:
    """Two simulated IMUs either side of a hinge joint.

    Attributes
    ----------
    proximal, distal : ImuRecording
        The two sensors. ``proximal.angle``/``.axis``: the proximal segment's sway (about the earth x axis);
        ``distal.angle``/``.axis``: the joint angle and the joint axis in the distal frame.
    angle : ndarray (n,)
        True joint angle in degrees (0 at the zero pose).
    axis_distal, axis_proximal : ndarray (3,)
        The joint axis in the distal and in the proximal sensor frame.
    zero_pose : ndarray (4,)
        True relative orientation ``q_proximal* ⊗ q_distal`` at the zero pose.
    """

    proximal: ImuRecording
    distal: ImuRecording
    angle: FloatArray
    axis_distal: FloatArray
    axis_proximal: FloatArray
    zero_pose: FloatArray


def imu_from_orientation(
    quat: Any,
    fs: float,
    *,
    gyr_noise: float = 0.0,
    acc_noise: float = 0.0,
    gyr_bias: Any = (0.0, 0.0, 0.0),
    seed: int | None = 0,
) -> tuple[FloatArray, FloatArray]:
    """Gyroscope (n, 3) rad/s and accelerometer (n, 3) m/s² readings of a sensor following ``quat`` (n, 4)."""
    rate = check_rate(fs)
    q = as_quat(quat)
    if q.ndim != 2 or q.shape[0] < 2:
        raise input_error("quat", f"must have shape (n_samples ≥ 2, 4), got {q.shape}", "pass a trajectory")
    bias = np.asarray(gyr_bias, dtype=np.float64)
    if bias.shape != (3,):
        raise input_error("gyr_bias", f"must be a 3-vector in rad/s, got shape {bias.shape}", "e.g. (0.01, 0, 0)")
    previous = np.concatenate([q[:1], q[:-1]])
    gyr = quat_to_rotvec(quat_multiply(quat_conjugate(previous), q)) * rate + bias
    acc = quat_rotate(quat_conjugate(q), np.array([0.0, 0.0, STANDARD_GRAVITY]))
    rng = np.random.default_rng(seed)
    if gyr_noise > 0:
        gyr = gyr + rng.normal(0.0, gyr_noise, gyr.shape)
    if acc_noise > 0:
        acc = acc + rng.normal(0.0, acc_noise, acc.shape)
    return np.ascontiguousarray(gyr), np.ascontiguousarray(acc)


def segment_motion(
    angle: Any,
    fs: float,
    *,
    axis: Any = (1.0, 0.0, 0.0),
    mount: Any = DEFAULT_MOUNT,
    gyr_noise: float = 0.0,
    acc_noise: float = 0.0,
    gyr_bias: Any = (0.0, 0.0, 0.0),
    seed: int | None = 0,
) -> ImuRecording:
    """An IMU on a segment rotating by ``angle`` (n,) degrees about the earth-frame ``axis`` (a hinge to the room).

    ``quat_k = R(axis, angle_k) ⊗ mount``; ``mount`` is the sensor's orientation (sensor to earth) at angle 0.
    """
    rate = check_rate(fs)
    theta = np.asarray(angle, dtype=np.float64)
    if theta.ndim != 1 or theta.size < 2 or not np.all(np.isfinite(theta)):
        raise input_error("angle", f"must be a finite 1-D array of ≥ 2 samples, got shape {theta.shape}", "")
    axis_earth = as_axis(axis)
    q0 = as_quat(mount, "mount")
    quat = quat_multiply(quat_from_axis_angle(axis_earth, theta), q0)
    gyr, acc = imu_from_orientation(quat, rate, gyr_noise=gyr_noise, acc_noise=acc_noise, gyr_bias=gyr_bias, seed=seed)
    return ImuRecording(
        time=np.arange(theta.size) / rate,
        gyr=gyr,
        acc=acc,
        fs=rate,
        quat=quat,
        angle=theta - theta[0],
        axis=quat_rotate(quat_conjugate(q0), axis_earth),
    )


def flexion_profile(
    fs: float,
    *,
    amplitude: float = 90.0,
    frequency: float = 0.25,
    repetitions: int = 5,
    rest_before: float = 3.0,
    rest_after: float = 2.0,
) -> FloatArray:
    """Joint angle in degrees (n,): rest at 0°, then ``repetitions`` cycles of ``A·(1 − cos 2πft)/2``, then rest.

    Exact properties: range ``A``; peak angular velocity ``π·A·f`` deg/s; each repetition lasts ``1/f`` s; the
    angle stays within ``b`` degrees of ``A`` for ``arccos(1 − 2b/A)/(π f)`` s per repetition.
    """
    rate = check_rate(fs)
    if repetitions < 0 or amplitude <= 0 or frequency <= 0 or rest_before < 0 or rest_after < 0:
        raise input_error("flexion_profile", "needs amplitude, frequency > 0 and repetitions, rests ≥ 0", "")
    n_before = round(rest_before * rate)
    n_move = round(repetitions / frequency * rate)
    n_after = round(rest_after * rate)
    t = np.arange(n_move) / rate
    move = amplitude * (1.0 - np.cos(2.0 * np.pi * frequency * t)) / 2.0
    out: FloatArray = np.concatenate([np.zeros(n_before), move, np.zeros(n_after + 1)])
    return out


def sinusoidal_flexion(
    fs: float = 200.0,
    *,
    amplitude: float = 90.0,
    frequency: float = 0.25,
    repetitions: int = 5,
    rest_before: float = 3.0,
    rest_after: float = 2.0,
    axis: Any = (1.0, 0.0, 0.0),
    mount: Any = DEFAULT_MOUNT,
    gyr_noise: float = 0.002,
    acc_noise: float = 0.02,
    gyr_bias: Any = (0.0, 0.0, 0.0),
    seed: int | None = 0,
) -> ImuRecording:
    """A segment flexing ``repetitions`` times through ``amplitude`` degrees about a horizontal axis.

    The angle follows :func:`flexion_profile`; default noise is that of a consumer MEMS IMU at 200 Hz
    (0.002 rad/s ≈ 0.11 deg/s gyroscope, 0.02 m/s² accelerometer, standard deviations).
    """
    angle = flexion_profile(
        fs,
        amplitude=amplitude,
        frequency=frequency,
        repetitions=repetitions,
        rest_before=rest_before,
        rest_after=rest_after,
    )
    return segment_motion(
        angle, fs, axis=axis, mount=mount, gyr_noise=gyr_noise, acc_noise=acc_noise, gyr_bias=gyr_bias, seed=seed
    )


def constant_rate_rotation(
    rate: float = 45.0,
    duration: float = 10.0,
    fs: float = 200.0,
    *,
    rest_before: float = 3.0,
    axis: Any = (1.0, 0.0, 0.0),
    mount: Any = DEFAULT_MOUNT,
    gyr_noise: float = 0.0,
    acc_noise: float = 0.0,
    gyr_bias: Any = (0.0, 0.0, 0.0),
    seed: int | None = 0,
) -> ImuRecording:
    """Rest for ``rest_before`` s, then rotation at ``rate`` deg/s for ``duration`` s about the earth ``axis``."""
    sample_rate = check_rate(fs)
    n_before = round(rest_before * sample_rate)
    n_move = round(duration * sample_rate)
    angle = np.concatenate([np.zeros(n_before), rate * np.arange(n_move + 1) / sample_rate])
    return segment_motion(
        angle,
        sample_rate,
        axis=axis,
        mount=mount,
        gyr_noise=gyr_noise,
        acc_noise=acc_noise,
        gyr_bias=gyr_bias,
        seed=seed,
    )


def joint_motion(
    angle: Any,
    fs: float,
    *,
    joint_axis: Any = (0.2, 0.9, 0.1),
    proximal_mount: Any = DEFAULT_MOUNT,
    distal_mount: Any = None,
    proximal_sway: float = 15.0,
    sway_frequency: float = 0.1,
    gyr_noise: float = 0.002,
    acc_noise: float = 0.02,
    seed: int | None = 0,
) -> JointRecording:
    """Two IMUs across a hinge: the joint bends by ``angle`` (n,) degrees while the proximal segment sways.

    The proximal segment rotates by ``proximal_sway·sin(2π·sway_frequency·t)`` degrees about the earth axis
    (1, 0, 0) (so both sensors move, as in real gait or exercise); ``joint_axis`` is the hinge axis in the
    proximal sensor frame; the distal sensor sits at ``distal_mount`` relative to the proximal one at the zero
    pose (``q_proximal* ⊗ q_distal``; default a fixed oblique rotation). Then
    ``q_distal = q_proximal ⊗ zero_pose ⊗ R(axis_distal, angle)``, so the relative orientation rotates about
    the joint axis only, by exactly ``angle``.
    """
    rate = check_rate(fs)
    theta = np.asarray(angle, dtype=np.float64)
    if theta.ndim != 1 or theta.size < 2 or not np.all(np.isfinite(theta)):
        raise input_error("angle", f"must be a finite 1-D array of ≥ 2 samples, got shape {theta.shape}", "")
    t = np.arange(theta.size) / rate
    sway = proximal_sway * np.sin(2.0 * np.pi * sway_frequency * t)
    proximal = segment_motion(
        sway, rate, axis=(1.0, 0.0, 0.0), mount=proximal_mount, gyr_noise=gyr_noise, acc_noise=acc_noise, seed=seed
    )
    zero_pose = (
        quat_from_axis_angle((-0.4, 0.3, 0.6), 70.0) if distal_mount is None else as_quat(distal_mount, "distal_mount")
    )
    j1 = as_axis(joint_axis, "joint_axis")
    j2 = quat_rotate(quat_conjugate(zero_pose), j1)
    q_distal = quat_multiply(quat_multiply(proximal.quat, zero_pose), quat_from_axis_angle(j2, theta))
    gyr, acc = imu_from_orientation(
        q_distal, rate, gyr_noise=gyr_noise, acc_noise=acc_noise, seed=None if seed is None else seed + 1
    )
    distal = ImuRecording(time=t, gyr=gyr, acc=acc, fs=rate, quat=q_distal, angle=theta - theta[0], axis=j2)
    return JointRecording(
        proximal=proximal,
        distal=distal,
        angle=theta - theta[0],
        axis_distal=j2,
        axis_proximal=j1,
        zero_pose=zero_pose,
    )
