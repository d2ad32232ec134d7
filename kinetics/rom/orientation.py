"""IMU orientation: VQF sensor fusion, accelerometer-only inclination, and the inclination error.

Orientation quaternions are sensor-to-earth (``v_earth = q ⊗ v_sensor ⊗ q*``), order w, x, y, z, earth frame
z up (the heading of the 6D estimate is arbitrary but consistent; with a magnetometer it is referenced to
magnetic north, ENU). IMU samples are arrays of shape (n_samples, 3) (time first, the layout of the ``vqf``
package and of the BROAD data set): gyroscope in rad/s, accelerometer in m/s² including gravity (a sensor
at rest reads +9.81 m/s² along its up-pointing axis).

Method: Laidig D, Seel T. "VQF: Highly accurate IMU orientation estimation with bias estimation and magnetic
disturbance rejection." Information Fusion 2023;91:187-204, doi 10.1016/j.inffus.2022.10.014, through the
authors' ``vqf`` package. It detects rest (gyroscope below 2 deg/s and accelerometer within 0.5 m/s² of its
low-pass for ≥ 1.5 s, the package defaults) and then estimates the gyroscope bias from the resting signal; it
also estimates the bias during motion. Both estimates are returned by :func:`estimate_orientation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import as_signal, check_rate, input_error
from kinetics.rom.quaternion import FloatArray, quat_conjugate, quat_multiply

STANDARD_GRAVITY = 9.80665
"""m/s²."""

DEFAULT_GYR_RANGE = float(np.radians(2000.0))
"""Default gyroscope full scale in rad/s (±2000 deg/s, the largest range of common MEMS IMUs)."""

SATURATION_FRACTION = 0.999
"""A gyroscope sample is saturated when any axis reaches this fraction of the full scale ``gyr_range``."""

VQF_REST_MIN_T = 1.5
"""s; VQF's default ``restMinT``: how long the sensor must be still before rest (and rest bias) is detected."""


@dataclass(frozen=True)
class OrientationEstimate:
    """Orientation of one IMU over a recording, with the filter's diagnostics.

    Attributes
    ----------
    quat : ndarray, shape (n, 4)
        Unit quaternions w, x, y, z, sensor to earth (z up).
    bias : ndarray, shape (n, 3)
        VQF's gyroscope bias estimate in rad/s at every sample (rest and motion bias estimation).
    rest : ndarray of bool, shape (n,)
        VQF's rest detection (the samples in which the bias is learned from the resting gyroscope).
    saturated : ndarray of bool, shape (n,)
        Gyroscope samples at the full scale ``gyr_range`` (rotation there is clipped: the orientation after them
        is wrong by the unmeasured part).
    fs : float
        Sampling rate in Hz.
    method : str
        ``"vqf"`` (real-time, causal), ``"vqf_offline"`` (acausal); suffixed ``"_9d"`` with a magnetometer.
    flags : mapping
        ``gyro_saturated`` (any saturated sample), ``never_moved`` (VQF detected rest during the whole recording
        after its first ``VQF_REST_MIN_T`` s: there is no movement to score).
    params : mapping
        ``gyr_range`` (rad/s) and the VQF parameters passed.
    """

    quat: FloatArray
    bias: FloatArray
    rest: NDArray[np.bool_]
    saturated: NDArray[np.bool_]
    fs: float
    method: str
    flags: Mapping[str, bool] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)


