"""Countermovement jump (CMJ) and squat jump (SJ) metrics from vertical ground reaction force.

Conventions follow the commercial force-plate software (Hawkin Dynamics, VALD ForceDecks) and McMahon JJ,
Suchomel TJ, Lake JP, Comfort P (2018) "Understanding the key phases of the countermovement jump force-time
curve", Strength Cond J 40(4):96-106: body weight from quiet standing, movement onset at 5 SD, take-off and
landing at a force threshold, velocity by integrating net force / mass from onset (impulse–momentum), phases
unweighting → braking → propulsion → flight → landing. Every key is documented in docs/metrics/jumps.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kinetics.jumps import _single
from kinetics.jumps._common import (
    Batch,
    FloatArray,
    G,
    IntArray,
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
    row_chunks,
    seg_argmax_first,
    seg_argmin_first,
    seg_first_ge,
    seg_max,
    seg_mean,
    seg_min,
)
from kinetics.jumps._detect import blocks, departure, first_flight, loaded_windows, weigh, window_blocks
from kinetics.jumps._kinematics import integrate_columns
from kinetics.jumps._sides import side_values
from kinetics.results import Metrics

#: Smallest quiet SD used for thresholds, as a fraction of body weight (only matters for noise-free input).
SD_FLOOR = 1e-6

UNITS: dict[str, str] = {
    "body_weight": "N",
    "body_mass": "kg",
    "quiet_sd": "N",
    "onset_time": "s",
    "unweighting_end_time": "s",
    "braking_end_time": "s",
    "takeoff_time": "s",
    "landing_time": "s",
    "landing_end_time": "s",
    "unweighting_duration": "s",
    "braking_duration": "s",
    "eccentric_duration": "s",
    "propulsion_duration": "s",
    "time_to_takeoff": "s",
    "flight_time": "s",
    "landing_duration": "s",
    "takeoff_velocity": "m/s",
    "jump_height": "m",
    "jump_height_flight_time": "m",
    "mrsi": "m/s",
    "peak_velocity": "m/s",
    "peak_negative_velocity": "m/s",
    "landing_velocity": "m/s",
    "min_unweighting_force": "N",
    "unweighting_impulse": "N·s",
    "peak_braking_force": "N",
    "mean_braking_force": "N",
    "braking_impulse": "N·s",
    "braking_rfd": "N/s",
    "peak_braking_power": "W",
    "force_at_zero_velocity": "N",
    "countermovement_depth": "m",
    "peak_propulsive_force": "N",
    "mean_propulsive_force": "N",
    "net_propulsive_impulse": "N·s",
    "peak_propulsive_power": "W",
    "mean_propulsive_power": "W",
    "takeoff_momentum": "kg·m/s",
    "peak_landing_force": "N",
}


def cmj_metrics(
    force: Any,
    fs: float,
    *,
    sides: bool = False,
    takeoff_threshold: float = 20.0,
    onset_sd: float = 5.0,
    onset_step_back: float = 0.030,
    weigh_duration: float = 1.0,
    quiet_max_sd: float = 0.02,
    min_flight_time: float = 0.1,
    landing_window: float = 0.5,
    on_invalid: OnInvalid = "raise",
) -> Metrics:
    """Countermovement-jump metrics (method ``"impulse_momentum"``).

    Parameters
    ----------
    force : array_like, shape (..., n_samples) or, with ``sides``, (..., 2, n_samples)
        Vertical ground reaction force (N) of one plate, or of two plates (left, right) on axis -2 whose sum is
        scored and whose sides give ``*_left``, ``*_right`` and ``*_asymmetry`` (%) keys. The trace must
        contain ≥ ``weigh_duration`` s of quiet standing before the jump, the flight and the landing.
    fs : float
        Sampling rate (Hz).
    takeoff_threshold : float
        Force (N) below which the plate counts as unloaded (take-off, flight) — 20 N as in Hawkin/VALD.
    onset_sd : float
        Onset where force departs body weight by ``onset_sd`` × SD of the quiet window (default 5).
    onset_step_back : float
        Seconds the onset is moved back from that departure (default 0.030).
    weigh_duration : float
        Quiet window length (s) for body weight (default 1.0 s; the lowest-SD window before take-off).
    quiet_max_sd : float
        The quiet window is rejected when its SD exceeds this fraction of body weight (default 0.02 = 2 %).
    min_flight_time : float
        Shortest unloaded stretch (s) accepted as a flight (default 0.1 s).
    landing_window : float
        Longest landing phase searched after landing (s).
    on_invalid : {"raise", "flag"}
        "raise": a rejected trial raises :class:`KineticsInputError` with the reason. "flag": its metrics are
        NaN and ``flags[<reason>]`` is True (reasons: ``quiet_phase_too_short``, ``quiet_phase_not_quiet``,
        ``no_flight``).

    Returns
    -------
    Metrics
        Floats for one trace, arrays of the batch shape otherwise; keys and units in :data:`UNITS`. Times are
        seconds from the first sample of the trace. Flag ``landing_incomplete``: the centre of mass did not come
        to rest (velocity ≥ 0) within ``landing_window`` after landing.
    """
    settings = JumpSettings(takeoff_threshold, onset_sd, onset_step_back, weigh_duration, quiet_max_sd,
                            min_flight_time, landing_window)
    return _score(force, fs, sides, settings, on_invalid, "cmj", countermovement_sd=onset_sd)


def sj_metrics(
    force: Any,
    fs: float,
    *,
    sides: bool = False,
    takeoff_threshold: float = 20.0,
    onset_sd: float = 5.0,
    onset_step_back: float = 0.030,
    weigh_duration: float = 1.0,
    quiet_max_sd: float = 0.02,
    min_flight_time: float = 0.1,
    landing_window: float = 0.5,
    countermovement_sd: float = 5.0,
    on_invalid: OnInvalid = "raise",
) -> Metrics:
    """Squat-jump metrics (method ``"impulse_momentum"``), with a countermovement flag.

    The quiet window is the held squat before the push. Onset, take-off, landing and heights are found as in
    :func:`cmj_metrics`; the whole movement from onset to take-off is the propulsion phase. Flag
    ``countermovement``: between onset and the peak force, force fell below body weight by more than
    ``countermovement_sd`` × quiet SD — the trial is not a pure squat jump (a common rejection rule; the dip is
    also measured by ``countermovement_depth`` and ``min_force_before_peak``). Other parameters as in
    :func:`cmj_metrics`.
    """
    settings = JumpSettings(takeoff_threshold, onset_sd, onset_step_back, weigh_duration, quiet_max_sd,
                            min_flight_time, landing_window)
    if not (np.isfinite(countermovement_sd) and countermovement_sd > 0):
        from kinetics._checks import input_error

        raise input_error("countermovement_sd", f"must be positive, got {countermovement_sd!r}", "pass e.g. 5.0")
    return _score(force, fs, sides, settings, on_invalid, "sj", countermovement_sd=countermovement_sd)


def _score(force: Any, fs: float, sides: bool, settings: JumpSettings, on_invalid: str, kind: str,
           countermovement_sd: float) -> Metrics:
    check_on_invalid(on_invalid)
    settings.validate()
    batch = prepare(force, fs, sides)
    fs = batch.fs
    params = settings.as_params(fs)
    if kind == "sj":
        params["countermovement_sd"] = countermovement_sd
    params["sides"] = sides
    params["weighing"] = "lowest-SD window before take-off"
    units = dict(UNITS)
    if kind == "sj":
        units["min_force_before_peak"] = "N"
    if not batch.batch_shape:
        single = _score_single(batch, settings, on_invalid, kind, countermovement_sd, units, params)
        if single is not None:
            return single
    f = batch.total
    bl = blocks(f, fs, settings)
    ok = loaded_windows(bl, window_blocks(bl, fs, settings))
    flight = first_flight(f, bl, fs, settings, ok)
    w = weigh(f, bl, fs, settings, flight.takeoff_block - 1, ok)
    reasons, details = _reasons(flight.any_flight, flight.found, w.body_weight, w.sd, flight.takeoff, fs, settings)
    if on_invalid == "raise":
        raise_first(reasons, details, batch.batch_shape, settings)
    valid = np.array([r is None for r in reasons], dtype=bool)
    rows = np.nonzero(valid)[0]
    values: dict[str, FloatArray] = {}
    flags: dict[str, Any] = {}
    if rows.size:
        sub_sides = None if batch.sides is None else (batch.sides[0][rows], batch.sides[1][rows])
        values, side_units, flags = _metrics(
            f, rows, fs, settings, kind, countermovement_sd,
            w.body_weight[rows], w.sd[rows], w.start[rows], w.end[rows],
            flight.takeoff[rows], flight.landing[rows], sub_sides,
        )
        units.update(side_units)
    else:
        values = {k: np.empty(0) for k in _keys(kind)}
    return finish(values, units, valid, reasons, batch.batch_shape, "impulse_momentum", params, flags)


def _score_single(batch: Batch, settings: JumpSettings, on_invalid: str, kind: str, countermovement_sd: float,
                  units: dict[str, str], params: dict[str, Any]) -> Metrics | None:
    """One trace (no batch axes): the scalar-index path of :mod:`kinetics.jumps._single`, giving the same bits as
    the batch path. Returns None for a rejected trace in flag mode (the batch path builds that result)."""
    fs = batch.fs
    f = batch.total[0]
    ev = _single.detect(f, fs, settings)
    reasons, details = _reasons(np.array([ev.any_flight]), np.array([ev.found]), np.array([ev.body_weight]),
                                np.array([ev.sd]), np.array([ev.takeoff]), fs, settings)
    if on_invalid == "raise":
        raise_first(reasons, details, (), settings)
    if reasons[0] is not None:
        return None
    values, idx, flags = _single.cmj_values(f, fs, settings, kind, countermovement_sd, SD_FLOOR, ev)
    if batch.sides is not None:
        if kind == "cmj":
            phases = {"braking": (idx["vmin"], idx["bot"]), "propulsion": (idx["bot"], idx["to"])}
        else:
            phases = {"propulsion": (idx["on"], idx["to"])}
        phases["landing"] = (idx["ld"], idx["lend"] + 1)
        arrays = {k: (np.array([a]), np.array([b])) for k, (a, b) in phases.items()}
        side_out, side_units = side_values(batch.sides[0], batch.sides[1], np.array([ev.w_start]),
                                           ev.w_end - ev.w_start, arrays, fs)
        values.update({k: float(v[0]) for k, v in side_out.items()})
        units.update(side_units)
    return Metrics(values, {k: units[k] for k in values}, "impulse_momentum", params, flags)


def _keys(kind: str) -> list[str]:
    if kind == "cmj":
        return list(UNITS)
    skip = {"unweighting_end_time", "braking_end_time", "unweighting_duration", "braking_duration",
            "eccentric_duration", "peak_negative_velocity", "min_unweighting_force", "unweighting_impulse",
            "peak_braking_force", "mean_braking_force", "braking_impulse", "braking_rfd", "peak_braking_power",
            "force_at_zero_velocity"}
    return [k for k in UNITS if k not in skip] + ["min_force_before_peak"]


def _reasons(any_flight: np.ndarray, found: np.ndarray, bw: FloatArray, sd: FloatArray, takeoff: IntArray,
             fs: float, settings: JumpSettings) -> tuple[list[str | None], list[str]]:
    reasons: list[str | None] = []
    details: list[str] = []
    for i in range(any_flight.shape[0]):
        if not any_flight[i]:
            reasons.append("no_flight")
            details.append(
                f"the force never stayed below {settings.takeoff_threshold:g} N for "
                f"{settings.min_flight_time:g} s with a landing after it (plate never unloaded)"
            )
        elif not found[i]:
            reasons.append("quiet_phase_too_short")
            details.append(f"no {settings.weigh_duration:g} s stretch fully on the plate before the take-off")
        elif not sd[i] <= settings.quiet_max_sd * bw[i]:
            reasons.append("quiet_phase_not_quiet")
            details.append(
                f"the quietest {settings.weigh_duration:g} s window before take-off at {takeoff[i] / fs:.3f} s has "
                f"SD {sd[i]:.1f} N = {100 * sd[i] / bw[i]:.1f} % of body weight {bw[i]:.0f} N "
                f"(limit {100 * settings.quiet_max_sd:g} %)"
            )
        else:
            reasons.append(None)
            details.append("")
    return reasons, details


def _metrics(
    f: FloatArray, rows: IntArray, fs: float, settings: JumpSettings, kind: str, countermovement_sd: float,
    bw: FloatArray, sd: FloatArray, w_start: IntArray, w_end: IntArray, to: IntArray, ld: IntArray,
    sides: tuple[FloatArray, FloatArray] | None,
) -> tuple[dict[str, FloatArray], dict[str, str], dict[str, Any]]:
    """Metrics of the trials ``f[rows]`` (all accepted), scored in cache-sized row chunks.

    The centre-of-mass integration of every trial starts at the batch's earliest onset column ``lo`` and the
    means run over the batch-wide span of their phase, exactly as a whole-batch computation would, so the
    numbers do not depend on the chunking.
    """
    n = f.shape[1]
    # a numerical floor (1e-6 × body weight) keeps a noise-free trace from "departing" by rounding error
    sd = np.maximum(sd, SD_FLOOR * bw)
    band = settings.onset_sd * sd
    dep = departure(f, rows, bw + band, bw - band, w_end, to)
    on = np.maximum(dep - round(settings.onset_step_back * fs), 0)
    lo = int(on.min())
    lw = round(settings.landing_window * fs)
    # velocity is kept up to the latest take-off for the mean propulsive power (a batch-wide span)
    v_keep = int(to.max()) + 1 - lo
    v_all = np.zeros((rows.shape[0], v_keep))
    span = min(n, int(ld.max()) + lw + 1) - lo
    parts = [
        _chunk(f, rows[c], c, fs, settings, kind, countermovement_sd, lo, lw, bw[c], sd[c], on[c], to[c], ld[c],
               v_all)
        for c in row_chunks(rows.shape[0], span)
    ]
    out, idx, flags = parts[0] if len(parts) == 1 else _join(parts)

    # means over batch-wide spans (the same columns for every chunk)
    prop_start, to_l = idx["prop_start"], to - lo
    if kind == "cmj":
        out["mean_braking_force"] = _span_mean(f, rows, lo, idx["vmin"], idx["bot"])
    out["mean_propulsive_force"] = _span_mean(f, rows, lo, prop_start, to_l)
    out["peak_propulsive_power"], out["mean_propulsive_power"] = _power(f, rows, lo, v_all, prop_start, to_l)

    side_units: dict[str, str] = {}
    if sides is not None:
        if kind == "cmj":
            phases = {"braking": (idx["vmin"], idx["bot"]), "propulsion": (idx["bot"], to_l)}
        else:
            phases = {"propulsion": (on - lo, to_l)}
        phases["landing"] = (ld - lo, idx["lend"] + 1)
        full = {k: (a + lo, b + lo) for k, (a, b) in phases.items()}
        side_out, side_units = side_values(sides[0], sides[1], w_start, int((w_end - w_start)[0]), full, fs)
        out.update(side_out)
    return out, side_units, flags


ChunkResult = tuple[dict[str, FloatArray], dict[str, IntArray], dict[str, Any]]


def _chunk(
    f: FloatArray, rows: IntArray, c: slice, fs: float, settings: JumpSettings, kind: str,
    countermovement_sd: float, lo: int, lw: int, bw: FloatArray, sd: FloatArray, on: IntArray, to: IntArray,
    ld: IntArray, v_all: FloatArray,
) -> ChunkResult:
    """Everything but the batch-wide means, for one chunk of trials (``rows`` of ``f``, slice ``c`` of the batch).

    Columns ``lo`` to this chunk's last landing + ``landing_window`` are integrated (later columns are never
    read by these trials).
    """
    n = f.shape[1]
    stop = min(n, int(ld.max()) + lw + 1)
    on_l, to_l, ld_l = on - lo, to - lo, ld - lo
    # displacement is only read at the end of braking (CMJ) or up to take-off (SJ): integrate that far
    kin = integrate_columns(f[rows, lo:stop], bw, on_l, fs)
    x, v = kin.force, kin.velocity
    v_all[c, : min(v.shape[1], v_all.shape[1])] = v[:, : v_all.shape[1]]
    mass = bw / G
    t = 1.0 / fs
    out: dict[str, FloatArray] = {"body_weight": bw, "body_mass": mass, "quiet_sd": sd}
    idx: dict[str, IntArray] = {}

    # landing phase: from landing until the centre of mass stops moving down (velocity back to 0)
    end_l = np.minimum(ld_l + lw, x.shape[1])
    lend_l, lend_found = seg_first_ge(v, 0.0, ld_l, end_l)
    lend_l = np.minimum(lend_l, x.shape[1] - 1)
    idx["lend"] = lend_l

    if kind == "cmj":
        vmin_l = seg_argmin_first(v, on_l, to_l)
        bot_l, _ = seg_first_ge(v, 0.0, vmin_l, to_l)
        disp = kin.displacement_to(int(bot_l.max()) + 1)
        prop_start = bot_l
        idx["vmin"], idx["bot"] = vmin_l, bot_l
        out["unweighting_end_time"] = (vmin_l + lo) * t
        out["braking_end_time"] = (bot_l + lo) * t
        out["unweighting_duration"] = (vmin_l - on_l) * t
        out["braking_duration"] = (bot_l - vmin_l) * t
        out["eccentric_duration"] = (bot_l - on_l) * t
        out["peak_negative_velocity"] = gather(v, vmin_l)
        out["min_unweighting_force"] = seg_min(x, on_l, vmin_l + 1)
        out["unweighting_impulse"] = -(gather(kin.running, vmin_l) - gather(kin.running, on_l)) * t
        out["peak_braking_force"] = seg_max(x, vmin_l, bot_l + 1)
        out["mean_braking_force"] = bw  # placeholder keeping the key order; a batch-wide mean replaces it
        out["braking_impulse"] = (gather(kin.running, bot_l) - gather(kin.running, vmin_l)) * t
        with np.errstate(invalid="ignore", divide="ignore"):
            out["braking_rfd"] = (gather(x, bot_l) - gather(x, vmin_l)) / ((bot_l - vmin_l) * t)
        b_lo = int(vmin_l.min())
        b_hi = max(int(bot_l.max()), b_lo + 1)
        neg_power = -(x[:, b_lo:b_hi] * v[:, b_lo:b_hi])
        out["peak_braking_power"] = seg_max(neg_power, vmin_l - b_lo, bot_l - b_lo)
        out["force_at_zero_velocity"] = gather(x, bot_l)
        out["countermovement_depth"] = -np.minimum(gather(disp, bot_l), gather(disp, np.maximum(bot_l - 1, 0)))
    else:
        disp = kin.displacement_to(int(to_l.max()) + 1)
        prop_start = on_l
        peak_l = seg_argmax_first(x, on_l, to_l)
        min_before = seg_min(x, on_l, peak_l + 1)
        out["min_force_before_peak"] = min_before
        out["countermovement_depth"] = -seg_min(disp, on_l, to_l + 1)
    idx["prop_start"] = prop_start

    # take-off and landing instants: threshold crossings, linearly interpolated between samples
    thr = settings.takeoff_threshold
    a_to = crossing_fraction(x, to_l, thr)
    a_ld = crossing_fraction(x, ld_l, thr)
    t_to = (to - 1 + a_to) * t
    t_ld = (ld - 1 + a_ld) * t
    # net impulse from the last loaded sample to the crossing (force linear between them)
    tail = a_to * t * (0.5 * (gather(x, to_l - 1) + thr) - bw)
    out["onset_time"] = on * t
    out["takeoff_time"] = t_to
    out["landing_time"] = t_ld
    out["landing_end_time"] = (lend_l + lo) * t
    out["propulsion_duration"] = t_to - (prop_start + lo) * t
    out["time_to_takeoff"] = t_to - on * t
    out["flight_time"] = t_ld - t_to
    out["landing_duration"] = (lend_l + lo) * t - t_ld
    v_to = gather(v, to_l - 1) + tail / mass
    out["takeoff_velocity"] = v_to
    out["jump_height"] = height_from_velocity(v_to)
    out["jump_height_flight_time"] = height_from_flight_time(out["flight_time"])
    out["mrsi"] = out["jump_height"] / out["time_to_takeoff"]
    out["peak_velocity"] = seg_max(v, on_l, to_l + 1)
    out["landing_velocity"] = gather(v, ld_l - 1) + a_ld * t * (0.5 * (gather(x, ld_l - 1) + thr) - bw) / mass
    out["peak_propulsive_force"] = seg_max(x, prop_start, to_l)
    out["mean_propulsive_force"] = bw  # placeholders, replaced by the batch-wide values
    out["net_propulsive_impulse"] = (gather(kin.running, to_l - 1) - gather(kin.running, prop_start)) * t + tail
    out["peak_propulsive_power"] = bw
    out["mean_propulsive_power"] = bw
    out["takeoff_momentum"] = mass * v_to
    out["peak_landing_force"] = seg_max(x, ld_l, lend_l + 1)

    flags: dict[str, Any] = {"landing_incomplete": ~lend_found}
    if kind == "sj":
        flags["countermovement"] = out["min_force_before_peak"] < bw - countermovement_sd * sd
    return out, idx, flags


def _join(parts: list[ChunkResult]) -> ChunkResult:
    """Concatenate per-chunk results (same keys, same order)."""
    first = parts[0]
    return tuple(  # type: ignore[return-value]
        {k: np.concatenate([p[i][k] for p in parts]) for k in first[i]} for i in range(3)
    )


def _span_mean(f: FloatArray, rows: IntArray, lo: int, a: IntArray, b: IntArray) -> FloatArray:
    """:func:`seg_mean` of ``f[rows, lo:]`` over each trial's [a, b), over the same batch-wide columns."""
    c0 = int(a.min())
    c1 = max(int(b.max()), c0 + 1)
    return seg_mean(f[rows, lo + c0 : lo + c1], a - c0, b - c0)


def _power(f: FloatArray, rows: IntArray, lo: int, v: FloatArray, a: IntArray, b: IntArray
           ) -> tuple[FloatArray, FloatArray]:
    """Peak and mean of power = force × velocity (W) over [a, b) (columns from ``lo``; ``v`` from ``lo``)."""
    c0 = int(a.min())
    c1 = max(int(b.max()), c0 + 1)
    p = f[rows, lo + c0 : lo + c1] * v[:, c0:c1]
    a_l, b_l = a - c0, b - c0
    peak = seg_max(p, a_l, b_l)
    return peak, seg_mean(p, a_l, b_l)
