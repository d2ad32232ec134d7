"""Simulated vertical ground reaction force of jumps with exactly known answers.

Every force curve is piecewise linear between knots that lie on sample instants (hop contacts are half-sines),
so the impulse, hence the take-off velocity, is known in closed form and the trapezoid rule reproduces it to
rounding error. Flight times are whole numbers of samples; take-off velocity is ``g·T/2`` for a flight time
``T`` (take-off and landing at the same centre-of-mass height), so both jump-height methods give
``g·T²/8 = v²/2g`` exactly. Force is exactly 0 N in flight when ``noise_sd = 0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import check_rate, input_error

G = 9.80665


@dataclass(frozen=True)
class SimulatedJump:
    """A simulated trace and its exact answers (times in s from the first sample, SI units).

    ``force`` has shape (n_samples,) or, with ``left_share`` given, (2, n_samples) = (left, right).
    Quantities that do not apply to the jump type are NaN.
    """

    force: NDArray[np.float64]
    fs: float
    body_mass: float
    takeoff_velocity: float
    flight_time: float
    jump_height: float
    onset_time: float
    takeoff_time: float
    landing_time: float
    countermovement_depth: float = math.nan
    contact_time: float = math.nan
    touchdown_velocity: float = math.nan
    stiffness: float = math.nan
    net_impulse: float = math.nan
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def body_weight(self) -> float:
        """Body weight (N) = mass × g."""
        return self.body_mass * G


class _Trace:
    """Accumulates piecewise-linear knots (sample index, force) and sampled segments."""

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self.idx: list[int] = [0]
        self.val: list[float] = [0.0]
        self.samples: dict[int, float] = {}

    @property
    def now(self) -> int:
        return self.idx[-1]

    def steps(self, seconds: float) -> int:
        return max(1, round(seconds * self.fs))

    def knot(self, seconds: float, value: float) -> None:
        self.idx.append(self.now + self.steps(seconds))
        self.val.append(value)

    def jump_to(self, value: float) -> None:
        """Start the next segment at ``value`` (a step change at the current instant)."""
        self.val[-1] = value

    def hold(self, seconds: float) -> None:
        self.knot(seconds, self.val[-1])

    def render(self) -> NDArray[np.float64]:
        n = self.now + 1
        out = np.interp(np.arange(n), np.asarray(self.idx, float), np.asarray(self.val, float))
        for i, v in self.samples.items():
            out[i] = v
        return out


def _segments_impulse(times: list[float], values: list[float]) -> float:
    return sum(0.5 * (values[i] + values[i + 1]) * (times[i + 1] - times[i]) for i in range(len(times) - 1))


def _solve_linear(times: list[float], values_of: object, target: float) -> float:
    """The unknown u making ∫(knots(u)) dt = target, for knots linear in u."""
    f = values_of
    i0 = _segments_impulse(times, f(0.0))  # type: ignore[operator]
    i1 = _segments_impulse(times, f(1.0))  # type: ignore[operator]
    return (target - i0) / (i1 - i0)


def _min_displacement(times: list[float], accel: list[float], v0: float = 0.0) -> float:
    """Lowest displacement of a body starting at rest (v0) under piecewise-linear acceleration."""
    v, s, lowest = v0, 0.0, 0.0
    for i in range(len(times) - 1):
        h = times[i + 1] - times[i]
        a0, a1 = accel[i], accel[i + 1]
        k = (a1 - a0) / h
        # v(τ) = v + a0 τ + k τ²/2 ; roots in (0, h) are candidates for the minimum of s
        roots = [h]
        if k != 0:
            disc = a0 * a0 - 2 * k * v
            if disc >= 0:
                roots += [(-a0 + sgn * math.sqrt(disc)) / k for sgn in (1, -1)]
        elif a0 != 0:
            roots.append(-v / a0)
        for tau in roots:
            if 0 < tau <= h:
                lowest = min(lowest, s + v * tau + a0 * tau**2 / 2 + k * tau**3 / 6)
        s += v * h + a0 * h * h / 2 + k * h**3 / 6
        v += a0 * h + k * h * h / 2
    return lowest


def _check(fs: float, body_mass: float, noise_sd: float) -> float:
    rate = check_rate(fs)
    if not (math.isfinite(body_mass) and body_mass > 0):
        raise input_error("body_mass", f"must be a positive mass in kg, got {body_mass!r}", "pass e.g. 70.0")
    if not (math.isfinite(noise_sd) and noise_sd >= 0):
        raise input_error("noise_sd", f"must be ≥ 0 N, got {noise_sd!r}", "pass e.g. 2.0")
    return rate


def _flight_samples(fs: float, flight_time: float) -> int:
    n = round(flight_time * fs)
    if n < 2:
        raise input_error("flight_time", f"{flight_time!r} s is under two samples at {fs:g} Hz", "pass a longer one")
    return n


def _finish(force: NDArray[np.float64], noise_sd: float, seed: int | None,
            left_share: float | None) -> NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    if left_share is None:
        return force + (rng.normal(0.0, noise_sd, force.shape) if noise_sd else 0.0)
    if not 0.0 <= left_share <= 1.0:
        raise input_error("left_share", f"must lie in [0, 1], got {left_share!r}", "pass e.g. 0.5")
    out = np.stack([left_share * force, (1.0 - left_share) * force])
    if noise_sd:
        out += rng.normal(0.0, noise_sd, out.shape)
    return out


def _landing(tr: _Trace, bw: float, mass: float, v_down: float, after: float) -> None:
    """Landing from 0 N at the current instant, bringing the centre of mass from ``v_down`` (> 0) to rest."""
    # the last dip below body weight makes the velocity cross zero (end of the landing phase) before rest
    d = [tr.steps(s) / tr.fs for s in (0.01, 0.04, 0.10, 0.10, 0.10)]
    times = [0.0, *np.cumsum(d).tolist()]

    def vals(u: float) -> list[float]:
        return [0.0, 2.0 * bw, u, 1.2 * bw, 0.9 * bw, bw]

    peak = _solve_linear(times, lambda u: [x - bw for x in vals(u)], mass * v_down)
    for dt_, value in zip(d, vals(peak)[1:], strict=True):
        tr.knot(dt_, value)
    tr.hold(after)


def _push_off(
    tr: _Trace,
    d: list[float],
    vals: Callable[[float], list[float]],
    body_mass: float,
    v_to: float,
    t_flight: float,
    onset: float,
    after_time: float,
    noise_sd: float,
    seed: int | None,
    left_share: float | None,
) -> SimulatedJump:
    """Finish a CMJ or squat jump from its onset: the piecewise-linear force ``vals(peak)`` over the segment
    durations ``d`` (s), with the plateau ``peak`` solved so the net impulse gives take-off velocity ``v_to``,
    then the flight, the landing and the quiet standing after it."""
    fs = tr.fs
    bw = body_mass * G
    times = [0.0, *np.cumsum(d).tolist()]
    peak = _solve_linear(times, lambda p: [x - bw for x in vals(p)], body_mass * v_to)
    knots = vals(peak)
    for dt_, value in zip(d, knots[1:], strict=True):
        tr.knot(dt_, value)
    takeoff = tr.now / fs
    depth = -_min_displacement(times, [(x - bw) / body_mass for x in knots])
    tr.hold(t_flight)
    landing = tr.now / fs
    _landing(tr, bw, body_mass, v_to, after_time)
    force = _finish(tr.render(), noise_sd, seed, left_share)
    return SimulatedJump(force, fs, body_mass, v_to, t_flight, G * t_flight**2 / 8, onset, takeoff, landing,
                         countermovement_depth=depth, net_impulse=body_mass * v_to,
                         extras={"peak_propulsive_force": peak})


def simulate_cmj(
    *,
    fs: float = 1000.0,
    body_mass: float = 70.0,
    flight_time: float = 0.5,
    quiet_time: float = 1.5,
    unweighting: float = 0.6,
    after_time: float = 1.5,
    noise_sd: float = 0.0,
    seed: int | None = None,
    left_share: float | None = None,
) -> SimulatedJump:
    """A countermovement jump: quiet standing, unweighting to (1 − ``unweighting``)·BW, braking, propulsion,
    a flight of ``flight_time`` (rounded to whole samples), landing and quiet standing.

    The propulsive plateau force is solved so that the net impulse gives take-off velocity g·T/2 exactly.
    ``left_share``: split the force between two plates (left = share × F); ``noise_sd``: Gaussian noise (N).
    """
    fs = _check(fs, body_mass, noise_sd)
    if not 0 < unweighting < 1:
        raise input_error("unweighting", f"must lie in (0, 1), got {unweighting!r}", "pass e.g. 0.6")
    bw = body_mass * G
    n_flight = _flight_samples(fs, flight_time)
    t_flight = n_flight / fs
    v_to = G * t_flight / 2
    tr = _Trace(fs)
    tr.jump_to(bw)
    tr.hold(quiet_time)
    onset = tr.now / fs
    d = [tr.steps(s) / fs for s in (0.20, 0.20, 0.12, 0.12, 0.12, 0.02)]

    def vals(p: float) -> list[float]:
        return [bw, (1 - unweighting) * bw, bw, p, p, 0.7 * bw, 0.0]

    return _push_off(tr, d, vals, body_mass, v_to, t_flight, onset, after_time, noise_sd, seed, left_share)


def simulate_squat_jump(
    *,
    fs: float = 1000.0,
    body_mass: float = 70.0,
    flight_time: float = 0.45,
    quiet_time: float = 1.5,
    countermovement: float = 0.0,
    after_time: float = 1.5,
    noise_sd: float = 0.0,
    seed: int | None = None,
    left_share: float | None = None,
) -> SimulatedJump:
    """A squat jump from a held squat: force rises from BW to a plateau and falls to 0 at take-off.

    ``countermovement`` > 0 inserts a dip to (1 − countermovement)·BW before the push (a faulty squat jump).
    """
    fs = _check(fs, body_mass, noise_sd)
    if not 0 <= countermovement < 1:
        raise input_error("countermovement", f"must lie in [0, 1), got {countermovement!r}", "pass e.g. 0.1")
    bw = body_mass * G
    n_flight = _flight_samples(fs, flight_time)
    t_flight = n_flight / fs
    v_to = G * t_flight / 2
    tr = _Trace(fs)
    tr.jump_to(bw)
    tr.hold(quiet_time)
    onset = tr.now / fs
    steps = [0.15, 0.15, 0.10, 0.02]
    if countermovement > 0:
        steps = [0.08, 0.08, *steps]
    d = [tr.steps(s) / fs for s in steps]

    def vals(p: float) -> list[float]:
        dip = [(1 - countermovement) * bw, bw] if countermovement > 0 else []
        return [bw, *dip, p, p, 0.7 * bw, 0.0]

    return _push_off(tr, d, vals, body_mass, v_to, t_flight, onset, after_time, noise_sd, seed, left_share)


def simulate_drop_jump(
    *,
    fs: float = 1000.0,
    body_mass: float = 70.0,
    drop_height: float = 0.30,
    contact_time: float = 0.25,
    flight_time: float = 0.45,
    box_time: float = 0.5,
    after_time: float = 1.5,
    noise_sd: float = 0.0,
    seed: int | None = None,
    left_share: float | None = None,
) -> SimulatedJump:
    """A drop jump: unloaded while on the box (``box_time``), touchdown at −√(2·g·drop_height), a contact of
    ``contact_time`` (whole samples) ending at take-off velocity g·T/2, flight, landing, quiet standing.
    """
    fs = _check(fs, body_mass, noise_sd)
    if not (math.isfinite(drop_height) and drop_height > 0):
        raise input_error("drop_height", f"must be positive (m), got {drop_height!r}", "pass e.g. 0.3")
    bw = body_mass * G
    t_flight = _flight_samples(fs, flight_time) / fs
    v_to = G * t_flight / 2
    v_td = -math.sqrt(2 * G * drop_height)
    tr = _Trace(fs)
    tr.hold(box_time)
    touchdown = tr.now / fs
    n_c = round(contact_time * fs)
    d1, d3 = tr.steps(0.04), tr.steps(0.06)
    if n_c <= d1 + d3:
        raise input_error("contact_time", f"{contact_time!r} s is too short for the contact profile", "use ≥ 0.12 s")
    d = [d1 / fs, (n_c - d1 - d3) / fs, d3 / fs]
    times = [0.0, *np.cumsum(d).tolist()]

    def vals(a: float) -> list[float]:
        return [0.0, a, 0.8 * a, 0.0]

    amp = _solve_linear(times, lambda a: [x - bw for x in vals(a)], body_mass * (v_to - v_td))
    knots = vals(amp)
    for dt_, value in zip(d, knots[1:], strict=True):
        tr.knot(dt_, value)
    takeoff = tr.now / fs
    depth = -_min_displacement(times, [(x - bw) / body_mass for x in knots], v0=v_td)
    tr.hold(t_flight)
    landing = tr.now / fs
    _landing(tr, bw, body_mass, v_to, after_time)
    force = _finish(tr.render(), noise_sd, seed, left_share)
    return SimulatedJump(force, fs, body_mass, v_to, t_flight, G * t_flight**2 / 8, touchdown, takeoff, landing,
                         countermovement_depth=depth, contact_time=n_c / fs, touchdown_velocity=v_td,
                         net_impulse=body_mass * (v_to - v_td), extras={"peak_contact_force": amp})


def simulate_hops(
    *,
    fs: float = 1000.0,
    body_mass: float = 70.0,
    n_hops: int = 10,
    contact_time: float = 0.18,
    flight_time: float = 0.40,
    quiet_time: float = 1.5,
    after_time: float = 1.5,
    noise_sd: float = 0.0,
    seed: int | None = None,
    left_share: float | None = None,
) -> SimulatedJump:
    """Repeated hops (e.g. the 10/5 test): quiet standing, a countermovement into the first flight, then
    ``n_hops`` half-sine ground contacts of ``contact_time`` each followed by a flight of ``flight_time``
    (both whole samples), a final landing and quiet standing.

    Each contact is the spring–mass model's half-sine F = F_max·sin(π t / T_c) with
    F_max = m·g·π·(T_c + T_f)/(2·T_c); ``stiffness`` is that model's vertical stiffness F_max / Δy with
    Δy = F_max·T_c²/(m·π²) − g·T_c²/8 (Dalleau et al. 2004).
    """
    fs = _check(fs, body_mass, noise_sd)
    if n_hops < 1:
        raise input_error("n_hops", f"must be ≥ 1, got {n_hops!r}", "pass e.g. 10")
    bw = body_mass * G
    n_f = _flight_samples(fs, flight_time)
    n_c = _flight_samples(fs, contact_time)
    t_f, t_c = n_f / fs, n_c / fs
    v_to = G * t_f / 2
    # start with a countermovement take-off, as in simulate_cmj
    first = simulate_cmj(fs=fs, body_mass=body_mass, flight_time=t_f, quiet_time=quiet_time, after_time=0.0)
    head = np.asarray(first.force)[: round(first.takeoff_time * fs) + 1]
    f_max = body_mass * G * math.pi * (t_c + t_f) / (2 * t_c)
    phase = np.arange(n_c + 1) / n_c
    contact = f_max * np.sin(math.pi * phase)
    contact[0] = contact[-1] = 0.0
    pieces = [head[:-1]]
    for _ in range(n_hops):
        pieces.append(np.zeros(n_f))
        pieces.append(contact[:-1])
    tr = _Trace(fs)
    tr.hold(t_f)
    _landing(tr, bw, body_mass, v_to, after_time)
    pieces.append(tr.render())
    force = _finish(np.concatenate(pieces), noise_sd, seed, left_share)
    dy = f_max * t_c**2 / (body_mass * math.pi**2) - G * t_c**2 / 8
    return SimulatedJump(force, fs, body_mass, v_to, t_f, G * t_f**2 / 8, first.onset_time, first.takeoff_time,
                         first.takeoff_time + t_f, contact_time=t_c, stiffness=f_max / dy,
                         extras={"peak_force": f_max, "n_hops": float(n_hops)})
