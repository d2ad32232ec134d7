"""One-trace fast path of the CMJ / squat-jump scoring: the same steps as the batch path on a 1-D trace.

A single jump costs little arithmetic; the batch path's time goes into building (n_trials, width) masks and
index arrays for a batch of one. Here events are Python ints and segments are slices (``x[a:b].argmax()``,
``x[a:b].sum()``). Every number is computed with the same floating-point operations in the same order as the
batch path on a (1, n_samples) batch, so the two give bit-identical results
(tests/kinetics/test_jumps_single_path.py). The scalar helpers below reproduce NumPy's semantics on ties,
signed zeros and division by zero, where plain Python differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kinetics.jumps._common import FloatArray, G, JumpSettings
from kinetics.jumps._detect import block_loading, block_sums, unloaded_runs

# ---------------------------------------------------------------- scalar helpers (NumPy semantics)


def np_max(a: float, b: float) -> float:
    """``np.maximum(a, b)`` on two floats (NaN propagates; on a tie the second argument, as NumPy)."""
    if a != a:
        return a
    return a if a > b else b


def np_min(a: float, b: float) -> float:
    """``np.minimum(a, b)`` on two floats (NaN propagates; on a tie the second argument, as NumPy)."""
    if a != a:
        return a
    return a if a < b else b


def clip01(x: float) -> float:
    """``np.clip(x, 0.0, 1.0)`` on a float (keeps ``-0.0`` and NaN, as NumPy)."""
    if x < 0.0:
        return 0.0
    if x > 1.0:
        return 1.0
    return x


def divide(a: float, b: float) -> float:
    """``a / b`` with NumPy's IEEE result for ``b == 0`` (±inf, or NaN for 0/0) instead of an exception."""
    if b != 0.0:
        return a / b
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


def height_from_velocity(v: float) -> float:
    """:func:`kinetics.jumps.height_from_velocity` on a float: ``sign(v)·v·v / 2g``."""
    sign = 1.0 if v > 0 else (-1.0 if v < 0 else (v if v != v else 0.0))
    return sign * v * v / (2.0 * G)


def crossing_fraction(x: FloatArray, i: int, threshold: float) -> float:
    """:func:`kinetics.jumps._common.crossing_fraction` at sample ``i`` of a 1-D trace."""
    before = float(x[i - 1])
    step = before - float(x[i])
    frac = (before - threshold) / step if step != 0 else 1.0
    return clip01(frac)


# ---------------------------------------------------------------- segment helpers on slices


def arg_max(x: FloatArray, a: int, b: int) -> int:
    """Index of the maximum of ``x`` over [a, b) (first one on ties; ``a`` when empty)."""
    return a + int(x[a:b].argmax()) if b > a else a


def arg_min(x: FloatArray, a: int, b: int) -> int:
    """Index of the minimum of ``x`` over [a, b) (first one on ties; ``a`` when empty)."""
    return a + int(x[a:b].argmin()) if b > a else a


def first_ge(x: FloatArray, value: float, a: int, b: int) -> tuple[int, bool]:
    """First index in [a, b) where ``x >= value`` and whether there is one (``b`` when not)."""
    if b > a:
        hit = x[a:b] >= value
        i = int(hit.argmax())
        if hit[i]:
            return a + i, True
    return b, False


def mean(x: FloatArray, a: int, b: int) -> float:
    """Mean of ``x`` over [a, b) (NaN when empty) — the same sum as the batch path's masked row sum."""
    if b > a:
        return float(x[a:b].sum()) / (b - a)
    return math.nan


# ---------------------------------------------------------------- detection


@dataclass
class SingleEvents:
    """Detection result of one trace: flight found, quiet window (body weight, SD, [start, end)), take-off and
    landing samples. Weighing fields are only meaningful when ``found`` and ``weighed``."""

    any_flight: bool
    found: bool
    weighed: bool
    body_weight: float
    sd: float
    w_start: int
    w_end: int
    takeoff: int
    landing: int


