"""The clock mapper's incremental lower hull equals a brute-force lower hull under appends, replacements, expiry."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from drivers.clock import SlidingLowerHull
from kinetics._checks import KineticsInputError


def brute_lower_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Strict vertices of the lower hull of points with increasing x, by definition, in O(n³).

    A point is a vertex unless it lies on or above the segment between some point to its left and some point
    to its right; the two end points always are.
    """
    n = len(points)
    out = []
    for k, (xk, yk) in enumerate(points):
        covered = any(
            (xj - xi) * (yk - yi) - (yj - yi) * (xk - xi) >= 0
            for i, (xi, yi) in enumerate(points[:k])
            for (xj, yj) in points[k + 1 :]
        )
        if not covered or k in (0, n - 1):
            out.append((xk, yk))
    return out


def brute_edge(points: list[tuple[float, float]], x: float) -> tuple[tuple[float, float], tuple[float, float]]:
    vertices = brute_lower_hull(points)
    for left, right in itertools.pairwise(vertices):
        if left[0] <= x <= right[0]:
            return left, right
    raise AssertionError("x outside the points")


@pytest.mark.parametrize("seed", range(40))
def test_incremental_hull_equals_brute_force_under_appends_replacements_and_expiry(seed: int) -> None:
    """Random walks of appends, replacements of the last point and expiry of the oldest ones.

    Small-integer coordinates make collinear triples frequent and their cross products exact; every fourth
    seed puts all points on two lines, where nearly every point is collinear with its neighbours.
    """
    rng = np.random.default_rng(seed)
    hull = SlidingLowerHull()
    window: list[tuple[float, float]] = []
    x = 0
    for _ in range(300):
        action = rng.random()
        if action < 0.5 or not window:
            x += int(rng.integers(1, 4))
            y = float(x % 7 if seed % 4 == 0 else rng.integers(0, 6))
            hull.append(x, y)
            window.append((float(x), y))
        elif action < 0.7:
            lo = window[-2][0] + 1 if len(window) > 1 else -50.0
            new_x = float(rng.integers(int(lo), x + 1))
            new_y = float(rng.integers(-1, 6))
            hull.replace_last(new_x, new_y)
            window[-1] = (new_x, new_y)
            x = int(new_x)
        else:
            k = int(rng.integers(1, 6))
            hull.drop_first(k)
            del window[:k]
        assert len(hull) == len(window)
        assert hull.vertices() == brute_lower_hull(window)
        if len(window) >= 2:
            mean = float(np.mean([p[0] for p in window]))
            assert hull.mean_x() == pytest.approx(mean, abs=1e-12)
            assert hull.edge_at(mean) == brute_edge(window, mean)
            probe = float(rng.uniform(window[0][0], window[-1][0]))
            assert hull.edge_at(probe) == brute_edge(window, probe)
            assert hull.span() == window[-1][0] - window[0][0]
            assert hull.edge_at(window[-1][0] + 0.5) is None


def test_long_sliding_window_matches_brute_force_throughout() -> None:
    """A steady stream through a 40-point window (what the mapper does): float noise on a drifting line."""
    rng = np.random.default_rng(99)
    hull = SlidingLowerHull()
    window: list[tuple[float, float]] = []
    for i in range(2000):
        point = (i * 250.0, 1e-6 * i + float(rng.exponential(1e-3)))
        hull.append(*point)
        window.append(point)
        if len(window) > 40:
            hull.drop_first(1)
            window.pop(0)
        if i % 7 == 0:
            assert hull.vertices() == brute_lower_hull(window)


def test_hull_rejects_points_out_of_order_and_empties_cleanly() -> None:
    hull = SlidingLowerHull()
    with pytest.raises(KineticsInputError):
        hull.replace_last(1.0, 1.0)  # nothing to replace
    hull.append(1.0, 0.0)
    hull.append(2.0, 0.0)
    with pytest.raises(KineticsInputError, match="increasing"):
        hull.append(2.0, 1.0)
    with pytest.raises(KineticsInputError):
        hull.replace_last(0.5, 1.0)  # would move left of the point before it
    hull.drop_first(5)
    assert len(hull) == 0 and hull.vertices() == [] and hull.edge_at(1.0) is None
    hull.append(0.0, 3.0)  # smaller x is fine once the window is empty
    assert hull.vertices() == [(0.0, 3.0)] and hull.edge_at(0.0) is None
