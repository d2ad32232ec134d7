"""Signal scripts: what a simulated sensor measures, sample by sample, for any span of its sample counter.

A script is an object with ``rate`` (Hz), ``n_channels`` and ``values(first_counter, n)`` returning the SI values
of samples ``first_counter … first_counter + n − 1`` as an array of shape (n_channels, n), float64. It is
deterministic: the same counters always give the same values, however the span is cut into calls, so a test can
recompute exactly what a sensor measured. ``at_rate(rate)`` gives the same scenario sampled at another rate (a
sensor told to change its rate uses it).

Scenarios (each built on the exact-answer simulators of :mod:`kinetics.simulate`):

- :func:`efforts` — isometric efforts with exponential rise, hold and linear release, repeated
  (push, grip, pull, the Tindeq and the SIG force sensor); ``pressure_area`` turns them into bulb pressure (Pa)
  for the pneumatic dynamometer;
- :func:`standing_sway` — quiet standing on one plate, or on two plates (left/right) by one person: 4 load-cell
  forces per plate whose total is body weight and whose COP follows an Ornstein–Uhlenbeck sway;
- :func:`countermovement_jumps` — repeated countermovement jumps on one plate or split over two;
- :func:`flexion_cycles` — joint flexion–extension cycles seen by an IMU on the moving segment, as the profile
  goniometer's channels (gyr, acc) or the WitMotion's (acc, gyr, Euler angles);
- :func:`body_weight` — a person standing on a weight scale (mass, BMI, height);
- :func:`counter_ramp` — values that encode the counter itself, for transport tests.

A finite scenario repeats: its noise-free trace is one period, looped, and sensor noise (Gaussian, drawn per
block of counters from a seeded generator) is added on top, so it never repeats. :func:`default_script` picks the
scenario of each device kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import check_rate, input_error
from kinetics.simulate import force as sim_force
from kinetics.simulate import imu as sim_imu
from kinetics.simulate import jumps as sim_jumps
from kinetics.simulate import sway as sim_sway

if TYPE_CHECKING:
    from drivers.devices import DeviceKind

FloatArray = NDArray[np.float64]
Side = Literal["left", "right"]

STANDARD_GRAVITY = 9.80665
NOISE_BLOCK = 4096
"""Noise is drawn per block of this many counters, from a generator seeded with (seed, block index)."""
PLATE_CELLS = ((-0.15, 0.20), (0.15, 0.20), (0.15, -0.20), (-0.15, -0.20))
"""The device table's plate cell positions (m): front-left, front-right, rear-right, rear-left."""


@runtime_checkable
class SignalScript(Protocol):
    """What a simulated sensor needs from a scenario (see the module docstring)."""

    @property
    def rate(self) -> float: ...

    @property
    def n_channels(self) -> int: ...

    def values(self, first_counter: int, n: int) -> FloatArray:
        """SI values of samples ``first_counter … first_counter + n − 1``, shape (n_channels, n)."""
        ...

    def at_rate(self, rate: float) -> SignalScript:
        """The same scenario sampled at ``rate`` Hz."""
        ...


def _check_span(first_counter: int, n: int) -> tuple[int, int]:
    first, count = int(first_counter), int(n)
    if first < 0 or count < 0:
        raise input_error("counters", f"span {first}+{count} is negative", "ask for counters ≥ 0 and n ≥ 0")
    return first, count