def detect(f: FloatArray, fs: float, settings: JumpSettings) -> SingleEvents:
    """Blocks, first flight and weighing of one trace (as :mod:`kinetics.jumps._detect` on a batch of one)."""
    n = f.shape[0]
    size = max(1, round(settings.search_grid * fs))
    nb = n // size
    thr = settings.takeoff_threshold
    anyun = np.empty(nb, dtype=bool)
    allun = np.empty(nb, dtype=bool)
    block_loading(f[: nb * size] < thr, size, anyun, allun)
    nwb = max(2, round(settings.weigh_duration * fs / size))
    ok: Any = None
    if nb >= nwb:
        bad = np.zeros(nb + 1, dtype=np.intp)
        np.cumsum(anyun, out=bad[1:])
        ok = bad[nwb:] == bad[:-nwb]
    # unloaded block runs [s, e): a flight candidate starts after a loaded block and ends before the trace does
    _, starts, ends = unloaded_runs(allun[None, :])
    min_blocks = max(1, int(settings.min_flight_time * fs / size) - 1)
    good = (starts >= 1) & (ends - starts >= min_blocks) & (ends < nb)
    any_flight = bool(good.any())
    found = False
    k = 1
    e = nb
    if any_flight and ok is not None and ok.any():
        # a window of blocks [s0, s0 + nwb) must end before the take-off block k - 1: s0 <= k - 1 - nwb
        first_ok = int(ok.argmax())
        good &= starts - 1 - nwb >= first_ok
        if good.any():
            j = int(good.argmax())
            found = True
            k, e = int(starts[j]), int(ends[j])
    if not found:
        return SingleEvents(any_flight, False, False, 0.0, 0.0, 0, 0, 0, 0)
    prev = f[(k - 1) * size : k * size] >= thr
    takeoff = (k - 1) * size + (size - 1 - int(prev[::-1].argmax())) + 1
    landing = e * size + int((f[e * size : (e + 1) * size] >= thr).argmax())
    # quiet window: the lowest-SD fully loaded window ending at or before block k - 1
    used = min(nb, max(k - 1, 0))
    n_windows = used - nwb + 1
    if n_windows < 1:
        return SingleEvents(any_flight, True, False, 0.0, 0.0, 0, 0, takeoff, landing)
    okw = ok[:n_windows]
    bsum, bsq = block_sums(f[None, :], size, used)
    width = nwb * size
    s = np.zeros(used + 1)
    q = np.zeros(used + 1)
    np.cumsum(bsum[0], out=s[1:])
    np.cumsum(bsq[0], out=q[1:])
    ws = s[nwb:] - s[:-nwb]
    wq = q[nwb:] - q[:-nwb]
    wmean = ws / width
    sd = np.sqrt(np.maximum(wq - ws * wmean, 0.0) / max(width - 1, 1))
    best = int(np.where(okw, sd, np.inf).argmin())
    weighed = bool(okw.any())
    start = best * size
    return SingleEvents(any_flight, True, weighed, float(wmean[best]), float(sd[best]), start, start + width,
                        takeoff, landing)


def departure(f: FloatArray, hi: float, lo: float, start: int, stop: int) -> int:
    """First sample in [start, stop) where force is above ``hi`` or below ``lo`` (``stop`` when none)."""
    if stop <= start:
        return stop
    x = f[start:stop]
    hit = (x > hi) | (x < lo)
    i = int(hit.argmax())
    return start + i if hit[i] else stop


# ---------------------------------------------------------------- metrics


