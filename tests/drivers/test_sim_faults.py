"""Fault knobs of the simulated sensors, seen through the real bleak API: MTU 23, packet loss, a dropped link
and re-advertising, clock drift, saturation."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest

from drivers.ble.transport import open_transport
from drivers.codecs import DecodeError
from drivers.codecs import kinetics_profile as profile
from drivers.devices import device_kind
from drivers.sim import SensorFaults, SimulatedSensor
from drivers.sim.listener import StreamListener
from drivers.sim.signals import counter_ramp, efforts
from kinetics._checks import KineticsInputError

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def test_mtu_23_packs_one_plate_sample_per_20_byte_notification_and_loses_none() -> None:
    kind = device_kind("plate")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=2.0, faults=SensorFaults(mtu=23)
        ) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                assert probe.connected_client.mtu_size == 23
                await probe.start()
                await asyncio.sleep(0.5)
                await probe.stop()
            log = sensor.sent()
            assert log.counters.size >= 800
            assert {len(p) for p in probe.packets} == {profile.HEADER_BYTES + 12}  # 18 of the 20 bytes
            assert log.packets == log.counters.size == len(probe.packets)
            assert probe.errors == []
            assert np.array_equal(probe.counters(), log.counters)
            assert np.array_equal(probe.values(), log.values.astype(np.float32))

    run(scenario())


def test_a_progressor_at_mtu_23_arrives_cut_to_20_bytes_and_every_frame_is_a_decode_error() -> None:
    kind = device_kind("tindeq-progressor")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=4.0, faults=SensorFaults(mtu=23)
        ) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                await probe.start()
                await asyncio.sleep(0.4)
                await probe.stop()
            log = sensor.sent()
            assert log.packets >= 5
            assert len(probe.packets) == log.packets and {len(p) for p in probe.packets} == {20}
            assert len(probe.errors) == log.packets and probe.blocks == []
            assert all(isinstance(e, DecodeError) and "truncated" in str(e) for e in probe.errors)

    run(scenario())


def test_packet_loss_removes_exactly_the_lost_counters() -> None:
    kind = device_kind("push")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=10.0, faults=SensorFaults(packet_loss=0.25), seed=7
        ) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                await probe.start()
                await asyncio.sleep(0.5)
                await probe.stop()
            log = sensor.sent()
            assert 0.1 < log.lost.mean() < 0.4
            received = probe.counters()
            assert np.array_equal(received, log.counters[~log.lost])
            assert np.array_equal(probe.values(), log.values[:, ~log.lost].astype(np.float32))
            assert np.array_equal(sensor.lost_counters(), np.setdiff1d(log.counters, received))

    run(scenario())


def test_a_dropped_link_leaves_an_exact_counter_gap_and_the_sensor_can_be_reconnected_at_once() -> None:
    kind = device_kind("goniometer")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=4.0, faults=SensorFaults(drop_link_at=1.0)
        ) as sensor:
            first = StreamListener(ble, kind, address=sensor.address)
            await first.connect()
            await first.start()
            await first.wait_disconnected(timeout=2.0)
            lost_at = loop.time()
            assert sensor.link_drops and sensor.link_drops[0][0] == pytest.approx(1.0, abs=1e-9)
            cut = sensor.link_drops[0][1]

            second = StreamListener(ble, kind, address=sensor.address)
            await second.connect()
            assert loop.time() - lost_at < 2.0  # re-advertised and reconnected within 2 s
            await second.start()
            await asyncio.sleep(0.5)
            await second.stop()
            await second.disconnect()

            log = sensor.sent()
            before, after = first.counters(), second.counters()
            # every sample before the drop time went out and arrived; the last one is the one before the cut
            assert before[-1] == cut - 1
            assert np.array_equal(before, log.counters[: before.size])
            stream_start = log.device_time[0]
            assert log.device_time[before.size - 1] < stream_start + 1.0 <= log.device_time[before.size] + 1e-9
            # then a gap (samples taken while nobody listened) and a contiguous stream again
            assert after[0] > cut
            assert np.array_equal(after, log.counters[before.size :])
            assert np.array_equal(np.diff(after), np.ones(after.size - 1, dtype=np.int64))
            received = np.concatenate([first.values(), second.values()], axis=1)
            assert np.array_equal(received, log.values.astype(np.float32))
            assert sensor.peripheral.stats.links_dropped == 1 and first.disconnections == 1

    run(scenario())


def test_clock_drift_stretches_the_true_sample_period_by_the_ppm() -> None:
    kind = device_kind("tindeq-progressor")
    ppm = 5000.0  # large, so that the stretch stands far above float rounding over 0.5 s

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=4.0, faults=SensorFaults(drift_ppm=ppm)
        ) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                await probe.start()
                await asyncio.sleep(0.5)
                await probe.stop()
            log = sensor.sent()
            # the device's own clock (the µs field the central received) ticks the nominal period ...
            received = probe.device_times()
            assert received is not None
            assert np.allclose(np.diff(received), 1 / kind.rate, atol=1.5e-6, rtol=0)
            # ... while the samples are truly taken (1 + ppm·1e-6) × that apart, in wall seconds / speed
            true_period = np.diff(log.host_time) * sensor.speed
            assert np.allclose(true_period, (1 + ppm * 1e-6) / kind.rate, atol=1e-9, rtol=0)  # the stretch: 62.5 µs

    run(scenario())


def test_saturation_sends_the_profile_saturation_code_and_flags_it_in_the_status() -> None:
    kind = device_kind("push")
    layout = profile.layout_for(kind)

    async def scenario() -> None:
        script = efforts(kind.rate, fmax=(150.0,), rise=0.5, release=0.1, rest=0.2, lead=0.2, noise_sd=0.0)
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=4.0, script=script, faults=SensorFaults(saturate_at=100.0)
        ) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                statuses: list[profile.Status] = []
                await probe.connected_client.start_notify(
                    kind.status_uuid, lambda _c, d: statuses.append(profile.decode_status(bytes(d)))
                )
                await probe.start()
                await asyncio.sleep(0.5)
                await probe.stop()
            log = sensor.sent()
            measured = script.values(int(log.counters[0]), log.counters.size)[0]
            values = probe.values()[0]
            over = measured >= 100.0
            assert over.any() and (~over).any()
            assert np.all(values[over] == np.float32(layout.full_scale[0]))
            assert np.array_equal(values[~over], log.values[0, ~over].astype(np.float32))
            assert np.all(values[~over] < 100.0)
            assert any(s.flags & profile.StatusFlag.SATURATED for s in statuses)

    run(scenario())


def test_sig_force_clips_at_the_front_end_range() -> None:
    kind = device_kind("ble-force")

    async def scenario() -> None:
        script = counter_ramp(kind.rate, step=10.0, modulo=30)
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=10.0, script=script, faults=SensorFaults(saturate_at=150.0)
        ) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                await probe.start()
                await asyncio.sleep(0.5)
                sensor.pause_sending()
                await probe.barrier()
            log = sensor.sent()
            expected = np.minimum(script.values(int(log.counters[0]), log.counters.size)[0], 150.0)
            assert log.counters.size >= 30
            assert np.array_equal(probe.values()[0], expected.astype(np.float32))

    run(scenario())


@pytest.mark.parametrize(
    ("field", "value"),
    [("drop_link_at", -1.0), ("mtu", 22), ("mtu", 518), ("packet_loss", 1.5), ("saturate_at", 0.0),
     ("drift_ppm", float("nan"))],
)
def test_impossible_faults_are_refused_with_a_clear_error(field: str, value: float) -> None:
    with pytest.raises(KineticsInputError, match=field):
        SensorFaults(**{field: value})  # type: ignore[arg-type]


def test_a_simulated_sensor_needs_the_virtual_radio() -> None:
    from drivers.ble.transport import BleTransport

    with pytest.raises(KineticsInputError, match="virtual radio"):
        SimulatedSensor(BleTransport("os", "os"), "push")
