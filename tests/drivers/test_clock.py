"""Clock mapper: drift recovered, one-sided jitter and stalls ignored, no drift accumulating; counter unwrapping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivers.clock import ClockMapper, Unwrapper
from kinetics._checks import KineticsInputError

RATE = 1000.0
LATENCY = 0.012  # constant link latency (s)
CI = 0.0075  # connection interval (s)
JITTER_SCALE = 0.002  # mean of the exponential host delay (s)


def synthetic_link(
    seconds: float, drift_ppm: float, per_packet: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True sample times, and per packet (last counter, host arrival) for a drifting device on a jittery link.

    Arrival = next connection event after the packet is ready + constant latency + exponential host delay
    (scale 5 ms, clipped at 30 ms) + stalls of 150–400 ms every ~20 s that hold every packet back.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    true_t = 3.7 + np.arange(n) * (1.0 + drift_ppm * 1e-6) / RATE
    last = np.arange(per_packet - 1, n, per_packet)
    ready = true_t[last]
    phase = 0.0031
    event = np.ceil((ready - phase) / CI) * CI + phase
    arrival = event + LATENCY + np.minimum(rng.exponential(JITTER_SCALE, last.size), 0.030)
    for start in (
        np.arange(10.0, seconds, 20.0)
        + rng.uniform(0, 5, int(seconds // 20) + 1)[: len(np.arange(10.0, seconds, 20.0))]
    ):
        end = start + rng.uniform(0.15, 0.40)
        held = (arrival > 3.7 + start) & (arrival < 3.7 + end)
        arrival[held] = 3.7 + end + rng.uniform(0, 0.002, held.sum())
    arrival = np.maximum.accumulate(arrival)  # one link delivers in order
    return true_t, last, arrival


def run_mapper(mapper: ClockMapper, last: np.ndarray, arrival: np.ndarray, per_packet: int) -> np.ndarray:
    """What a supervisor does: add each packet, hold blocks until settled, then map each block on arrival."""
    mapped = np.empty(last.size * per_packet)
    pending: list[int] = []
    for j, (c, a) in enumerate(zip(last.tolist(), arrival.tolist(), strict=True)):
        mapper.add(c, a)
        pending.append(j)
        if mapper.settled:
            for p in pending:
                first = p * per_packet
                mapped[first : first + per_packet] = mapper.map(np.arange(first, first + per_packet))
            pending.clear()
    assert not pending
    return mapped


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
