"""Torque from force and lever arm, and normalisation to body mass."""

from __future__ import annotations

from typing import Any

import numpy as np

from kinetics._checks import input_error

MAX_BODY_MASS_KG = 500.0
"""Largest body mass accepted (kg); a larger number is almost surely in g or lb."""


def _values(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise input_error(name, "is not a number or numeric array", "pass floats") from None
    if not np.all(np.isfinite(arr)):
        raise input_error(name, "contains NaN or infinite values", "score the trial first, then convert")
    return arr


def _out(value: np.ndarray) -> Any:
    return value.item() if value.ndim == 0 else value


def torque(force: Any, lever_arm: Any) -> Any:
    """Torque, N·m = force (N) × lever arm (m, perpendicular distance from the joint axis to the pad).

    ``force`` and ``lever_arm`` broadcast (e.g. a (..., n) force trace and a scalar arm give a torque trace).
    The lever arm must be positive (in metres: 0.3, not 30).
    """
    f = _values(force, "force")
    arm = _values(lever_arm, "lever_arm")
    if np.any(arm <= 0):
        raise input_error("lever_arm", "must be positive (m)", "measure joint axis to pad centre, e.g. 0.35")
    if np.any(arm > 3.0):
        raise input_error("lever_arm", f"{np.max(arm)} m is longer than a limb", "give the lever arm in metres")
    return _out(f * arm)


def normalise_to_body_mass(value: Any, body_mass: Any) -> Any:
    """``value`` / body mass (kg): N → N/kg, N·m → N·m/kg, W → W/kg.

    Body mass must be in kg, in (0, 500].
    """
    v = _values(value, "value")
    m = _values(body_mass, "body_mass")
    if np.any(m <= 0) or np.any(m > MAX_BODY_MASS_KG):
        raise input_error(
            "body_mass", f"must be in kg within (0, {MAX_BODY_MASS_KG:g}]", "was it given in g or lb? pass kg"
        )
    return _out(v / m)
