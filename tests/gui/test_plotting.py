"""Data preparation for the live plots (gui.plotting): pure NumPy, no event loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.devices import device_kind
from drivers.ringbuffer import RingBuffer
from gui.plotting import (
    LiveBalance,
    LiveSeries,
    TargetBand,
    TargetZone,
    decimate_trail,
    grow_range,
    minmax_decimate,
    nice_ceiling,
    nice_ticks,
    range_for_band,
    square_range,
)
from kinetics._checks import KineticsInputError
from kinetics.simulate.sway import cell_forces

CELLS = device_kind("plate").geometry["cell_positions"]


# -- min/max decimation -----------------------------------------------------------------------------------------
def _bins(n: int, n_pixels: int) -> list[slice]:
    per = -(-n // n_pixels)
    return [slice(i, min(i + per, n)) for i in range(0, n, per)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), n_pixels=st.integers(1, 700), seed=st.integers(0, 2**31))
def test_minmax_keeps_every_bin_extreme_exactly(n: int, n_pixels: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.5, 1.5, n)) * 1e-3
    y = np.round(rng.normal(0, 1, n), 1)  # rounding makes ties, which must not break the budget
    td, yd = minmax_decimate(t, y, n_pixels)
    assert td.size == yd.size
    assert np.all(np.diff(td) >= 0)  # time order kept
    # every output point is an input sample (t, y) pair
    idx = np.searchsorted(t, td)
    np.testing.assert_array_equal(t[idx], td)
    np.testing.assert_array_equal(y[idx], yd)
    if n <= 2 * n_pixels:
        assert td.size == n
        return
    assert td.size <= 2 * n_pixels
    for sl in _bins(n, n_pixels):
        inside = (td >= t[sl][0]) & (td <= t[sl][-1])
        assert yd[inside].min() == y[sl].min()
        assert yd[inside].max() == y[sl].max()


def test_minmax_budget_and_global_extremes_on_a_10k_window() -> None:
    t = np.arange(10_000) / 1000.0
    y = np.sin(2 * np.pi * t) * 100.0
    y[1234] = 500.0  # a one-sample spike must survive
    y[8765] = -500.0
    td, yd = minmax_decimate(t, y, 600)
    assert td.size == 2 * 589  # bins of ceil(10000/600) = 17 samples: 589 bins, 2 points each
    assert yd.max() == 500.0 and td[yd.argmax()] == t[1234]
    assert yd.min() == -500.0 and td[yd.argmin()] == t[8765]


def test_minmax_short_series_unchanged_and_bad_input_rejected() -> None:
    t, y = np.arange(10.0), np.arange(10.0) ** 2
    td, yd = minmax_decimate(t, y, 5)
    np.testing.assert_array_equal(td, t)
    np.testing.assert_array_equal(yd, y)
    with pytest.raises(KineticsInputError, match="n_pixels"):
        minmax_decimate(t, y, 0)
    with pytest.raises(KineticsInputError, match="one length"):
        minmax_decimate(t, y[:-1], 5)


# -- COP trail --------------------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 20_000), budget=st.integers(8, 2000), seed=st.integers(0, 2**31))
def test_trail_budget_extent_and_newest_point(n: int, budget: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = np.cumsum(rng.normal(0, 1e-4, (2, n)), axis=1)
    xd, yd = decimate_trail(x, y, budget)
    assert xd.size == yd.size <= budget
    assert xd[-1] == x[-1] and yd[-1] == y[-1]
    assert (xd.min(), xd.max(), yd.min(), yd.max()) == (x.min(), x.max(), y.min(), y.max())
    # a subsequence of the input, in order
    pos = np.flatnonzero(np.isin(x, xd))
    assert np.all(np.diff(pos) > 0)


def test_trail_drops_unloaded_samples() -> None:
    x = np.array([0.0, np.nan, 0.01, 0.02, np.nan])
    y = np.array([0.0, 0.0, np.nan, 0.02, np.nan])
    xd, yd = decimate_trail(x, y, 8)
    np.testing.assert_array_equal(xd, [0.0, 0.02])
    np.testing.assert_array_equal(yd, [0.0, 0.02])
    with pytest.raises(KineticsInputError, match="max_points"):
        decimate_trail(x, y, 4)


# -- geometry ---------------------------------------------------------------------------------------------------
def test_nice_values_ranges_and_ticks() -> None:
    assert [nice_ceiling(v) for v in (0.7, 1.0, 1.01, 2.2, 3.0, 7.0, 180.0, 0.031)] == [
        1.0, 1.0, 2.0, 2.5, 5.0, 10.0, 200.0, 0.05]
    assert grow_range((0.0, 200.0), 0.0, 150.0) == (0.0, 200.0)  # fits: unchanged
    assert grow_range((0.0, 200.0), 0.0, 230.0) == (0.0, 500.0)  # 230 + 10 % of 230 = 253 → 500
    assert grow_range((0.0, 200.0), -30.0, 100.0) == (-100.0, 200.0)  # −30 − 10 % of 230 = −53 → −100
    assert range_for_band(TargetBand(100.0, 150.0), (0.0, 100.0)) == (0.0, 200.0)  # 150 + 0.3·150 = 195
    assert square_range(None, 0.05) == (-0.05, 0.05)
    assert square_range(TargetZone(0.0, 0.0, 0.04), 0.05) == (-0.1, 0.1)  # 1.5 × 0.04 = 0.06 → 0.1
    assert nice_ticks(0.0, 200.0, 4) == [0.0, 50.0, 100.0, 150.0, 200.0]
    assert nice_ticks(-10.0, 0.0) == [-10.0, -8.0, -6.0, -4.0, -2.0, 0.0]


def test_targets_contain_and_outline() -> None:
    band = TargetBand(40.0, 60.0)
    assert band.contains(40.0) and band.contains(60.0) and not band.contains(60.01)
    assert band.rect(-10.0, 0.0) == (-10.0, 40.0, 10.0, 20.0)
    circle = TargetZone(0.01, -0.02, 0.03)
    assert circle.contains(0.01 + 0.03, -0.02) and not circle.contains(0.01 + 0.022, -0.02 + 0.022)
    x, y = circle.outline(32)
    np.testing.assert_allclose(np.hypot(x - 0.01, y + 0.02), 0.03)
    rect = TargetZone(0.0, 0.0, 0.02, 0.05, shape="rect")
    assert rect.contains(0.02, -0.05) and not rect.contains(0.021, 0.0)
    assert rect.extent == (0.02, 0.05)
    with pytest.raises(KineticsInputError, match="low"):
        TargetBand(60.0, 40.0)
    with pytest.raises(KineticsInputError, match="half_height"):
        TargetZone(0.0, 0.0, 0.02, shape="rect")


# -- live series ------------------------------------------------------------------------------------------------
def test_live_series_bookmarks_window_and_drops() -> None:
    buf = RingBuffer(2, 3000)
    series = LiveSeries(buf, channel=1, window=1.0)
    assert series.poll() == 0 and series.latest is None and series.frame(100)[0].size == 0
    t = np.arange(500) / 1000.0
    buf.extend(t, np.vstack([t, 2 * t]))
    assert series.poll() == 500 and series.bookmark == 500
    assert series.poll() == 0  # nothing new: nothing re-read
    t2 = np.arange(500, 1600) / 1000.0
    buf.extend(t2, np.vstack([t2, 2 * t2]))
    assert series.poll() == 1100
    # the window keeps the last 1.0 s of sample times: 0.599 … 1.599
    assert series.times[0] == pytest.approx(0.599) and series.times[-1] == pytest.approx(1.599)
    np.testing.assert_allclose(series.values, 2 * series.times)
    assert series.latest == pytest.approx(3.198)
    assert series.recent_mean(0.0101) == pytest.approx(2 * np.mean(np.arange(1589, 1600) / 1000))
    tf, yf = series.frame(200)
    assert tf[-1] == 0.0 and tf[0] == pytest.approx(-1.0) and tf.size <= 400
    assert yf.max() == pytest.approx(3.198) and yf.min() == pytest.approx(1.198)
    # a reader that falls more than a buffer behind counts what it lost
    t3 = np.arange(1600, 6000) / 1000.0
    buf.extend(t3, np.vstack([t3, 2 * t3]))
    assert series.poll() == 3000 and series.dropped == 1400
    series.reset()
    assert series.poll() == 0 and series.times.size == 0


def test_live_series_derive_and_gaps_never_reach_the_plot() -> None:
    buf = RingBuffer(3, 100)
    series = LiveSeries(buf, window=5.0, derive=lambda v: v[0] + v[1] * v[2])
    t = np.arange(5) / 100.0
    buf.extend(t, np.array([[1.0, 1, np.nan, 1, 1], [2.0, 2, 2, 2, 2], [3.0, 3, 3, 3, np.inf]]))
    assert series.poll() == 3  # the NaN and the infinite sample are dropped
    np.testing.assert_array_equal(series.values, [7.0, 7.0, 7.0])
    with pytest.raises(KineticsInputError, match="channel"):
        LiveSeries(buf, channel=3)


def _plate(cop: np.ndarray, fz: float) -> np.ndarray:
    return cell_forces(cop, fz, CELLS)


def test_live_balance_two_plates_cop_and_share_exact() -> None:
    left, right = RingBuffer(4, 5000), RingBuffer(4, 5000)
    live = LiveBalance(left, CELLS, right=right, left_origin=(-0.1, 0.0), right_origin=(0.1, 0.0), trail=2.0)
    n = 1000
    t = np.arange(n) / 1000.0
    cop_l = np.vstack([0.01 * np.sin(t), 0.02 * np.cos(t)])
    cop_r = np.vstack([-0.01 * np.ones(n), 0.03 * np.ones(n)])
    left.extend(t, _plate(cop_l, 420.0))
    right.extend(t[:600], _plate(cop_r[:, :600], 280.0))  # the right plate lags: only 600 samples so far
    assert live.poll() == 600
    expected = (420.0 * (cop_l + np.array([[-0.1], [0.0]])) + 280.0 * (cop_r + np.array([[0.1], [0.0]]))) / 700.0
    np.testing.assert_allclose(live.cop, expected[:, :600], atol=1e-12)
    assert live.share_left is not None
    np.testing.assert_allclose(live.share_left, 0.6)
    right.extend(t[600:], _plate(cop_r[:, 600:], 280.0))
    assert live.poll() == 400  # the waiting left samples are combined once the right plate covers them
    np.testing.assert_allclose(live.cop, expected, atol=1e-12)
    assert live.recent_share_left() == pytest.approx(0.6)
    np.testing.assert_allclose(live.total_force, 700.0)
    cx, cy = live.current_cop() or (np.nan, np.nan)
    assert (cx, cy) == pytest.approx(tuple(expected[:, -1]))
    xd, _ = live.trail_frame(100)
    assert xd.size <= 100 and xd[-1] == pytest.approx(expected[0, -1])


def test_live_balance_one_plate_and_nobody_standing() -> None:
    plate = RingBuffer(4, 1000)
    live = LiveBalance(plate, CELLS)
    t = np.arange(10) / 100.0
    forces = _plate(np.tile([[0.02], [-0.01]], 10), 600.0)
    forces[:, 5:] = 1.0  # 4 N in total: nobody on the plate
    plate.extend(t, forces)
    assert live.poll() == 10
    np.testing.assert_allclose(live.cop[:, :5], np.tile([[0.02], [-0.01]], 5), atol=1e-12)
    assert np.isnan(live.cop[:, 5:]).all()
    assert live.share_left is None and live.recent_share_left() is None
    assert live.current_cop() is None
    assert live.trail_frame(8)[0].size == 5
