"""Event detection on a batch of vertical-force traces: quiet-phase weighing, take-off, landing, onset.

The search runs first on a coarse grid of blocks (``search_grid``, 10 ms by default: which blocks hold an
unloaded sample, which are wholly unloaded, and block sums / sums of squares for the weighing) and is then refined
to the sample inside one block, so that a batch of long traces costs a few passes over the data. All indices are
sample indices into the full trace. Large batches are processed in row chunks that fit the CPU cache (results
do not depend on the chunking: every step here is per trial).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics.jumps._common import FloatArray, IntArray, JumpSettings, row_chunks, window


@dataclass
class Blocks:
    """Per-block loading of a (n_trials, n_samples) batch; ``size`` samples per block, ``count`` whole blocks.

    ``anyun``: the block holds a sample below the take-off threshold; ``allun``: every sample is below it.
    """

    size: int
    count: int
    anyun: NDArray[Any]
    allun: NDArray[Any]


def blocks(f: FloatArray, fs: float, settings: JumpSettings) -> Blocks:
    """Block loading of ``f`` on the ``search_grid`` (the last partial block is left out)."""
    size = max(1, round(settings.search_grid * fs))
    n_trials = f.shape[0]
    nb = f.shape[1] // size
    anyun = np.empty((n_trials, nb), dtype=bool)
    allun = np.empty((n_trials, nb), dtype=bool)
    thr = settings.takeoff_threshold
    for rows in row_chunks(n_trials, f.shape[1]):
        block_loading(f[rows, : nb * size] < thr, size, anyun[rows], allun[rows])
    return Blocks(size, nb, anyun, allun)


def block_loading(u: NDArray[Any], size: int, anyun: NDArray[Any], allun: NDArray[Any]) -> None:
    """Into ``anyun`` / ``allun`` (shape (..., nb)): does each block of ``size`` samples of the contiguous bool
    array ``u`` (shape (..., nb·size)) hold a True / only Trues."""
    nb = anyun.shape[-1]
    if size > 16:
        ub = u.reshape(*u.shape[:-1], nb, size)
        np.logical_or.reduce(ub, axis=-1, out=anyun)
        np.logical_and.reduce(ub, axis=-1, out=allun)
        return
    # a few strided passes beat a reduction over a short inner axis; reading the bools as wider unsigned
    # integers adds `width` samples per operation (each byte counts its own samples: at most 16, no carry)
    width = next(w for w in (8, 4, 2, 1) if size % w == 0)
    lanes = u.view(f"u{width}").reshape(*u.shape[:-1], nb, size // width)
    count = lanes[..., 0].copy()
    for j in range(1, size // width):
        count += lanes[..., j]
    np.not_equal(count, 0, out=anyun)
    np.equal(count, int.from_bytes(bytes([size // width]) * width, "little"), out=allun)


def block_sums(f: FloatArray, size: int, count: int) -> tuple[FloatArray, FloatArray]:
    """Sum and sum of squares of each of the first ``count`` blocks of ``size`` samples."""
    fb = f[:, : count * size].reshape(f.shape[0], count, size)
    return fb.sum(axis=2), np.einsum("ijk,ijk->ij", fb, fb)


@dataclass
class Weighing:
    """Quietest loaded window of each trial: body weight (N), its SD (N) and the window [start, end) samples."""

    body_weight: FloatArray
    sd: FloatArray
    start: IntArray
    end: IntArray
    found: NDArray[Any]


def window_blocks(bl: Blocks, fs: float, settings: JumpSettings) -> int:
    """Blocks per ``weigh_duration`` window (at least 2)."""
    return max(2, round(settings.weigh_duration * fs / bl.size))


def loaded_windows(bl: Blocks, n_blocks: int) -> NDArray[Any] | None:
    """For every window of ``n_blocks`` blocks: is it fully loaded? (None when the trace is shorter than one.)"""
    if bl.count < n_blocks:
        return None
    bad = np.zeros((bl.anyun.shape[0], bl.count + 1), dtype=np.intp)
    np.cumsum(bl.anyun, axis=1, out=bad[:, 1:])
    return np.asarray(bad[:, n_blocks:] == bad[:, :-n_blocks])


def weigh(f: FloatArray, bl: Blocks, fs: float, settings: JumpSettings, before_block: IntArray | None,
          ok: NDArray[Any] | None = None) -> Weighing:
    """Body weight from the quietest (lowest-SD, ddof 1) fully loaded window of ``weigh_duration``.

    Only windows ending at or before block ``before_block`` (per trial) are considered when it is given, and
    block sums are then formed only up to the latest such block. ``ok``: the :func:`loaded_windows` of ``bl``
    when already computed.
    """
    nwb = window_blocks(bl, fs, settings)
    n_trials = f.shape[0]
    if ok is None:
        ok = loaded_windows(bl, nwb)
    used = bl.count if before_block is None else min(bl.count, max(int(before_block.max(initial=0)), 0))
    n_windows = used - nwb + 1
    if ok is None or n_windows < 1:
        zeros = np.zeros(n_trials)
        izeros = np.zeros(n_trials, dtype=np.intp)
        return Weighing(zeros, zeros, izeros, izeros, np.zeros(n_trials, dtype=bool))
    ok = ok[:, :n_windows]
    if before_block is not None:
        ok = ok & ((np.arange(n_windows)[None, :] + nwb) <= before_block[:, None])
    bsum, bsq = block_sums(f, bl.size, used)
    width = nwb * bl.size
    s = np.zeros((n_trials, used + 1))
    q = np.zeros((n_trials, used + 1))
    np.cumsum(bsum, axis=1, out=s[:, 1:])
    np.cumsum(bsq, axis=1, out=q[:, 1:])
    ws = s[:, nwb:] - s[:, :-nwb]
    wq = q[:, nwb:] - q[:, :-nwb]
    mean = ws / width
    sd = np.sqrt(np.maximum(wq - ws * mean, 0.0) / max(width - 1, 1))
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


def first_flight(f: FloatArray, bl: Blocks, fs: float, settings: JumpSettings, ok: NDArray[Any] | None) -> Flight:
    """The first unloaded stretch ≥ ``min_flight_time`` that ends with a landing (and
    follows a fully loaded ``weigh_duration`` window; ``ok`` = :func:`loaded_windows`, None if the trace is
    shorter than one window).

    Take-off is the first sample below ``takeoff_threshold`` of that stretch; landing the first sample at or
    above it after the stretch.
    """
    thr = settings.takeoff_threshold
    n_trials, nb = bl.allun.shape
    row, s, e = unloaded_runs(bl.allun)
    min_blocks = max(1, int(settings.min_flight_time * fs / bl.size) - 1)
    # a candidate run of unloaded blocks [s, e) follows a loaded block, is long enough and ends before the trace
    good = (s >= 1) & (e - s >= min_blocks) & (e < nb)
    any_flight = np.zeros(n_trials, dtype=bool)
    any_flight[row[good]] = True
    nwb = window_blocks(bl, fs, settings)
    if ok is not None:
        # a loaded window of blocks [s0, s0 + nwb) must end before the take-off block s - 1: s0 <= s - 1 - nwb
        has_ok = np.asarray(ok.any(axis=1))
        first_ok = ok.argmax(axis=1)
        good &= has_ok[row] & (s - 1 - nwb >= first_ok[row])
    else:
        good[:] = False
    pick = np.flatnonzero(good)
    rows_found, first = np.unique(row[pick], return_index=True)
    pick = pick[first]
    found = np.zeros(n_trials, dtype=bool)
    found[rows_found] = True
    k = np.ones(n_trials, dtype=np.intp)
    k[rows_found] = s[pick]
    # landing block: the first loaded block after the take-off block (for a trial without a flight, after block 1)
    land_block = np.empty(n_trials, dtype=np.intp)
    land_block[rows_found] = e[pick]
    missing = np.flatnonzero(~found)
    if missing.size:
        loaded = ~bl.allun[missing, 1:]
        land_block[missing] = np.where(loaded.any(axis=1), 1 + loaded.argmax(axis=1), nb)
    size = bl.size
    # take-off: one past the last loaded sample of block k - 1
    prev = window(f, (k - 1) * size, size) >= thr
    last = size - 1 - prev[:, ::-1].argmax(axis=1)
    takeoff = (k - 1) * size + last + 1
    land_block = np.where(land_block < nb, land_block, nb - 1)
    first = (window(f, land_block * size, size) >= thr).argmax(axis=1)
    landing = land_block * size + first
    return Flight(takeoff, landing, k, found, any_flight)


def unloaded_runs(unloaded: NDArray[Any]) -> tuple[IntArray, IntArray, IntArray]:
    """Runs of True along the last axis of a 2-D bool array: row, start and end (one past the last True)."""
    n_rows, n = unloaded.shape
    a = unloaded.view(np.int8)
    edges = np.empty((n_rows, n + 1), dtype=np.int8)
    edges[:, 0] = a[:, 0] if n else 0
    np.subtract(a[:, 1:], a[:, :-1], out=edges[:, 1:n])
    edges[:, n] = -a[:, -1] if n else 0
    row, start = np.nonzero(edges == 1)
    _, end = np.nonzero(edges == -1)
    return row, start, end


def departure(f: FloatArray, rows: IntArray, hi: FloatArray, lo: FloatArray, start: IntArray,
              stop: IntArray) -> IntArray:
    """First sample in [``start``, ``stop``) of trace ``f[rows]`` where force is above ``hi`` or below ``lo``
    (``stop`` when there is none). Searched sample by sample over that span only, in cache-sized row chunks.
    """
    out = stop.copy()
    for c in row_chunks(rows.shape[0], int(stop.max(initial=0)) - int(start.min(initial=0))):
        a, b = start[c], stop[c]
        c0, c1 = int(a.min()), int(b.max())
        if c1 <= c0:
            continue
        x = f[rows[c], c0:c1]
        hit = (x > hi[c, None]) | (x < lo[c, None])
        cols = np.arange(c0, c1)
        hit &= (cols >= a[:, None]) & (cols < b[:, None])
        out[c] = np.where(hit.any(axis=1), c0 + hit.argmax(axis=1), b)
    return out


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