class CounterNoise:
    """Gaussian noise keyed by sample counter: the same counter always gets the same noise.

    ``sd`` (n_channels,) in SI units; channels with sd 0 get none.
    """

    def __init__(self, sd: Sequence[float] | FloatArray, seed: int = 0) -> None:
        self.sd = np.asarray(sd, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(self.sd)) or np.any(self.sd < 0):
            raise input_error("noise_sd", f"{self.sd.tolist()} has a negative or non-finite value", "give sd ≥ 0")
        self.seed = int(seed)
        self._blocks: dict[int, FloatArray] = {}

    @property
    def silent(self) -> bool:
        return not np.any(self.sd > 0)

    def _block(self, index: int) -> FloatArray:
        block = self._blocks.get(index)
        if block is None:
            if len(self._blocks) >= 4:
                self._blocks.pop(next(iter(self._blocks)))
            rng = np.random.default_rng([self.seed, index])
            block = rng.standard_normal((self.sd.size, NOISE_BLOCK)) * self.sd[:, None]
            self._blocks[index] = block
        return block

    def values(self, first_counter: int, n: int) -> FloatArray:
        first, count = _check_span(first_counter, n)
        out = np.zeros((self.sd.size, count))
        if self.silent or count == 0:
            return out
        k = first
        while k < first + count:
            b, offset = divmod(k, NOISE_BLOCK)
            take = min(NOISE_BLOCK - offset, first + count - k)
            out[:, k - first : k - first + take] = self._block(b)[:, offset : offset + take]
            k += take
        return out


@dataclass(frozen=True, eq=False)
class LoopedScript:
    """A noise-free trace of one period, looped, plus :class:`CounterNoise`.

    ``render(rate)`` returns the period (n_channels, n_period) at ``rate``; ``truth`` records the scenario's exact
    parameters (body mass, Fmax, flight time…) so that a test or a demo can state what the sensor should read.
    """

    render: Callable[[float], FloatArray]
    rate: float
    noise_sd: tuple[float, ...]
    seed: int = 0
    label: str = ""
    truth: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    period_trace: FloatArray = field(init=False, repr=False)
    _noise: CounterNoise = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rate = check_rate(self.rate)
        trace = np.atleast_2d(np.asarray(self.render(rate), dtype=np.float64))
        if trace.shape[1] < 1 or not np.all(np.isfinite(trace)):
            raise input_error("script", f"{self.label} rendered a trace of shape {trace.shape}", "check its parameters")
        if len(self.noise_sd) != trace.shape[0]:
            raise input_error("noise_sd", f"{len(self.noise_sd)} values, {trace.shape[0]} channels", "one per channel")
        trace.setflags(write=False)
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "period_trace", trace)
        object.__setattr__(self, "_noise", CounterNoise(self.noise_sd, self.seed))

    @property
    def n_channels(self) -> int:
        return int(self.period_trace.shape[0])

    @property
    def period(self) -> float:
        """Length of one loop of the scenario in s."""
        return self.period_trace.shape[1] / self.rate

    def clean(self, first_counter: int, n: int) -> FloatArray:
        """The noise-free values of the span (n_channels, n)."""
        first, count = _check_span(first_counter, n)
        index = (first + np.arange(count)) % self.period_trace.shape[1]
        return self.period_trace[:, index]

    def values(self, first_counter: int, n: int) -> FloatArray:
        return self.clean(first_counter, n) + self._noise.values(first_counter, n)

    def at_rate(self, rate: float) -> LoopedScript:
        if math.isclose(rate, self.rate):
            return self
        return LoopedScript(self.render, rate, self.noise_sd, self.seed, self.label, self.truth)


# --- force efforts ------------------------------------------------------------------------------------------


def efforts(
    rate: float,
    *,
    fmax: Sequence[float] = (250.0, 240.0, 230.0),
    tau: float = 0.15,
    rise: float = 3.0,
    release: float = 0.5,
    rest: float = 3.0,
    lead: float = 2.0,
    zero_offset: float = 0.0,
    noise_sd: float = 0.3,
    pressure_area: float | None = None,
    seed: int = 0,
) -> LoopedScript:
    """Repeated isometric efforts: rise (time constant ``tau``) and hold for ``rise`` s, linear ``release``.

    The loop: ``lead`` s at rest, then each effort of ``fmax`` (N) followed by ``rest`` s (see
    :func:`kinetics.simulate.force.repeated_efforts`; the times must fall on the sample grid of every rate the
    sensor may use). ``zero_offset`` (N) is the unloaded reading before a tare. With ``pressure_area`` (m²) the
    script is the bulb pressure (Pa) of a pneumatic dynamometer: force / area (offset and noise in Pa too).
    """
    forces = tuple(float(f) for f in fmax)

    def render(fs: float) -> FloatArray:
        trace, _ = sim_force.repeated_efforts(
            fs, fmax=forces, tau=tau, rise=rise, release=release, rest=rest, lead=lead, tail=0.0
        )
        if pressure_area is not None:
            trace = sim_force.to_pressure(trace, pressure_area)
        return (trace + zero_offset)[None, :]

    truth = {"fmax": max(forces), "tau": tau, "rise": rise, "release": release, "zero_offset": zero_offset}
    if pressure_area is not None:
        truth.update(pressure_area=pressure_area, pmax=max(forces) / pressure_area)
    return LoopedScript(render, rate, (noise_sd,), seed, "efforts", MappingProxyType(truth))


