"""Find the one effort of a trace: its peak, its onset before the peak and its end after it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinetics.strength._search import BoolArray, FloatArray, IntArray, first_from, last_before
from kinetics.strength.onset import OnsetLevel

NOISY_BASELINE_FRACTION = 0.1
"""An onset level more than this fraction of the peak (both above the baseline mean) flags ``noisy_baseline``."""


@dataclass(frozen=True)
class Effort:
    """Indices and flags of the effort in each row of a (B, n) batch.

    Attributes
    ----------
    peak_index, onset, offset : ndarray of int, shape (B,)
        The (first) maximum; the last sample at/below the onset level before it; the first sample at/below
        the level after it (the last sample of the trace when the force never came back down).
    peak : ndarray, shape (B,)
        The force at ``peak_index``.
    no_effort, effort_in_baseline, noisy_baseline, not_released : ndarray of bool, shape (B,)
        Quality flags (see :func:`find_effort`).
    """

    peak_index: IntArray
    peak: FloatArray
    onset: IntArray
    offset: IntArray
    no_effort: BoolArray
    effort_in_baseline: BoolArray
    noisy_baseline: BoolArray
    not_released: BoolArray


def find_effort(x: FloatArray, fs: float, lvl: OnsetLevel, min_duration: float) -> Effort:
    """Locate the effort around the highest sample of each row of ``x`` (shape (B, n)).

    Flags: ``no_effort`` — the peak does not exceed the onset level, or the force stays above it for less
    than ``min_duration`` s; ``effort_in_baseline`` — the onset falls inside the baseline window (the trial
    started mid-effort); ``noisy_baseline`` — the baseline window is not quiet: its mean drifts between its
    halves by more than its SD (an effort or a drift inside it; raised even with ``no_effort``, which it then
    explains), or the onset level sits more than 10 % of the way from the baseline to the peak (onset will be
    late); ``not_released`` — the force never came back to the onset level before the trace ended.
    """
    rows = np.arange(x.shape[0])
    p = x.argmax(axis=-1).astype(np.int64)
    pk = x[rows, p]
    onset, found_on = last_before(x, lvl.level, p, np.less_equal)
    offset, released = first_from(x, lvl.level, p + 1, np.less_equal)
    no_effort = (pk <= lvl.level) | ((offset - onset) < min_duration * fs)
    in_baseline = (~found_on) | (onset < lvl.baseline_samples)
    late = (lvl.level - lvl.mean) > NOISY_BASELINE_FRACTION * (pk - lvl.mean)
    noisy = (lvl.drift > lvl.sd) | (late & ~no_effort)
    return Effort(p, pk, onset, offset, no_effort, in_baseline & ~no_effort, noisy, ~released)
