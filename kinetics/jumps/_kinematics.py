"""Centre-of-mass kinematics from vertical force: net force / mass integrated with the trapezoid rule."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinetics.jumps._common import FloatArray, G, IntArray, gather


@dataclass
class Kinematics:
    """Columns [lo, lo + n) of the batch: force (N), net force (N), velocity (m/s), displacement (m).

    ``running`` is the running net impulse (N) per sample so that the net impulse over [a, b] is
    ``(running[b] - running[a]) * dt`` — the same trapezoid sums as the velocity. ``rel``: each trial's
    integration start (column of this array). The displacement is integrated on demand (:meth:`displacement_to`).
    """

    lo: int
    force: FloatArray
    running: FloatArray
    velocity: FloatArray
    rel: IntArray
    dt: float
    _disp: FloatArray | None = field(default=None, repr=False)

    def at(self, x: FloatArray, idx: IntArray) -> FloatArray:
        """``x`` (one of the arrays above) at full-trace sample ``idx`` of each trial."""
        return gather(x, idx - self.lo)

    def impulse(self, a: IntArray, b: IntArray) -> FloatArray:
        """Net impulse (N·s), trapezoid, from sample ``a`` to sample ``b``."""
        return (self.at(self.running, b) - self.at(self.running, a)) * self.dt

    @property
    def displacement(self) -> FloatArray:
        """Displacement (m) over all columns, 0 at each trial's start."""
        return self.displacement_to(self.velocity.shape[1])

    def displacement_to(self, cols: int) -> FloatArray:
        """Displacement (m) over the first ``cols`` columns (at least up to every trial's start).

        A column's value depends only on the columns before it, so it is the same whatever ``cols`` is.
        """
        cols = max(cols, int(self.rel.max()) + 1)
        if self._disp is not None and self._disp.shape[1] >= cols:
            return self._disp
        vd = self.velocity[:, :cols]
        disp = np.cumsum(vd, axis=1)
        disp -= 0.5 * vd
        disp -= gather(disp, self.rel)[:, None]
        disp *= self.dt
        self._disp = disp
        return disp


def integrate_columns(x: FloatArray, body_weight: FloatArray, rel: IntArray, fs: float,
                      v0: FloatArray | None = None, lo: int = 0) -> Kinematics:
    """Velocity of the centre of mass over the columns of ``x`` (force, N) from column ``rel`` (v = ``v0`` or 0).

    Columns before a trial's own ``rel`` hold values that are not meaningful for that trial. Mass = body
    weight / g (g = 9.80665 m/s²). ``lo``: the trace column of ``x[:, 0]`` (for :meth:`Kinematics.at`).
    """
    dt = 1.0 / fs
    net = x - body_weight[:, None]
    running = np.cumsum(net, axis=1)
    net *= 0.5
    running -= net  # trapezoid: running[i] = Σ_{j<i} net_j + net_i / 2 (- net_0 / 2, cancelled below)
    mass = body_weight / G
    vel = running - gather(running, rel)[:, None]
    vel *= (dt / mass)[:, None]
    if v0 is not None:
        vel += v0[:, None]
    return Kinematics(lo, x, running, vel, rel, dt)


def integrate(f: FloatArray, body_weight: FloatArray, start: IntArray, stop: int, fs: float,
              v0: FloatArray | None = None) -> Kinematics:
    """:func:`integrate_columns` over columns ``min(start)`` to ``stop`` of ``f`` from each trial's ``start``."""
    lo = int(start.min())
    return integrate_columns(f[:, lo:stop], body_weight, start - lo, fs, v0, lo)
