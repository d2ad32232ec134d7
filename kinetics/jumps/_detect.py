"""Event detection on a batch of vertical-force traces: quiet-phase weighing, take-off, landing, onset.

The search runs first on a coarse grid of blocks (``search_grid``, 10 ms by default: per-block min, max, sum
and sum of squares) and is then refined to the sample inside one block, so that a batch of long traces costs a
few passes over the data. All indices are sample indices into the full trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics.jumps._common import FloatArray, IntArray, JumpSettings, window


@dataclass
class Blocks:
    """Per-block statistics of a (n_trials, n_samples) batch; ``size`` samples per block."""

    size: int
    bmin: FloatArray
    bmax: FloatArray
    bsum: FloatArray
    bsq: FloatArray

    @property
    def count(self) -> int:
        return int(self.bmin.shape[1])


def blocks(f: FloatArray, fs: float, settings: JumpSettings) -> Blocks:
    """Block statistics of ``f`` on the ``search_grid`` (the last partial block is left out)."""
    size = max(1, round(settings.search_grid * fs))
    nb = f.shape[1] // size
    fb = f[:, : nb * size].reshape(f.shape[0], nb, size)
    return Blocks(size, fb.min(axis=2), fb.max(axis=2), fb.sum(axis=2), np.einsum("ijk,ijk->ij", fb, fb))


@dataclass
class Weighing:
    """Quietest loaded window of each trial: body weight (N), its SD (N) and the window [start, end) samples."""

    body_weight: FloatArray
    sd: FloatArray
    start: IntArray
    end: IntArray
    found: NDArray[Any]


def loaded_windows(bl: Blocks, n_blocks: int, threshold: float) -> tuple[NDArray[Any], FloatArray, FloatArray]:
    """For every window of ``n_blocks`` blocks: fully loaded?, mean force (N), SD (N, ddof=1)."""
    width = n_blocks * bl.size
    zero = np.zeros((bl.bmin.shape[0], 1))
    s = np.concatenate([zero, np.cumsum(bl.bsum, axis=1)], axis=1)
    q = np.concatenate([zero, np.cumsum(bl.bsq, axis=1)], axis=1)
    bad = np.concatenate([zero, np.cumsum(bl.bmin < threshold, axis=1)], axis=1)
    ws = s[:, n_blocks:] - s[:, :-n_blocks]
    wq = q[:, n_blocks:] - q[:, :-n_blocks]
    ok = (bad[:, n_blocks:] - bad[:, :-n_blocks]) == 0
    mean = ws / width
    var = np.maximum(wq - ws * mean, 0.0) / max(width - 1, 1)
    return ok, mean, np.sqrt(var)


WindowStats = tuple[NDArray[Any], FloatArray, FloatArray]


def weigh_windows(bl: Blocks, fs: float, settings: JumpSettings) -> WindowStats | None:
    """:func:`loaded_windows` of ``weigh_duration`` (None when the trace is shorter than one window)."""
    nwb = max(2, round(settings.weigh_duration * fs / bl.size))
    return None if bl.count < nwb else loaded_windows(bl, nwb, settings.takeoff_threshold)


def weigh(bl: Blocks, fs: float, settings: JumpSettings, before_block: IntArray | None,
          stats: WindowStats | None = None) -> Weighing:
    """Body weight from the quietest (lowest-SD) fully loaded window of ``weigh_duration``.

    Only windows ending at or before block ``before_block`` (per trial) are considered when it is given.
    ``stats``: the :func:`weigh_windows` of ``bl`` when already computed.
    """
    nwb = max(2, round(settings.weigh_duration * fs / bl.size))
    n_trials = bl.bmin.shape[0]
    if stats is None:
        stats = weigh_windows(bl, fs, settings)
    if stats is None:
        zeros = np.zeros(n_trials)
        izeros = np.zeros(n_trials, dtype=np.intp)
        return Weighing(zeros, zeros, izeros, izeros, np.zeros(n_trials, dtype=bool))
    ok, mean, sd = stats
    if before_block is not None:
        ok &= (np.arange(ok.shape[1])[None, :] + nwb) <= before_block[:, None]
    best = np.where(ok, sd, np.inf).argmin(axis=1)
    found = np.asarray(ok.any(axis=1))
    rows = np.arange(n_trials)
    start = best * bl.size
    return Weighing(mean[rows, best], sd[rows, best], start, start + nwb * bl.size, found)


@dataclass
class Flight:
    """First flight after a quiet window: take-off and landing sample indices, and which trials have one."""

    takeoff: IntArray
    landing: IntArray
    takeoff_block: IntArray
    found: NDArray[Any]
    any_flight: NDArray[Any]


def first_flight(f: FloatArray, bl: Blocks, fs: float, settings: JumpSettings,
                 stats: WindowStats | None) -> Flight:
    """The first unloaded stretch ≥ ``min_flight_time`` that ends with a landing (and
    follows a fully loaded ``weigh_duration`` window; ``stats`` = :func:`weigh_windows`, None if the trace is
    shorter than one window).

    Take-off is the first sample below ``takeoff_threshold`` of that stretch; landing the first sample at or
    above it after the stretch.
    """
    thr = settings.takeoff_threshold
    n_trials, nb = bl.bmin.shape
    cols = np.arange(nb)
    unloaded = bl.bmax < thr
    idx = np.where(unloaded, nb, cols[None, :])
    next_loaded = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    min_blocks = max(1, int(settings.min_flight_time * fs / bl.size) - 1)
    cand = np.zeros_like(unloaded)
    cand[:, 1:] = unloaded[:, 1:] & ~unloaded[:, :-1]
    cand &= ((next_loaded - cols[None, :]) >= min_blocks) & (next_loaded < nb)
    any_flight = np.asarray(cand.any(axis=1))
    nwb = max(2, round(settings.weigh_duration * fs / bl.size))
    if stats is not None:
        seen = np.maximum.accumulate(stats[0], axis=1)
        # a window of blocks [s, s + nwb) must end before the take-off block k - 1: s <= k - 1 - nwb
        lag = cols - 1 - nwb
        before = np.zeros_like(cand)
        has = lag >= 0
        before[:, has] = seen[:, lag[has]]
        cand &= before
    else:
        cand[:] = False
    found = np.asarray(cand.any(axis=1))
    k = np.where(found, cand.argmax(axis=1), 1)
    size = bl.size
    # take-off: one past the last loaded sample of block k - 1
    prev = window(f, (k - 1) * size, size) >= thr
    last = size - 1 - prev[:, ::-1].argmax(axis=1)
    takeoff = (k - 1) * size + last + 1
    rows = np.arange(n_trials)
    land_block = next_loaded[rows, k]
    land_block = np.where(land_block < nb, land_block, nb - 1)
    first = (window(f, land_block * size, size) >= thr).argmax(axis=1)
    landing = land_block * size + first
    return Flight(takeoff, landing, k, found, any_flight)


def departure(f: FloatArray, bl: Blocks, body_weight: FloatArray, band: FloatArray, start: IntArray,
              stop: IntArray, direction: str = "both") -> IntArray:
    """First sample at or after ``start`` where force leaves body weight ± ``band`` (``stop`` if none before it).

    ``direction``: "both", "up" (above BW + band) or "down" (below BW − band).
    """
    size = bl.size
    cols = np.arange(bl.count)[None, :]
    hi = body_weight + band
    lo = body_weight - band
    dep = np.zeros(bl.bmin.shape, dtype=bool)
    if direction in ("both", "up"):
        dep |= bl.bmax > hi[:, None]
    if direction in ("both", "down"):
        dep |= bl.bmin < lo[:, None]
    first_block = start // size
    dep &= cols >= first_block[:, None]
    found = dep.any(axis=1)
    kb = np.where(found, dep.argmax(axis=1), first_block)
    # refine inside the block and the next (the block may begin before ``start``)
    base = kb * size
    w = window(f, base, 2 * size)
    pos = np.clip(base, 0, f.shape[1] - 2 * size)[:, None] + np.arange(2 * size)[None, :]
    out = np.zeros(w.shape, dtype=bool)
    if direction in ("both", "up"):
        out |= w > hi[:, None]
    if direction in ("both", "down"):
        out |= w < lo[:, None]
    out &= pos >= start[:, None]
    hit = out.any(axis=1)
    sample = pos[np.arange(f.shape[0]), out.argmax(axis=1)]
    return np.where(found & hit, np.minimum(sample, stop), stop)


@dataclass
class Runs:
    """Loaded runs of every trial, flattened: trial row, start (first loaded sample), end (first unloaded after)."""

    row: IntArray
    start: IntArray
    end: IntArray
    gap_before: IntArray  # unloaded samples before the run (0 if the trace starts loaded)
    gap_after: IntArray  # unloaded samples after the run (-1 if the trace ends loaded or unloaded)


def loaded_runs(f: FloatArray, threshold: float, min_gap: int) -> Runs:
    """Runs of samples ≥ ``threshold``; unloaded gaps shorter than ``min_gap`` samples are merged into a run.

    A gap that reaches the end of the trace (no landing after it) has ``gap_after = -1``.
    """
    n_trials = f.shape[0]
    loaded = f >= threshold
    pad = np.zeros((n_trials, 1), dtype=bool)
    edges = np.diff(np.concatenate([pad, loaded, pad], axis=1).view(np.int8), axis=1)
    srow, scol = np.nonzero(edges == 1)
    _, ecol = np.nonzero(edges == -1)
    # merge runs separated by a short gap in the same row
    same_row_next = np.zeros(srow.size, dtype=bool)
    same_row_next[:-1] = srow[1:] == srow[:-1]
    gap_next = np.full(srow.size, -1)
    gap_next[:-1] = scol[1:] - ecol[:-1]
    gap_next[~same_row_next] = -1
    merge = same_row_next & (gap_next < min_gap)
    keep_start = np.ones(srow.size, dtype=bool)
    keep_start[1:] = ~merge[:-1]
    keep_end = ~merge
    row = srow[keep_start]
    start = scol[keep_start]
    end = ecol[keep_end]
    gap_after = gap_next[keep_end]
    first_in_row = np.ones(row.size, dtype=bool)
    first_in_row[1:] = row[1:] != row[:-1]
    gap_before = np.empty(row.size, dtype=np.intp)
    gap_before[first_in_row] = start[first_in_row]
    gap_before[~first_in_row] = gap_after[np.nonzero(~first_in_row)[0] - 1]
    return Runs(row, start, end, gap_before, gap_after)