def cmj_values(
    f: FloatArray, fs: float, settings: JumpSettings, kind: str, countermovement_sd: float, sd_floor: float,
    ev: SingleEvents,
) -> tuple[dict[str, Any], dict[str, int], dict[str, bool]]:
    """The CMJ (``kind="cmj"``) or SJ metrics of one accepted trace, in the batch path's key order.

    Returns the values (floats), the phase indices (full-trace samples: ``on``, ``vmin``, ``bot``,
    ``prop_start``, ``to``, ``ld``, ``lend``) for the per-side values, and the flags.
    """
    n = f.shape[0]
    bw = ev.body_weight
    sd = np_max(ev.sd, sd_floor * bw)
    band = settings.onset_sd * sd
    to, ld = ev.takeoff, ev.landing
    dep = departure(f, bw + band, bw - band, ev.w_end, to)
    on = max(dep - round(settings.onset_step_back * fs), 0)
    lo = on
    lw = round(settings.landing_window * fs)
    stop = min(n, ld + lw + 1)
    to_l, ld_l = to - lo, ld - lo
    # centre-of-mass velocity by the trapezoid rule from the onset (as _kinematics.integrate_columns)
    dt = 1.0 / fs
    x = f[lo:stop]
    net = x - bw
    running = np.cumsum(net)
    net *= 0.5
    running -= net
    mass = bw / G
    v = running - running[0]
    v *= dt / mass
    t = 1.0 / fs
    out: dict[str, Any] = {"body_weight": bw, "body_mass": mass, "quiet_sd": sd}
    idx: dict[str, int] = {"on": on, "to": to, "ld": ld}

    end_l = min(ld_l + lw, x.shape[0])
    lend_l, lend_found = first_ge(v, 0.0, ld_l, end_l)
    lend_l = min(lend_l, x.shape[0] - 1)
    idx["lend"] = lend_l + lo

    if kind == "cmj":
        vmin_l = arg_min(v, 0, to_l)
        bot_l, _ = first_ge(v, 0.0, vmin_l, to_l)
        disp = _displacement(v, bot_l + 1, t)
        prop_start = bot_l
        idx["vmin"], idx["bot"] = vmin_l + lo, bot_l + lo
        out["unweighting_end_time"] = (vmin_l + lo) * t
        out["braking_end_time"] = (bot_l + lo) * t
        out["unweighting_duration"] = vmin_l * t
        out["braking_duration"] = (bot_l - vmin_l) * t
        out["eccentric_duration"] = bot_l * t
        out["peak_negative_velocity"] = float(v[vmin_l])
        out["min_unweighting_force"] = float(x[arg_min(x, 0, vmin_l + 1)])
        out["unweighting_impulse"] = -(float(running[vmin_l]) - float(running[0])) * t
        out["peak_braking_force"] = float(x[arg_max(x, vmin_l, bot_l + 1)])
        out["mean_braking_force"] = mean(x, vmin_l, bot_l)
        out["braking_impulse"] = (float(running[bot_l]) - float(running[vmin_l])) * t
        out["braking_rfd"] = divide(float(x[bot_l]) - float(x[vmin_l]), (bot_l - vmin_l) * t)
        b_hi = max(bot_l, vmin_l + 1)
        neg_power = -(x[vmin_l:b_hi] * v[vmin_l:b_hi])
        out["peak_braking_power"] = float(neg_power[arg_max(neg_power, 0, bot_l - vmin_l)])
        out["force_at_zero_velocity"] = float(x[bot_l])
        out["countermovement_depth"] = -np_min(float(disp[bot_l]), float(disp[max(bot_l - 1, 0)]))
    else:
        disp = _displacement(v, to_l + 1, t)
        prop_start = 0
        peak_l = arg_max(x, 0, to_l)
        out["min_force_before_peak"] = float(x[arg_min(x, 0, peak_l + 1)])
        out["countermovement_depth"] = -float(disp[arg_min(disp, 0, to_l + 1)])
    idx["prop_start"] = prop_start + lo

    thr = settings.takeoff_threshold
    a_to = crossing_fraction(x, to_l, thr)
    a_ld = crossing_fraction(x, ld_l, thr)
    t_to = (to - 1 + a_to) * t
    t_ld = (ld - 1 + a_ld) * t
    tail = a_to * t * (0.5 * (float(x[to_l - 1]) + thr) - bw)
    out["onset_time"] = on * t
    out["takeoff_time"] = t_to
    out["landing_time"] = t_ld
    out["landing_end_time"] = (lend_l + lo) * t
    out["propulsion_duration"] = t_to - (prop_start + lo) * t
    out["time_to_takeoff"] = t_to - on * t
    out["flight_time"] = t_ld - t_to
    out["landing_duration"] = (lend_l + lo) * t - t_ld
    v_to = float(v[to_l - 1]) + tail / mass
    out["takeoff_velocity"] = v_to
    out["jump_height"] = height_from_velocity(v_to)
    flight = out["flight_time"]
    out["jump_height_flight_time"] = G * flight * flight / 8.0
    out["mrsi"] = divide(out["jump_height"], out["time_to_takeoff"])
    out["peak_velocity"] = float(v[arg_max(v, 0, to_l + 1)])
    out["landing_velocity"] = float(v[ld_l - 1]) + a_ld * t * (0.5 * (float(x[ld_l - 1]) + thr) - bw) / mass
    out["peak_propulsive_force"] = float(x[arg_max(x, prop_start, to_l)])
    out["mean_propulsive_force"] = mean(x, prop_start, to_l)
    out["net_propulsive_impulse"] = (float(running[to_l - 1]) - float(running[prop_start])) * t + tail
    # power = force × velocity over propulsion (the batch path's span [prop_start, max(to, prop_start + 1)))
    p = x[prop_start : max(to_l, prop_start + 1)] * v[prop_start : max(to_l, prop_start + 1)]
    out["peak_propulsive_power"] = float(p[arg_max(p, 0, to_l - prop_start)])
    out["mean_propulsive_power"] = mean(p, 0, to_l - prop_start)
    out["takeoff_momentum"] = mass * v_to
    out["peak_landing_force"] = float(x[arg_max(x, ld_l, lend_l + 1)])

    flags = {"landing_incomplete": not lend_found}
    if kind == "sj":
        flags["countermovement"] = out["min_force_before_peak"] < bw - countermovement_sd * sd
    return out, idx, flags


def _displacement(v: FloatArray, cols: int, dt: float) -> FloatArray:
    """Displacement (m) over the first ``cols`` samples, 0 at the first (as ``Kinematics.displacement_to``)."""
    vd = v[: max(cols, 1)]
    disp = np.cumsum(vd)
    disp -= 0.5 * vd
    disp -= disp[0]
    disp *= dt
    return disp
