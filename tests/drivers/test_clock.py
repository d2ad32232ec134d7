"""Clock mapper: drift recovered, one-sided jitter and stalls ignored, no drift accumulating; counter unwrapping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivers.clock import ClockMapper, Unwrapper
from kinetics._checks import KineticsInputError
from tests.drivers.clock_jitter import LATENCY, RATE, run_mapper, synthetic_link


def test_150_ppm_over_10_minutes_stays_within_1_ms_without_drift() -> None:
    true_t, last, arrival = synthetic_link(600.0, drift_ppm=150.0, per_packet=4, seed=1)
    mapper = ClockMapper(RATE)
    mapped = run_mapper(mapper, last, arrival, 4)
    err = mapped - (true_t + LATENCY)
    constant = float(np.median(err))
    assert abs(constant) < 0.001  # the lower envelope touches the constant latency
    assert np.max(np.abs(err - constant)) < 0.001  # every sample, from the first one on
    first_minute, last_minute = err[:60_000].mean(), err[-60_000:].mean()
    assert abs(last_minute - first_minute) < 0.0002  # 150 ppm uncorrected would be 90 ms apart
    assert mapper.drift_ppm == pytest.approx(150.0, abs=5.0)
    assert np.all(np.diff(mapped) > 0)  # times stay strictly increasing
    # what arrival-time stamping would have done: tens of ms off
    naive = np.repeat(arrival, 4) - (true_t + LATENCY)
    assert np.max(naive) > 0.1


def test_negative_drift_and_device_timer_ticks() -> None:
    """A µs device timer (the Tindeq's) drifting −80 ppm, 80 Hz, 4 samples per packet, with wrap-around."""
    rng = np.random.default_rng(7)
    n = 80 * 300
    true_t = 100.0 + np.arange(n) / 80.0 * (1 - 80e-6)
    device_us = (np.arange(n) * 12_500 + 4_294_000_000) % (1 << 32)  # wraps after ~12 s
    unwrap = Unwrapper(32)
    mapper = ClockMapper(1e6)
    errs = []
    for j in range(3, n, 4):
        ticks = unwrap.unwrap_array(device_us[j - 3 : j + 1])
        arrival = true_t[j] + LATENCY + rng.exponential(0.004)
        mapper.add(float(ticks[-1]), arrival)
        if mapper.settled:
            errs.append(mapper.map(ticks) - true_t[j - 3 : j + 1] - LATENCY)
    err = np.concatenate(errs)
    assert np.max(np.abs(err - np.median(err))) < 0.001
    assert mapper.drift_ppm == pytest.approx(-80.0, abs=10.0)


def test_settles_only_after_enough_packets() -> None:
    mapper = ClockMapper(RATE)  # settles after ≥ 100 packets spanning ≥ 10 s of device time
    for k in range(2000):  # 8 s
        mapper.add(4 * k + 3, 0.004 * k)
    assert not mapper.settled
    for k in range(2000, 2600):  # 10.4 s
        mapper.add(4 * k + 3, 0.004 * k)
    assert mapper.settled and mapper.observations == 2600
    assert mapper.map([3])[0] == pytest.approx(0.0, abs=1e-9)
    assert mapper.period == pytest.approx(0.001, rel=1e-9)


@pytest.mark.parametrize(("drift_ppm", "seed"), [(150.0, 1), (150.0, 2), (-150.0, 3), (300.0, 4)])
def test_20_sample_packets_are_recording_grade_from_the_first_sample(drift_ppm: float, seed: int) -> None:
    """50 packets/s (20 samples at 1 kHz): the settle span grows with the packet interval, so held blocks wait.

    Against 7.5 ms connection events, 20 ms packets are ready at only 3 phases 2.5 ms apart, which only the drift
    slides; a 10 s span (the old rule, kept with ``settle_interval_s`` = 1 s) released the first blocks on a fit
    still ≈ 1.5 ms high.
    """
    true_t, last, arrival = synthetic_link(300.0, drift_ppm=drift_ppm, per_packet=20, seed=seed)
    mapper = ClockMapper(RATE)
    err = run_mapper(mapper, last, arrival, 20) - (true_t + LATENCY)
    constant = float(np.median(err))
    assert abs(constant) < 0.001
    assert np.max(np.abs(err - constant)) < 0.001  # every sample, from the first one on
    assert mapper.drift_ppm == pytest.approx(drift_ppm, abs=10.0)
    old_rule = run_mapper(ClockMapper(RATE, settle_interval_s=1.0), last, arrival, 20) - (true_t + LATENCY)
    assert np.max(np.abs(old_rule - float(np.median(old_rule)))) > 0.0012


def test_settle_span_scales_with_the_packet_interval() -> None:
    fast, mid, slow = ClockMapper(RATE), ClockMapper(RATE), ClockMapper(RATE)
    for k in range(3000):  # 4 ms, 10 ms and 20 ms packets on a clean link
        fast.add(4 * k + 3, 0.004 * k)
        mid.add(10 * k + 9, 0.010 * k)
        slow.add(20 * k + 19, 0.020 * k)
    assert fast.settle_span_needed == pytest.approx(10.0)
    assert mid.settle_span_needed == pytest.approx(25.0)  # 10 s × 10 ms / 4 ms
    assert slow.settle_span_needed == pytest.approx(45.0)  # 50 s, capped at ¾ of the 60 s window
    late = ClockMapper(RATE)
    settled_at = None
    for k in range(4000):
        late.add(20 * k + 19, 0.020 * k)
        if late.settled and settled_at is None:
            settled_at = 0.020 * k
    assert settled_at == pytest.approx(45.25, abs=0.3)  # the cap: 45 s of closed 0.25 s buckets
    assert ClockMapper(RATE, settle_span_s=1.0, settle_interval_s=0.004).settle_span_needed == 1.0


def test_mapper_rejects_bad_use() -> None:
    mapper = ClockMapper(RATE)
    with pytest.raises(KineticsInputError, match="add"):
        mapper.map([0])
    mapper.add(1_000_000, 1000.0)
    with pytest.raises(KineticsInputError, match="reset"):
        mapper.add(0, 1001.0)  # the device rebooted
    mapper.reset()
    mapper.add(0, 1001.0)
    with pytest.raises(KineticsInputError, match="finite"):
        mapper.add(math.nan, 1.0)
    with pytest.raises(KineticsInputError):
        ClockMapper(0.0)


def test_unwrapper_follows_wraps_and_late_values() -> None:
    unwrap = Unwrapper(32)
    m = 1 << 32
    assert unwrap(m - 10) == m - 10
    assert unwrap(5) == m + 5  # wrapped forwards
    assert unwrap(m - 3) == m - 3  # a late value from before the wrap
    assert unwrap(20) == m + 20
    fresh = Unwrapper(32)
    assert fresh(m - 5) == m - 5
    values = fresh.unwrap_array([m - 2, m - 1, 0, 1, 2])  # a wrap inside one frame
    assert values.tolist() == [m - 2, m - 1, m, m + 1, m + 2]
    assert fresh(3) == m + 3
    small = Unwrapper(8)
    assert [small(v) for v in (250, 255, 3, 120, 230, 2)] == [250, 255, 259, 376, 486, 514]
