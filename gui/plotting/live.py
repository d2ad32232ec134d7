"""Live series: what a plot needs from a ring buffer, frame after frame, without redoing old work.

A :class:`LiveSeries` keeps a bookmark in a :class:`drivers.ringbuffer.RingBuffer`, pulls only the samples
written since the last frame (``RingBuffer.since``), keeps the last ``window`` seconds of one derived signal
and hands the plot min/max-decimated arrays with time relative to the newest sample (so the x axis is a fixed
``-window..0``). :class:`LiveBalance` does the same for one or two force plates: centre of pressure and
left/right weight share through :mod:`kinetics.balance` (the same formulas the scores use).

Times are the session clock of the samples (device-clock timestamps from the acquisition), never the time a
frame is drawn. Values stay SI (N, deg, m); the widgets convert for display.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drivers.ringbuffer import RingBuffer
from gui.plotting.decimate import decimate_trail, minmax_decimate
from kinetics._checks import input_error
from kinetics.balance import combine_plates, cop_from_cells

FloatArray = NDArray[np.float64]
#: Turns a block of buffer values (n_channels, n) into one signal (n,).
Derive = Callable[[FloatArray], FloatArray]


def _check_window(window: float) -> float:
    w = float(window)
    if not (np.isfinite(w) and w > 0):
        raise input_error("window", f"must be a positive number of seconds, got {window}", "pass e.g. 10.0")
    return w


class _Tail:
    """The last ``window`` seconds of a few time-aligned rows, appended block by block."""

    def __init__(self, n_rows: int, window: float) -> None:
        self.window = window
        self.t = np.empty(0, dtype=np.float64)
        self.rows = np.empty((n_rows, 0), dtype=np.float64)

    def append(self, t: FloatArray, rows: FloatArray) -> None:
        if t.size == 0:
            return
        self.t = np.concatenate([self.t, t])
        self.rows = np.concatenate([self.rows, rows], axis=1)
        first = int(np.searchsorted(self.t, self.t[-1] - self.window, side="left"))
        if first > 0:
            self.t = self.t[first:]
            self.rows = self.rows[:, first:]

    def clear(self) -> None:
        self.t = self.t[:0]
        self.rows = self.rows[:, :0]


class LiveSeries:
    """One live signal from a ring buffer: channel ``channel``, or ``derive(values)`` of all channels.

    Parameters
    ----------
    buffer : RingBuffer
    channel : int
        Row of the buffer to show (ignored when ``derive`` is given).
    window : float
        Seconds kept and shown (the plot's x range is ``-window..0``).
    derive : callable, optional
        ``values (n_channels, n) → (n,)``, e.g. a tilt angle from accelerometer rows.

    Attributes
    ----------
    dropped : int
        Samples that were overwritten in the buffer before this series read them (a reader that fell behind).
    """

    def __init__(self, buffer: RingBuffer, *, channel: int = 0, window: float = 10.0, derive: Derive | None = None
                 ) -> None:
        if derive is None and not 0 <= channel < buffer.n_channels:
            raise input_error("channel", f"{channel} is not a row of a {buffer.n_channels}-channel buffer",
                              f"use 0..{buffer.n_channels - 1}")
        self.buffer = buffer
        self.channel = channel
        self.derive = derive
        self.window = _check_window(window)
        self.bookmark = 0
        self.dropped = 0
        self._tail = _Tail(1, self.window)

    def poll(self) -> int:
        """Pull the samples written since the last poll; returns how many arrived (not counting dropped ones)."""
        t, v, total = self.buffer.since(self.bookmark)
        self.dropped += (total - self.bookmark) - t.size
        self.bookmark = total
        if t.size == 0:
            return 0
        y = self.derive(v) if self.derive is not None else v[self.channel]
        good = np.isfinite(t) & np.isfinite(y)
        if not good.all():  # a gap: drawn as a straight joint (no NaN reaches Qt: skipFiniteCheck is on)
            t, y = t[good], y[good]
        self._tail.append(t, y[None, :])
        return int(t.size)

    @property
    def times(self) -> FloatArray:
        """Session times (s) of the samples held, oldest first."""
        return self._tail.t

    @property
    def values(self) -> FloatArray:
        """The signal (SI) of the samples held, oldest first."""
        return self._tail.rows[0]

    @property
    def latest(self) -> float | None:
        """The newest value, or None before the first sample."""
        return float(self._tail.rows[0, -1]) if self._tail.t.size else None

    def recent_mean(self, seconds: float) -> float | None:
        """Mean of the last ``seconds`` (a steadier number for a big readout), or None before the first sample."""
        if self._tail.t.size == 0:
            return None
        first = int(np.searchsorted(self._tail.t, self._tail.t[-1] - seconds, side="left"))
        return float(self._tail.rows[0, first:].mean())

    def peak(self) -> float | None:
        """Largest value in the window, or None before the first sample."""
        return float(self._tail.rows[0].max()) if self._tail.t.size else None

    def frame(self, n_pixels: int) -> tuple[FloatArray, FloatArray]:
        """Arrays to draw: time relative to the newest sample (−window..0, s) and values, ≤ 2·n_pixels points."""
        t = self._tail.t
        if t.size == 0:
            return t, self._tail.rows[0]
        return minmax_decimate(t - t[-1], self._tail.rows[0], n_pixels)

    def reset(self) -> None:
        """Forget the samples held and start again from the buffer's newest sample."""
        self.bookmark = self.buffer.total
        self._tail.clear()


def _cells(values: FloatArray, n_cells: int) -> FloatArray:
    return values[:n_cells]


class LiveBalance:
    """Live centre of pressure and weight share from one or two 4-cell force plates.

    Parameters
    ----------
    left : RingBuffer
        The (left) plate: rows are the cell forces in N, in the order of ``cell_positions``.
    cell_positions : array_like, shape (n_cells, 2)
        Cell (x, y) positions in m (device geometry ``cell_positions``).
    right : RingBuffer, optional
        The right plate; its samples are interpolated onto the left plate's times.
    left_origin, right_origin : (x, y) in m
        Where each plate's origin sits in the common frame (e.g. ±0.2 m apart).
    trail : float
        Seconds of COP trail kept.

    Attributes
    ----------
    t, cop : the trail: times (n,) and COP (2, n) in m, NaN where nobody stands on the plates
    share_left : ndarray (n,) or None — left weight share (0..1) per sample; None with one plate
    """

    def __init__(
        self,
        left: RingBuffer,
        cell_positions: Any,
        *,
        right: RingBuffer | None = None,
        left_origin: Any = (0.0, 0.0),
        right_origin: Any = (0.0, 0.0),
        trail: float = 5.0,
    ) -> None:
        pos = np.asarray(cell_positions, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 2 or pos.shape[0] > left.n_channels:
            raise input_error("cell_positions", f"has shape {pos.shape} for a {left.n_channels}-channel plate",
                              "give (n_cells, 2) positions in m, one per cell channel")
        if right is not None and right.n_channels < pos.shape[0]:
            raise input_error("right", f"has {right.n_channels} channels for {pos.shape[0]} cells", "pass a plate")
        self.left, self.right = left, right
        self.cell_positions = pos
        self.left_origin = np.asarray(left_origin, dtype=np.float64)
        self.right_origin = np.asarray(right_origin, dtype=np.float64)
        self.window = _check_window(trail)
        self._marks = [0, 0]
        self._pending_right = (np.empty(0), np.empty((pos.shape[0], 0)))
        self._last_left = -np.inf
        self._tail = _Tail(4, self.window)  # x, y, share_left, total force

    def poll(self) -> int:
        """Pull new plate samples and append their COP; returns how many COP samples were added."""
        n_cells = self.cell_positions.shape[0]
        t, v, self._marks[0] = self.left.since(self._marks[0])
        if self.right is None:
            if t.size == 0:
                return 0
            plate = cop_from_cells(_cells(v, n_cells), self.cell_positions)
            cop = plate.cop + self.left_origin[:, None]
            share = np.full(t.size, np.nan)
            self._tail.append(t, np.vstack([cop, share, plate.fz]))
            return int(t.size)
        tr, vr, self._marks[1] = self.right.since(self._marks[1])
        rt = np.concatenate([self._pending_right[0], tr])
        rv = np.concatenate([self._pending_right[1], _cells(vr, n_cells)], axis=1)
        # Left samples the right plate already covers are combined now; later ones are read again next poll.
        usable = t <= rt[-1] if rt.size else np.zeros(t.size, dtype=bool)
        self._marks[0] -= int(t.size - usable.sum())
        t, v = t[usable], v[:, usable]
        # Keep the right samples a later left sample may still fall between (and at most one window of them).
        since = self._last_left if t.size == 0 else float(t[-1])
        first = max(int(np.searchsorted(rt, since, side="left")) - 1, 0)
        if rt.size:
            first = max(first, int(np.searchsorted(rt, rt[-1] - self.window, side="left")) - 1, 0)
        self._pending_right = (rt[first:], rv[:, first:])
        if t.size == 0:
            return 0
        self._last_left = float(t[-1])
        right_cells = np.vstack([np.interp(t, rt, row) for row in rv]) if rt.size > 1 else np.repeat(rv, t.size, 1)
        both = combine_plates(
            cop_from_cells(_cells(v, n_cells), self.cell_positions),
            cop_from_cells(right_cells, self.cell_positions),
            left_origin=self.left_origin,
            right_origin=self.right_origin,
        )
        self._tail.append(t, np.vstack([both.cop, both.share_left, both.fz_left + both.fz_right]))
        return int(t.size)

    @property
    def t(self) -> FloatArray:
        return self._tail.t

    @property
    def cop(self) -> FloatArray:
        return self._tail.rows[:2]

    @property
    def share_left(self) -> FloatArray | None:
        return None if self.right is None else self._tail.rows[2]

    @property
    def total_force(self) -> FloatArray:
        """Total vertical force (N) per sample of the trail."""
        return self._tail.rows[3]

    def current_cop(self) -> tuple[float, float] | None:
        """The newest loaded COP (x, y) in m, or None when nobody stands on the plates."""
        x, y = self._tail.rows[0], self._tail.rows[1]
        if x.size == 0 or not (np.isfinite(x[-1]) and np.isfinite(y[-1])):
            return None
        return float(x[-1]), float(y[-1])

    def recent_share_left(self, seconds: float = 0.25) -> float | None:
        """Mean left weight share (0..1) over the last ``seconds``; None with one plate or nobody standing."""
        if self.right is None or self._tail.t.size == 0:
            return None
        first = int(np.searchsorted(self._tail.t, self._tail.t[-1] - seconds, side="left"))
        s = self._tail.rows[2, first:]
        s = s[np.isfinite(s)]
        return float(s.mean()) if s.size else None

    def trail_frame(self, max_points: int) -> tuple[FloatArray, FloatArray]:
        """The COP trail (x, y in m) thinned to ``max_points``, unloaded samples removed."""
        return decimate_trail(self._tail.rows[0], self._tail.rows[1], max_points)
