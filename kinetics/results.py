"""Metric results: a read-only mapping of metric key → value that also carries units, method and parameters."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Value = float | np.ndarray


@dataclass(frozen=True)
class Metrics(Mapping[str, Any]):
    """Scores of one trial (floats) or of a batch of trials (arrays of the batch shape).

    Attributes
    ----------
    data : mapping of metric key → float or ndarray
        Every key is stable snake_case and documented in ``docs/metrics.md``.
    units : mapping of metric key → unit string (SI: "N", "N/s", "m", "m/s", "s", "Hz", "deg", "1"...)
    method : str
        The named method that produced them (e.g. ``"duarte2016"``), with its source in the docs.
    params : mapping
        What the numbers depend on: sampling rate ``fs`` (Hz), filters, thresholds.
    flags : mapping of flag name → bool or bool array
        Quality flags (e.g. ``inconsistent_effort``); a flagged result is still returned, never silently wrong.
    """

    data: Mapping[str, Any]
    units: Mapping[str, str]
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [k for k in self.data if k not in self.units]
        if missing:
            raise ValueError(f"metrics without a unit: {missing}; every metric key needs a unit")

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def unit(self, key: str) -> str:
        """Unit of ``key``."""
        return self.units[key]

    def to_records(self) -> list[dict[str, Any]]:
        """Plain rows ``{"key", "value", "unit", "method"}`` for a single (unbatched) result."""
        rows = []
        for key, value in self.data.items():
            arr = np.asarray(value)
            if arr.ndim != 0:
                raise ValueError(f"{key}: batched result; index one trial before converting to records")
            rows.append({"key": key, "value": float(arr), "unit": self.units[key], "method": self.method})
        return rows

    def select(self, index: Any) -> Metrics:
        """The result of one trial (or a sub-batch) of a batched result, ``index`` into the batch shape."""
        data = {k: _index(v, index) for k, v in self.data.items()}
        flags = {k: _index(v, index) for k, v in self.flags.items()}
        return Metrics(data, dict(self.units), self.method, dict(self.params), flags)


def _index(value: Any, index: Any) -> Any:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return value
    out = arr[index]
    return out.item() if np.ndim(out) == 0 else out
