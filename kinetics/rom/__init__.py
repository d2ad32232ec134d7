"""Range of motion with an IMU goniometer: orientation (VQF), segment and joint angles, ROM scores, force at angle.

Typical use::

    from kinetics import rom

    quat = rom.orientation(gyr, acc, fs)                      # (n, 4) sensor → earth, z up (VQF)
    zero = rom.calibrate_zero_pose(quat, fs, duration=2.0)    # limb still at anatomical zero
    angle = rom.segment_angle(quat, axis=(1, 0, 0), zero_pose=zero)   # degrees
    scores = rom.rom_metrics(angle, fs)                       # rom, repetitions, peak_angular_velocity, ...

Definitions, units and sources: ``docs/metrics/rom.md``.
"""

from kinetics.rom.angles import (
    JointCalibration,
    calibrate_joint,
    calibrate_zero_pose,
    heading_rotation,
    joint_angle,
    relative_orientation,
    segment_angle,
)
from kinetics.rom.coupling import AngleForce, force_at_angle
from kinetics.rom.metrics import DEFAULT_CUTOFF, Repetitions, repetitions, rom_metrics, smooth_angle
from kinetics.rom.orientation import (
    DEFAULT_GYR_RANGE,
    STANDARD_GRAVITY,
    OrientationEstimate,
    estimate_orientation,
    inclination_error,
    inclination_from_accelerometer,
    orientation,
    saturated_samples,
    tilt_from_accelerometer,
)
from kinetics.rom.quaternion import (
    quat_angle,
    quat_angle_about_axis,
    quat_conjugate,
    quat_from_axis_angle,
    quat_from_rotvec,
    quat_mean,
    quat_multiply,
    quat_rotate,
    quat_to_rotvec,
)

__all__ = [
    "DEFAULT_CUTOFF",
    "DEFAULT_GYR_RANGE",
    "STANDARD_GRAVITY",
    "AngleForce",
    "JointCalibration",
    "OrientationEstimate",
    "Repetitions",
    "calibrate_joint",
    "calibrate_zero_pose",
    "estimate_orientation",
    "force_at_angle",
    "heading_rotation",
    "inclination_error",
    "inclination_from_accelerometer",
    "joint_angle",
    "orientation",
    "quat_angle",
    "quat_angle_about_axis",
    "quat_conjugate",
    "quat_from_axis_angle",
    "quat_from_rotvec",
    "quat_mean",
    "quat_multiply",
    "quat_rotate",
    "quat_to_rotvec",
    "relative_orientation",
    "repetitions",
    "rom_metrics",
    "saturated_samples",
    "segment_angle",
    "smooth_angle",
    "tilt_from_accelerometer",
]
