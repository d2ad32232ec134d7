"""Drop-jump metrics: touchdown from a box, one ground contact, take-off, flight, landing.

Reactive strength index after Flanagan EP, Comyns TM (2008) "The use of contact time and the reactive strength
index to optimize fast stretch-shortening cycle training", Strength Cond J 30(5):32-38: RSI = jump height
(from flight time) / contact time. With the box height given, the take-off velocity follows from the
impulse–momentum relation starting at the touchdown velocity −√(2·g·drop_height) (free fall from the box).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kinetics._checks import input_error
from kinetics.jumps._common import (
    FloatArray,
    G,
    JumpSettings,
    OnInvalid,
    check_on_invalid,
    crossing_fraction,
    finish,
    gather,
    height_from_flight_time,
    height_from_velocity,
    prepare,
    raise_first,
    seg_argmax,
    seg_argmin,
    seg_first,
    seg_mean,
)
from kinetics.jumps._detect import blocks, loaded_runs, weigh
from kinetics.jumps._kinematics import integrate
from kinetics.jumps._sides import side_values
from kinetics.results import Metrics

UNITS: dict[str, str] = {
    "body_weight": "N",
    "body_mass": "kg",
    "quiet_sd": "N",
    "touchdown_time": "s",
    "takeoff_time": "s",
    "landing_time": "s",
    "landing_end_time": "s",
    "contact_time": "s",
    "flight_time": "s",
    "landing_duration": "s",
    "jump_height_flight_time": "m",
    "rsi": "m/s",
    "rsi_flight_contact": "1",
    "peak_contact_force": "N",
    "time_to_peak_contact_force": "s",
    "contact_net_impulse": "N·s",
    "peak_landing_force": "N",
    # with drop_height only
    "touchdown_velocity": "m/s",
    "takeoff_velocity": "m/s",
    "jump_height": "m",
    "braking_duration": "s",
    "propulsion_duration": "s",
    "braking_impulse": "N·s",
    "peak_braking_force": "N",
    "mean_braking_force": "N",
    "net_propulsive_impulse": "N·s",
    "peak_propulsive_force": "N",
    "mean_propulsive_force": "N",
    "peak_propulsive_power": "W",
    "countermovement_depth": "m",
}
_WITH_DROP = ("touchdown_velocity", "takeoff_velocity", "jump_height", "braking_duration", "propulsion_duration",
              "braking_impulse", "peak_braking_force", "mean_braking_force", "net_propulsive_impulse",
              "peak_propulsive_force", "mean_propulsive_force", "peak_propulsive_power", "countermovement_depth")


def drop_jump_metrics(
    force: Any,
    fs: float,
    *,
    drop_height: float | None = None,
    sides: bool = False,
    takeoff_threshold: float = 20.0,
    weigh_duration: float = 1.0,
    quiet_max_sd: float = 0.02,
    min_flight_time: float = 0.1,
    max_contact_time: float = 1.0,
    landing_window: float = 0.5,
    on_invalid: OnInvalid = "raise",
) -> Metrics:
    """Drop-jump metrics (method ``"flanagan2008"``; impulse–momentum too when ``drop_height`` is given).

    Parameters
    ----------
    force : array_like, shape (..., n_samples) or, with ``sides``, (..., 2, n_samples)
        Vertical force (N). The drop contact is the first loaded stretch that follows an unloaded stretch
        (the athlete on the box), lasts at most ``max_contact_time`` and is followed by a flight ≥
        ``min_flight_time`` and a landing. Body weight comes from the quietest fully loaded ``weigh_duration``
        window anywhere in the trace (quiet standing before stepping onto the box, or after the landing).
    fs : float
        Sampling rate (Hz).
    drop_height : float, optional
        Box height (m). When given, touchdown velocity is −√(2·g·drop_height) and the keys of the
        impulse–momentum method (take-off velocity, ``jump_height``, braking/propulsion phases) are added.
    on_invalid : {"raise", "flag"}
        As in :func:`kinetics.jumps.cmj_metrics`; reasons ``no_contact``, ``quiet_phase_too_short``,
        ``quiet_phase_not_quiet``.

    Other parameters as in :func:`kinetics.jumps.cmj_metrics`. Contact, flight and landing instants are
    threshold crossings interpolated between samples.
    """
    check_on_invalid(on_invalid)
    settings = JumpSettings(takeoff_threshold, 5.0, 0.0, weigh_duration, quiet_max_sd, min_flight_time,
                            landing_window)
    settings.validate()
    if drop_height is not None and not (math.isfinite(drop_height) and drop_height > 0):
        raise input_error("drop_height", f"must be a positive box height in m, got {drop_height!r}",
                          "pass e.g. 0.3 or leave it out")
    if not (math.isfinite(max_contact_time) and max_contact_time > 0):
        raise input_error("max_contact_time", f"must be positive, got {max_contact_time!r}", "pass e.g. 1.0")
    batch = prepare(force, fs, sides)
    fs = batch.fs
    f = batch.total
    n_trials = f.shape[0]
    thr = settings.takeoff_threshold
    runs = loaded_runs(f, thr, max(1, round(min_flight_time * fs)))
    cand = (runs.gap_before > 0) & (runs.gap_after >= 0) & (runs.end - runs.start <= max_contact_time * fs)
    pick = np.nonzero(cand)[0]
    rows_c, first = np.unique(runs.row[pick], return_index=True)
    pick = pick[first]
    has = np.zeros(n_trials, dtype=bool)
    has[rows_c] = True
    cs = np.ones(n_trials, dtype=np.intp)
    to = np.full(n_trials, 2, dtype=np.intp)
    ld = np.full(n_trials, 3, dtype=np.intp)
    cs[rows_c] = runs.start[pick]
    to[rows_c] = runs.end[pick]
    ld[rows_c] = runs.start[pick + 1]
    w = weigh(f, blocks(f, fs, settings), fs, settings, None)
    reasons: list[str | None] = []
    details: list[str] = []
    for i in range(n_trials):
        if not has[i]:
            reasons.append("no_contact")
            details.append(f"no loaded stretch ≤ {max_contact_time:g} s between an unloaded stretch and a flight "
                           f"≥ {min_flight_time:g} s ending in a landing")
        elif not w.found[i]:
            reasons.append("quiet_phase_too_short")
            details.append(f"no {weigh_duration:g} s stretch fully on the plate anywhere in the trace")
        elif not w.sd[i] <= quiet_max_sd * w.body_weight[i]:
            reasons.append("quiet_phase_not_quiet")
            details.append(f"the quietest {weigh_duration:g} s window has SD {w.sd[i]:.1f} N = "
                           f"{100 * w.sd[i] / w.body_weight[i]:.1f} % of body weight (limit {100 * quiet_max_sd:g} %)")
        else:
            reasons.append(None)
            details.append("")
    if on_invalid == "raise":
        raise_first(reasons, details, batch.batch_shape, settings)
    valid = np.array([r is None for r in reasons], dtype=bool)
    rows = np.nonzero(valid)[0]
    units = dict(UNITS)
    flags: dict[str, Any] = {}
    keys = [k for k in UNITS if drop_height is not None or k not in _WITH_DROP]
    if rows.size:
        sub = None if batch.sides is None else (batch.sides[0][rows], batch.sides[1][rows])
        values, side_units, flags = _metrics(
            f[rows], fs, settings, drop_height, w.body_weight[rows], w.sd[rows], w.start[rows], w.end[rows],
            cs[rows], to[rows], ld[rows], sub,
        )
        units.update(side_units)
    else:
        values = {k: np.empty(0) for k in keys}
    params = settings.as_params(fs)
    for k in ("onset_sd", "onset_step_back"):
        params.pop(k)
    params.update(drop_height=drop_height, max_contact_time=max_contact_time, sides=sides,
                  weighing="lowest-SD window anywhere", rsi="jump_height_flight_time / contact_time")
    return finish(values, units, valid, reasons, batch.batch_shape, "flanagan2008", params, flags)


def _metrics(
    f: FloatArray, fs: float, settings: JumpSettings, drop_height: float | None, bw: FloatArray, sd: FloatArray,
    w_start: np.ndarray, w_end: np.ndarray, cs: np.ndarray, to: np.ndarray, ld: np.ndarray,
    sides: tuple[FloatArray, FloatArray] | None,
) -> tuple[dict[str, FloatArray], dict[str, str], dict[str, Any]]:
    thr = settings.takeoff_threshold
    t = 1.0 / fs
    mass = bw / G
    n = f.shape[1]
    stop = min(n, int(ld.max()) + round(settings.landing_window * fs) + 1)
    v_td = -math.sqrt(2 * G * drop_height) if drop_height is not None else 0.0
    a_cs = crossing_fraction(f, cs, thr)
    a_to = crossing_fraction(f, to, thr)
    a_ld = crossing_fraction(f, ld, thr)
    # impulse from the touchdown crossing to sample cs, and from sample to - 1 to the take-off crossing
    head = (1.0 - a_cs) * t * (0.5 * (thr + gather(f, cs)) - bw)
    tail = a_to * t * (0.5 * (gather(f, to - 1) + thr) - bw)
    kin = integrate(f, bw, cs, stop, fs, v0=v_td + head / mass)
    lo = kin.lo
    x, v = kin.force, kin.velocity
    cs_l, to_l, ld_l = cs - lo, to - lo, ld - lo
    t_td, t_to, t_ld = (cs - 1 + a_cs) * t, (to - 1 + a_to) * t, (ld - 1 + a_ld) * t
    out: dict[str, FloatArray] = {"body_weight": bw, "body_mass": mass, "quiet_sd": sd}
    out["touchdown_time"], out["takeoff_time"], out["landing_time"] = t_td, t_to, t_ld
    out["contact_time"] = t_to - t_td
    out["flight_time"] = t_ld - t_to
    out["jump_height_flight_time"] = height_from_flight_time(out["flight_time"])
    out["rsi"] = out["jump_height_flight_time"] / out["contact_time"]
    out["rsi_flight_contact"] = out["flight_time"] / out["contact_time"]
    peak = seg_argmax(x, cs_l, to_l)
    out["peak_contact_force"] = gather(x, peak)
    out["time_to_peak_contact_force"] = (peak + lo) * t - t_td
    impulse = head + kin.impulse(cs, to - 1) + tail
    out["contact_net_impulse"] = impulse
    # landing: the centre of mass lands at −g·T/2 (symmetric flight) and the phase ends when it stops
    v_land = -0.5 * G * out["flight_time"]
    v_after = v - gather(v, ld_l)[:, None] + v_land[:, None]
    end_l = np.minimum(ld_l + round(settings.landing_window * fs), x.shape[1])
    lend_l, lend_found = seg_first(v_after >= 0.0, ld_l, end_l)
    lend_l = np.minimum(lend_l, x.shape[1] - 1)
    out["landing_end_time"] = (lend_l + lo) * t
    out["landing_duration"] = out["landing_end_time"] - t_ld
    out["peak_landing_force"] = gather(x, seg_argmax(x, ld_l, lend_l + 1))
    if drop_height is not None:
        v_to = v_td + impulse / mass
        bot_l, _ = seg_first(v >= 0.0, cs_l, to_l)
        out["touchdown_velocity"] = np.full(bw.shape, v_td)
        out["takeoff_velocity"] = v_to
        out["jump_height"] = height_from_velocity(v_to)
        out["braking_duration"] = (bot_l + lo) * t - t_td
        out["propulsion_duration"] = t_to - (bot_l + lo) * t
        out["braking_impulse"] = head + kin.impulse(cs, bot_l + lo)
        out["peak_braking_force"] = gather(x, seg_argmax(x, cs_l, bot_l + 1))
        out["mean_braking_force"] = seg_mean(x, cs_l, bot_l)
        out["net_propulsive_impulse"] = kin.impulse(bot_l + lo, to - 1) + tail
        out["peak_propulsive_force"] = gather(x, seg_argmax(x, bot_l, to_l))
        out["mean_propulsive_force"] = seg_mean(x, bot_l, to_l)
        p = x * v
        out["peak_propulsive_power"] = gather(p, seg_argmax(p, bot_l, to_l))
        disp = kin.displacement
        # displacement of the part-sample between the touchdown crossing and sample cs
        head_disp = (1.0 - a_cs) * t * 0.5 * (v_td + gather(v, cs_l))
        out["countermovement_depth"] = -(gather(disp, seg_argmin(disp, cs_l, to_l)) + head_disp)
    flags: dict[str, Any] = {"landing_incomplete": ~lend_found}
    side_units: dict[str, str] = {}
    if sides is not None:
        phases = {"contact": (cs, to), "landing": (ld, lend_l + lo + 1)}
        side_out, side_units = side_values(sides[0], sides[1], w_start, int((w_end - w_start)[0]), phases, fs)
        out.update(side_out)
    return out, side_units, flags
