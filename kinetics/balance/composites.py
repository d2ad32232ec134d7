"""Clinical balance composites: Romberg quotient, single-leg stance time, weight-bearing asymmetry, limits of
stability. Axes: x ML (right +), y AP (forward +), metres, newtons, seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import as_signal, check_rate, input_error
from kinetics.results import Metrics

FloatArray = NDArray[np.float64]

#: Limits-of-stability directions, clockwise from forward (+y) seen from above.
DIRECTIONS_8 = (
    "forward",
    "forward_right",
    "right",
    "backward_right",
    "backward",
    "backward_left",
    "left",
    "forward_left",
)
DIRECTIONS_4 = ("forward", "right", "backward", "left")
_UNIT_VECTORS = {
    "forward": (0.0, 1.0),
    "forward_right": (math.sqrt(0.5), math.sqrt(0.5)),
    "right": (1.0, 0.0),
    "backward_right": (math.sqrt(0.5), -math.sqrt(0.5)),
    "backward": (0.0, -1.0),
    "backward_left": (-math.sqrt(0.5), -math.sqrt(0.5)),
    "left": (-1.0, 0.0),
    "forward_left": (-math.sqrt(0.5), math.sqrt(0.5)),
}


def romberg_quotient(eyes_closed: Any, eyes_open: Any, *, key: str = "ellipse_area_95") -> Metrics:
    """Romberg quotient = eyes-closed value / eyes-open value of one descriptor (1 = vision does not help).

    ``eyes_closed`` and ``eyes_open`` are :class:`Metrics` from :func:`sway_metrics` (``key`` is read from
    them) or plain numbers/arrays of the same descriptor. A non-positive or non-finite eyes-open value is an
    error (the quotient would be meaningless). Source: Romberg's sign as a posturographic ratio, e.g. Prieto et
    al. 1996 (eyes closed / eyes open ratios of each measure).
    """

    def value(x: Any, which: str) -> FloatArray:
        if isinstance(x, Mapping):
            if key not in x:
                raise input_error(which, f"has no descriptor {key!r}", "pass sway_metrics results or numbers")
            x = x[key]
        return np.asarray(x, dtype=np.float64)

    ec, eo = value(eyes_closed, "eyes_closed"), value(eyes_open, "eyes_open")
    if not (np.all(np.isfinite(eo)) and np.all(eo > 0)) or not np.all(np.isfinite(ec)):
        raise input_error(
            "romberg_quotient", f"eyes-open {key} must be positive and finite, got {eo}", "check the trials"
        )
    q = ec / eo
    params = {"key": key}
    if isinstance(eyes_open, Metrics):
        params["eyes_open_method"] = eyes_open.method
    if isinstance(eyes_closed, Metrics) and isinstance(eyes_open, Metrics) and eyes_closed.method != eyes_open.method:
        raise input_error("romberg_quotient", "the two trials were scored with different methods", "use one method")
    return Metrics({"romberg_quotient": float(q) if q.ndim == 0 else q}, {"romberg_quotient": "1"}, "romberg", params)


def weight_bearing(fz_left: Any, fz_right: Any, *, min_force: float = 20.0) -> Metrics:
    """Weight-bearing shares and asymmetry from two plates' vertical forces (..., n) in N.

    ``weight_share_left`` = ΣFz_L / Σ(Fz_L + Fz_R) over the trial (1), ``weight_share_right`` likewise, and
    ``weight_bearing_asymmetry`` = (L − R)/(L + R) in [−1, 1] (positive: more weight on the left). Raises when
    the mean total force is below ``min_force`` (nobody on the plates).
    """
    fl = as_signal(fz_left, "fz_left", min_samples=1)
    fr = as_signal(fz_right, "fz_right", min_samples=1)
    if fl.shape != fr.shape:
        raise input_error("fz_right", f"has shape {fr.shape}, fz_left {fl.shape}", "record both on one clock")
    left, right = fl.mean(axis=-1), fr.mean(axis=-1)
    total = left + right
    if np.any(total < min_force):
        raise input_error(
            "weight_bearing",
            f"mean vertical force {np.min(total):.3g} N is below {min_force} N (nobody standing?)",
            "score a trial where the person stands on both plates",
        )
    data = {
        "weight_share_left": left / total,
        "weight_share_right": right / total,
        "weight_bearing_asymmetry": (left - right) / total,
    }
    out = {k: (float(v) if np.ndim(v) == 0 else v) for k, v in data.items()}
    return Metrics(out, dict.fromkeys(out, "1"), "weight_bearing", {"min_force_n": min_force})


def _sustained(mask: NDArray[np.bool_], m: int) -> NDArray[np.bool_]:
    """True at i when mask[i : i + m] is all True (a run of at least m samples starts at i)."""
    n = mask.shape[-1]
    cs = np.concatenate([np.zeros((*mask.shape[:-1], 1), dtype=np.int64), np.cumsum(mask, axis=-1)], axis=-1)
    out = np.zeros(mask.shape, dtype=bool)
    if m <= n:
        out[..., : n - m + 1] = (cs[..., m:] - cs[..., : n - m + 1]) == m
    return out


def _first(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Index of the first True along the last axis, or n when none."""
    n = mask.shape[-1]
    return np.where(mask.any(axis=-1), np.argmax(mask, axis=-1), n).astype(np.int64)


