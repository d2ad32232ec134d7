"""The one-pass segment searches of kinetics.jumps._common give exactly the masked searches' results: the same
indices, the same values, the same sign of zero and NaN, for empty segments and segments at the row ends."""

from __future__ import annotations

import numpy as np
import pytest

from kinetics.jumps._common import (
    gather,
    seg_argmax,
    seg_argmax_first,
    seg_argmin,
    seg_argmin_first,
    seg_first,
    seg_first_ge,
    seg_max,
    seg_min,
)


def _case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_rows, n = 40, 60
    # few distinct values: ties, repeats before a segment, ±0.0 and NaN all occur
    x = rng.choice(np.array([-1.0, -0.0, 0.0, 0.5, 2.0, np.nan]), size=(n_rows, n), p=[.2, .2, .2, .2, .15, .05])
    a = rng.integers(0, n, n_rows)
    b = np.clip(a + rng.integers(-3, 20, n_rows), 0, n)
    b[0], a[1], b[1] = n, n - 1, n  # segments reaching the end of a row (and of the array: last row below)
    b[-1] = n
    return x, a, b


@pytest.mark.parametrize("seed", range(6))
def test_values_and_indices_match_the_masked_search(seed: int) -> None:
    x, a, b = _case(seed)
    for fast, slow in ((seg_max, seg_argmax), (seg_min, seg_argmin)):
        want = gather(x, slow(x, a, b))
        got = fast(x, a, b)
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
    assert np.array_equal(seg_argmax_first(x, a, b), seg_argmax(x, a, b))
    assert np.array_equal(seg_argmin_first(x, a, b), seg_argmin(x, a, b))
    for value in (0.0, 0.5, 2.0):
        idx, found = seg_first_ge(x, value, a, b)
        want_idx, want_found = seg_first(x >= value, a, b)
        assert np.array_equal(idx, want_idx) and np.array_equal(found, want_found)


def test_signed_zero_comes_from_the_first_extreme_sample() -> None:
    x = np.array([[-0.0, 0.0, -1.0], [0.0, -0.0, -1.0]])
    a, b = np.array([0, 0]), np.array([3, 3])
    assert np.array_equal(np.signbit(seg_max(x, a, b)), [True, False])
