"""Segment and joint angles from IMU orientations, with zero-pose and functional-sweep calibration.

Angles are in degrees, positive by the right-hand rule about the chosen axis, 0 at the calibrated zero pose,
and continuous over time (unwrapped, so a full turn reads 360°, not a jump back to −180°).

- Segment angle (one IMU): the rotation since the zero pose, ``q₀* ⊗ q(t)`` (expressed in the sensor frame at
  the zero pose), projected on an anatomical axis given in the sensor frame (swing–twist decomposition: the
  twist angle about that axis).
- Joint angle (two IMUs): the relative orientation ``q_rel = q_proximal* ⊗ q_distal`` (distal sensor in the
  proximal sensor frame), since the zero pose, projected on the joint axis in the distal frame. For a hinge,
  ``q_rel(t) = q_rel(0) ⊗ R(j, θ(t))`` and the projection returns θ exactly.

Joint-axis calibration (functional sweep, method of this library in the spirit of Seel T, Raisch J, Schauer T.
"IMU-based joint angle measurement for gait analysis". Sensors 2014;14(4):6891-909, which identifies the hinge
axis from the gyroscopes of a free movement): during a flexion–extension sweep the angular velocity of the
distal segment relative to the proximal one, in the distal frame, ``ω_rel = ω_distal − R(q_rel)ᵀ ω_proximal``,
points along the hinge axis at every sample. The axis is the first right singular vector of the stacked
``ω_rel`` (n × 3) — the direction holding most of its energy — and ``s₁² / Σ sᵢ²`` (the share of that energy)
measures how hinge-like the sweep was. Unlike Seel et al.'s orientation-free optimisation, this uses the
relative orientation from the fusion filter, so heading drift between the two 6D estimates enters through
``q_rel``; VQF's bias estimation keeps it small over a session, and a magnetometer (9D) removes it where the
field is clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kinetics._checks import check_rate, input_error
from kinetics.rom.quaternion import (
    FloatArray,
    as_axis,
    as_quat,
    quat_angle,
    quat_angle_about_axis,
    quat_conjugate,
    quat_from_axis_angle,
    quat_mean,
    quat_multiply,
    quat_rotate,
)


def _trajectory(q: Any, name: str) -> FloatArray:
    arr = as_quat(q, name)
    if arr.ndim < 2:
        raise input_error(name, f"must have shape (..., n_samples, 4), got {arr.shape}", "pass a quaternion series")
    return arr


def _angle_since(q_rel: FloatArray, axis: FloatArray, zero_pose: Any, unwrap: bool) -> FloatArray:
    q0 = q_rel[..., :1, :] if zero_pose is None else as_quat(zero_pose, "zero_pose")[..., None, :]
    angle = quat_angle_about_axis(quat_multiply(quat_conjugate(q0), q_rel), axis)
    if unwrap:
        angle = np.unwrap(angle, period=360.0, axis=-1)
    return angle


def segment_angle(quat: Any, axis: Any, zero_pose: Any = None, *, unwrap: bool = True) -> FloatArray:
    """Angle in degrees (..., n) of one IMU about ``axis`` relative to its zero pose.

    Parameters
    ----------
    quat : array_like, shape (..., n, 4)
        Orientation, sensor to earth (e.g. from :func:`kinetics.rom.orientation`).
    axis : array_like, shape (3,)
        Anatomical axis in the sensor frame (e.g. the flexion axis of the strapped segment).
    zero_pose : array_like, shape (4,) or (..., 4), optional
        Orientation at the anatomical zero (from :func:`calibrate_zero_pose`); default the first sample.
    unwrap : bool
        Keep the angle continuous past ±180° (default).
    """
    q = _trajectory(quat, "quat")
    return _angle_since(q, as_axis(axis), zero_pose, unwrap)


def heading_rotation(heading_offset: float) -> FloatArray:
    """Quaternion (4,) of a rotation by ``heading_offset`` degrees about the vertical (earth z)."""
    return quat_from_axis_angle((0.0, 0.0, 1.0), float(heading_offset))


def relative_orientation(quat_proximal: Any, quat_distal: Any, heading_offset: float = 0.0) -> FloatArray:
    """``q_proximal* ⊗ R_z(δ) ⊗ q_distal`` (..., n, 4): the distal sensor's orientation in the proximal frame.

    ``heading_offset`` δ (degrees) turns the distal estimate's earth frame onto the proximal one's: two 6D
    (magnetometer-free) estimates each have their own arbitrary heading (see :func:`calibrate_joint`).
    """
    qp = _trajectory(quat_proximal, "quat_proximal")
    qd = _trajectory(quat_distal, "quat_distal")
    if qp.shape != qd.shape:
        raise input_error(
            "quat_distal", f"has shape {qd.shape} but quat_proximal has {qp.shape}", "pass both on one clock"
        )
    return quat_multiply(quat_conjugate(qp), quat_multiply(heading_rotation(heading_offset), qd))


def joint_angle(
    quat_proximal: Any,
    quat_distal: Any,
    axis: Any,
    zero_pose: Any = None,
    *,
    heading_offset: float = 0.0,
    unwrap: bool = True,
) -> FloatArray:
    """Joint angle in degrees (..., n) between two IMUs, about the joint ``axis`` given in the distal frame.

    ``zero_pose`` is the relative orientation (:func:`relative_orientation`) at the anatomical zero (shape
    (4,)); default the first sample. ``heading_offset`` (degrees) aligns the headings of two 6D estimates. Use
    :func:`calibrate_joint` to get all three from a recording.
    """
    q_rel = relative_orientation(quat_proximal, quat_distal, heading_offset)
    return _angle_since(q_rel, as_axis(axis), zero_pose, unwrap)


def _window(n: int, fs: float, start: float, stop: float, name: str) -> slice:
    i0 = max(0, round(start * fs))
    i1 = min(n, round(stop * fs))
    if i1 - i0 < 1:
        raise input_error(
            name, f"window {start:g}–{stop:g} s holds no samples of a {n / fs:g} s recording", "pass times inside it"
        )
    return slice(i0, i1)


def calibrate_zero_pose(
    quat: Any, fs: float, *, start: float = 0.0, duration: float = 1.0, max_motion: float = 2.0
) -> FloatArray:
    """Mean orientation (4,) over a still window (the anatomical zero pose), from ``quat`` (n, 4).

    The mean is Markley et al.'s (2007) eigenvector average. Raises :class:`KineticsInputError` when any sample
    of the window is more than ``max_motion`` degrees from the mean: the patient moved during calibration.
    """
    rate = check_rate(fs)
    q = _trajectory(quat, "quat")
    if q.ndim != 2:
        raise input_error("quat", f"must have shape (n, 4) for calibration, got {q.shape}", "calibrate one trial")
    if duration <= 0:
        raise input_error("duration", f"must be positive, got {duration}", "pass the still window's length in s")
    window = q[_window(q.shape[0], rate, start, start + duration, "zero pose")]
    mean = quat_mean(window)
    motion = float(np.max(quat_angle(quat_multiply(quat_conjugate(mean), window))))
    if motion > max_motion:
        raise input_error(
            "zero pose",
            f"the sensor moved {motion:.1f}° during the calibration window {start:g}–{start + duration:g} s "
            f"(limit {max_motion:g}°)",
            "hold the limb still in the zero position and calibrate again, or choose a still window",
        )
    return mean


@dataclass(frozen=True)
class JointCalibration:
    """Calibration of a two-IMU goniometer.

    Attributes
    ----------
    zero_pose : ndarray (4,)
        Relative orientation (:func:`relative_orientation`, heading-aligned) at the anatomical zero.
    axis : ndarray (3,)
        Joint axis in the distal sensor frame (unit), sign such that flexion from the zero pose is positive
        (see :func:`calibrate_joint`).
    axis_proximal : ndarray (3,)
        The same axis in the proximal sensor frame at the zero pose.
    heading_offset : float
        Degrees about the vertical that align the distal estimate's heading with the proximal one's.
    planarity : float
        Share (0–1) of the relative angular velocity's energy along ``axis`` during the sweep (1 = pure hinge).
    heading_contrast : float
        How much the planarity changes over all heading offsets (0–1): near 0 the proximal segment hardly tilted
        during the sweep and ``heading_offset`` is undetermined (harmless while the proximal segment stays
        still or only turns about the vertical, wrong once it tilts).
    sweep_range : float
        Range in degrees of the joint angle during the sweep.
    """

    zero_pose: FloatArray
    axis: FloatArray
    axis_proximal: FloatArray
    heading_offset: float
    planarity: float
    heading_contrast: float
    sweep_range: float

    def angle(self, quat_proximal: Any, quat_distal: Any, *, unwrap: bool = True) -> FloatArray:
        """Joint angle in degrees (..., n) with this calibration (see :func:`joint_angle`)."""
        return joint_angle(
            quat_proximal, quat_distal, self.axis, self.zero_pose, heading_offset=self.heading_offset, unwrap=unwrap
        )


def _scatter_terms(
    q_proximal: FloatArray, q_distal: FloatArray, gyr_p: FloatArray, gyr_d: FloatArray
) -> tuple[FloatArray, ...]:
    """Pieces of ``Σ ω_rel ω_relᵀ`` as a function of the heading offset δ.

    ``ω_rel(δ) = ω_d − q_d* ⊗ R_z(−δ) ⊗ (q_p ⊗ ω_p ⊗ q_p*) ⊗ R_z(δ) ⊗ q_d = u − cos δ · a − sin δ · b``, so the
    scatter matrix is a quadratic form in (cos δ, sin δ) of six 3 × 3 sums.
    """
    v = quat_rotate(q_proximal, gyr_p)
    zero = np.zeros_like(v[:, 0])
    qd_conj = quat_conjugate(q_distal)
    a = quat_rotate(qd_conj, np.stack([v[:, 0], v[:, 1], zero], axis=1))
    b = quat_rotate(qd_conj, np.stack([v[:, 1], -v[:, 0], zero], axis=1))
    u = gyr_d - quat_rotate(qd_conj, np.stack([zero, zero, v[:, 2]], axis=1))
    return u.T @ u, u.T @ a, u.T @ b, a.T @ a, a.T @ b, b.T @ b


def _scatter(terms: tuple[FloatArray, ...], delta: FloatArray) -> FloatArray:
    uu, ua, ub, aa, ab, bb = terms
    c = np.cos(delta)[:, None, None]
    s = np.sin(delta)[:, None, None]
    out: FloatArray = uu - c * (ua + ua.T) - s * (ub + ub.T) + c * c * aa + c * s * (ab + ab.T) + s * s * bb
    return out


def _planarity(scatter: FloatArray) -> FloatArray:
    eig = np.linalg.eigvalsh(scatter)
    total = eig.sum(axis=-1)
    out: FloatArray = np.where(total > 0, eig[..., -1] / np.where(total > 0, total, 1.0), 0.0)
    return out


def calibrate_joint(
    quat_proximal: Any,
    quat_distal: Any,
    gyr_proximal: Any,
    gyr_distal: Any,
    fs: float,
    *,
    zero: tuple[float, float] = (0.0, 1.0),
    sweep: tuple[float, float] | None = None,
    sign_hint: Any = None,
    min_planarity: float = 0.8,
    min_sweep: float = 20.0,
    max_motion: float = 2.0,
) -> JointCalibration:
    """Zero-pose plus functional-sweep calibration of a joint measured by two IMUs.

    Finds the heading offset δ between the two orientation estimates and the joint axis together: δ is the
    offset (searched every 0.5° over the full turn, then refined) at which the relative angular velocity during
    the sweep is most concentrated on one axis (largest ``planarity``); the axis is then the dominant direction
    (first right singular vector). The zero pose is the mean heading-aligned relative orientation over ``zero``.

    Parameters
    ----------
    quat_proximal, quat_distal : array_like, shape (n, 4)
        Orientations of the two sensors on one clock (e.g. from :func:`kinetics.rom.orientation`).
    gyr_proximal, gyr_distal : array_like, shape (n, 3)
        Their gyroscopes in rad/s (bias-corrected if available: subtract ``OrientationEstimate.bias``).
    fs : float
        Sampling rate in Hz.
    zero : (start, stop) in s
        A window where the limb is still in the anatomical zero position.
    sweep : (start, stop) in s, optional
        A window of flexion–extension movements of the joint, ideally while the proximal segment also tilts
        (that makes the heading offset observable); default: everything after ``zero``.
    sign_hint : array_like (3,), optional
        Rough direction of positive flexion in the distal frame; default: the sign that makes the larger
        excursion of the sweep (from the zero pose) positive.
    min_planarity, min_sweep, max_motion
        Quality limits: the sweep must keep ≥ ``min_planarity`` of its relative angular-velocity energy on one
        axis and move the joint ≥ ``min_sweep`` degrees; the zero window must stay within ``max_motion`` degrees.

    Raises :class:`KineticsInputError` when a limit is not met (a sensor that never moved fails ``min_sweep``).
    """
    from scipy.optimize import minimize_scalar

    rate = check_rate(fs)
    qp = _trajectory(quat_proximal, "quat_proximal")
    qd = _trajectory(quat_distal, "quat_distal")
    if qp.ndim != 2 or qp.shape != qd.shape:
        raise input_error(
            "quat_proximal",
            f"and quat_distal must both have shape (n, 4), got {qp.shape} and {qd.shape}",
            "calibrate one trial, both sensors on one clock",
        )
    n = qp.shape[0]
    gyr_p = np.asarray(gyr_proximal, dtype=np.float64)
    gyr_d = np.asarray(gyr_distal, dtype=np.float64)
    for name, g in (("gyr_proximal", gyr_p), ("gyr_distal", gyr_d)):
        if g.shape != (n, 3):
            raise input_error(name, f"must have shape ({n}, 3) like the quaternions, got {g.shape}", "one clock")
        if not np.all(np.isfinite(g)):
            raise input_error(name, "contains NaN or infinite values", "fill or cut the gaps first")
    zero_start, zero_stop = zero
    if zero_stop <= zero_start:
        raise input_error("zero", f"window {zero} is empty", "pass (start, stop) in s with stop > start")
    sweep_start, sweep_stop = sweep if sweep is not None else (zero_stop, n / rate)
    span = _window(n, rate, sweep_start, sweep_stop, "sweep")

    terms = _scatter_terms(qp[span], qd[span], gyr_p[span], gyr_d[span])
    step = np.radians(0.5)
    grid = np.arange(0.0, 2.0 * np.pi, step)
    planarity_grid = _planarity(_scatter(terms, grid))
    best = float(grid[int(np.argmax(planarity_grid))])
    refined = minimize_scalar(
        lambda d: -float(_planarity(_scatter(terms, np.array([d])))[0]),
        bounds=(best - step, best + step),
        method="bounded",
        options={"xatol": 1e-6},
    )
    delta = float(refined.x)
    scatter = _scatter(terms, np.array([delta]))[0]
    eigval, eigvec = np.linalg.eigh(scatter)
    planarity = float(eigval[-1] / eigval.sum()) if eigval.sum() > 0 else 0.0
    axis = eigvec[:, -1]
    heading_offset = float((np.degrees(delta) + 180.0) % 360.0 - 180.0)

    q_rel = relative_orientation(qp, qd, heading_offset)
    zero_pose = calibrate_zero_pose(
        q_rel, rate, start=zero_start, duration=zero_stop - zero_start, max_motion=max_motion
    )
    angle = _angle_since(q_rel[span], axis, zero_pose, unwrap=True)
    sweep_range = float(np.ptp(angle))
    if sweep_range < min_sweep:
        raise input_error(
            "sweep",
            f"the joint moved only {sweep_range:.1f}° during the sweep (at least {min_sweep:g}° needed)",
            "flex and extend the joint through its range during the sweep window",
        )
    if planarity < min_planarity:
        raise input_error(
            "sweep",
            f"only {100 * planarity:.0f}% of the relative rotation was about one axis (≥ {100 * min_planarity:.0f}%"
            " needed)",
            "repeat the sweep as a pure flexion–extension without twisting the limb",
        )
    if sign_hint is not None:
        flip = float(axis @ as_axis(sign_hint, "sign_hint")) < 0
    else:
        flip = abs(float(angle.min())) > abs(float(angle.max()))
    if flip:
        axis = -axis
    return JointCalibration(
        zero_pose=zero_pose,
        axis=axis,
        axis_proximal=quat_rotate(zero_pose, axis),
        heading_offset=heading_offset,
        planarity=planarity,
        heading_contrast=float(planarity_grid.max() - planarity_grid.min()),
        sweep_range=sweep_range,
    )
