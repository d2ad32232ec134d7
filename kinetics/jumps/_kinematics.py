"""Centre-of-mass kinematics from vertical force: net force / mass integrated with the trapezoid rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinetics.jumps._common import FloatArray, G, IntArray, gather


@dataclass
class Kinematics:
    """Columns [lo, lo + n) of the batch: force (N), net force (N), velocity (m/s), displacement (m), power (W).

    ``impulse_to(i)`` is the running net impulse (N·s) so that the net impulse over [a, b] is
    ``impulse_to(b) - impulse_to(a)`` — the same trapezoid sums as the velocity.
    """

    lo: int
    force: FloatArray
    net: FloatArray
    running: FloatArray
    velocity: FloatArray
    displacement: FloatArray
    dt: float

    def at(self, x: FloatArray, idx: IntArray) -> FloatArray:
        """``x`` (one of the arrays above) at full-trace sample ``idx`` of each trial."""
        return gather(x, idx - self.lo)

    def impulse(self, a: IntArray, b: IntArray) -> FloatArray:
        """Net impulse (N·s), trapezoid, from sample ``a`` to sample ``b``."""
        return (self.at(self.running, b) - self.at(self.running, a)) * self.dt


def integrate(f: FloatArray, body_weight: FloatArray, start: IntArray, stop: int, fs: float,
              v0: FloatArray | None = None, disp_stop: int | None = None) -> Kinematics:
    """Velocity and displacement of the centre of mass from ``start`` (v = ``v0`` or 0, displacement 0).

    Columns ``min(start)`` to ``stop`` of ``f`` are used; samples before a trial's own ``start`` hold values
    that are not meaningful for that trial. Mass = body weight / g (g = 9.80665 m/s²). Displacement is
    computed up to column ``disp_stop`` (default ``stop``) only.
    """
    lo = int(start.min())
    dt = 1.0 / fs
    x = f[:, lo:stop]
    net = x - body_weight[:, None]
    running = np.cumsum(net, axis=1)
    running -= 0.5 * net  # trapezoid: running[i] = Σ_{j<i} net_j + net_i / 2 (- net_lo / 2, cancelled below)
    mass = body_weight / G
    rel = start - lo
    vel = (running - gather(running, rel)[:, None]) * (dt / mass)[:, None]
    if v0 is not None:
        vel += v0[:, None]
    vd = vel if disp_stop is None else vel[:, : max(disp_stop - lo, rel.max() + 1)]
    disp = np.cumsum(vd, axis=1)
    disp -= 0.5 * vd
    disp -= gather(disp, rel)[:, None]
    disp *= dt
    return Kinematics(lo, x, net, running, vel, disp, dt)
