"""Device clock → session clock: a running lower-envelope line fit, and counter unwrapping.

A sensor stamps its samples with its own clock — a sample counter at a nominal rate, or a µs timer — which
drifts from the tablet's clock by tens to hundreds of ppm. Packets reach the host after a delay that is a
constant link latency plus a random, strictly non-negative extra (waiting for a connection event, radio
retries, OS scheduling, bursts after a stall). So the host arrival time of a packet is never *earlier* than
``offset + period × ticks``, and the arrivals with the least extra delay trace that line from above.

:class:`ClockMapper` fits that line the way Moon, Skelly & Towsley (1999, "Estimation and removal of clock skew from
network delay measurements", IEEE INFOCOM) do for one-way network delays: the line that lies below every observation
and is closest to them on average (a linear programme whose solution is the edge of the lower convex hull spanning
the mean tick, kept incrementally by :class:`SlidingLowerHull`). It runs over a sliding window (default 60 s of
device time) of the least-delayed packet per 0.25 s bucket, so drift is followed continuously and a stall or a
burst, which only lifts points, never drags the line. The constant part of the link latency is not observable from
one side and stays in the mapped times as one constant offset.

Never timestamp samples by their arrival time (DESIGN.md: paint events delay a GUI-thread timer by 30–85 ms).
"""

from __future__ import annotations

import bisect
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


def _cross(ox: float, oy: float, ax: float, ay: float, bx: float, by: float) -> float:
    """z of (a − o) × (b − o): > 0 when o → a → b turns left (a lies strictly below the segment o–b)."""
    return (ax - ox) * (by - oy) - (ay - oy) * (bx - ox)


