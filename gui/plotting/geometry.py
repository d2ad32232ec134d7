"""Target shapes and fixed axis ranges, as plain numbers for the widgets to draw.

A target band is a value range (force or angle) shown as a horizontal strip across a time plot; a target zone
is a circle or rectangle on the stabilogram. All values are SI (N, deg, m); the widgets convert for display.
Axis ranges are fixed (auto-ranging every frame costs +34–48 % per frame, DESIGN.md) and only grow, to a
"nice" 1-2-5 step, when the signal leaves them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import input_error

FloatArray = NDArray[np.float64]


def _finite(value: float, name: str) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise input_error(name, f"must be finite, got {value}", "pass a number in SI units")
    return v


@dataclass(frozen=True)
class TargetBand:
    """A value range ``low ≤ value ≤ high`` (SI units), e.g. 40–60 % of a maximal force in N."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low, high = _finite(self.low, "target low"), _finite(self.high, "target high")
        if not low < high:
            raise input_error("target", f"low {low} is not below high {high}", "give low < high")

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the band (bounds included)."""
        return self.low <= value <= self.high

    def rect(self, x0: float, x1: float) -> tuple[float, float, float, float]:
        """The band as a rectangle ``(x, y, width, height)`` spanning ``x0..x1`` on the time axis."""
        return (x0, self.low, x1 - x0, self.high - self.low)


@dataclass(frozen=True)
class TargetZone:
    """A target area for the centre of pressure, in metres in the plate frame (x right, y forward).

    ``shape="circle"``: centre (cx, cy) and radius ``half_width`` (``half_height`` ignored);
    ``shape="rect"``: centre and half-sizes along x and y.
    """

    cx: float
    cy: float
    half_width: float
    half_height: float | None = None
    shape: Literal["circle", "rect"] = "circle"

    def __post_init__(self) -> None:
        if self.shape not in ("circle", "rect"):
            raise input_error("target zone shape", f"{self.shape!r} is not circle or rect", "use one of them")
        _finite(self.cx, "target zone cx")
        _finite(self.cy, "target zone cy")
        if not _finite(self.half_width, "target zone size") > 0:
            raise input_error("target zone size", f"must be positive, got {self.half_width}", "pass metres")
        if self.shape == "rect" and not (self.half_height is not None and _finite(self.half_height, "h") > 0):
            raise input_error("target zone half_height", f"must be positive, got {self.half_height}", "pass metres")

    @property
    def extent(self) -> tuple[float, float]:
        """Half-sizes (x, y) of the zone's bounding box in m."""
        if self.shape == "circle" or self.half_height is None:
            return (self.half_width, self.half_width)
        return (self.half_width, self.half_height)

    def contains(self, x: float, y: float) -> bool:
        """Whether the point (x, y) in m lies in the zone (boundary included)."""
        dx, dy = x - self.cx, y - self.cy
        if self.shape == "circle":
            return dx * dx + dy * dy <= self.half_width * self.half_width
        hx, hy = self.extent
        return abs(dx) <= hx and abs(dy) <= hy

    def outline(self, n: int = 64) -> tuple[FloatArray, FloatArray]:
        """Closed outline (x, y) in m: ``n + 1`` points round a circle, or the 5 corners of a rectangle."""
        if self.shape == "circle":
            a = np.linspace(0.0, 2.0 * math.pi, int(n) + 1)
            return self.cx + self.half_width * np.cos(a), self.cy + self.half_width * np.sin(a)
        hx, hy = self.extent
        xs = self.cx + np.array([-hx, hx, hx, -hx, -hx])
        ys = self.cy + np.array([-hy, -hy, hy, hy, -hy])
        return xs, ys


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ ``value`` (> 0): axis limits a reader can take in."""
    v = _finite(value, "value")
    if v <= 0:
        raise input_error("value", f"must be positive, got {value}", "pass the largest value to show")
    exp = math.floor(math.log10(v))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0**exp
        if candidate >= v * (1 - 1e-12):
            return candidate
    return 10.0 ** (exp + 1)  # pragma: no cover - the loop always returns


def grow_range(current: tuple[float, float], data_low: float, data_high: float, *, headroom: float = 0.1
               ) -> tuple[float, float]:
    """A fixed axis range that only changes when the data leave it.

    Returns ``current`` while ``data_low..data_high`` fits inside; otherwise the limit that was passed moves
    out to a nice 1-2-5 value with ``headroom`` (fraction of the span) beyond the data. Never shrinks, so the
    axis stays still while a patient works.
    """
    lo, hi = float(current[0]), float(current[1])
    if not lo < hi:
        raise input_error("range", f"low {lo} is not below high {hi}", "give (low, high)")
    if not (math.isfinite(data_low) and math.isfinite(data_high)):
        return (lo, hi)
    new_lo, new_hi = lo, hi
    if data_high > hi:
        new_hi = nice_ceiling(data_high + headroom * (data_high - min(lo, data_low)))
    if data_low < lo:
        new_lo = -nice_ceiling(-(data_low - headroom * (max(hi, data_high) - data_low))) if data_low < 0 else 0.0
    return (new_lo, new_hi)


def range_for_band(band: TargetBand, minimum: tuple[float, float], *, headroom: float = 0.3) -> tuple[float, float]:
    """A fixed range that shows ``band`` with room above it: at least ``minimum``, the top at a nice value ≥
    ``band.high·(1 + headroom)`` (so a patient sees the target with space to overshoot)."""
    lo, hi = float(minimum[0]), float(minimum[1])
    top = band.high + headroom * abs(band.high - min(lo, band.low))
    if top > hi:
        hi = nice_ceiling(top) if top > 0 else hi
    if band.low < lo:
        lo = -nice_ceiling(-band.low * (1 + headroom)) if band.low < 0 else 0.0
    return (lo, hi)


def square_range(zone: TargetZone | None, minimum_half: float, *, margin: float = 1.5) -> tuple[float, float]:
    """Half-width (m) of a square stabilogram view centred on the origin that shows ``zone`` with ``margin``:
    returns ``(-h, h)`` with ``h`` a nice value ≥ ``minimum_half``."""
    h = float(minimum_half)
    if h <= 0:
        raise input_error("minimum_half", f"must be positive, got {minimum_half}", "pass metres, e.g. 0.05")
    if zone is not None:
        ex, ey = zone.extent
        h = max(h, margin * max(abs(zone.cx) + ex, abs(zone.cy) + ey))
    h = nice_ceiling(h)
    return (-h, h)


def nice_ticks(low: float, high: float, target: int = 5) -> list[float]:
    """About ``target`` round tick values (1-2-2.5-5 steps) covering ``low..high``, for fixed axes.

    Fixed ranges get fixed ticks computed once, instead of pyqtgraph's per-frame multi-level tick search.
    """
    lo, hi = float(low), float(high)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise input_error("tick range", f"({low}, {high}) is not an increasing finite range", "give low < high")
    step = nice_ceiling((hi - lo) / max(1, int(target)))
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]
