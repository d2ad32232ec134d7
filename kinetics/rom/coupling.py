"""Angle-specific strength: a goniometer angle joined with a dynamometer force on the session clock.

The two devices sample at their own rates and instants; both are timestamped on the one session clock (s).
The angle is linearly interpolated at every force sample time (the force keeps its own samples, so a force
peak is never smoothed away by resampling), force samples outside the angle recording or inside an angle gap
longer than ``max_gap`` are dropped, and the force is then summarised per angle bin — the force–angle
(torque–angle) curve of isokinetic and isometric dynamometry (e.g. Kannus P. "Isokinetic evaluation of muscular
performance". Int J Sports Med 1994;15:S11-8: peak force and the angle at which it occurs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import as_signal, input_error
from kinetics.results import Metrics

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class AngleForce:
    """Force per angle bin of one trial.

    Attributes
    ----------
    bin_edges : ndarray (k + 1,)
        Angle bin edges in degrees (bins are [left, right), the last one closed).
    bin_centers : ndarray (k,)
        Bin centres in degrees.
    force : ndarray (k,)
        Force per bin in N (the bin's maximum or mean, see ``statistic``); NaN for an empty bin.
    samples : ndarray (k,) of int
        Number of force samples in each bin.
    peak_force : float
        Largest force sample in N (within the angle recording).
    peak_force_angle : float
        Angle in degrees at the time of that sample (interpolated), not a bin centre.
    peak_force_time : float
        Its time on the session clock in s.
    statistic : str
        ``"max"`` or ``"mean"``.
    """

    bin_edges: FloatArray
    bin_centers: FloatArray
    force: FloatArray
    samples: NDArray[np.int64]
    peak_force: float
    peak_force_angle: float
    peak_force_time: float
    statistic: str

    def metrics(self) -> Metrics:
        """The scalar scores as :class:`Metrics`: ``peak_force`` (N), ``peak_force_angle`` (deg)."""
        return Metrics(
            {"peak_force": self.peak_force, "peak_force_angle": self.peak_force_angle},
            {"peak_force": "N", "peak_force_angle": "deg"},
            "force_at_angle",
            {"statistic": self.statistic, "bins": int(self.bin_centers.size)},
        )


def _series(t: Any, x: Any, name: str) -> tuple[FloatArray, FloatArray]:
    times = as_signal(t, f"{name}_t", allow_nan=False)
    values = as_signal(x, name, allow_nan=True)
    if times.ndim != 1 or values.shape != times.shape:
        raise input_error(
            name, f"must be 1-D with one value per time, got shapes {values.shape} and {times.shape}", "one trial"
        )
    if np.any(np.diff(times) <= 0):
        raise input_error(f"{name}_t", "times must increase strictly", "sort the samples by session-clock time")
    keep = np.isfinite(values)
    return times[keep], values[keep]


def force_at_angle(
    angle_t: Any,
    angle: Any,
    force_t: Any,
    force: Any,
    bins: int | Any = 10,
    *,
    statistic: Literal["max", "mean"] = "max",
    max_gap: float = 0.1,
) -> AngleForce:
    """Force as a function of joint angle, from a goniometer and a dynamometer on one session clock.

    Parameters
    ----------
    angle_t, angle : array_like (m,)
        Goniometer sample times in s (session clock) and angle in degrees; NaN samples are treated as gaps.
    force_t, force : array_like (n,)
        Dynamometer sample times in s (session clock) and force in N; NaN samples are dropped.
    bins : int or array_like
        Number of equal-width bins over the angle range reached while force was measured, or the bin edges in
        degrees (increasing).
    statistic : "max" or "mean"
        Force reported per bin.
    max_gap : float
        s; force samples between two angle samples further apart than this get no angle (dropped).
    """
    ta, a = _series(angle_t, angle, "angle")
    tf, f = _series(force_t, force, "force")
    if ta.size < 2 or tf.size < 1:
        raise input_error("angle", "too few finite samples to join", "record both devices during the trial")
    if statistic not in ("max", "mean"):
        raise input_error("statistic", f"must be 'max' or 'mean', got {statistic!r}", "")
    inside = (tf >= ta[0]) & (tf <= ta[-1])
    if not np.any(inside):
        raise input_error(
            "force_t",
            f"the force ({tf[0]:.3f}–{tf[-1]:.3f} s) and angle ({ta[0]:.3f}–{ta[-1]:.3f} s) recordings do not overlap",
            "pass both on the session clock (seconds since the session start)",
        )
    tf, f = tf[inside], f[inside]
    right = np.clip(np.searchsorted(ta, tf, side="left"), 1, ta.size - 1)
    covered = (ta[right] - ta[right - 1]) <= max_gap
    if not np.any(covered):
        raise input_error("angle", f"has gaps longer than max_gap = {max_gap} s around every force sample", "")
    tf, f = tf[covered], f[covered]
    a_at_f = np.interp(tf, ta, a)

    if np.ndim(bins) == 0:
        k = int(bins)
        if k < 1:
            raise input_error("bins", f"must be ≥ 1, got {bins}", "e.g. bins=10")
        lo, hi = float(a_at_f.min()), float(a_at_f.max())
        if hi <= lo:
            hi = lo + 1.0
        edges = np.linspace(lo, hi, k + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or not np.all(np.isfinite(edges)):
            raise input_error("bins", "edges must be finite and strictly increasing", "e.g. np.arange(0, 100, 10)")
    index = np.searchsorted(edges, a_at_f, side="right") - 1
    index[a_at_f == edges[-1]] = edges.size - 2
    valid = (index >= 0) & (index < edges.size - 1)
    k = edges.size - 1
    samples = np.bincount(index[valid], minlength=k).astype(np.int64)
    per_bin = np.full(k, np.nan)
    if statistic == "max":
        out = np.full(k, -np.inf)
        np.maximum.at(out, index[valid], f[valid])
        per_bin = np.where(samples > 0, out, np.nan)
    else:
        sums = np.bincount(index[valid], weights=f[valid], minlength=k)
        per_bin = np.where(samples > 0, sums / np.maximum(samples, 1), np.nan)
    peak = int(np.argmax(f))
    return AngleForce(
        bin_edges=edges,
        bin_centers=(edges[:-1] + edges[1:]) / 2.0,
        force=per_bin,
        samples=samples,
        peak_force=float(f[peak]),
        peak_force_angle=float(a_at_f[peak]),
        peak_force_time=float(tf[peak]),
        statistic=statistic,
    )