def single_leg_stance(
    fz_stance: Any,
    fs: float,
    *,
    fz_other: Any = None,
    body_weight: Any = None,
    contact_force: float = 20.0,
    unload_fraction: float = 0.75,
    min_duration: float = 0.1,
) -> Metrics:
    """Time a person holds single-leg stance until loss of balance, from plate forces.

    Parameters
    ----------
    fz_stance : array_like, shape (..., n)
        Vertical force (N) under the stance foot.
    fs : float
        Sampling rate (Hz).
    fz_other : array_like, shape (..., n), optional
        Vertical force (N) of a plate under the free foot (a second plate or the other half of a split plate).
    body_weight : float or array, optional
        In N; default the median of the total vertical force while loaded (≥ ``contact_force``).
    contact_force : float
        Force (N) above which a foot is in contact.
    unload_fraction : float
        The stance plate carrying less than this fraction of body weight counts as a step off the plate.
    min_duration : float
        An event must last this long (s) to count (rejects single-sample spikes).

    Definition
    ----------
    Stance starts at the first sample where the stance plate carries ≥ ``unload_fraction`` of body weight and
    the free foot is off (``fz_other`` < ``contact_force``, sustained ``min_duration``); without ``fz_other`` it
    starts at the first sample with the stance plate loaded. Loss of balance is the first later sample where,
    sustained for ``min_duration``, the free foot touches down (``fz_other`` ≥ ``contact_force``) or the stance
    plate carries less than ``unload_fraction``·body weight (a step off the plate, or the free foot taking weight
    on the floor). ``stance_time`` = loss − start (s); when no loss is seen, the time to the end of the
    recording with flag ``balance_lost`` False (a censored time, e.g. the test's maximum).
    """
    fs = check_rate(fs)
    st = as_signal(fz_stance, "fz_stance", min_samples=2)
    other = None if fz_other is None else as_signal(fz_other, "fz_other", min_samples=2)
    if other is not None and other.shape != st.shape:
        raise input_error("fz_other", f"has shape {other.shape}, fz_stance {st.shape}", "record both on one clock")
    if not 0 < unload_fraction < 1:
        raise input_error("unload_fraction", f"must be in (0, 1), got {unload_fraction}", "use e.g. 0.75")
    total = st if other is None else st + other
    if body_weight is None:
        loaded_total = np.where(total >= contact_force, total, np.nan)
        if np.any(np.all(np.isnan(loaded_total), axis=-1)):
            raise input_error("fz_stance", "nobody stands on the plate(s) in this trial", "check the recording")
        bw = np.nanmedian(loaded_total, axis=-1)
    else:
        bw = np.broadcast_to(np.asarray(body_weight, dtype=np.float64), st.shape[:-1])
        if not (np.all(np.isfinite(bw)) and np.all(bw > 0)):
            raise input_error("body_weight", f"must be positive in N, got {body_weight}", "weigh the person")
    m = max(1, round(min_duration * fs))
    n = st.shape[-1]
    on_stance = st >= unload_fraction * bw[..., None]
    if other is None:
        start_mask = _sustained(on_stance, m)
        touch = np.zeros_like(on_stance)
    else:
        free_off = other < contact_force
        start_mask = _sustained(on_stance & free_off, m)
        touch = _sustained(other >= contact_force, m)
    step_off = _sustained(~on_stance, m)
    start = _first(start_mask)
    idx = np.arange(n)
    after = idx >= start[..., None]
    loss = _first((touch | step_off) & after)
    started = start < n
    lost = started & (loss < n)
    stance_time = np.where(started, (np.minimum(loss, n) - start) / fs, math.nan)
    data = {
        "stance_time": stance_time,
        "stance_start": np.where(started, start / fs, math.nan),
        "body_weight": np.asarray(bw, dtype=np.float64),
    }
    out = {k: (float(v) if np.ndim(v) == 0 else v) for k, v in data.items()}
    flags = {"balance_lost": lost if lost.ndim else bool(lost), "no_stance": ~started if started.ndim else not started}
    params = {
        "fs": fs,
        "contact_force_n": contact_force,
        "unload_fraction": unload_fraction,
        "min_duration_s": min_duration,
        "free_foot_plate": other is not None,
    }
    return Metrics(
        out, {"stance_time": "s", "stance_start": "s", "body_weight": "N"}, "single_leg_stance", params, flags
    )


