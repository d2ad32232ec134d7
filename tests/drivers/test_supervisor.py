"""Device supervisor, pure part: counters unwrapped, gaps exact, malformed packets counted, drift corrected.

These tests feed notifications straight into ``DeviceSupervisor.feed`` (what its bleak notification handler
calls), so they need no radio. The live tests over the virtual radio are in test_acquisition.py.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ble.scanning import SharedScanner
from drivers.ble.transport import BleTransport
from drivers.codecs.kinetics_profile import encode_data, layout_for, packetize
from drivers.codecs.tindeq import encode_weights
from drivers.devices import device_kind
from drivers.session_clock import SessionClock
from drivers.supervisor import DeviceSupervisor, LinkState, TimedBlock, kind_filter, start_command
from kinetics.trial import Gap

PLATE = device_kind("plate")
PUSH = device_kind("push")


class Sink:
    """Collects what a supervisor hands on."""

    def __init__(self) -> None:
        self.blocks: list[TimedBlock] = []
        self.live: list[TimedBlock] = []
        self.gaps: list[Gap] = []

    @property
    def counters(self) -> np.ndarray:
        return np.concatenate([b.counter for b in self.blocks]) if self.blocks else np.zeros(0, np.int64)

    @property
    def times(self) -> np.ndarray:
        return np.concatenate([b.time for b in self.blocks]) if self.blocks else np.zeros(0)

    @property
    def values(self) -> np.ndarray:
        return np.concatenate([b.values for b in self.blocks], axis=1)


def offline(kind_key: str = "push", **kwargs: object) -> tuple[DeviceSupervisor, Sink]:
    """A supervisor fed by hand (transport and scanner are never touched by ``feed``)."""
    sink = Sink()
    sup = DeviceSupervisor(
        BleTransport("os", "os"),
        device_kind(kind_key),
        name=kind_key,
        scanner=cast(SharedScanner, None),
        clock=SessionClock(),
        on_block=sink.blocks.append,
        on_live=sink.live.append,
        on_gap=lambda _name, gap: sink.gaps.append(gap),
        **kwargs,  # type: ignore[arg-type]
    )
    return sup, sink


def push_values(counter: np.ndarray) -> np.ndarray:
    """A push force (N) per counter, exact on the 0.01 N grid."""
    return (np.rint((200.0 + 150.0 * np.sin(counter / 300.0)) * 100) / 100)[None, :]


def test_counters_in_order_gap_marked_exactly_and_values_decoded() -> None:
    sup, sink = offline("push", settle_span_s=1.0)
    layout = layout_for(PUSH)
    counters = np.arange(5000)
    lost = (counters >= 2000) & (counters < 2140)  # 7 packets, 140 samples, never arrive
    for first in range(0, 5000, 20):
        c = counters[first : first + 20]
        if lost[c].all():
            continue
        # 1 kHz, packets of 20, arriving 15 ms after their last sample
        sup.feed(encode_data(first, push_values(c), layout), arrival=(first + 19) / 1000 + 0.015)
    sup.flush_pending()
    assert sink.gaps and len(sink.gaps) == 1
    gap = sink.gaps[0]
    assert (gap.first_missing, gap.last_missing) == (2000, 2139)
    got = sink.counters
    expected = counters[~lost]
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(sink.values[0], push_values(expected)[0], atol=1e-4)
    # times come from the counter, not the arrival: 1 ms apart, gap edges at the neighbouring samples
    np.testing.assert_allclose(np.diff(sink.times[:1999]), 1e-3, atol=1e-6)
    i = int(np.searchsorted(got, 2140))
    assert gap.start == pytest.approx(sink.times[i - 1], abs=1e-9)
    assert gap.end == pytest.approx(sink.times[i], abs=1e-9)
    status = sup.status()
    assert (status.samples, status.gaps, status.missing_samples, status.decode_errors) == (5000 - 140, 1, 140, 0)
    assert status.state is LinkState.STOPPED


def test_counter_wrap_at_2_32_is_followed_and_duplicates_dropped() -> None:
    sup, sink = offline("push", settle_span_s=0.5)
    layout = layout_for(PUSH)
    start = 2**32 - 700
    packets = [(start + i, (start + i + np.arange(20)) % 2**32) for i in range(0, 1400, 20)]
    for k, (first, _c) in enumerate(packets):
        sup.feed(encode_data(first % 2**32, np.full((1, 20), 5.0), layout), arrival=k * 0.02 + 0.03)
        if k == 10:  # the same packet twice (a retransmission after a reconnect)
            sup.feed(encode_data(first % 2**32, np.full((1, 20), 5.0), layout), arrival=k * 0.02 + 0.031)
    sup.flush_pending()
    np.testing.assert_array_equal(sink.counters, start + np.arange(1400))
    assert sink.gaps == [] and sup.status().decode_errors == 0


def test_malformed_and_truncated_notifications_are_counted_never_raised() -> None:
    sup, sink = offline("plate", settle_span_s=0.5)
    layout = layout_for(PLATE)
    rng = np.random.default_rng(3)
    good = packetize(0, rng.normal(300, 5, (4, 1000)), layout, mtu=247, rate=1000.0)
    bad = 0
    for k, packet in enumerate(good):
        sup.feed(packet, arrival=k * 0.019 + 0.02)
        for junk in (packet[:20], b"", bytes(rng.integers(0, 256, 7, dtype=np.uint8)), packet[:5]):
            sup.feed(junk, arrival=k * 0.019 + 0.021)
            bad += 1
    sup.flush_pending()
    np.testing.assert_array_equal(sink.counters, np.arange(1000))
    assert sup.status().decode_errors == bad
    assert sink.gaps == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=260), max_size=30))
def test_random_notifications_never_crash_the_supervisor(payloads: list[bytes]) -> None:
    sup, sink = offline("plate", settle_span_s=0.5)
    for k, p in enumerate(payloads):
        sup.feed(p, arrival=0.01 * k)
    sup.flush_pending()
    status = sup.status()
    assert status.samples + 0 == sum(b.n_samples for b in sink.live)
    assert status.decode_errors <= len(payloads)
    # whatever got through is strictly increasing (what the trial writer demands)
    assert np.all(np.diff(sink.counters) > 0)


def test_drift_of_150_ppm_is_corrected_at_supervisor_level() -> None:
    """Recording-grade times stay within 1 ms of true time + one constant, with 150 ppm drift and jitter.

    A push at MTU 23 (4 samples per packet) for 2 minutes; the 10-minute case of the mapper alone is in
    test_clock.py. Uncorrected, 150 ppm would put the last sample 18 ms late.
    """
    sup, sink = offline("push")
    layout = layout_for(PUSH)
    rng = np.random.default_rng(11)
    rate, per, seconds, drift = 1000.0, 4, 120.0, 150e-6
    n = int(seconds * rate)
    true_t = 2.0 + np.arange(n) * (1.0 + drift) / rate
    last = np.arange(per - 1, n, per)
    ci = 0.0075
    phase = 0.0031
    latency = 0.012
    event = np.ceil((true_t[last] - phase) / ci) * ci + phase
    arrival = event + latency + np.minimum(rng.exponential(0.002, last.size), 0.03)
    arrival = np.maximum.accumulate(arrival)
    values = np.zeros((1, per))
    for j, a in zip(last.tolist(), arrival.tolist(), strict=True):
        sup.feed(encode_data(j - per + 1, values, layout), arrival=a)
    sup.flush_pending()
    np.testing.assert_array_equal(sink.counters, np.arange(n))
    err = sink.times - (true_t + latency)
    constant = float(np.median(err))  # the constant link latency is not observable from one side
    assert abs(constant) < 1e-3
    assert np.max(np.abs(err - constant)) < 1e-3
    assert abs(err[:10_000].mean() - err[-10_000:].mean()) < 2e-4
    assert abs(sup.status().drift_ppm - 150.0) < 5.0


def test_tindeq_samples_are_timed_by_the_device_microsecond_clock() -> None:
    sup, sink = offline("tindeq-progressor", settle_span_s=2.0)
    period = 1 / 80.0
    t = np.arange(800) * period
    force = 100.0 + 10.0 * np.sin(t)
    for first in range(0, 800, 4):
        sl = slice(first, first + 4)
        # the µs field wraps at 2**32: start near it
        frame = encode_weights(force[sl], (t[sl] + 4294.0) % 4294.967296)
        sup.feed(frame, arrival=t[first + 3] + 0.02 + 0.001 * (first % 3))
    sup.flush_pending()
    np.testing.assert_array_equal(sink.counters, np.arange(800))
    np.testing.assert_allclose(np.diff(sink.times), period, atol=1e-6)
    np.testing.assert_allclose(sink.values[0], force, rtol=1e-6)


def test_scanner_filter_and_start_commands_per_kind() -> None:
    from bleak.backends.device import BLEDevice
    from bleak.backends.scanner import AdvertisementData

    def adv(name: str, services: list[str]) -> AdvertisementData:
        return AdvertisementData(name, {}, {}, services, None, -50, ())

    dev = BLEDevice("F0:00:00:00:00:01", "x", None)
    assert kind_filter(PLATE)(dev, adv("KN-Plate-01L", [PLATE.service_uuid]))
    assert not kind_filter(PLATE)(dev, adv("KN-Plate-01L", [PUSH.service_uuid]))
    assert not kind_filter(PUSH)(dev, adv("KN-Plate-01L", [PLATE.service_uuid]))
    tindeq = device_kind("tindeq-progressor")
    assert kind_filter(tindeq)(dev, adv("Progressor_7125", []))
    assert start_command(PLATE) == b"\x01"
    assert start_command(tindeq) == b"\x65"
    assert start_command(device_kind("ble-force")) is None


def test_session_clock_scales_host_time() -> None:
    now = [100.0]
    clock = SessionClock(lambda: now[0], speed=5.0)
    now[0] = 102.0
    assert clock.now() == 10.0
    assert clock.from_host(101.0) == 5.0
    assert clock.to_host(10.0) == 102.0
    assert clock.host_seconds(30.0) == 6.0