class SlidingLowerHull:
    """The lower convex hull of a sliding window of points with strictly increasing x.

    Points enter on the right (:meth:`append`), the rightmost one may be replaced (:meth:`replace_last`: a
    lower observation in the bucket still open) and points leave on the left (:meth:`drop_first`). The hull
    is kept as a monotone-chain stack (Andrew 1979) over every point but the rightmost, so an append costs
    amortised O(1) pops; the rightmost point is pushed virtually when the hull is read, which makes replacing
    it free. When the leftmost hull vertex leaves, only the part of the hull up to the first vertex still in
    the window is rebuilt: a vertex of the hull of a set stays a vertex of the hull of any subset holding it,
    and left of a vertex the lower hull is the lower hull of the points left of it. Vertices are strict:
    points on a hull edge (collinear) are not vertices.
    """

    def __init__(self) -> None:
        self.clear()

    def __len__(self) -> int:
        return self._base + len(self._xs) - self._first

    def clear(self) -> None:
        """Forget every point."""
        self._xs: list[float] = []
        self._ys: list[float] = []
        self._base = 0  # absolute index of _xs[0]
        self._first = 0  # absolute index of the first point in the window
        self._hull: list[int] = []  # absolute indices: lower hull of the window's points but the last

    def append(self, x: float, y: float) -> None:
        """A new rightmost point; ``x`` must exceed every x in the window."""
        xs, ys = self._xs, self._ys
        if len(self):
            if not x > xs[-1]:
                raise input_error("hull point", f"x {x!r} after {xs[-1]!r}", "append points in increasing x")
            self._push(self._base + len(xs) - 1)
        xs.append(float(x))
        ys.append(float(y))

    def replace_last(self, x: float, y: float) -> None:
        """Replace the rightmost point; ``x`` must exceed the x of the point before it."""
        xs = self._xs
        n = len(self)
        if n == 0 or (n > 1 and not x > xs[-2]):
            raise input_error("hull point", f"replacement x {x!r}", "replace only the last of increasing points")
        xs[-1] = float(x)
        self._ys[-1] = float(y)

    def drop_first(self, count: int = 1) -> None:
        """Remove the ``count`` leftmost points of the window."""
        count = min(int(count), len(self))
        if count <= 0:
            return
        self._first += count
        if not len(self):
            self.clear()
            return
        hull = self._hull
        if hull and hull[0] < self._first:
            k = bisect.bisect_left(hull, self._first)
            kept = hull[k + 1 :]
            end = hull[k] if k < len(hull) else self._base + len(self._xs) - 2
            self._hull = []
            for i in range(self._first, end + 1):
                self._push(i)
            self._hull.extend(kept)
        if self._first - self._base > 256 and self._first - self._base > len(self._xs) // 2:
            cut = self._first - self._base
            del self._xs[:cut], self._ys[:cut]
            self._base = self._first

    def _push(self, i: int) -> None:
        xs, ys, base, hull = self._xs, self._ys, self._base, self._hull
        x, y = xs[i - base], ys[i - base]
        while len(hull) >= 2:
            o, a = hull[-2] - base, hull[-1] - base
            if _cross(xs[o], ys[o], xs[a], ys[a], x, y) <= 0:
                hull.pop()
            else:
                break
        hull.append(i)

    def _closed_vertices(self) -> int:
        """How many vertices of the stack stay on the hull once the rightmost point is pushed onto it."""
        xs, ys, base, hull = self._xs, self._ys, self._base, self._hull
        x, y = xs[-1], ys[-1]
        k = len(hull)
        while k >= 2:
            o, a = hull[k - 2] - base, hull[k - 1] - base
            if _cross(xs[o], ys[o], xs[a], ys[a], x, y) <= 0:
                k -= 1
            else:
                break
        return k

    def vertices(self) -> list[tuple[float, float]]:
        """The hull's vertices, left to right, as (x, y)."""
        if not len(self):
            return []
        base = self._base
        keep = self._hull[: self._closed_vertices()]
        return [(self._xs[i - base], self._ys[i - base]) for i in keep] + [(self._xs[-1], self._ys[-1])]

    def span(self) -> float:
        """x of the rightmost point minus x of the leftmost one (0 when empty)."""
        return self._xs[-1] - self._xs[self._first - self._base] if len(self) else 0.0

    def mean_x(self) -> float:
        """Mean x of the window's points."""
        lo = self._first - self._base
        return math.fsum(self._xs[lo:]) / (len(self._xs) - lo)

    def edge_at(self, x: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The hull edge spanning ``x`` (the left one when ``x`` is a vertex); None outside or with one point."""
        if len(self) < 2:
            return None
        xs, ys, base = self._xs, self._ys, self._base
        k = self._closed_vertices()
        hull = self._hull
        j = max(bisect.bisect_left(hull, x, 0, k, key=lambda i: xs[i - base]), 1)
        left = hull[j - 1] - base
        right = hull[j] - base if j < k else len(xs) - 1
        if not xs[left] <= x <= xs[right]:
            return None
        return (xs[left], ys[left]), (xs[right], ys[right])


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
        :attr:`settled` turns true after this many packets and this much device time of closed buckets (s) …
    settle_interval_s : float
        … for packets this far apart (s) or closer; sparser packets need ``settle_span_s`` × their mean interval
        over this, up to ¾ of the window (:attr:`settle_span_needed`).

    Use: for every packet, ``add(ticks_of_its_last_sample, host_arrival_time)`` (unwrapped ticks: see
    :class:`Unwrapper`), then ``map(ticks_of_its_samples)``. Hold the first blocks until :attr:`settled`, then
    map them: the line is only as good as the least-delayed packets it has seen, and with 7.5 ms connection
    events plus a 2 ms exponential host delay the first few seconds may not yet hold one that got through
    within a millisecond (tests/drivers/test_clock.py: with the 10 s default every sample of 16 simulated
    10-minute links with 4-sample packets stayed within 0.75 ms of its true time plus a constant; with 5 s,
    1 in 16 exceeded 1 ms; 20-sample packets, which hit only 3 phases of the connection interval, needed the
    scaled span: ≈ 1.5 ms off with 10 s, < 0.75 ms with 45 s at 100–300 ppm). Live displays can map at once
    and accept a few ms at the start. Call :meth:`reset` when the device restarts its clock (reboot, rate
    change). CPU: amortised O(1) per new bucket (:class:`SlidingLowerHull`), about 1–2 µs per packet.
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
        settle_interval_s: float = 0.004,
    ) -> None:
        self.nominal_rate = check_rate(nominal_rate, "nominal_rate")
        if not (window_s > 4 * bucket_s > 0) or not max_drift_ppm > 0:
            raise input_error("clock mapper", "window_s ≤ 4 × bucket_s, or max_drift_ppm ≤ 0", "use the defaults")
        self.window_s = float(window_s)
        self.bucket_s = float(bucket_s)
        self.max_drift_ppm = float(max_drift_ppm)
        self.settle_packets = int(settle_packets)
        self.settle_span_s = float(settle_span_s)
        if not settle_interval_s > 0:
            raise input_error("settle_interval_s", f"{settle_interval_s!r}", "give seconds > 0 (default 0.004)")
        self.settle_interval_s = float(settle_interval_s)
        self._p0 = 1.0 / self.nominal_rate
        self.reset()

    def reset(self) -> None:
        """Forget every observation (the device clock restarted)."""
        self._x0: float | None = None
        self._buckets: deque[int] = deque()  # bucket number of each point of the hull's window, in order
        self._last_r = math.inf  # residual of the open (last) bucket's minimum
        self._hull = SlidingLowerHull()  # per bucket: (x, residual) of its least-delayed packet
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
        buckets = self._buckets
        if not buckets or bucket > buckets[-1]:
            self._hull.append(x, r)
            buckets.append(bucket)
            self._last_r = r
            horizon = math.floor((self._last_x * self._p0 - self.window_s) / self.bucket_s)
            expired = 0
            while buckets[0] < horizon:
                buckets.popleft()
                expired += 1
            self._hull.drop_first(expired)
            self._fit()
        elif bucket == buckets[-1] and r < self._last_r:
            below = r < self._a + self._b * x  # the line must stay under every observation
            self._hull.replace_last(x, r)
            self._last_r = r
            if below:
                self._fit()
        # a packet for an older bucket (ticks slightly out of order) is dropped: its neighbours carry the line

    def _fit(self) -> None:
        """The Moon et al. line: the lower-hull edge spanning the window's mean tick, slope within the drift cap."""
        hull = self._hull
        edge = hull.edge_at(hull.mean_x())
        if edge is None:  # one point
            ((_, r),) = hull.vertices()
            self._a, self._b = r, 0.0
            return
        (xi, ri), (xj, rj) = edge
        b = (rj - ri) / (xj - xi)
        bmax = self._p0 * self.max_drift_ppm * 1e-6
        self._b = min(max(b, -bmax), bmax)
        if self._b == b:  # the edge is a support line: its ends are the lowest points under it
            self._a = min(ri - b * xi, rj - b * xj)
        else:  # a capped slope: the lowest point under it is a hull vertex
            self._a = min(y - self._b * x for x, y in hull.vertices())

    # -- mapping -----------------------------------------------------------------------------------------

    @property
    def settle_span_needed(self) -> float:
        """Device seconds of closed buckets :attr:`settled` waits for, given the packet interval so far (s).

        ``settle_span_s`` when packets come every ``settle_interval_s`` or faster; scaled up by the mean packet
        interval over ``settle_interval_s`` when they come further apart, up to ¾ of the window (never below
        ``settle_span_s``). Why: a packet waits for the next connection event, and the envelope only touches
        the true line once some packet was ready just before one. Packets every 4 ms against 7.5 ms events
        take 15 ready-phases 0.5 ms apart; packets every 20 ms take only 3, 2.5 ms apart, and only the drift
        slides them (2.5 ms / 150 ppm ≈ 17 s), so the first envelope can sit 2.5 ms high for tens of seconds.
        """
        if self._count < 2:
            return self.settle_span_s
        interval = self._last_x * self._p0 / (self._count - 1)
        scaled = self.settle_span_s * max(1.0, interval / self.settle_interval_s)
        return min(scaled, max(self.settle_span_s, 0.75 * self.window_s))

    @property
    def settled(self) -> bool:
        """True once enough packets over enough device time back the line (see the class docstring)."""
        if len(self._hull) < 2 or self._count < self.settle_packets:
            return False
        return self._hull.span() * self._p0 >= self.settle_span_needed

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
