"""Per-side (left/right plate) values over the phases found on the summed force, and their asymmetry."""

from __future__ import annotations

import numpy as np

from kinetics.jumps._common import FloatArray, IntArray, asymmetry, gather, seg_argmax, seg_mean, window

# side metric key → (kind, phase name); kinds: peak force, mean force, net impulse
SIDE_KEYS: dict[str, tuple[str, str]] = {
    "peak_braking_force": ("peak", "braking"),
    "mean_braking_force": ("mean", "braking"),
    "braking_impulse": ("impulse", "braking"),
    "peak_propulsive_force": ("peak", "propulsion"),
    "mean_propulsive_force": ("mean", "propulsion"),
    "net_propulsive_impulse": ("impulse", "propulsion"),
    "peak_contact_force": ("peak", "contact"),
    "contact_net_impulse": ("impulse", "contact"),
    "peak_landing_force": ("peak", "landing"),
}
SIDE_UNITS = {"peak": "N", "mean": "N", "impulse": "N·s"}


def side_values(
    left: FloatArray,
    right: FloatArray,
    weigh_start: IntArray,
    weigh_len: int,
    phases: dict[str, tuple[IntArray, IntArray]],
    fs: float,
) -> tuple[dict[str, FloatArray], dict[str, str]]:
    """Left, right and asymmetry (%) of each :data:`SIDE_KEYS` metric whose phase is in ``phases``.

    Each side's own weight share (its mean over the weighing window) is its baseline for net impulse, so
    left + right net impulse equals the net impulse of the summed force. Phases are [a, b) sample indices.
    """
    values: dict[str, FloatArray] = {}
    units: dict[str, str] = {}
    shares = []
    for name, side in (("left", left), ("right", right)):
        share = window(side, weigh_start, weigh_len).mean(axis=1)
        shares.append(share)
        values[f"body_weight_{name}"] = share
        units[f"body_weight_{name}"] = "N"
        lo = min(int(a.min()) for a, _ in phases.values())
        hi = max(int(b.max()) for _, b in phases.values()) + 1
        x = side[:, lo:hi]
        net = x - share[:, None]
        run = np.cumsum(net, axis=1) - 0.5 * net
        for key, (kind, phase) in SIDE_KEYS.items():
            if phase not in phases:
                continue
            a, b = phases[phase]
            a_l, b_l = a - lo, b - lo
            if kind == "peak":
                val = gather(x, seg_argmax(x, a_l, b_l))
                val = np.where(b > a, val, np.nan)
            elif kind == "mean":
                val = seg_mean(x, a_l, b_l)
            else:
                val = (gather(run, b_l) - gather(run, a_l)) / fs
            values[f"{key}_{name}"] = val
            units[f"{key}_{name}"] = SIDE_UNITS[kind]
    for key in [k[: -len("_left")] for k in values if k.endswith("_left")]:
        values[f"{key}_asymmetry"] = asymmetry(values[f"{key}_left"], values[f"{key}_right"])
        units[f"{key}_asymmetry"] = "%"
    return values, units
