"""Benchmark: CPU per packet of the clock mapper, incremental lower hull vs the per-bucket rebuild it replaced.

Both mappers get the same packets in the same process: 10 minutes of a 1 kHz device drifting 150 ppm on the
jittery link of tests/drivers/clock_jitter.py (7.5 ms connection events, exponential host delay, stalls), with
4-sample packets (250 per second, MTU 23) and 20-sample packets (50 per second). The baseline below is a
verbatim copy of the old algorithm (a Python monotone chain over the whole 60 s window on every new 0.25 s
bucket). Reports the CPU per ``add()`` (process time, best of 3), the ratio, and the largest difference
between the two fits' mapped times over the run (the new hull must give the same line).

Run: ``.venv/bin/python bench/clock.py [--seconds 600]`` (2 shared cores here).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.clock import ClockMapper
from tests.drivers.clock_jitter import RATE, synthetic_link


def _old_lower_hull(x: NDArray[np.float64], y: NDArray[np.float64]) -> list[int]:
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            o, a = hull[-2], hull[-1]
            cross = (x[a] - x[o]) * (y[i] - y[o]) - (y[a] - y[o]) * (x[i] - x[o])
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


class OldMapper:
    """The previous ClockMapper's add/fit (baseline): rebuilds the hull of the whole window per bucket."""

    def __init__(self, nominal_rate: float, window_s: float = 60.0, bucket_s: float = 0.25) -> None:
        self.nominal_rate = nominal_rate
        self.window_s, self.bucket_s, self.max_drift_ppm = window_s, bucket_s, 1000.0
        self._p0 = 1.0 / nominal_rate
        self._x0: float | None = None
        self._points: deque[tuple[int, float, float]] = deque()
        self._count = 0
        self._last_x = -math.inf
        self._a = 0.0
        self._b = 0.0

    def add(self, ticks: float, arrival: float) -> None:
        if not (math.isfinite(ticks) and math.isfinite(arrival)):
            raise ValueError("finite")
        if self._x0 is None:
            self._x0 = float(ticks)
        x = float(ticks) - self._x0
        if x < self._last_x - 0.5 * self.window_s * self.nominal_rate:
            raise ValueError("reset")
        self._last_x = max(self._last_x, x)
        self._count += 1
        r = arrival - x * self._p0
        bucket = math.floor(x * self._p0 / self.bucket_s)
        below = r < self._a + self._b * x
        if not self._points or bucket > self._points[-1][0]:
            self._points.append((bucket, x, r))
            horizon = math.floor((self._last_x * self._p0 - self.window_s) / self.bucket_s)
            while self._points[0][0] < horizon:
                self._points.popleft()
            self._fit()
        elif bucket == self._points[-1][0]:
            if r < self._points[-1][2]:
                self._points[-1] = (bucket, x, r)
                if below:
                    self._fit()

    def _fit(self) -> None:
        x = np.fromiter((p[1] for p in self._points), dtype=np.float64, count=len(self._points))
        r = np.fromiter((p[2] for p in self._points), dtype=np.float64, count=len(self._points))
        if len(x) == 1:
            self._a, self._b = float(r[0]), 0.0
            return
        hull = _old_lower_hull(x, r)
        xm = float(np.mean(x))
        b = 0.0
        for i, j in itertools.pairwise(hull):
            if x[i] <= xm <= x[j]:
                b = (r[j] - r[i]) / (x[j] - x[i])
                break
        bmax = self._p0 * self.max_drift_ppm * 1e-6
        self._b = float(min(max(b, -bmax), bmax))
        self._a = float(np.min(r - self._b * x))

    def map(self, ticks: float) -> float:
        assert self._x0 is not None
        return self._a + (ticks - self._x0) * (self._p0 + self._b)


def cpu_per_packet(make: type[OldMapper] | type[ClockMapper], ticks: list[float], arrivals: list[float]) -> float:
    """Best of 3: process CPU seconds per add() over the whole stream."""
    best = math.inf
    for _ in range(3):
        mapper = make(RATE)
        add = mapper.add
        t0 = time.process_time()
        for c, a in zip(ticks, arrivals, strict=True):
            add(c, a)
        best = min(best, time.process_time() - t0)
    return best / len(ticks)


def max_difference(ticks: list[float], arrivals: list[float]) -> float:
    """Largest |old − new| mapped time (s) of each packet's last tick, right after adding it."""
    old, new = OldMapper(RATE), ClockMapper(RATE)
    worst = 0.0
    for c, a in zip(ticks, arrivals, strict=True):
        old.add(c, a)
        new.add(c, a)
        worst = max(worst, abs(old.map(c) - float(new.map(c))))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    for per in (4, 20):
        _, last, arrival = synthetic_link(args.seconds, drift_ppm=150.0, per_packet=per, seed=1)
        ticks, arrivals = [float(v) for v in last], arrival.tolist()
        old = cpu_per_packet(OldMapper, ticks, arrivals)
        new = cpu_per_packet(ClockMapper, ticks, arrivals)
        diff = max_difference(ticks, arrivals)
        print(
            f"{per:2d} samples per packet, {len(ticks)} packets over {args.seconds:.0f} s: "
            f"old {old * 1e6:.2f} µs CPU per packet, new {new * 1e6:.2f} µs, new/old = {new / old:.3f}; "
            f"largest mapped-time difference {diff * 1e9:.3f} ns"
        )
        figures |= {
            f"old_us_per_packet_{per}": old * 1e6,
            f"new_us_per_packet_{per}": new * 1e6,
            f"ratio_new_vs_old_{per}": new / old,
            f"max_time_diff_ns_{per}": diff * 1e9,
        }
    print(" ".join(f"{k}={v:.4g}" for k, v in figures.items()) + f" seconds={args.seconds:.0f}")


if __name__ == "__main__":
    main()