def _imu_array(x: Any, name: str, unit: str) -> FloatArray:
    """(n, 3) float64 C-contiguous array of finite values (what ``vqf`` requires)."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise input_error(name, "is not a numeric array", f"pass an (n_samples, 3) array in {unit}") from None
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise input_error(
            name, f"must have shape (n_samples, 3), got {arr.shape}", f"pass x, y, z columns in {unit} (time first)"
        )
    as_signal(arr.T, name, min_samples=2)  # NaN/inf and length checks, time on the last axis of the transpose
    return np.ascontiguousarray(arr)


def _check_acc_units(acc: FloatArray, name: str = "acc") -> None:
    norm = float(np.median(np.linalg.norm(acc, axis=1)))
    if not 0.5 * STANDARD_GRAVITY <= norm <= 2.0 * STANDARD_GRAVITY:
        raise input_error(
            name,
            f"median magnitude is {norm:.3g}, expected about {STANDARD_GRAVITY} m/s² (gravity)",
            "pass the accelerometer in m/s² (multiply values in g by 9.80665)",
        )


def saturated_samples(gyr: Any, gyr_range: float = DEFAULT_GYR_RANGE) -> NDArray[np.bool_]:
    """Samples (n,) where any gyroscope axis reaches ``SATURATION_FRACTION`` × ``gyr_range`` (rad/s)."""
    g = _imu_array(gyr, "gyr", "rad/s")
    limit = float(gyr_range)
    if not limit > 0:
        raise input_error("gyr_range", f"must be a positive full scale in rad/s, got {gyr_range}", "e.g. 34.9")
    out: NDArray[np.bool_] = np.any(np.abs(g) >= SATURATION_FRACTION * limit, axis=1)
    return out


def estimate_orientation(
    gyr: Any,
    acc: Any,
    fs: float,
    *,
    mag: Any = None,
    offline: bool = False,
    gyr_range: float = DEFAULT_GYR_RANGE,
    params: Mapping[str, Any] | None = None,
) -> OrientationEstimate:
    """Orientation of one IMU with VQF (Laidig & Seel 2023), with bias, rest and saturation diagnostics.

    Parameters
    ----------
    gyr : array_like, shape (n, 3)
        Angular rate in rad/s, sensor frame.
    acc : array_like, shape (n, 3)
        Specific force in m/s² including gravity, sensor frame.
    fs : float
        Sampling rate in Hz (all three sensors at the same rate).
    mag : array_like, shape (n, 3), optional
        Magnetometer (any unit, e.g. µT). Given → 9D fusion, heading referenced to magnetic north, with VQF's
        magnetic-disturbance rejection; absent → 6D fusion, heading relative to the start.
    offline : bool
        False (default): the causal real-time filter (what a live display shows). True: VQF's offline variant,
        which also uses future samples (more accurate for a recorded trial).
    gyr_range : float
        Gyroscope full scale in rad/s (default ±2000 deg/s); samples at it are reported as saturated.
    params : mapping, optional
        VQF tuning parameters by their ``vqf`` names (e.g. ``{"tauAcc": 3.0}``); defaults are the authors'.

    Never raises for saturation: the samples and a ``gyro_saturated`` flag are returned (see
    :func:`orientation` for the strict variant).
    """
    import vqf  # compiled extension: imported on use

    rate = check_rate(fs)
    g = _imu_array(gyr, "gyr", "rad/s")
    a = _imu_array(acc, "acc", "m/s²")
    if a.shape != g.shape:
        raise input_error("acc", f"has shape {a.shape} but gyr has {g.shape}", "pass samples taken together")
    _check_acc_units(a)
    m = None
    if mag is not None:
        m = _imu_array(mag, "mag", "µT")
        if m.shape != g.shape:
            raise input_error("mag", f"has shape {m.shape} but gyr has {g.shape}", "pass samples taken together")
    saturated = saturated_samples(g, gyr_range)
    vqf_params = dict(params or {})
    ts = 1.0 / rate
    try:
        if offline:
            out = vqf.offlineVQF(g, a, m, ts, vqf_params)
        else:
            out = vqf.VQF(ts, **vqf_params).updateBatch(g, a, m)
    except TypeError as exc:
        raise input_error("params", f"not accepted by vqf ({exc})", "use VQF parameter names, e.g. tauAcc") from None
    quat = np.asarray(out["quat9D" if m is not None else "quat6D"], dtype=np.float64)
    rest = np.asarray(out["restDetected"], dtype=bool)
    settle = int(np.ceil(VQF_REST_MIN_T * rate))
    never_moved = bool(rest.shape[0] > settle and np.all(rest[settle:]))
    method = ("vqf_offline" if offline else "vqf") + ("_9d" if m is not None else "")
    return OrientationEstimate(
        quat=quat,
        bias=np.asarray(out["bias"], dtype=np.float64),
        rest=rest,
        saturated=saturated,
        fs=rate,
        method=method,
        flags={"gyro_saturated": bool(np.any(saturated)), "never_moved": never_moved},
        params={"gyr_range": float(gyr_range), **vqf_params},
    )


def orientation(
    gyr: Any,
    acc: Any,
    fs: float,
    *,
    mag: Any = None,
    offline: bool = False,
    gyr_range: float = DEFAULT_GYR_RANGE,
    params: Mapping[str, Any] | None = None,
) -> FloatArray:
    """Unit quaternions (n, 4), w, x, y, z, sensor to earth (z up), from VQF (Laidig & Seel 2023).

    Same arguments as :func:`estimate_orientation`. Raises :class:`KineticsInputError` when the gyroscope
    saturated (any axis at ``gyr_range``): every orientation after a clipped rotation would be silently wrong.
    """
    est = estimate_orientation(gyr, acc, fs, mag=mag, offline=offline, gyr_range=gyr_range, params=params)
    if est.flags["gyro_saturated"]:
        idx = np.flatnonzero(est.saturated)
        raise input_error(
            "gyr",
            f"saturated in {idx.size} sample(s) (first at t = {idx[0] / est.fs:.3f} s) at the full scale "
            f"{np.degrees(gyr_range):.0f} deg/s, so the orientation after them is wrong",
            "set the sensor to a larger gyroscope range (or pass its real gyr_range), or repeat the movement slower",
        )
    return est.quat


def inclination_from_accelerometer(acc: Any) -> FloatArray:
    """Inclination of a static sensor from its accelerometer: unit quaternions (..., 4), sensor to earth.

    The smallest rotation that turns the measured gravity direction (``acc`` normalised, sensor frame) onto
    the earth's up axis z: ``q = normalise(1 + a_z, a_y, −a_x, 0)``; heading is undefined and taken as that of the
    smallest rotation (an upside-down sensor gets a 180° rotation about x). Only valid while the sensor is
    still: any linear acceleration tilts the result. ``acc`` has shape (..., 3) in m/s² (any unit works).
    """
    a = np.asarray(acc, dtype=np.float64)
    if a.ndim == 0 or a.shape[-1] != 3:
        raise input_error("acc", f"must have shape (..., 3), got {a.shape}", "pass x, y, z components last")
    if not np.all(np.isfinite(a)):
        raise input_error("acc", "contains NaN or infinite values", "fill or cut the gaps first")
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    if np.any(norm < 1e-9):
        raise input_error("acc", "has zero-length samples (no gravity measured)", "check the accelerometer stream")
    u = a / norm
    q = np.stack([1.0 + u[..., 2], u[..., 1], -u[..., 0], np.zeros_like(u[..., 0])], axis=-1)
    flipped = q[..., 0] < 1e-9
    q[flipped] = (0.0, 1.0, 0.0, 0.0)
    out: FloatArray = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return out


def tilt_from_accelerometer(acc: Any, axis: Any = (0.0, 0.0, 1.0)) -> FloatArray:
    """Angle in degrees (..., ) between a sensor ``axis`` and the upward vertical, for a static sensor.

    ``arccos(axis · acc / |acc|)``: 0° when the axis points up, 90° horizontal, 180° down. ``acc`` (..., 3).
    """
    from kinetics.rom.quaternion import as_axis

    a = np.asarray(acc, dtype=np.float64)
    if a.ndim == 0 or a.shape[-1] != 3 or not np.all(np.isfinite(a)):
        raise input_error("acc", f"must be finite with shape (..., 3), got {a.shape}", "pass x, y, z last")
    norm = np.linalg.norm(a, axis=-1)
    if np.any(norm < 1e-9):
        raise input_error("acc", "has zero-length samples (no gravity measured)", "check the accelerometer stream")
    cosine = np.clip((a @ as_axis(axis)) / norm, -1.0, 1.0)
    out: FloatArray = np.degrees(np.arccos(cosine))
    return out


def inclination_error(q_est: Any, q_ref: Any) -> FloatArray:
    """Heading-independent orientation error in degrees (...,), as defined by the BROAD benchmark.

    ``q_err = q_est ⊗ q_ref⁻¹`` (both normalised, earth-frame error); inclination = ``2·arccos(√(w² + z²))`` of
    ``q_err`` — the part of the error that is not a rotation about the vertical. NaN where the reference is
    NaN (e.g. optical drop-outs). Source: Laidig D, Caruso M, Cereatti A, Seel T. "BROAD — A Benchmark for
    Robust Inertial Orientation Estimation". Data 2021;6(7):72.
    """
    qe = np.asarray(q_est, dtype=np.float64)
    qr = np.asarray(q_ref, dtype=np.float64)
    qe = qe / np.linalg.norm(qe, axis=-1, keepdims=True)
    qr = qr / np.linalg.norm(qr, axis=-1, keepdims=True)
    err = quat_multiply(qe, quat_conjugate(qr))
    wz = np.sqrt(err[..., 0] ** 2 + err[..., 3] ** 2)
    xy = np.sqrt(err[..., 1] ** 2 + err[..., 2] ** 2)
    # = 2·arccos(wz) for a unit q_err, without arccos's loss of precision near 0°
    out: FloatArray = np.degrees(2.0 * np.arctan2(xy, wz))
    return out
