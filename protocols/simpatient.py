"""A simulated patient: listens to the runner's cues and tells the simulated sensors what to measure.

``SimulatedPatient(params).attach(protocol, sensors)`` takes the protocol being run and the simulated sensors by
role (``drivers.sim.SimulatedSensor`` on the virtual radio, or :class:`protocols.virtual.VirtualSensor`
in-process: anything with ``rate``, ``counter`` — the next sample to be taken — and
``set_script(script, restart=False)``), and ``patient.on_cue`` is a runner listener. On each cue the patient
builds, for every sensor, a signal script (``rate``, ``n_channels``, ``values(first_counter, n)``, ``at_rate``)
that continues what the sensor measured so far and adds what the patient does next, from ``reaction_time`` s
after the cue:

- dynamometers (push, grip, pull, force, pneumatic): on ``go`` a maximal isometric effort (exponential rise,
  hold until about 1 s before the phase ends, release) of ``strength[side]`` N (``pressure[side]`` Pa for the
  pneumatic one) times a per-repetition factor; a sustained effort that fades (endurance protocols); or, with a
  target, the target's level (ramp, sine, steps, repeaters) followed with a short lag and a small bias;
- force plates: standing with sway (sums of sinusoids of the size of quiet-standing sway, larger with the eyes
  closed, on foam, in tandem or on one leg), weight shared ``weight_share_left`` between two plates, single-leg
  stance held ``stance_time[side]`` s before stepping down, leaning to the limits of stability, following a COP
  target, and the jumps of :mod:`kinetics.simulate.jumps` (countermovement, squat, drop, repeated hops);
- goniometers: still during the zero hold, then slow flexion–extension cycles through ``rom[side]`` degrees (or
  a little past a target range's upper bound) on the distal (last) goniometer.

Everything is deterministic (seeded), so the scores a protocol produces are predictable from the parameters:
see :meth:`SimulatedPatient.expected`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics.simulate import force as sim_force
from kinetics.simulate import imu as sim_imu
from kinetics.simulate import jumps as sim_jumps
from kinetics.simulate.sway import cell_forces
from protocols.schema import Protocol

__all__ = ["PatientParams", "SimulatedPatient", "TimelineScript"]

FloatArray = NDArray[np.float64]
G = 9.80665
#: Centre of each plate in the net frame, x (m): matches protocols.scoring.PLATE_HALF_SPACING.
_PLATE_X = {"left": -0.17, "right": 0.17}
_CELLS = np.array([[-0.15, 0.20], [0.15, 0.20], [0.15, -0.20], [-0.15, -0.20]])
_SWAY_FREQS = np.array([0.06, 0.11, 0.17, 0.26, 0.38, 0.55, 0.8, 1.2])
#: Sensor orientations (w, x, y, z; sensor to earth) at the anatomical zero: first and second goniometer.
_MOUNTS = (np.array([0.95371695, 0.09112762, -0.15187936, 0.24300698]), np.array([0.9238795, 0.0, 0.3826834, 0.0]))
_FORCE_KINDS = ("push", "grip", "pull", "force", "pneumatic")
_LEANS = {
    "forward": (0.0, 1.0),
    "backward": (0.0, -1.0),
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
}


def _frozen(d: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class PatientParams:
    """Who the simulated patient is (SI units; per-side values keyed ``left``, ``right``, ``none``)."""

    body_mass: float = 72.0
    #: Maximal isometric force (N) per side.
    strength: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"right": 420.0, "left": 380.0, "none": 400.0})
    )
    #: Maximal bulb pressure (Pa) per side.
    pressure: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"right": 60000.0, "left": 54000.0, "none": 57000.0})
    )
    #: Active range of motion (deg) per side.
    rom: Mapping[str, float] = field(default_factory=lambda: _frozen({"right": 120.0, "left": 105.0, "none": 60.0}))
    #: Flight time (s) of a two-legged jump, and of a single-leg jump per side.
    flight_time: float = 0.50
    single_leg_flight_time: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"right": 0.34, "left": 0.30, "none": 0.32})
    )
    #: Seconds single-leg stance is held before stepping down, per side.
    stance_time: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"right": 60.0, "left": 12.0, "none": 20.0})
    )
    #: Standard deviations (m) of quiet-standing sway, (ML, AP), eyes open on a firm surface.
    sway_sd: tuple[float, float] = (0.0025, 0.004)
    eyes_closed_factor: float = 1.6
    foam_factor: float = 1.5
    tandem_factor: float = 1.5
    single_leg_factor: float = 2.0
    #: Share of body weight on the left plate when standing on two.
    weight_share_left: float = 0.46
    #: Limits of stability (m): forward, backward, sideways.
    lean_reach: tuple[float, float, float] = (0.10, 0.06, 0.09)
    reaction_time: float = 0.4
    #: Factor on the maximal effort of repetition 1, 2, 3... (cycled).
    repetition_factors: tuple[float, ...] = (1.0, 0.96, 1.03, 0.98, 1.01, 0.97)
    #: Relative bias of target following (0.02 = 2 % above the target).
    tracking_bias: float = 0.02
    #: Seconds for a sustained maximal effort to fall to half (endurance).
    endurance_half_time: float = 12.0
    force_noise: float = 0.4
    pressure_noise: float = 40.0
    cell_noise: float = 0.02
    gyr_noise: float = 0.002
    acc_noise: float = 0.02

    @property
    def body_weight(self) -> float:
        return self.body_mass * G


def _side(d: Mapping[str, float], side: str) -> float:
    return float(d.get(side, d.get("none", next(iter(d.values())))))


# ---------------------------------------------------------------------------------------------------------
# scripts
# ---------------------------------------------------------------------------------------------------------

Render = Callable[[NDArray[np.int64]], FloatArray]


class _Noise:
    """Gaussian noise as a function of the sample counter only (a seeded table, read cyclically)."""

    SIZE = 1 << 16

    def __init__(self, sd: FloatArray, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.table = rng.standard_normal((sd.size, self.SIZE)) * sd[:, None]

    def at(self, counters: NDArray[np.int64]) -> FloatArray:
        return self.table[:, counters % self.SIZE]


class TimelineScript:
    """A signal script made of segments: from counter ``start`` on, ``render(counters)`` gives the values
    (n_channels, m) until the next segment begins; seeded noise is added on top. Deterministic for any split of
    the counter range into calls; :meth:`then` returns a new script with one more segment."""

    def __init__(self, rate: float, n_channels: int, segments: tuple[tuple[int, Render], ...], noise: _Noise) -> None:
        self._rate = float(rate)
        self._n = int(n_channels)
        self.segments = segments
        self.noise = noise

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def n_channels(self) -> int:
        return self._n

    def then(self, start: int, render: Render) -> TimelineScript:
        kept = tuple(s for s in self.segments if s[0] < start)
        return TimelineScript(self._rate, self._n, (*kept, (int(start), render)), self.noise)

    def clean(self, first_counter: int, n: int) -> FloatArray:
        out = np.zeros((self._n, n))
        end = first_counter + n
        for k, (start, render) in enumerate(self.segments):
            stop = self.segments[k + 1][0] if k + 1 < len(self.segments) else end
            lo, hi = max(start, first_counter), min(stop, end)
            if lo < hi:
                out[:, lo - first_counter : hi - first_counter] = render(np.arange(lo, hi, dtype=np.int64))
        return out

    def values(self, first_counter: int, n: int) -> FloatArray:
        counters = np.arange(first_counter, first_counter + n, dtype=np.int64)
        return self.clean(first_counter, n) + self.noise.at(counters)

    def at_rate(self, rate: float) -> TimelineScript:
        if math.isclose(rate, self._rate):
            return self
        raise ValueError(f"a patient script is built at {self._rate:g} Hz, the sensor runs at {rate:g} Hz")


def _clip(start: int, samples: FloatArray, after: Render) -> Render:
    """Play ``samples`` (n_ch, L) from counter ``start``, then ``after``."""

    def render(c: NDArray[np.int64]) -> FloatArray:
        k = c - start
        inside = k < samples.shape[1]
        out = np.empty((samples.shape[0], c.size))
        if inside.any():
            out[:, inside] = samples[:, k[inside]]
        if (~inside).any():
            out[:, ~inside] = after(c[~inside])
        return out

    return render


def _constant(values: FloatArray) -> Render:
    column = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return lambda c: np.repeat(column, c.size, axis=1)


# ---------------------------------------------------------------------------------------------------------
# the patient
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Sensor:
    role: str
    kind: str
    device: Any
    script: TimelineScript

    @property
    def rate(self) -> float:
        return float(self.device.rate)

    def now(self) -> int:
        return int(self.device.counter)

    def set(self, script: TimelineScript) -> None:
        self.script = script
        self.device.set_script(script, restart=False)


class SimulatedPatient:
    """A patient whose reactions to the runner's cues are scripted from :class:`PatientParams`."""

    def __init__(self, params: PatientParams | None = None, *, seed: int = 0) -> None:
        self.params = params or PatientParams()
        self.seed = seed
        self.protocol: Protocol | None = None
        self.sensors: dict[str, _Sensor] = {}
        self.cues: list[Any] = []
        self._sway_phase = np.random.default_rng(seed + 99).uniform(0, 2 * math.pi, (2, _SWAY_FREQS.size))
        self._sway_scale = 1.0
        self._centre = np.zeros(2)
        self._posture = "stand"

    # -- wiring -------------------------------------------------------------------------------------------
    def attach(self, protocol: Protocol, sensors: Mapping[str, Any]) -> None:
        """Take part in ``protocol`` on ``sensors`` (role → simulated sensor); sets their first scripts."""
        missing = [r for r in protocol.sensor_roles if r not in sensors]
        if missing:
            raise ValueError(f"no simulated sensor for role(s) {', '.join(missing)}")
        self.protocol = protocol
        self.sensors = {}
        for i, role in enumerate(protocol.sensor_roles):
            kind = protocol.sensor_for_role(role).kind
            device = sensors[role]
            n_ch, sd = self._noise_sd(kind)
            script = TimelineScript(float(device.rate), n_ch, (), _Noise(sd, self.seed * 101 + i))
            self.sensors[role] = _Sensor(role, kind, device, script)
        self._posture = "off" if self._uses("jumps.drop_jump_metrics") else "stand"
        self._sway_scale = 1.0
        self._centre = np.zeros(2)
        for s in self.sensors.values():
            s.set(s.script.then(s.now(), self._rest_render(s)))

    def _noise_sd(self, kind: str) -> tuple[int, FloatArray]:
        p = self.params
        if kind == "plate":
            return 4, np.full(4, p.cell_noise)
        if kind == "goniometer":
            return 6, np.array([p.gyr_noise] * 3 + [p.acc_noise] * 3)
        return 1, np.array([p.pressure_noise if kind == "pneumatic" else p.force_noise])

    def _uses(self, scorer: str) -> bool:
        assert self.protocol is not None
        return any(s.name == scorer for s in self.protocol.scoring.scorers)

    # -- expectations -------------------------------------------------------------------------------------------
    def expected(self, protocol: Protocol, side: str, condition: str = "default") -> dict[str, tuple[float, float]]:
        """Plausible ranges (low, high) of the headline-type metrics this patient should score on ``side``."""
        p = self.params
        out: dict[str, tuple[float, float]] = {}
        kinds = {s.kind for s in protocol.sensors}
        names = {s.name for s in protocol.scoring.scorers}
        if "strength.isometric_metrics" in names or "strength.endurance_metrics" in names:
            top = _side(p.pressure if "pneumatic" in kinds else p.strength, side)
            out["peak_force"] = (0.9 * top * min(p.repetition_factors), 1.02 * top * max(p.repetition_factors))
        if "jumps.cmj_metrics" in names:
            t = p.flight_time if protocol.sides == "none" else _side(p.single_leg_flight_time, side)
            h = G * t * t / 8
            out["jump_height"] = (0.85 * h, 1.15 * h)
        if "jumps.sj_metrics" in names:
            h = G * 0.45**2 / 8
            out["jump_height"] = (0.85 * h, 1.15 * h)
        if "rom.rom_metrics" in names:
            target = next((ph.target for ph in protocol.phases if ph.target is not None), None)
            amp = (target.high + 3.0) if target is not None and target.high is not None else _side(p.rom, side)
            out["rom"] = (amp - 8.0, amp + 8.0)
        if "balance.weight_bearing" in names and "target.cop_zone_metrics" not in names:
            out["weight_share_left"] = (p.weight_share_left - 0.02, p.weight_share_left + 0.02)
        if "balance.single_leg_stance" in names:
            hold = next(ph.duration for ph in protocol.phases if ph.kind == "hold")
            st = min(_side(p.stance_time, side), hold)
            out["stance_time"] = (st - 0.3, st + 0.6)
        if "balance.sway_metrics" in names:
            out["mean_velocity"] = (0.003, 0.06)
        return out

    # -- cues -------------------------------------------------------------------------------------------------
    def on_cue(self, cue: Any) -> None:
        """Runner listener: react to ``cue`` (a :class:`protocols.runner.Cue`)."""
        self.cues.append(cue)
        if self.protocol is None:
            return
        kind = cue.kind
        if kind in ("prepare", "countdown"):
            self._get_set(cue)
        elif kind in ("go", "hold"):
            self._act(cue)
        elif kind == "rest" and self._uses("jumps.drop_jump_metrics"):
            self._posture = "off"
            self._all_rest(self._start(self.params.reaction_time))

    def _start(self, delay: float) -> dict[str, int]:
        return {r: s.now() + round(delay * s.rate) for r, s in self.sensors.items()}

    def _all_rest(self, starts: Mapping[str, int]) -> None:
        for r, s in self.sensors.items():
            s.set(s.script.then(starts[r], self._rest_render(s)))

    def _get_set(self, cue: Any) -> None:
        """Before a trial: posture and sway for its condition and side."""
        assert self.protocol is not None
        p = self.params
        cond = str(cue.condition)
        scale = 1.0
        if "closed" in cond:
            scale *= p.eyes_closed_factor
        if "foam" in cond:
            scale *= p.foam_factor
        if "tandem" in self.protocol.id:
            scale *= p.tandem_factor
        self._sway_scale = scale
        self._centre = np.zeros(2)
        if self._uses("balance.single_leg_stance"):
            self._posture = "half" if cue.kind == "prepare" else "single"  # the foot is lifted in the countdown
        elif self._uses("jumps.drop_jump_metrics"):
            self._posture = "off"
        else:
            self._posture = "stand"
        self._all_rest(self._start(0.0))

    def _act(self, cue: Any) -> None:
        phase = cue.phase
        if phase is None:
            return
        starts = self._start(self.params.reaction_time)
        for role, s in self.sensors.items():
            if s.kind in _FORCE_KINDS and cue.kind == "go":
                self._effort(s, cue, starts[role])
        plates = [s for s in self.sensors.values() if s.kind == "plate"]
        if plates:
            self._plates(plates, cue, starts)
        gonios = [s for s in self.sensors.values() if s.kind == "goniometer"]
        if gonios and cue.kind == "go":
            self._flex(gonios[-1], cue, starts[gonios[-1].role])

    # -- dynamometers ------------------------------------------------------------------------------------------
    def _effort(self, s: _Sensor, cue: Any, start: int) -> None:
        p = self.params
        fs = s.rate
        phase = cue.phase
        top = _side(p.pressure if s.kind == "pneumatic" else p.strength, cue.side)
        factor = p.repetition_factors[(max(cue.repetition, 1) - 1) % len(p.repetition_factors)]
        target = cue.target
        if target is not None and target.kind in ("absolute", "percent_max"):
            trace = self._track(target, cue.maximum, phase, fs)
        else:
            hold = max(phase.duration - 1.0 - p.reaction_time, 0.5)
            trace = sim_force.effort_shape(fs, fmax=top * factor, tau=0.12, rise=hold, release=0.4)
            if self._uses("strength.endurance_metrics"):
                t = np.arange(trace.size) / fs
                trace = trace * np.exp(-math.log(2.0) * t / p.endurance_half_time)
        s.set(s.script.then(start, _clip(start, trace[None, :], self._rest_render(s))))

    def _track(self, target: Any, maximum: float | None, phase: Any, fs: float) -> FloatArray:
        """Force following the target in every effort window of the phase (first-order lag of 0.15 s)."""
        p = self.params
        n = round(phase.total_duration * fs)
        t = np.arange(n) / fs
        want = np.zeros(n)
        for w0, w1 in phase.windows():
            inside = (t >= w0) & (t < w1)
            want[inside] = [target.level_at(float(x - w0), maximum) for x in t[inside]]
        want *= 1.0 + p.tracking_bias
        alpha = 1.0 - math.exp(-1.0 / (0.15 * fs))
        out = np.empty(n)
        y = 0.0
        for k in range(n):  # a short loop (≤ a few 10^4 samples) once per trial
            y += alpha * (want[k] - y)
            out[k] = y
        return out

    # -- plates ------------------------------------------------------------------------------------------------
    def _sway(self, c: NDArray[np.int64], rate: float, scale: float) -> FloatArray:
        """Sway (2, m) in m at counters ``c``: a sum of sinusoids with SD ``scale`` × ``sway_sd`` per axis."""
        t = c / rate
        amp = 1.0 / np.sqrt(_SWAY_FREQS)
        amp = amp / np.sqrt(0.5 * np.sum(amp**2))  # unit SD per axis
        sd = np.asarray(self.params.sway_sd) * scale
        waves = np.sin(2 * np.pi * _SWAY_FREQS[None, :, None] * t[None, None, :] + self._sway_phase[:, :, None])
        return sd[:, None] * np.einsum("f,afn->an", amp, waves)

    def _body(
        self, posture: str, scale: float, centre: FloatArray
    ) -> Callable[[NDArray[np.int64], float], tuple[FloatArray, FloatArray]]:
        """Total vertical force (m,) and net COP (2, m) of a posture, as functions of the counters."""
        bw = self.params.body_weight
        load = {"stand": 1.0, "single": 1.0, "half": 0.5, "stepped": 0.35, "off": 0.0}[posture]
        extra = self.params.single_leg_factor if posture == "single" else 1.0
        sway_scale = scale * extra
        centre = np.array(centre, dtype=np.float64)

        def body(c: NDArray[np.int64], rate: float) -> tuple[FloatArray, FloatArray]:
            cop = centre[:, None] + self._sway(c, rate, sway_scale)
            return np.full(c.size, bw * load), cop

        return body

    def _split(self, role: str, fz: FloatArray, cop: FloatArray, per_plate: FloatArray | None = None) -> FloatArray:
        """Cell forces (4, m) of plate ``role`` for the body's total force and net COP (two plates: by the COP's
        x between the plate centres, weight share ``weight_share_left`` at the standing centre)."""
        plates = [r for r, s in self.sensors.items() if s.kind == "plate"]
        if len(plates) == 1:
            local = cop
            f = fz if per_plate is None else per_plate[0]
            return cell_forces(local, f, _CELLS)
        side = "left" if ("left" in role or plates.index(role) == 0) else "right"
        xl, xr = _PLATE_X["left"], _PLATE_X["right"]
        x0 = xl * self.params.weight_share_left + xr * (1 - self.params.weight_share_left)
        x = cop[0] + x0
        share_left = np.clip((xr - x) / (xr - xl), 0.0, 1.0)
        if per_plate is not None:
            f = per_plate[0 if side == "left" else 1]
        else:
            f = fz * (share_left if side == "left" else 1.0 - share_left)
        local = np.vstack([np.zeros_like(x), cop[1]])
        return cell_forces(local, f, _CELLS)

    def _rest_render(self, s: _Sensor) -> Render:
        if s.kind == "plate":
            body = self._body(self._posture, self._sway_scale, self._centre)
            rate, role = s.rate, s.role

            def render(c: NDArray[np.int64]) -> FloatArray:
                fz, cop = body(c, rate)
                return self._split(role, fz, cop)

            return render
        if s.kind == "goniometer":
            return _constant(self._still_imu(s))
        return _constant(np.zeros(1))

    def _plates(self, plates: list[_Sensor], cue: Any, starts: Mapping[str, int]) -> None:
        assert self.protocol is not None
        p = self.params
        phase = cue.phase
        fs = plates[0].rate
        text = str(cue.text).lower()
        if cue.kind == "go" and any(
            self._uses(f"jumps.{n}") for n in ("cmj_metrics", "sj_metrics", "drop_jump_metrics", "hop_metrics")
        ):
            self._jump(plates, cue, starts)
            return
        if cue.kind != "hold":
            return
        if self._uses("balance.single_leg_stance"):
            # on one leg since the countdown; the stance time counts from the hold cue
            self._posture = "single"
            stance = _side(p.stance_time, cue.side)
            now = {r: s.now() for r, s in self.sensors.items()}
            for s in plates:
                if stance < phase.total_duration + 5.0:
                    s.set(s.script.then(now[s.role] + round(stance * fs), self._rest_render_posture(s, "stepped")))
            if cue.target is not None and cue.target.kind == "cop_zone":
                self._follow_zone(plates, cue, starts, posture="single", until=stance - p.reaction_time)
            return
        if cue.target is not None and cue.target.kind == "cop_zone":
            self._follow_zone(plates, cue, starts, posture="stand")
            return
        lean = [d for d in ("forward", "backward") if d in text] + [d for d in ("left", "right") if d in text]
        if lean and "lean" in text:
            self._lean(plates, lean, phase.duration, starts)

    def _rest_render_posture(self, s: _Sensor, posture: str) -> Render:
        old = self._posture
        self._posture = posture
        try:
            return self._rest_render(s)
        finally:
            self._posture = old

    def _path_render(self, role: str, rate: float, first: int, path: FloatArray, posture: str, scale: float) -> Render:
        body = self._body(posture, scale, np.zeros(2))
        after = self._body(posture, scale, path[:, -1])

        def render(c: NDArray[np.int64]) -> FloatArray:
            k = c - first
            inside = k < path.shape[1]
            fz, cop = body(c, rate)
            if inside.any():
                cop[:, inside] = cop[:, inside] + path[:, k[inside]]
            if (~inside).any():
                fz2, cop2 = after(c[~inside], rate)
                fz[~inside], cop[:, ~inside] = fz2, cop2
            return self._split(role, fz, cop)

        return render

    def _lean(self, plates: list[_Sensor], words: list[str], duration: float, starts: Mapping[str, int]) -> None:
        fwd, back, side = self.params.lean_reach
        ux = sum(_LEANS[w][0] for w in words)
        uy = sum(_LEANS[w][1] for w in words)
        norm = math.hypot(ux, uy) or 1.0
        ux, uy = ux / norm, uy / norm
        reach = math.hypot(side * ux, (fwd if uy >= 0 else back) * uy)
        fs = plates[0].rate
        n = round(max(duration - 0.5, 1.0) * fs)
        t = np.arange(n) / fs
        move = min(1.0, t[-1] / 3)
        # out over `move` s, hold, back over `move` s (raised-cosine ramps)
        env = np.clip(np.minimum(t / move, (t[-1] - t) / move), 0.0, 1.0)
        env = 0.5 - 0.5 * np.cos(np.pi * env)
        path = np.vstack([reach * ux * env, reach * uy * env])
        for s in plates:
            first = starts[s.role]
            s.set(s.script.then(first, self._path_render(s.role, fs, first, path, "stand", 0.5)))

    def _follow_zone(
        self, plates: list[_Sensor], cue: Any, starts: Mapping[str, int], *, posture: str, until: float = math.inf
    ) -> None:
        target = cue.target
        fs = plates[0].rate
        n = round(min(cue.duration, until) * fs)
        t = np.arange(n) / fs + self.params.reaction_time
        zone = np.array([target.zone_at(float(x))[:2] for x in t]).T
        alpha = 1.0 - math.exp(-1.0 / (0.5 * fs))
        path = np.empty_like(zone)
        y = np.zeros(2)
        for k in range(n):
            y = y + alpha * (zone[:, k] - y)
            path[:, k] = y
        if len(plates) == 2:
            xl, xr = _PLATE_X["left"], _PLATE_X["right"]
            x0 = xl * self.params.weight_share_left + xr * (1 - self.params.weight_share_left)
            path[0] -= x0  # the zone is in the net frame; the body's sway is around the standing centre x0
        for s in plates:
            first = starts[s.role]
            script = s.script.then(first, self._path_render(s.role, fs, first, path, posture, 0.5))
            if until < cue.duration + 5.0:
                script = script.then(first + round(until * fs), self._rest_render_posture(s, "stepped"))
            s.set(script)

    def _jump(self, plates: list[_Sensor], cue: Any, starts: Mapping[str, int]) -> None:
        p = self.params
        fs = plates[0].rate
        share = p.weight_share_left if len(plates) == 2 else None
        quiet = 0.3
        if self._uses("jumps.drop_jump_metrics"):
            drop = float(
                next(
                    s.params.get("drop_height", 0.3)
                    for s in self.protocol.scoring.scorers  # type: ignore[union-attr]
                    if s.name == "jumps.drop_jump_metrics"
                )
            )
            jump = sim_jumps.simulate_drop_jump(
                fs=fs, body_mass=p.body_mass, drop_height=drop, box_time=quiet, after_time=1.0, left_share=share
            )
        elif self._uses("jumps.hop_metrics"):
            jump = sim_jumps.simulate_hops(
                fs=fs, body_mass=p.body_mass, quiet_time=quiet, after_time=1.0, left_share=share
            )
        elif self._uses("jumps.sj_metrics"):
            jump = sim_jumps.simulate_squat_jump(
                fs=fs, body_mass=p.body_mass, flight_time=0.45, quiet_time=quiet, after_time=1.0, left_share=share
            )
        else:
            t_flight = p.flight_time if cue.side == "none" else _side(p.single_leg_flight_time, cue.side)
            jump = sim_jumps.simulate_cmj(
                fs=fs, body_mass=p.body_mass, flight_time=t_flight, quiet_time=quiet, after_time=1.0, left_share=share
            )
        force = np.atleast_2d(np.asarray(jump.force, dtype=np.float64))
        self._posture = "stand"
        for s in plates:
            first = starts[s.role]
            cells = self._split(s.role, force.sum(axis=0), np.zeros((2, force.shape[1])), per_plate=force)
            s.set(s.script.then(first, _clip(first, cells, self._rest_render(s))))

    # -- goniometers ---------------------------------------------------------------------------------------------
    def _mount(self, s: _Sensor) -> FloatArray:
        i = list(self.sensors).index(s.role)
        m = _MOUNTS[i % len(_MOUNTS)]
        return m / np.linalg.norm(m)

    def _still_imu(self, s: _Sensor) -> FloatArray:
        rec = sim_imu.segment_motion(np.zeros(2), s.rate, mount=self._mount(s), seed=None)
        return np.concatenate([rec.gyr[0], rec.acc[0]])

    def _flex(self, s: _Sensor, cue: Any, start: int) -> None:
        p = self.params
        fs = s.rate
        phase = cue.phase
        target = cue.target
        freq = 0.2
        if target is not None and target.kind == "angle_range" and target.high is not None:
            amp = target.high + 3.0
            reps = max(1, int((phase.duration - p.reaction_time - 0.5) * freq))
        else:
            amp = _side(p.rom, cue.side)
            reps = max(1, min(3, int((phase.duration - p.reaction_time - 0.5) * freq)))
        angle = sim_imu.flexion_profile(
            fs, amplitude=amp, frequency=freq, repetitions=reps, rest_before=0.0, rest_after=0.2
        )
        rec = sim_imu.segment_motion(angle, fs, mount=self._mount(s), seed=None)
        samples = np.vstack([rec.gyr.T, rec.acc.T])
        s.set(s.script.then(start, _clip(start, samples, self._rest_render(s))))

    def maxima(self, protocol: Protocol) -> dict[str, float]:
        """The maxima (N or Pa per side) this patient would have scored, for ``percent_max`` targets."""
        kinds = {s.kind for s in protocol.sensors}
        table = self.params.pressure if "pneumatic" in kinds else self.params.strength
        return {k: float(v) for k, v in table.items()}


