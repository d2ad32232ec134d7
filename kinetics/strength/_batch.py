"""Batch plumbing shared by the strength scorers: (..., n) ↔ (B, n), unit names, time keys."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from kinetics._checks import as_signal, input_error
from kinetics.strength._search import FloatArray


def to_batch(signal: Any, name: str, min_samples: int = 3) -> tuple[FloatArray, tuple[int, ...]]:
    """Validate a (..., n_samples) signal and view it as (B, n); also return the batch shape."""
    x = as_signal(signal, name, min_samples=min_samples)
    shape = x.shape[:-1]
    return x.reshape(-1, x.shape[-1]), shape


def unbatch(values: Any, shape: tuple[int, ...]) -> Any:
    """Per-trial values of shape (B,) back to the batch shape; a plain float (or bool) for a single trial."""
    arr = np.asarray(values)
    if shape == ():
        return arr.reshape(()).item()
    return arr.reshape(shape)


def unit_names(unit: str) -> dict[str, str]:
    """The units of a force-like signal: level, rate (per s) and impulse (× s)."""
    if not isinstance(unit, str) or not unit.strip():
        raise input_error("unit", f"must be a unit name such as 'N' or 'Pa', got {unit!r}", "pass unit='N'")
    return {"force": unit, "rate": f"{unit}/s", "impulse": f"{unit}·s"}


@functools.lru_cache(maxsize=256)
def ms_label(seconds: float) -> str:
    """``0.05`` → ``"50"`` (whole milliseconds; fractional ms keep a ``p``: ``0.0125`` → ``"12p5"``)."""
    ms = seconds * 1000.0
    if abs(ms - round(ms)) < 1e-9:
        return str(round(ms))
    return f"{ms:g}".replace(".", "p")


def check_times(times: Iterable[float], name: str) -> tuple[float, ...]:
    """Positive finite durations in s, unique, as a tuple."""
    try:
        values = tuple(float(t) for t in times)
    except (TypeError, ValueError):
        raise input_error(name, "must be durations in s", "pass e.g. (0.05, 0.1, 0.2)") from None
    for t in values:
        if not math.isfinite(t) or t <= 0:
            raise input_error(name, f"durations must be positive and finite, got {t}", "pass e.g. (0.05, 0.1)")
    if len({ms_label(t) for t in values}) != len(values):
        raise input_error(name, f"has repeated durations {values}", "list each duration once")
    return values


def check_fraction(value: Any, name: str, *, open_low: bool = True) -> float:
    """A fraction in (0, 1) (or [0, 1) with ``open_low=False``)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise input_error(name, f"must be a fraction between 0 and 1, got {value!r}", "pass e.g. 0.9") from None
    low_ok = f > 0 if open_low else f >= 0
    if not (math.isfinite(f) and low_ok and f < 1):
        raise input_error(name, f"must be a fraction between 0 and 1, got {f}", "pass e.g. 0.9 for 90 %")
    return f
