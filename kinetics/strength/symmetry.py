"""Side-to-side comparison: limb symmetry index, symmetry index (Robinson 1987), Bishop's asymmetry.

All three take magnitudes (positive values of the same metric on both sides, e.g. peak force in N) as floats
or arrays of any broadcastable shape and return a float or an array of percentages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kinetics._checks import input_error


def _pair(a: Any, b: Any, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    try:
        x = np.asarray(a, dtype=np.float64)
        y = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        raise input_error(f"{names[0]}/{names[1]}", "are not numbers", "pass floats or arrays of floats") from None
    for arr, name in ((x, names[0]), (y, names[1])):
        if not np.all(np.isfinite(arr)):
            raise input_error(name, "contains NaN or infinite values", "score both sides before comparing them")
        if np.any(arr <= 0):
            raise input_error(
                name,
                "contains values ≤ 0; symmetry indices compare positive magnitudes",
                "pass magnitudes (e.g. peak force in N, absolute impulse)",
            )
    try:
        np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise input_error(
            f"{names[0]}/{names[1]}", f"shapes {x.shape} and {y.shape} do not broadcast", "pass matching arrays"
        ) from None
    return x, y


def _out(value: np.ndarray) -> Any:
    return value.item() if value.ndim == 0 else value


def limb_symmetry_index(involved: Any, uninvolved: Any) -> Any:
    """Limb symmetry index, % = involved / uninvolved × 100 (100 = symmetric; < 100 = involved side weaker).

    The return-to-sport criterion of e.g. Grindem et al. 2016 (Br J Sports Med 50:804–808): LSI ≥ 90 %.
    """
    x, y = _pair(involved, uninvolved, ("involved", "uninvolved"))
    return _out(x / y * 100.0)


def symmetry_index(right: Any, left: Any) -> Any:
    """Symmetry index, % = (right − left) / (0.5·(right + left)) × 100 (Robinson et al. 1987).

    Robinson RO, Herzog W, Nigg BM (1987) J Manipulative Physiol Ther 10(4):172–176. 0 = symmetric; positive
    when the right side is larger; bounded by ±200 %.
    """
    x, y = _pair(right, left, ("right", "left"))
    return _out((x - y) / (0.5 * (x + y)) * 100.0)


def bishop_asymmetry(right: Any, left: Any) -> Any:
    """Percentage difference from the stronger side, % = (strong − weak) / strong × 100, signed.

    Bishop C, Read P, Lake J, Chavda S, Turner A (2018) Strength Cond J 40(4):1–6. The magnitude is always
    relative to the stronger side (0…100 %); the sign tells the direction: positive when the right side is
    the stronger, negative when the left is (the "IF function" direction of Bishop et al.).
    """
    x, y = _pair(right, left, ("right", "left"))
    strong = np.maximum(x, y)
    weak = np.minimum(x, y)
    return _out(np.sign(x - y) * (strong - weak) / strong * 100.0)