def limits_of_stability(cop: Any, *, centre: Any = None, directions: int = 8) -> Metrics:
    """Maximal voluntary COP excursion per direction (limits of stability), in metres.

    ``cop`` (..., 2, n) in metres holds the excursions (one trial leaning towards every target, or several
    trials concatenated in time). ``centre`` (..., 2) is the quiet-standing COP (default: the mean of the first
    1 % of the samples; pass the quiet stance before the task when you have it). For each direction u_k (8: forward,
    forward-right, right, backward-right, backward, backward-left, left, forward-left; or 4), the excursion is
    the largest projection (p − centre)·u_k over the samples whose direction from the centre lies within
    ±180°/directions of u_k (its sector), 0 when no sample falls in the sector. ``los_area`` is the area of the
    polygon joining the excursion points (m²). After the directional "maximum excursion" of the limits-of-
    stability test (NeuroCom).
    """
    c = as_signal(cop, "cop", min_samples=1, min_ndim=2)
    if c.shape[-2] != 2:
        raise input_error("cop", f"has shape {c.shape}", "stack the COP as (..., 2, n_samples) in metres")
    if directions not in (4, 8):
        raise input_error("directions", f"must be 4 or 8, got {directions}", "use 8 (default) or 4")
    names = DIRECTIONS_8 if directions == 8 else DIRECTIONS_4
    if centre is None:
        k = max(1, c.shape[-1] // 100)
        ctr = c[..., :k].mean(axis=-1)
    else:
        ctr = np.asarray(centre, dtype=np.float64)
        if ctr.shape[-1:] != (2,):
            raise input_error("centre", f"has shape {ctr.shape}", "give (..., 2) x, y in metres")
    d = c - ctr[..., None]
    angle = np.arctan2(d[..., 1, :], d[..., 0, :])
    half = math.pi / directions
    data: dict[str, Any] = {}
    reach = []
    for name in names:
        ux, uy = _UNIT_VECTORS[name]
        a0 = math.atan2(uy, ux)
        diff = np.angle(np.exp(1j * (angle - a0)))
        proj = d[..., 0, :] * ux + d[..., 1, :] * uy
        in_sector = (np.abs(diff) <= half + 1e-12) & (np.hypot(d[..., 0, :], d[..., 1, :]) > 0)
        r = np.max(np.where(in_sector, proj, 0.0), axis=-1)
        reach.append((r * ux, r * uy))
        data[f"los_{name}"] = r
    xs = np.stack([p[0] for p in reach], axis=-1)
    ys = np.stack([p[1] for p in reach], axis=-1)
    # Shoelace over the points in clockwise order (the direction list turns clockwise): area is −½Σ(...).
    area = -0.5 * np.sum(xs * np.roll(ys, -1, axis=-1) - np.roll(xs, -1, axis=-1) * ys, axis=-1)
    data["los_area"] = area
    out = {k: (float(v) if np.ndim(v) == 0 else v) for k, v in data.items()}
    units = {k: "m" for k in out}
    units["los_area"] = "m^2"
    return Metrics(out, units, "limits_of_stability", {"directions": directions})
