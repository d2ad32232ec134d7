"""A jittery BLE link for clock-mapper tests: a drifting device clock seen through connection events.

Shared by tests/drivers/test_clock.py and tests/drivers/test_clock_hull.py (imported as
``tests.drivers.clock_jitter``).
"""

from __future__ import annotations

import numpy as np

from drivers.clock import ClockMapper

RATE = 1000.0  # samples per second of the simulated device
LATENCY = 0.012  # constant link latency (s)
CI = 0.0075  # connection interval (s)
JITTER_SCALE = 0.002  # mean of the exponential host delay (s)


def synthetic_link(
    seconds: float, drift_ppm: float, per_packet: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True sample times, and per packet (last counter, host arrival) for a drifting device on a jittery link.

    Arrival = next connection event after the packet is ready + constant latency + exponential host delay
    (mean ``JITTER_SCALE``, clipped at 30 ms) + stalls of 150–400 ms every ~20 s that hold every packet back.
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