# --- force plates -------------------------------------------------------------------------------------------


def _periodic_sway(fs: float, period: float, sd: tuple[float, float], time_constant: float, seed: int) -> FloatArray:
    """OU sway (2, n) of exactly ``period`` s that loops without a jump (cross-faded over its last 2 s).

    Sway is slow, so it is generated at ≤ 100 Hz and interpolated (periodically) to ``fs``.
    """
    base_fs = min(fs, 100.0)
    n_base = round(period * base_fs)
    fade = min(round(2.0 * base_fs), n_base // 4)
    raw = sim_sway.random_walk_sway(base_fs, (n_base + fade) / base_fs, sd=sd, time_constant=time_constant, seed=seed)
    raw = raw[:, : n_base + fade]
    loop = raw[:, fade : fade + n_base].copy()
    if fade > 0:
        a = np.arange(fade) / fade
        w_old, w_new = 1.0 - a, a
        # keep the variance of the sum of two independent stretches
        loop[:, n_base - fade :] = (w_old * raw[:, n_base:] + w_new * raw[:, :fade]) / np.sqrt(w_old**2 + w_new**2)
    n = round(period * fs)
    t = np.arange(n) * (base_fs / fs)
    xp = np.arange(n_base + 1)
    closed = np.concatenate([loop, loop[:, :1]], axis=1)
    return np.stack([np.interp(t, xp, closed[0]), np.interp(t, xp, closed[1])])


def _foot_cop_and_load(
    body_cop: FloatArray, weight: float, side: Side | None, half_width: float, foot_share: float
) -> tuple[FloatArray, FloatArray]:
    """COP in the plate's frame (2, n) and vertical load (n,) of one plate under a person whose whole-body COP
    (relative to the middle of the stance) is ``body_cop``.

    Two plates: each foot's own ML COP is ``foot_share`` × the body's, the left plate is centred at
    x = −``half_width`` and the right at +``half_width``; the weight share solves the moment balance, so
    COP = (Fz_L·COP_L + Fz_R·COP_R)/(Fz_L + Fz_R) reproduces ``body_cop`` exactly.
    """
    if side is None:
        return body_cop, np.full(body_cop.shape[1], weight)
    x = body_cop[0]
    left_share = 0.5 * (1.0 - x * (1.0 - foot_share) / half_width)
    share = left_share if side == "left" else 1.0 - left_share
    cop = np.stack([foot_share * x, body_cop[1]])
    return cop, weight * share


def _check_side(side: str | None) -> Side | None:
    if side not in (None, "left", "right"):
        raise input_error("side", f"{side!r} is not a plate side", "use None (one plate), 'left' or 'right'")
    return side  # type: ignore[return-value]


def standing_sway(
    rate: float,
    *,
    body_mass: float = 70.0,
    side: Side | None = None,
    sd: tuple[float, float] = (0.0025, 0.004),
    time_constant: float = 1.0,
    period: float = 60.0,
    half_width: float = 0.10,
    foot_share: float = 0.3,
    cell_positions: Sequence[Sequence[float]] = PLATE_CELLS,
    noise_sd: float = 0.5,
    person_seed: int = 0,
    seed: int = 0,
) -> LoopedScript:
    """Quiet standing: the 4 load-cell forces (N) of one plate, shape (4, n).

    The person's COP (m, x medio-lateral, y antero-posterior) is an Ornstein–Uhlenbeck sway
    (:func:`kinetics.simulate.sway.random_walk_sway`, stationary sd ``sd``, ``time_constant`` s) drawn from
    ``person_seed``, looped every ``period`` s. ``side=None``: both feet on this plate, COP = the sway. ``"left"``
    / ``"right"``: the person stands with one foot on each of two plates (give both the same ``person_seed``); see
    :func:`_foot_cop_and_load`. Cell forces: :func:`kinetics.simulate.sway.cell_forces` (exact COP and total);
    ``noise_sd`` (N) is per-cell sensor noise drawn from ``seed``.
    """
    who = _check_side(side)
    if not (math.isfinite(body_mass) and body_mass > 0):
        raise input_error("body_mass", f"{body_mass!r} kg", "pass a positive mass, e.g. 70.0")
    weight = body_mass * STANDARD_GRAVITY
    positions = np.asarray(cell_positions, dtype=np.float64)

    def render(fs: float) -> FloatArray:
        body = _periodic_sway(fs, period, sd, time_constant, person_seed)
        cop, load = _foot_cop_and_load(body, weight, who, half_width, foot_share)
        return sim_sway.cell_forces(cop, load, positions)

    truth = {"body_mass": body_mass, "body_weight": weight, "half_width": half_width, "foot_share": foot_share}
    return LoopedScript(render, rate, (noise_sd,) * positions.shape[0], seed, "standing_sway", MappingProxyType(truth))


def body_sway(rate: float, *, period: float = 60.0, sd: tuple[float, float] = (0.0025, 0.004),
              time_constant: float = 1.0, person_seed: int = 0) -> FloatArray:
    """The whole-body COP (2, n_period) that :func:`standing_sway` with the same arguments loops (m)."""
    return _periodic_sway(check_rate(rate), period, sd, time_constant, person_seed)


def countermovement_jumps(
    rate: float,
    *,
    body_mass: float = 70.0,
    flight_time: float = 0.5,
    quiet_time: float = 2.0,
    after_time: float = 2.0,
    side: Side | None = None,
    left_share: float = 0.5,
    cop: tuple[float, float] = (0.0, 0.02),
    cell_positions: Sequence[Sequence[float]] = PLATE_CELLS,
    noise_sd: float = 0.5,
    seed: int = 0,
) -> LoopedScript:
    """Repeated countermovement jumps (:func:`kinetics.simulate.jumps.simulate_cmj`): 4 cell forces (N).

    One loop = quiet standing, the jump, landing and quiet standing again. ``side``: this plate carries
    ``left_share`` (left) or 1 − ``left_share`` (right) of the force; the force acts at ``cop`` (m, plate frame).
    ``truth`` holds the jump's exact take-off velocity, flight time and height.
    """
    who = _check_side(side)
    positions = np.asarray(cell_positions, dtype=np.float64)

    def jump(fs: float) -> sim_jumps.SimulatedJump:
        return sim_jumps.simulate_cmj(
            fs=fs, body_mass=body_mass, flight_time=flight_time, quiet_time=quiet_time, after_time=after_time
        )

    def render(fs: float) -> FloatArray:
        total = jump(fs).force
        share = 1.0 if who is None else (left_share if who == "left" else 1.0 - left_share)
        load = total * share
        where = np.broadcast_to(np.asarray(cop, dtype=np.float64)[:, None], (2, load.size))
        return sim_sway.cell_forces(where, load, positions)

    ref = jump(check_rate(rate))
    truth = {
        "body_mass": body_mass,
        "flight_time": ref.flight_time,
        "takeoff_velocity": ref.takeoff_velocity,
        "jump_height": ref.jump_height,
        "onset_time": ref.onset_time,
        "takeoff_time": ref.takeoff_time,
        "landing_time": ref.landing_time,
    }
    return LoopedScript(
        render, rate, (noise_sd,) * positions.shape[0], seed, "countermovement_jumps", MappingProxyType(truth)
    )


# --- joint motion -------------------------------------------------------------------------------------------


def euler_angles(quat: FloatArray) -> FloatArray:
    """Roll, pitch, yaw (degrees, aerospace z-y-x convention, as WitMotion reports) of quaternions (n, 4) w x y z;
    shape (3, n)."""
    w, x, y, z = np.asarray(quat, dtype=np.float64).T
    roll = np.arctan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2.0 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
    return np.degrees(np.stack([roll, pitch, yaw]))


def flexion_cycles(
    rate: float,
    *,
    amplitude: float = 90.0,
    frequency: float = 0.25,
    repetitions: int = 5,
    rest_before: float = 3.0,
    rest_after: float = 2.0,
    channels: Literal["gyr_acc", "acc_gyr_angle"] = "gyr_acc",
    gyr_noise: float = 0.002,
    acc_noise: float = 0.02,
    angle_noise: float = 0.05,
    seed: int = 0,
) -> LoopedScript:
    """Flexion–extension cycles of a joint seen by an IMU on the moving segment.

    The angle follows :func:`kinetics.simulate.imu.flexion_profile` (rest, ``repetitions`` cycles of
    A·(1 − cos 2πft)/2, rest) and the readings :func:`kinetics.simulate.imu.segment_motion` (sensor mounted
    obliquely, rotation about a horizontal axis): gyroscope in rad/s, accelerometer in m/s² (gravity only).
    ``channels="gyr_acc"``: the profile goniometer's 6 channels; ``"acc_gyr_angle"``: the WitMotion's 9 (with its
    Euler angles in degrees). Noise (per-sample, seeded) is added on top of the exact readings.
    """
    if channels not in ("gyr_acc", "acc_gyr_angle"):
        raise input_error("channels", f"{channels!r}", "use 'gyr_acc' (goniometer) or 'acc_gyr_angle' (WitMotion)")

    def render(fs: float) -> FloatArray:
        angle = sim_imu.flexion_profile(
            fs,
            amplitude=amplitude,
            frequency=frequency,
            repetitions=repetitions,
            rest_before=rest_before,
            rest_after=rest_after,
        )
        rec = sim_imu.segment_motion(angle, fs)
        if channels == "gyr_acc":
            return np.vstack([rec.gyr.T, rec.acc.T])
        return np.vstack([rec.acc.T, rec.gyr.T, euler_angles(rec.quat)])

    sd: tuple[float, ...] = (gyr_noise,) * 3 + (acc_noise,) * 3
    if channels == "acc_gyr_angle":
        sd = (acc_noise,) * 3 + (gyr_noise,) * 3 + (angle_noise,) * 3
    truth = {"amplitude": amplitude, "frequency": frequency, "peak_velocity_deg_s": math.pi * amplitude * frequency}
    return LoopedScript(render, rate, sd, seed, "flexion_cycles", MappingProxyType(truth))


# --- weight scale -------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BodyWeightScript:
    """A person on a weight scale: (mass kg, BMI kg/m², height m) per measurement; BMI follows the noisy mass."""

    rate: float
    mass: float = 72.4
    height: float = 1.78
    noise_sd: float = 0.02
    seed: int = 0
    _noise: CounterNoise = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", check_rate(self.rate))
        if not (self.mass > 0 and self.height > 0):
            raise input_error("mass/height", f"{self.mass} kg, {self.height} m", "pass positive values")
        object.__setattr__(self, "_noise", CounterNoise([self.noise_sd], self.seed))

    @property
    def n_channels(self) -> int:
        return 3

    def values(self, first_counter: int, n: int) -> FloatArray:
        mass = self.mass + self._noise.values(first_counter, n)[0]
        return np.stack([mass, mass / self.height**2, np.full(mass.size, self.height)])

    def at_rate(self, rate: float) -> BodyWeightScript:
        return BodyWeightScript(rate, self.mass, self.height, self.noise_sd, self.seed)


def body_weight(rate: float = 1.0, *, mass: float = 72.4, height: float = 1.78, noise_sd: float = 0.02,
                seed: int = 0) -> BodyWeightScript:
    """A person standing on a scale: mass ``mass`` kg ± ``noise_sd``, height ``height`` m, BMI = mass/height²."""
    return BodyWeightScript(rate, mass, height, noise_sd, seed)


# --- transport tests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CounterRamp:
    """Channel c of sample k reads ``((k + c) mod modulo) × step + offset``: every sample is recognisable."""

    rate: float
    n_channels: int = 1
    step: float = 1.0
    modulo: int = 1000
    offset: float = 0.0

    def values(self, first_counter: int, n: int) -> FloatArray:
        first, count = _check_span(first_counter, n)
        k = first + np.arange(count)[None, :] + np.arange(self.n_channels)[:, None]
        return np.asarray((k % self.modulo) * self.step + self.offset, dtype=np.float64)

    def at_rate(self, rate: float) -> CounterRamp:
        return CounterRamp(check_rate(rate), self.n_channels, self.step, self.modulo, self.offset)


def counter_ramp(rate: float, n_channels: int = 1, *, step: float = 1.0, modulo: int = 1000,
                 offset: float = 0.0) -> CounterRamp:
    """A :class:`CounterRamp` (choose ``step`` as a multiple of the channel's resolution to send it exactly)."""
    if n_channels < 1 or modulo < 1:
        raise input_error("counter_ramp", f"{n_channels} channels, modulo {modulo}", "pass positive numbers")
    return CounterRamp(check_rate(rate), n_channels, step, modulo, offset)


# --- per kind -----------------------------------------------------------------------------------------------


def default_script(kind: DeviceKind, *, rate: float | None = None, seed: int = 0, **options: Any) -> SignalScript:
    """The scenario a simulated sensor of ``kind`` plays unless told otherwise (``options`` go to the builder).

    push 250 N, grip 350 N, pull 400 N efforts; pneumatic 0–100 kPa bulb squeezes; plate: quiet standing of a
    70 kg person; goniometer and WitMotion: 90° flexion cycles; Tindeq: 7 s on / 3 s off finger-strength
    repeaters at 80 Hz; SIG force: efforts at 10 Hz; scale: 72.4 kg.
    """
    fs = kind.rate if rate is None else kind.check_rate(rate)
    key = kind.key
    if key in ("push", "grip", "pull"):
        peak = {"push": 250.0, "grip": 350.0, "pull": 400.0}[key]
        args: dict[str, Any] = {"fmax": (peak, 0.96 * peak, 0.92 * peak), "zero_offset": 2.5, "seed": seed}
        return efforts(fs, **(args | options))
    if key == "pneumatic":
        args = {"fmax": (250.0, 240.0), "pressure_area": 2.5e-3, "zero_offset": 150.0, "noise_sd": 40.0, "seed": seed}
        return efforts(fs, **(args | options))
    if key == "plate":
        args = {"seed": seed, "person_seed": seed}
        return standing_sway(fs, **(args | options))
    if key == "goniometer":
        args = {"seed": seed}
        return flexion_cycles(fs, **(args | options))
    if key == "witmotion-bwt901":
        args = {"seed": seed, "channels": "acc_gyr_angle"}
        return flexion_cycles(fs, **(args | options))
    if key == "tindeq-progressor":
        args = {"fmax": (300.0,), "tau": 0.2, "rise": 7.0, "release": 0.5, "rest": 3.0, "lead": 1.0, "seed": seed}
        return efforts(fs, **(args | options))
    if key == "ble-force":
        args = {"fmax": (200.0,), "rise": 3.0, "rest": 3.0, "lead": 1.0, "noise_sd": 0.2, "seed": seed}
        return efforts(fs, **(args | options))
    if key == "ble-weight-scale":
        return body_weight(fs, **({"seed": seed} | options))
    raise input_error("kind", f"no default scenario for {key!r}", "pass script= to the sensor")
