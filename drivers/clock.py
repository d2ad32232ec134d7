"""Device clock → session clock: a running lower-envelope line fit, and counter unwrapping.

A sensor stamps its samples with its own clock — a sample counter at a nominal rate, or a µs timer — which
drifts from the tablet's clock by tens to hundreds of ppm. Packets reach the host after a delay that is a
constant link latency plus a random, strictly non-negative extra (waiting for a connection event, radio
retries, OS scheduling, bursts after a stall). So the host arrival time of a packet is never *earlier* than
``offset + period × ticks``, and the arrivals with the least extra delay trace that line from above.

:class:`ClockMapper` fits that line the way Moon, Skelly & Towsley (1999, "Estimation and removal of clock skew
from network delay measurements", IEEE INFOCOM) do for one-way network delays: the line that lies below every
observation and is closest to them on average (a linear programme whose solution is the edge of the lower
convex hull spanning the mean tick). It runs over a sliding window (default 60 s of device time) of the
least-delayed packet per 0.25 s bucket, so drift is followed continuously and a stall or a burst, which only
lifts points, never drags the line. The constant part of the link latency is not observable from one side and
stays in the mapped times as one constant offset.

Never timestamp samples by their arrival time (DESIGN.md: paint events delay a GUI-thread timer by 30–85 ms).
"""

from __future__ import annotations

import itertools
import math
from collections import deque

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kinetics._checks import check_rate, input_error


class Unwrapper:
    """Turns a wrapping device counter (uint32 sample counter, uint32 µs timer) into an ever-increasing integer.

    Each value is placed within half a period of the previous one, so it follows wraps forwards and tolerates a
    late value from just before a wrap.
    """

    def __init__(self, bits: int = 32) -> None:
        if not 1 <= bits <= 63:
            raise input_error("bits", f"{bits!r}", "give the counter width in bits (1..63)")
        self.modulus = 1 << bits
        self._last_raw: int | None = None
        self._last: int = 0

    def __call__(self, raw: int) -> int:
        """The unwrapped value of one raw counter."""
        raw = int(raw) % self.modulus
        if self._last_raw is None:
            self._last_raw, self._last = raw, raw
            return raw
        half = self.modulus // 2
        diff = (raw - self._last_raw + half) % self.modulus - half
        value = self._last + diff
        if diff >= 0:
            self._last_raw, self._last = raw, value
        return value

    def unwrap_array(self, raw: ArrayLike) -> NDArray[np.int64]:
        """Unwrap a run of raw values in order (e.g. the per-sample µs times of one Tindeq frame)."""
        values = np.asarray(raw, dtype=np.int64).ravel()
        if values.size == 0:
            return values
        first = self(int(values[0]))
        half = self.modulus // 2
        steps = (np.diff(values) + half) % self.modulus - half
        out = first + np.concatenate([[0], np.cumsum(steps)])
        if out[-1] >= self._last:
            self._last_raw, self._last = int(values[-1]) % self.modulus, int(out[-1])
        return out.astype(np.int64)


def _lower_hull(x: NDArray[np.float64], y: NDArray[np.float64]) -> list[int]:
    """Indices of the lower convex hull of points sorted by strictly increasing x (Andrew's monotone chain)."""
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


