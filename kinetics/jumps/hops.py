"""Repeated hops (e.g. the 10/5 repeated-jump test): contact and flight times, RSI, vertical stiffness.

- RSI = jump height from flight time / contact time (Flanagan & Comyns 2008); the 10/5 test scores the mean
  of the best 5 hops (Harper D, Hobbs S, Moore J (2011) "The ten to five repeated jump test: a new test for
  evaluation of lower body reactive strength", BASES conference; Comyns TM et al. (2019) Int J Sports Physiol
  Perform 14(9):1200-1204).
- Vertical stiffness from contact and flight times with the sine-wave spring–mass model of Dalleau G, Belli A,
  Viale F, Lacour JR, Bourdin M (2004) "A simple method for field measurements of leg stiffness in hopping",
  Int J Sports Med 25(3):170-176: k = m·π·(T_f + T_c) / (T_c²·((T_f + T_c)/π − T_c/4)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import input_error
from kinetics.jumps._common import (
    FloatArray,
    G,
    JumpSettings,
    OnInvalid,
    asymmetry,
    check_on_invalid,
    finish,
    height_from_flight_time,
    prepare,
    raise_first,
)
from kinetics.jumps._detect import blocks, loaded_runs, weigh
from kinetics.results import Metrics


@dataclass(frozen=True)
class HopContacts:
    """Per-hop values, shape (..., max_hops), NaN-padded after each trial's ``n_hops`` hops.

    A hop is a ground contact between two flights: ``touchdown_time`` and ``takeoff_time`` (s, interpolated
    threshold crossings), ``contact_time`` (s), ``flight_time`` (s, the flight after that contact),
    ``jump_height_flight_time`` (m), ``rsi`` (m/s), ``peak_force`` (N), ``stiffness`` (N/m, Dalleau 2004;
    NaN without body mass); with two plates ``impulse_left`` / ``impulse_right`` (N·s, gross contact impulse).
    """

    n_hops: NDArray[Any]
    touchdown_time: FloatArray
    takeoff_time: FloatArray
    contact_time: FloatArray
    flight_time: FloatArray
    jump_height_flight_time: FloatArray
    rsi: FloatArray
    peak_force: FloatArray
    stiffness: FloatArray
    peak_force_left: FloatArray | None = None
    peak_force_right: FloatArray | None = None
    impulse_left: FloatArray | None = None
    impulse_right: FloatArray | None = None


def dalleau_stiffness(mass: Any, contact_time: Any, flight_time: Any) -> FloatArray:
    """Vertical stiffness (N/m) of the spring–mass sine-wave model (Dalleau et al. 2004).

    k = m·π·(T_f + T_c) / (T_c²·((T_f + T_c)/π − T_c/4)), with mass (kg), contact T_c and flight T_f (s).
    """
    m, tc, tf = (np.asarray(a, dtype=float) for a in (mass, contact_time, flight_time))
    return np.asarray(m * math.pi * (tf + tc) / (tc**2 * ((tf + tc) / math.pi - tc / 4)), dtype=float)


def hop_contacts(
    force: Any,
    fs: float,
    *,
    body_mass: Any = None,
    sides: bool = False,
    takeoff_threshold: float = 20.0,
    min_flight_time: float = 0.1,
    max_contact_time: float = 1.0,
) -> HopContacts:
    """Every hop of every trial (see :class:`HopContacts`); ``body_mass`` (kg, scalar or batch-shaped) gives
    stiffness. Force shape (..., n_samples), or (..., 2, n_samples) with ``sides``.

    A hop contact is a loaded stretch (force ≥ ``takeoff_threshold``) of at most ``max_contact_time`` with a
    flight ≥ ``min_flight_time`` before it and a flight ending in a landing after it (standing is longer).
    """
    batch = prepare(force, fs, sides)
    mass = None if body_mass is None else np.broadcast_to(np.asarray(body_mass, float), batch.batch_shape)
    hops = _hops(batch.total, batch.fs, takeoff_threshold, min_flight_time, max_contact_time,
                 None if mass is None else mass.reshape(-1), batch.sides)
    shape = (*batch.batch_shape, hops.rsi.shape[1])
    return HopContacts(
        hops.n_hops.reshape(batch.batch_shape),
        *(getattr(hops, k).reshape(shape) for k in ("touchdown_time", "takeoff_time", "contact_time",
                                                   "flight_time", "jump_height_flight_time", "rsi",
                                                   "peak_force", "stiffness")),
        *(None if getattr(hops, k) is None else getattr(hops, k).reshape(shape)
          for k in ("peak_force_left", "peak_force_right", "impulse_left", "impulse_right")),
    )


def _hops(f: FloatArray, fs: float, thr: float, min_flight: float, max_contact: float, mass: FloatArray | None,
          sides: tuple[FloatArray, FloatArray] | None) -> HopContacts:
    n_trials, n = f.shape
    runs = loaded_runs(f, thr, max(1, round(min_flight * fs)))
    first_in_row = np.ones(runs.row.size, dtype=bool)
    first_in_row[1:] = runs.row[1:] != runs.row[:-1]
    keep = ~first_in_row & (runs.gap_after >= 0) & (runs.end - runs.start <= max_contact * fs)
    k = np.nonzero(keep)[0]
    row = runs.row[k]
    start, end, nxt = runs.start[k], runs.end[k], runs.start[k + 1]
    flat = f.reshape(-1)
    base = row * n

    def crossing(i: NDArray[Any]) -> FloatArray:
        before, after = flat[base + i - 1], flat[base + i]
        step = before - after
        frac = np.where(step != 0, (before - thr) / np.where(step != 0, step, 1.0), 1.0)
        return (i - 1 + np.clip(frac, 0.0, 1.0)) / fs

    t_td, t_to, t_next = crossing(start), crossing(end), crossing(nxt)
    tc, tf = t_to - t_td, t_next - t_to
    bounds = np.stack([base + start, base + end], axis=1).reshape(-1)
    peak = np.maximum.reduceat(flat, bounds)[::2] if bounds.size else np.empty(0)
    counts = np.bincount(row, minlength=n_trials)
    first = np.searchsorted(row, row, side="left")
    rank = np.arange(row.size) - first
    width = max(int(counts.max()) if counts.size else 0, 1)

    def pad(values: FloatArray) -> FloatArray:
        out = np.full((n_trials, width), np.nan)
        out[row, rank] = values
        return out

    h = height_from_flight_time(tf)
    stiff = dalleau_stiffness(mass[row], tc, tf) if mass is not None else np.full(row.size, np.nan)
    extra: list[FloatArray | None] = [None, None, None, None]
    if sides is not None:
        fl, fr = sides[0].reshape(-1), sides[1].reshape(-1)
        extra = [pad(np.maximum.reduceat(fl, bounds)[::2]), pad(np.maximum.reduceat(fr, bounds)[::2]),
                 pad(np.add.reduceat(fl, bounds)[::2] / fs), pad(np.add.reduceat(fr, bounds)[::2] / fs)]
    return HopContacts(counts, pad(t_td), pad(t_to), pad(tc), pad(tf), pad(h), pad(h / tc), pad(peak), pad(stiff),
                       *extra)


UNITS = {
    "body_weight": "N",
    "body_mass": "kg",
    "n_hops": "1",
    "rsi": "m/s",
    "rsi_best": "m/s",
    "rsi_mean": "m/s",
    "rsi_flight_contact": "1",
    "contact_time": "s",
    "flight_time": "s",
    "jump_height_flight_time": "m",
    "peak_force": "N",
    "stiffness": "N/m",
}


def hop_metrics(
    force: Any,
    fs: float,
    *,
    best_of: int = 5,
    body_mass: Any = None,
    sides: bool = False,
    takeoff_threshold: float = 20.0,
    weigh_duration: float = 1.0,
    quiet_max_sd: float = 0.02,
    min_flight_time: float = 0.1,
    max_contact_time: float = 1.0,
    on_invalid: OnInvalid = "raise",
) -> Metrics:
    """Repeated-hop summary (method ``"rsi_best_of"``; the 10/5 test with the defaults).

    ``rsi``, ``rsi_flight_contact``, ``contact_time``, ``flight_time``, ``jump_height_flight_time``,
    ``peak_force`` and ``stiffness`` are means over the ``best_of`` hops with the highest RSI (all hops when
    fewer; flag ``fewer_hops_than_best_of``); ``rsi_best`` is the single best hop, ``rsi_mean`` the mean of
    all hops. Body mass (for stiffness) is ``body_mass`` (kg) if given, else body weight / g from the quietest
    fully loaded ``weigh_duration`` window of the trace (rejected if SD > ``quiet_max_sd`` × body weight).
    With ``sides``: ``peak_force_*`` and ``contact_impulse_*`` (gross, N·s) per side over the same hops, and
    their asymmetry (%). Rejection reasons: ``no_hops``, ``quiet_phase_too_short``, ``quiet_phase_not_quiet``.
    """
    check_on_invalid(on_invalid)
    settings = JumpSettings(takeoff_threshold, 5.0, 0.0, weigh_duration, quiet_max_sd, min_flight_time)
    settings.validate()
    if not (isinstance(best_of, int | np.integer) and best_of >= 1):
        raise input_error("best_of", f"must be a positive integer, got {best_of!r}", "pass e.g. 5")
    if not (math.isfinite(max_contact_time) and max_contact_time > 0):
        raise input_error("max_contact_time", f"must be positive, got {max_contact_time!r}", "pass e.g. 1.0")
    batch = prepare(force, fs, sides)
    fs = batch.fs
    f = batch.total
    n_trials = f.shape[0]
    if body_mass is not None:
        mass = np.broadcast_to(np.asarray(body_mass, float), batch.batch_shape).reshape(-1)
        if not np.all(np.isfinite(mass) & (mass > 0)):
            raise input_error("body_mass", "must be positive and finite (kg)", "pass the athlete's mass")
        sd = np.zeros(n_trials)
        found = np.ones(n_trials, dtype=bool)
    else:
        w = weigh(f, blocks(f, fs, settings), fs, settings, None)
        mass, sd, found = w.body_weight / G, w.sd, w.found
    hops = _hops(f, fs, takeoff_threshold, min_flight_time, max_contact_time, mass, batch.sides)
    reasons: list[str | None] = []
    details: list[str] = []
    for i in range(n_trials):
        if hops.n_hops[i] == 0:
            reasons.append("no_hops")
            details.append(f"no contact ≤ {max_contact_time:g} s between two flights ≥ {min_flight_time:g} s")
        elif not found[i]:
            reasons.append("quiet_phase_too_short")
            details.append(f"no {weigh_duration:g} s stretch fully on the plate (or pass body_mass)")
        elif not sd[i] <= quiet_max_sd * mass[i] * G:
            reasons.append("quiet_phase_not_quiet")
            details.append(f"the quietest {weigh_duration:g} s window has SD {sd[i]:.1f} N = "
                           f"{100 * sd[i] / (mass[i] * G):.1f} % of body weight (limit {100 * quiet_max_sd:g} %)")
        else:
            reasons.append(None)
            details.append("")
    if on_invalid == "raise":
        raise_first(reasons, details, batch.batch_shape, settings)
    valid = np.array([r is None for r in reasons], dtype=bool)
    v = np.nonzero(valid)[0]
    order = np.argsort(np.where(np.isnan(hops.rsi), -np.inf, -hops.rsi), axis=1, kind="stable")[:, :best_of]
    nbest = np.minimum(hops.n_hops, best_of)

    def best(a: FloatArray) -> FloatArray:
        return np.nanmean(np.take_along_axis(a[v], order[v], axis=1), axis=1) if v.size else np.empty(0)

    out: dict[str, FloatArray] = {
        "body_weight": mass[v] * G,
        "body_mass": mass[v],
        "n_hops": hops.n_hops[v].astype(float),
        "rsi": best(hops.rsi),
        "rsi_best": np.nanmax(hops.rsi[v], axis=1) if v.size else np.empty(0),
        "rsi_mean": np.nanmean(hops.rsi[v], axis=1) if v.size else np.empty(0),
        "rsi_flight_contact": best(hops.flight_time / hops.contact_time),
        "contact_time": best(hops.contact_time),
        "flight_time": best(hops.flight_time),
        "jump_height_flight_time": best(hops.jump_height_flight_time),
        "peak_force": best(hops.peak_force),
        "stiffness": best(hops.stiffness),
    }
    units = dict(UNITS)
    if hops.peak_force_left is not None:
        for key, left, right in (("peak_force", hops.peak_force_left, hops.peak_force_right),
                                 ("contact_impulse", hops.impulse_left, hops.impulse_right)):
            assert left is not None and right is not None
            out[f"{key}_left"], out[f"{key}_right"] = best(left), best(right)
            out[f"{key}_asymmetry"] = asymmetry(out[f"{key}_left"], out[f"{key}_right"])
            units[f"{key}_left"] = units[f"{key}_right"] = "N" if key == "peak_force" else "N·s"
            units[f"{key}_asymmetry"] = "%"
    flags = {"fewer_hops_than_best_of": nbest[v] < best_of}
    params = {
        "fs": fs, "g": G, "takeoff_threshold": takeoff_threshold, "min_flight_time": min_flight_time,
        "max_contact_time": max_contact_time, "best_of": best_of, "weigh_duration": weigh_duration,
        "quiet_max_sd": quiet_max_sd, "body_mass_given": body_mass is not None, "sides": sides,
        "rsi": "jump_height_flight_time / contact_time", "stiffness": "dalleau2004",
    }
    return finish(out, units, valid, reasons, batch.batch_shape, "rsi_best_of", params, flags)
