"""The one validation helper of the science library, with one error wording.

Every public function of :mod:`kinetics` checks its inputs here, so a caller always sees the same shape of
message: ``"<name>: <what is wrong>; <what to do>"`` raised as :class:`KineticsInputError` (a ``ValueError``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray


class KineticsInputError(ValueError):
    """Input that a ``kinetics`` function cannot score (wrong shape, NaN, too short, bad rate...)."""


class KineticsWarning(UserWarning):
    """The one warning class of the ``kinetics`` package (a result was produced but deserves a look)."""


def input_error(name: str, problem: str, remedy: str) -> KineticsInputError:
    """Build the library's standard error: ``"<name>: <problem>; <remedy>"``."""
    return KineticsInputError(f"{name}: {problem}; {remedy}")


def check_rate(fs: Any, name: str = "fs") -> float:
    """Return a sampling rate in Hz as a positive finite float, or raise :class:`KineticsInputError`."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise input_error(name, f"sampling rate must be a number in Hz, got {fs!r}", "pass e.g. fs=1000.0") from None
    if not math.isfinite(value) or value <= 0:
        raise input_error(name, f"sampling rate must be positive and finite, got {value}", "pass the rate in Hz")
    return value


def as_signal(
    x: Any,
    name: str,
    *,
    min_samples: int = 2,
    allow_nan: bool = False,
    min_ndim: int = 1,
) -> NDArray[np.float64]:
    """Return ``x`` as a float64 array of shape (..., n_samples), validated.

    Parameters
    ----------
    x : array_like, shape (..., n_samples)
        The signal; the last axis is time.
    name : str
        The argument's name, used in the error message.
    min_samples : int
        Fewest samples on the last axis that the caller can score.
    allow_nan : bool
        When False (default), any NaN or infinity is an error.
    min_ndim : int
        Fewest dimensions (e.g. 2 for a (..., 2, n) COP array).
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise input_error(name, "is not a numeric array", "pass a NumPy array of floats") from None
    if arr.ndim < min_ndim:
        raise input_error(
            name, f"needs at least {min_ndim} dimension(s), got shape {arr.shape}", "time is the last axis"
        )
    if arr.shape[-1] < min_samples:
        raise input_error(
            name,
            f"has {arr.shape[-1]} samples on its last (time) axis, at least {min_samples} are needed",
            "record a longer trial or check which axis is time",
        )
    if not allow_nan and not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise input_error(
            name,
            f"contains {bad} NaN or infinite value(s)",
            "fill or cut the gaps first (a gap in a recording is listed in the trial's gaps)",
        )
    return arr