# ---------------------------------------------------------------------------------------------------------
# a whole simulated session
# ---------------------------------------------------------------------------------------------------------

#: Where :func:`simulate_session` runs the sensors: over Bluetooth on the virtual radio (real GATT servers,
#: bleak, supervisors, clock mapping), or in process on a virtual clock (no radio; as fast as NumPy goes).
SOURCES = ("radio", "inprocess")


async def simulate_session(
    protocol: Protocol,
    out_dir: Any,
    *,
    source: str = "radio",
    speed: float = 10.0,
    patient: SimulatedPatient | None = None,
    listeners: tuple[Callable[[Any], None], ...] = (),
    maxima: Mapping[str, float] | None = None,
    seed: int = 0,
    **runner_options: Any,
) -> Any:
    """Run ``protocol`` end to end with a simulated patient on simulated sensors; returns the SessionResult.

    ``source="radio"``: one :class:`drivers.sim.SimulatedFleet` sensor per role on the virtual radio, read
    through :class:`drivers.acquisition.Acquisition` on a session clock ``speed`` × real time.
    ``source="inprocess"``: :class:`protocols.virtual.VirtualAcquisition` on a virtual clock (``speed`` unused).
    ``maxima`` (default: the patient's own strength) feed ``percent_max`` targets; ``runner_options`` go to
    :class:`protocols.runner.ProtocolRunner`.

    Cancelling the run (Ctrl-C) on the radio closes the trial being recorded at once, marked incomplete, as
    a run on real sensors does (``kinetics run``).
    """
    from protocols.runner import ProtocolRunner, RealTimeClock

    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    patient = patient or SimulatedPatient(seed=seed)
    roles = protocol.sensor_roles
    kinds = [protocol.sensor_for_role(r).kind for r in roles]
    maxima = dict(maxima) if maxima is not None else patient.maxima(protocol)
    if source == "inprocess":
        from protocols.virtual import VirtualAcquisition, VirtualClock

        vclock = VirtualClock()
        vacq = VirtualAcquisition.for_protocol(dict(zip(roles, kinds, strict=True)), vclock)
        patient.attach(protocol, vacq.sensors)
        await vacq.start()
        vrunner = ProtocolRunner(protocol, vacq, clock=vclock, out_dir=out_dir, maxima=maxima, **runner_options)
        for listener in (patient.on_cue, *listeners):
            vrunner.add_listener(listener)
        try:
            return await vrunner.run()
        finally:
            await vacq.stop()

    from drivers.acquisition import Acquisition, DeviceSpec
    from drivers.ble.transport import open_transport
    from drivers.session_clock import SessionClock
    from drivers.sim.fleet import SimulatedFleet

    async with await open_transport("virtual") as ble:
        if ble.radio is None:
            raise RuntimeError("the virtual transport has no radio")
        fleet = SimulatedFleet(ble.radio, kinds, speed=speed, seed=seed, body_mass=patient.params.body_mass)
        async with fleet:
            sensors = dict(zip(roles, fleet.sensors, strict=True))  # fleet order = protocol role order
            clock = SessionClock(speed=speed)
            specs = [DeviceSpec(r, k, address=sensors[r].address) for r, k in zip(roles, kinds, strict=True)]
            acq = Acquisition(ble, specs, clock=clock, settle_span_s=5.0)
            patient.attach(protocol, sensors)
            await acq.start()
            try:
                if not await acq.wait_streaming(timeout=30.0):
                    raise RuntimeError("the simulated sensors did not start streaming on the virtual radio")
                runner = ProtocolRunner(
                    protocol, acq, clock=RealTimeClock(clock), out_dir=out_dir, maxima=maxima, **runner_options
                )
                for listener in (patient.on_cue, *listeners):
                    runner.add_listener(listener)
                try:
                    return await runner.run()
                except asyncio.CancelledError:
                    # As on real sensors: a trial cut short (Ctrl-C) is closed at once, marked incomplete;
                    # acq.stop() would otherwise close it as a complete trial.
                    acq.abort_recording()
                    raise
            finally:
                await acq.stop()
