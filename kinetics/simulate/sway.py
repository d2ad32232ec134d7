"""Analytic centre-of-pressure signals with known descriptors, and the plate forces that produce a given COP.

Axes: x medio-lateral (right +), y antero-posterior (forward +), z up; metres, newtons, seconds. COP arrays
have shape (..., 2, n): row 0 x, row 1 y.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def _time(fs: float, duration: float) -> FloatArray:
    return np.arange(round(duration * fs)) / fs


def circle(radius: float, turns: float, fs: float, duration: float, *, centre: Any = (0.0, 0.0)) -> FloatArray:
    """A COP going ``turns`` times round a circle of ``radius`` (m) at constant speed over ``duration`` (s).

    Sample k is at angle 2π·turns·k/(n−1), so the first and last samples meet after whole turns: the path
    length of the polygon is 2·n_seg·r·sin(π·turns/n_seg) with n_seg = n−1, → 2π·r·turns as fs grows.
    """
    n = round(duration * fs)
    theta = 2.0 * math.pi * turns * np.arange(n) / (n - 1)
    cx, cy = centre
    return np.stack([cx + radius * np.cos(theta), cy + radius * np.sin(theta)])


def sinusoid(
    frequency: float, fs: float, duration: float, *, amplitude: Any = (0.005, 0.005), phase: Any = (0.0, 0.0)
) -> FloatArray:
    """x = a_x·sin(2πft + φ_x), y = a_y·sin(2πft + φ_y); amplitudes in m, frequency in Hz."""
    t = _time(fs, duration)
    ax, ay = amplitude
    px, py = phase
    w = 2.0 * math.pi * frequency
    return np.stack([ax * np.sin(w * t + px), ay * np.sin(w * t + py)])


def gaussian_cloud(cov: Any, n: int, *, mean: Any = (0.0, 0.0), seed: int = 0) -> FloatArray:
    """n independent samples of a 2-D normal distribution (covariance in m²), shape (2, n).

    Its 95 % prediction ellipse has area π·χ²₀.₉₅(2)·√det(cov) = −2π·ln(0.05)·√det(cov).
    """
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(np.asarray(mean, float), np.asarray(cov, float), size=n).T.copy()


def random_walk_sway(
    fs: float,
    duration: float,
    *,
    sd: Any = (0.002, 0.004),
    time_constant: float = 1.0,
    batch: tuple[int, ...] = (),
    seed: int = 0,
) -> FloatArray:
    """Quiet-standing-like sway: an Ornstein-Uhlenbeck (mean-reverting random walk) process per axis.

    ``sd`` (m) is the stationary standard deviation of (x, y); ``time_constant`` (s) the mean-reversion time.
    Short intervals diffuse like a random walk, long ones level off (the two regimes of Collins & De Luca 1993).
    Returns shape (*batch, 2, n).
    """
    rng = np.random.default_rng(seed)
    n = round(duration * fs)
    a = math.exp(-1.0 / (fs * time_constant))
    s = np.asarray(sd, float).reshape(2, 1)
    noise = rng.standard_normal((*batch, 2, n)) * s * math.sqrt(1.0 - a * a)
    out = np.empty_like(noise)
    out[..., 0] = rng.standard_normal((*batch, 2)) * s[:, 0]
    for k in range(1, n):
        out[..., k] = a * out[..., k - 1] + noise[..., k]
    return out


def cell_forces(cop: Any, fz: Any, cell_positions: Any) -> FloatArray:
    """Vertical forces (..., n_cells, n) of load cells that put a total ``fz`` (N) at ``cop`` (..., 2, n).

    Minimum-norm solution of Σ Fᵢ = Fz, Σ Fᵢ·xᵢ = Fz·x, Σ Fᵢ·yᵢ = Fz·y (exact for any ≥ 3 non-collinear cells).
    """
    pos = np.asarray(cell_positions, dtype=np.float64)
    c = np.asarray(cop, dtype=np.float64)
    f = np.broadcast_to(np.asarray(fz, dtype=np.float64), c.shape[:-2] + c.shape[-1:])
    a = np.vstack([np.ones(pos.shape[0]), pos[:, 0], pos[:, 1]])  # (3, n_cells)
    rhs = np.stack([f, f * c[..., 0, :], f * c[..., 1, :]], axis=-2)  # (..., 3, n)
    return np.asarray(np.einsum("ck,...kn->...cn", np.linalg.pinv(a), rhs), dtype=np.float64)


def plate_wrench(cop: Any, fz: Any, *, fx: Any = 0.0, fy: Any = 0.0, tz: Any = 0.0, dz: float = 0.0) -> FloatArray:
    """Forces and moments (..., 6, n) (Fx, Fy, Fz, Mx, My, Mz) of a 6-axis plate for a force applied at the COP.

    The force acts at (x, y, dz) — the surface ``dz`` m above the moments' origin — with a free moment ``tz``
    (N·m); M = (x, y, dz) × F + (0, 0, tz).
    """
    c = np.asarray(cop, dtype=np.float64)
    shape = c.shape[:-2] + c.shape[-1:]
    fx_, fy_, fz_, tz_ = (np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for v in (fx, fy, fz, tz))
    x, y = c[..., 0, :], c[..., 1, :]
    mx = y * fz_ - dz * fy_
    my = dz * fx_ - x * fz_
    mz = x * fy_ - y * fx_ + tz_
    return np.stack([fx_, fy_, fz_, mx, my, mz], axis=-2)


def single_leg_stance_forces(
    fs: float,
    duration: float,
    *,
    body_weight: float = 700.0,
    lift_time: float = 2.0,
    touchdown_time: float | None = 12.0,
    ramp: float = 0.2,
    touchdown_share: float = 0.4,
) -> tuple[FloatArray, FloatArray]:
    """Vertical forces (N) of the stance plate and of a plate under the free foot during a single-leg stance.

    Both feet share the weight until ``lift_time`` (s), when the free foot unloads over ``ramp`` s; at
    ``touchdown_time`` it lands again and takes ``touchdown_share`` of the weight over ``ramp`` s (None: never).
    With a contact threshold F (N), the free foot is off from lift + ramp·(1 − 2F/body_weight) and back on from
    touchdown + ramp·F/(touchdown_share·body_weight).
    """
    t = _time(fs, duration)
    off = np.clip((t - lift_time) / ramp, 0.0, 1.0)  # 0 → both feet, 1 → free foot off
    other_share = 0.5 * (1.0 - off)
    if touchdown_time is not None:
        on = np.clip((t - touchdown_time) / ramp, 0.0, 1.0)
        other_share = np.where(t >= touchdown_time, touchdown_share * on, other_share)
    other = body_weight * other_share
    return body_weight - other, other
