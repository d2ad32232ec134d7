"""Small vectorised unit-quaternion helpers (order w, x, y, z; Hamilton product; active rotations).

A quaternion ``q`` describing a sensor's orientation maps sensor-frame vectors to earth-frame vectors:
``v_earth = q ⊗ (0, v_sensor) ⊗ q*``. All functions broadcast over leading axes: quaternions have shape
(..., 4), vectors (..., 3). Angles in and out are in degrees (the clinical convention of this library).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import input_error

FloatArray = NDArray[np.float64]


def as_quat(q: Any, name: str = "quat") -> FloatArray:
    """Return ``q`` as a float64 array of shape (..., 4) of finite values, normalised to unit length."""
    try:
        arr = np.asarray(q, dtype=np.float64)
    except (TypeError, ValueError):
        raise input_error(name, "is not a numeric array", "pass quaternions as an array of shape (..., 4)") from None
    if arr.ndim == 0 or arr.shape[-1] != 4:
        raise input_error(name, f"must have shape (..., 4) (w, x, y, z), got {arr.shape}", "put w, x, y, z last")
    if not np.all(np.isfinite(arr)):
        raise input_error(name, "contains NaN or infinite values", "fill or cut the gaps first")
    norm = np.linalg.norm(arr, axis=-1, keepdims=True)
    if np.any(norm < 1e-9):
        raise input_error(name, "contains zero-length quaternions", "pass unit quaternions (w, x, y, z)")
    out: FloatArray = arr / norm
    return out


def as_axis(axis: Any, name: str = "axis") -> FloatArray:
    """Return ``axis`` as a unit 3-vector (float64, shape (3,))."""
    try:
        arr = np.asarray(axis, dtype=np.float64)
    except (TypeError, ValueError):
        raise input_error(name, "is not a numeric 3-vector", "pass e.g. axis=(1, 0, 0)") from None
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise input_error(name, f"must be a finite 3-vector, got shape {arr.shape}", "pass e.g. axis=(1, 0, 0)")
    norm = float(np.linalg.norm(arr))
    if norm < 1e-9:
        raise input_error(name, "has zero length", "pass a non-zero direction, e.g. axis=(1, 0, 0)")
    out: FloatArray = arr / norm
    return out


def quat_multiply(p: Any, q: Any) -> FloatArray:
    """Hamilton product ``p ⊗ q`` of quaternions of shape (..., 4) (broadcast); rotation ``q`` first, then ``p``."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    pw, px, py, pz = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    qw, qx, qy, qz = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack(
        [
            pw * qw - px * qx - py * qy - pz * qz,
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
        ],
        axis=-1,
    )


def quat_conjugate(q: Any) -> FloatArray:
    """Conjugate (the inverse of a unit quaternion), shape (..., 4)."""
    out = np.array(q, dtype=np.float64, copy=True)
    out[..., 1:] *= -1.0
    return out


def quat_rotate(q: Any, v: Any) -> FloatArray:
    """Rotate vectors ``v`` (..., 3) by unit quaternions ``q`` (..., 4): ``q ⊗ (0, v) ⊗ q*`` (broadcast)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    out: FloatArray = v + w * t + np.cross(u, t)
    return out


def quat_from_axis_angle(axis: Any, angle: Any) -> FloatArray:
    """Unit quaternion(s) of a rotation by ``angle`` degrees about the unit ``axis`` (3,); shape angle.shape + (4,)."""
    a = as_axis(axis)
    half = np.radians(np.asarray(angle, dtype=np.float64)) / 2.0
    out: FloatArray = np.concatenate([np.cos(half)[..., None], np.sin(half)[..., None] * a], axis=-1)
    return out


def quat_from_rotvec(rotvec: Any) -> FloatArray:
    """Unit quaternion(s) from rotation vectors (..., 3) in radians (axis × angle)."""
    r = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(r, axis=-1, keepdims=True)
    # sin(a/2)/a → 1/2 as a → 0; np.sinc(x) = sin(πx)/(πx)
    scale = 0.5 * np.sinc(angle / (2.0 * np.pi))
    out: FloatArray = np.concatenate([np.cos(angle / 2.0), scale * r], axis=-1)
    return out


def quat_to_rotvec(q: Any) -> FloatArray:
    """Rotation vectors (..., 3) in radians (axis × angle, angle in [0, π]) of unit quaternions (..., 4)."""
    q = np.asarray(q, dtype=np.float64)
    q = np.where(q[..., :1] < 0, -q, q)  # the shorter of the two equivalent rotations
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    # angle / sin(angle/2), which tends to 2 as the angle tends to 0
    factor = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0)
    out: FloatArray = factor * q[..., 1:]
    return out


def quat_angle(q: Any) -> FloatArray:
    """Total rotation angle in degrees, in [0, 180], of unit quaternions (..., 4)."""
    q = np.asarray(q, dtype=np.float64)
    out: FloatArray = np.degrees(2.0 * np.arctan2(np.linalg.norm(q[..., 1:], axis=-1), np.abs(q[..., 0])))
    return out


def quat_angle_about_axis(q: Any, axis: Any) -> FloatArray:
    """Rotation angle in degrees about ``axis`` (3,), in (-180, 180]: the twist of a swing–twist decomposition.

    ``q = swing ⊗ twist`` with ``twist`` a rotation about ``axis``; its angle is ``2·atan2(u·axis, w)`` where
    ``u`` is the vector part of ``q``. For a rotation purely about ``axis`` this is the exact angle; rotation
    about perpendicular axes (swing) does not leak into it.
    """
    a = as_axis(axis)
    q = np.asarray(q, dtype=np.float64)
    angle = np.degrees(2.0 * np.arctan2(q[..., 1:] @ a, q[..., 0]))
    out: FloatArray = (angle + 180.0) % 360.0 - 180.0
    return np.where(out == -180.0, 180.0, out)


def quat_mean(q: Any) -> FloatArray:
    """Average orientation of unit quaternions (n, 4) → (4,), sign-invariant (Markley et al. 2007).

    The mean is the eigenvector of the largest eigenvalue of ``Σ qᵢ qᵢᵀ`` (Markley FL, Cheng Y, Crassidis JL,
    Oshman Y. "Averaging quaternions". J Guid Control Dyn 2007;30(4):1193-7). Returned with w ≥ 0.
    """
    arr = np.asarray(q, dtype=np.float64).reshape(-1, 4)
    _, vecs = np.linalg.eigh(arr.T @ arr)
    mean = vecs[:, -1]
    out: FloatArray = mean if mean[0] >= 0 else -mean
    return out