class ClockMapper:
    """Maps a device's ticks (sample counter or timer) to host time with a running lower-envelope line fit.

    Parameters
    ----------
    nominal_rate : float
        Ticks per second of the device clock: the sampling rate for a sample counter (e.g. 1000.0), the timer
        frequency for a device timestamp (1e6 for the Tindeq's µs).
    window_s : float
        Device-time span of the observations the fit keeps (s).
    bucket_s : float
        Observations are reduced to the least-delayed one per bucket of this device-time width (s).
    max_drift_ppm : float
        The fitted clock rate stays within this of the nominal rate (crystals: tens of ppm).
    settle_packets, settle_span_s : int, float
        :attr:`settled` turns true after this many packets and this much device time of closed buckets.

    Use: for every packet, ``add(ticks_of_its_last_sample, host_arrival_time)`` (unwrapped ticks: see
    :class:`Unwrapper`), then ``map(ticks_of_its_samples)``. Hold the first blocks until :attr:`settled`, then
    map them: the line is only as good as the least-delayed packets it has seen, and with 7.5 ms connection
    events plus a 2 ms exponential host delay the first few seconds may not yet hold one that got through
    within a millisecond (tests/drivers/test_clock.py: with the 10 s default every sample of 16 simulated
    10-minute links stayed within 0.75 ms of its true time plus a constant; with 5 s, 1 in 16 exceeded 1 ms).
    Live displays can map at once and accept a few ms at the start. Call :meth:`reset`
    when the device restarts its clock (reboot, rate change).
    """

    def __init__(
        self,
        nominal_rate: float,
        *,
        window_s: float = 60.0,
        bucket_s: float = 0.25,
        max_drift_ppm: float = 1000.0,
        settle_packets: int = 100,
        settle_span_s: float = 10.0,
    ) -> None:
        self.nominal_rate = check_rate(nominal_rate, "nominal_rate")
        if not (window_s > 4 * bucket_s > 0) or not max_drift_ppm > 0:
            raise input_error("clock mapper", "window_s ≤ 4 × bucket_s, or max_drift_ppm ≤ 0", "use the defaults")
        self.window_s = float(window_s)
        self.bucket_s = float(bucket_s)
        self.max_drift_ppm = float(max_drift_ppm)
        self.settle_packets = int(settle_packets)
        self.settle_span_s = float(settle_span_s)
        self._p0 = 1.0 / self.nominal_rate
        self.reset()

    def reset(self) -> None:
        """Forget every observation (the device clock restarted)."""
        self._x0: float | None = None
        self._points: deque[tuple[int, float, float]] = deque()  # per bucket: (id, x, residual) of its minimum
        self._count = 0
        self._last_x = -math.inf
        self._a = 0.0  # residual offset (s)
        self._b = 0.0  # period correction (s per tick)

    # -- observations ----------------------------------------------------------------------------------

    def add(self, ticks: float, arrival: float) -> None:
        """One packet: device ticks of its last sample and host arrival time (s, monotonic host clock)."""
        if not (math.isfinite(ticks) and math.isfinite(arrival)):
            raise input_error("clock observation", f"ticks {ticks!r}, arrival {arrival!r}", "give finite numbers")
        if self._x0 is None:
            self._x0 = float(ticks)
        x = float(ticks) - self._x0
        if x < self._last_x - 0.5 * self.window_s * self.nominal_rate:
            raise input_error(
                "clock observation",
                f"device ticks went back from {self._last_x + self._x0:.0f} to {ticks:.0f}",
                "call reset() when the device restarts its clock",
            )
        self._last_x = max(self._last_x, x)
        self._count += 1
        r = arrival - x * self._p0
        bucket = math.floor(x * self._p0 / self.bucket_s)
        below = r < self._a + self._b * x  # the line must stay under every observation
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
        # a packet for an older bucket (ticks slightly out of order) is dropped: its neighbours carry the line

    def _fit(self) -> None:
        x = np.fromiter((p[1] for p in self._points), dtype=np.float64, count=len(self._points))
        r = np.fromiter((p[2] for p in self._points), dtype=np.float64, count=len(self._points))
        if len(x) == 1:
            self._a, self._b = float(r[0]), 0.0
            return
        hull = _lower_hull(x, r)
        xm = float(np.mean(x))
        b = 0.0
        for i, j in itertools.pairwise(hull):
            if x[i] <= xm <= x[j]:
                b = (r[j] - r[i]) / (x[j] - x[i])
                break
        bmax = self._p0 * self.max_drift_ppm * 1e-6
        self._b = float(min(max(b, -bmax), bmax))
        self._a = float(np.min(r - self._b * x))

    # -- mapping -----------------------------------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """True once enough packets over enough device time back the line (see the class docstring)."""
        if len(self._points) < 2 or self._count < self.settle_packets:
            return False
        return (self._points[-1][1] - self._points[0][1]) * self._p0 >= self.settle_span_s

    @property
    def observations(self) -> int:
        return self._count

    @property
    def period(self) -> float:
        """Fitted seconds of host time per device tick."""
        return self._p0 + self._b

    @property
    def drift_ppm(self) -> float:
        """How much slower (+) or faster (−) than nominal the device clock runs, in ppm of host time."""
        return self._b / self._p0 * 1e6

    def map(self, ticks: ArrayLike) -> NDArray[np.float64]:
        """Host times (s) of device ticks (unwrapped), shape of ``ticks``, float64."""
        if self._x0 is None:
            raise input_error("clock mapper", "has no observation yet", "add() a packet before mapping")
        x = np.asarray(ticks, dtype=np.float64) - self._x0
        return self._a + x * (self._p0 + self._b)
