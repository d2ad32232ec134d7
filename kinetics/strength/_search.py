"""Vectorised index searches on (batch, n_samples) arrays: first/last sample meeting a level, crossings.

Each search works on the smallest column slice that every row of the batch needs, so a single trial only
touches the samples it must, and a batch costs one pass over the union of its windows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
Compare = Callable[[FloatArray, FloatArray], BoolArray]


def first_from(x: FloatArray, level: FloatArray, start: IntArray, compare: Compare) -> tuple[IntArray, BoolArray]:
    """First index ``i >= start`` per row where ``compare(x[i], level)`` holds.

    ``x`` has shape (B, n); ``level`` and ``start`` shape (B,). Returns (index, found); where not found the
    index is ``n - 1``.
    """
    n = x.shape[-1]
    start = np.minimum(np.maximum(start, 0), n)
    s0 = int(start.min()) if start.size else 0
    if s0 >= n:
        return np.full(start.shape, n - 1, dtype=np.int64), np.zeros(start.shape, dtype=bool)
    mask = compare(x[:, s0:], level[:, None])
    if start.size > 1 and not np.all(start == s0):
        mask &= np.arange(s0, n) >= start[:, None]
    i = mask.argmax(axis=-1)
    found = mask[np.arange(mask.shape[0]), i]
    idx = np.where(found, i + s0, n - 1).astype(np.int64)
    return idx, found


def last_before(x: FloatArray, level: FloatArray, stop: IntArray, compare: Compare) -> tuple[IntArray, BoolArray]:
    """Last index ``i < stop`` per row where ``compare(x[i], level)`` holds.

    Returns (index, found); where not found the index is 0.
    """
    n = x.shape[-1]
    stop = np.minimum(np.maximum(stop, 0), n)
    s1 = int(stop.max()) if stop.size else 0
    if s1 <= 0:
        return np.zeros(stop.shape, dtype=np.int64), np.zeros(stop.shape, dtype=bool)
    mask = compare(x[:, :s1], level[:, None])
    if stop.size > 1 and not np.all(stop == s1):
        mask &= np.arange(s1) < stop[:, None]
    rev = mask[:, ::-1].argmax(axis=-1)
    i = s1 - 1 - rev
    found = mask[np.arange(mask.shape[0]), i]
    idx = np.where(found, i, 0).astype(np.int64)
    return idx, found


def crossing_time(x: FloatArray, index: IntArray, level: FloatArray, fs: float) -> FloatArray:
    """Time (s) at which the line between samples ``index - 1`` and ``index`` meets ``level``.

    ``index`` is the first sample at/over (rising) or at/under (falling) the level; the previous sample is on
    the other side, so linear interpolation places the crossing inside that interval. At index 0, or when the
    two samples are equal, the crossing is the sample itself.
    """
    rows = np.arange(x.shape[0])
    i = np.minimum(np.maximum(index, 1), x.shape[-1] - 1)
    a = x[rows, i - 1]
    b = x[rows, i]
    step = b - a
    safe = np.where(step == 0, 1.0, step)
    frac = np.where(step == 0, 1.0, (level - a) / safe)
    frac = np.minimum(np.maximum(frac, 0.0), 1.0)
    t = (i - 1 + frac) / fs
    return np.where(index <= 0, 0.0, t)


def value_at(x: FloatArray, position: FloatArray) -> FloatArray:
    """Linearly interpolated value at fractional sample ``position`` per row; NaN past the last sample."""
    n = x.shape[-1]
    rows = np.arange(x.shape[0])
    inside = (position >= 0) & (position <= n - 1)
    pos = np.minimum(np.maximum(position, 0), n - 1)
    i0 = np.minimum(np.floor(pos).astype(np.int64), n - 2) if n > 1 else np.zeros(pos.shape, np.int64)
    frac = pos - i0
    v0 = x[rows, i0]
    v1 = x[rows, np.minimum(i0 + 1, n - 1)]
    return np.where(inside, v0 + (v1 - v0) * frac, np.nan)
