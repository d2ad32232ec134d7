"""Live ring buffers: the last few seconds of each device's samples, for screens that draw while we record.

One writer (the acquisition) appends blocks; any number of readers copy out the newest window. A short lock
guards each copy, so a reader on another thread never sees a half-written block and never blocks the writer
for longer than one ``memcpy``. Readers that poll keep the ``total`` they saw last and ask for what is new.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray


class RingBuffer:
    """The most recent ``capacity`` samples of ``n_channels`` channels, with their session times.

    Parameters
    ----------
    n_channels : int
    capacity : int
        Samples kept per channel (e.g. 10 s × 1000 Hz).
    """

    def __init__(self, n_channels: int, capacity: int) -> None:
        if n_channels < 1 or capacity < 2:
            raise ValueError(f"ring buffer needs ≥ 1 channel and capacity ≥ 2, got {n_channels}, {capacity}")
        self._time = np.zeros(capacity, dtype=np.float64)
        self._values = np.zeros((n_channels, capacity), dtype=np.float64)
        self._capacity = capacity
        self._total = 0  # samples ever written
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def n_channels(self) -> int:
        return int(self._values.shape[0])

    @property
    def total(self) -> int:
        """Samples written since creation (a reader's bookmark)."""
        return self._total

    def extend(self, time: NDArray[np.float64], values: NDArray[np.floating]) -> None:
        """Append a block: ``time`` (n,) in s and ``values`` (n_channels, n)."""
        time = np.asarray(time, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        n = time.shape[0]
        if values.shape != (self.n_channels, n):
            raise ValueError(f"block values have shape {values.shape}, expected ({self.n_channels}, {n})")
        if n > self._capacity:
            time, values, n_skip = time[-self._capacity :], values[:, -self._capacity :], n - self._capacity
        else:
            n_skip = 0
        m = time.shape[0]
        with self._lock:
            start = (self._total + n_skip) % self._capacity
            first = min(m, self._capacity - start)
            self._time[start : start + first] = time[:first]
            self._values[:, start : start + first] = values[:, :first]
            if first < m:
                self._time[: m - first] = time[first:]
                self._values[:, : m - first] = values[:, first:]
            self._total += n

    def latest(self, n: int | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Copies of the newest ``n`` samples (all held when None): times (k,), values (n_channels, k), oldest first."""
        with self._lock:
            held = min(self._total, self._capacity)
            k = held if n is None else max(0, min(n, held))
            end = self._total % self._capacity
            idx = (np.arange(end - k, end)) % self._capacity
            return self._time[idx].copy(), self._values[:, idx].copy()

    def since(self, total: int) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
        """Samples written after bookmark ``total`` (as far as still held), and the new bookmark."""
        with self._lock:
            current = self._total
        t, v = self.latest(current - total)
        return t, v, current

    def window(self, seconds: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Samples within ``seconds`` of the newest sample's time."""
        t, v = self.latest()
        if t.size == 0:
            return t, v
        keep = t >= t[-1] - seconds
        return t[keep], v[:, keep]
