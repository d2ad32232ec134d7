"""Commands of the simulated sensors through the real bleak API: the profile's start/stop/tare/set-rate/identify
with their ATT errors and status, the Progressor's and the WitMotion's own commands, scripts switched at run time."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest
from bleak.exc import BleakGATTProtocolError

from drivers.ble.transport import open_transport
from drivers.codecs import DeviceMessage, sig_battery, tindeq, witmotion
from drivers.codecs import kinetics_profile as profile
from drivers.devices import device_kind
from drivers.sim import SimulatedSensor, default_script
from drivers.sim.listener import StreamListener
from drivers.sim.signals import counter_ramp, efforts

T = TypeVar("T")
Op = profile.Opcode


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


async def attempt(probe: StreamListener, data: bytes) -> int:
    """Write a command; the ATT error code it was answered with (0: success)."""
    try:
        await probe.write(data)
    except BleakGATTProtocolError as error:
        return int(error.code)
    return 0


def test_profile_layout_status_errors_rate_change_and_identify() -> None:
    kind = device_kind("grip")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(ble, kind, speed=4.0) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                layout = profile.decode_layout(await probe.read(kind.layout_uuid))
                assert (layout.kind_code, layout.value_bytes) == (2, 3)
                assert layout.lsb == pytest.approx((0.01,), rel=1e-7)  # float32 on air
                idle = profile.decode_status(await probe.read(kind.status_uuid))
                assert (idle.state, idle.rate) == (profile.State.IDLE, 1000)
                # malformed commands get the profile's ATT errors, and say so in the status
                assert await attempt(probe, b"\x7f") == profile.AttError.UNKNOWN_OPCODE
                assert await attempt(probe, b"\x04\xe8") == profile.AttError.BAD_LENGTH
                assert await attempt(probe, profile.encode_command(Op.SET_RATE, 300)) == (
                    profile.AttError.RATE_NOT_SUPPORTED
                )
                await asyncio.sleep(0.05)
                status = profile.decode_status(await probe.read(kind.status_uuid))
                assert (status.last_opcode, status.last_result) == (Op.SET_RATE, profile.AttError.RATE_NOT_SUPPORTED)

                await probe.start()
                assert await attempt(probe, profile.encode_command(Op.SET_RATE, 200)) == profile.AttError.NOT_ALLOWED
                await asyncio.sleep(0.1)
                await probe.stop()
                n_first = probe.counters().size
                # idle: the rate changes and the counter restarts at 0
                assert await attempt(probe, profile.encode_command(Op.SET_RATE, 200)) == 0
                assert sensor.rate == 200.0
                assert await attempt(probe, profile.encode_command(Op.IDENTIFY, 5)) == 0
                assert sensor.identifying
                await probe.start()
                await asyncio.sleep(0.3)
                await probe.stop()
                await asyncio.sleep(0.05)
                status = profile.decode_status(await probe.read(kind.status_uuid))
                assert (status.state, status.rate, status.last_result) == (profile.State.IDLE, 200, 0)

            after = probe.counters()[n_first:]
            log = sensor.sent()
            assert after[0] < 20 and np.array_equal(np.diff(after), np.ones(after.size - 1, dtype=np.int64))
            # the new samples are the scenario sampled at 200 Hz, and 200 of them span 1 s of device time
            assert np.allclose(np.diff(log.device_time[n_first:]), 1 / 200.0, rtol=0, atol=1e-9)
            measured = sensor.script.values(int(after[0]), after.size)
            assert sensor.script.rate == 200.0
            expected = np.rint(measured / 0.01) * 0.01
            assert np.array_equal(probe.values()[:, n_first:], expected.astype(np.float32))

    run(scenario())


def test_profile_tare_zeroes_the_force_over_the_next_samples() -> None:
    kind = device_kind("push")
    script = efforts(kind.rate, fmax=(100.0,), zero_offset=12.5, noise_sd=0.5, lead=2.0, seed=4)

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=4.0, script=script
        ) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                states: list[profile.State] = []
                await probe.connected_client.start_notify(
                    kind.status_uuid, lambda _c, d: states.append(profile.decode_status(bytes(d)).state)
                )
                sensor.set_script(script)  # its quiet lead starts now
                await probe.start()
                assert await attempt(probe, profile.encode_command(Op.TARE, 200)) == 0
                assert sensor.taring
                await asyncio.sleep(0.25)
                await probe.stop()
            assert profile.State.TARING in states and not sensor.taring
            log = sensor.sent()
            first = int(log.counters[0]) - sensor.script_origin
            raw = script.values(first, log.counters.size)[0]
            quiet = script.clean(first, log.counters.size)[0] == 12.5
            offset = sensor.tare_offset[0]
            # the offset is the mean of 200 consecutive raw samples of the quiet lead (12.5 N ± noise)
            assert offset == pytest.approx(12.5, abs=0.2)
            windows = np.convolve(raw, np.ones(200) / 200, mode="valid")
            assert np.min(np.abs(windows - offset)) < 1e-9
            start = int(np.argmin(np.abs(windows - offset)))
            # before the window's end: untared; from it on: raw − offset, to the lsb
            values = probe.values()[0]
            end = start + 200
            assert np.array_equal(values[:end], (np.rint(raw[:end] / 0.01) * 0.01).astype(np.float32))
            assert np.array_equal(values[end:], (np.rint((raw[end:] - offset) / 0.01) * 0.01).astype(np.float32))
            assert quiet[end] and abs(float(np.mean(values[end:][quiet[end:]]))) < 0.2

    run(scenario())


def test_battery_level_is_read_and_notified() -> None:
    kind = device_kind("plate")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(ble, kind, battery=64) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                assert sig_battery.decode_battery_level(await probe.read(sig_battery.BATTERY_LEVEL_UUID)) == 64
                levels: asyncio.Queue[int] = asyncio.Queue()
                await probe.connected_client.start_notify(
                    sig_battery.BATTERY_LEVEL_UUID,
                    lambda _c, d: levels.put_nowait(sig_battery.decode_battery_level(bytes(d))),
                )
                sensor.set_battery(9)
                assert await asyncio.wait_for(levels.get(), 1.0) == 9
                await asyncio.sleep(0.05)
                status = profile.decode_status(await probe.read(kind.status_uuid))
                assert status.flags & profile.StatusFlag.LOW_BATTERY
                serial = await probe.read(sig_battery.DIS_STRINGS["serial"])
                assert sig_battery.decode_string(serial) == sensor.serial

    run(scenario())


def test_progressor_answers_its_commands_on_the_data_characteristic() -> None:
    kind = device_kind("tindeq-progressor")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=4.0, battery=50
        ) as sensor:
            async with StreamListener(ble, kind, name=sensor.name) as probe:
                assert sensor.name.startswith("Progressor")
                await probe.write(tindeq.encode_command(tindeq.Command.GET_BATTERY_VOLTAGE))
                assert tindeq.battery_millivolts(await probe.next_message()) == 3300 + 9 * 50
                await probe.write(tindeq.encode_command(tindeq.Command.GET_APP_VERSION))
                assert tindeq.response_text(await probe.next_message()) == "1.2.3-sim"
                await probe.write(tindeq.encode_command(tindeq.Command.GET_PROGRESSOR_ID))
                assert (await probe.next_message()).data == sensor.serial.encode()
                await probe.write(b"\x99")  # not a command: ignored, like the real device
                assert sensor.bad_commands == 1
                await probe.start()
                await probe.write(tindeq.encode_command(tindeq.Command.TARE))
                assert sensor.taring
                await asyncio.sleep(0.3)
                await probe.stop()
            assert not sensor.taring and sensor.tare_offset[0] != 0.0
            assert probe.errors == [] and all(isinstance(m, DeviceMessage) for m in probe.messages)
            assert np.array_equal(probe.values(), sensor.sent_values().astype(np.float32))

    run(scenario())


def test_witmotion_reads_registers_and_changes_rate_only_when_unlocked() -> None:
    kind = device_kind("witmotion-bwt901")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(
            ble, kind, speed=2.0, battery=100
        ) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                await probe.write(witmotion.read_register(witmotion.REG_BATTERY))
                message = await probe.next_message()
                assert message.kind == "register" and message.fields["reg_0x64"] == 420  # 4.20 V in 0.01 V
                await probe.write(witmotion.set_rate(50.0))  # locked: ignored
                await asyncio.sleep(0.05)
                assert sensor.rate == 100.0
                for command in (witmotion.unlock(), witmotion.set_rate(50.0), witmotion.save()):
                    await probe.write(command)
                await asyncio.sleep(0.05)
                assert sensor.rate == 50.0
                await probe.write(witmotion.read_register(witmotion.REG_RATE))
                assert (await probe.next_message()).fields["reg_0x03"] == witmotion.RATE_CODES[50.0]
                sensor.pause_sending()
                await probe.barrier()
            assert probe.errors == []
            assert np.array_equal(probe.values(), sensor.sent_values().astype(np.float32))

    run(scenario())


def test_set_script_switches_the_scenario_at_the_next_sample() -> None:
    kind = device_kind("pneumatic")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(ble, kind, speed=5.0) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                await probe.start()
                await asyncio.sleep(0.2)
                ramp = counter_ramp(kind.rate, step=7.0, modulo=50, offset=1000.0)
                sensor.set_script(ramp)
                origin = sensor.script_origin
                await asyncio.sleep(0.3)
                await probe.stop()
            counters, values = probe.counters(), probe.values()[0]
            switched = counters >= origin
            assert switched.any() and (~switched).any()
            expected = ramp.values(0, int(switched.sum()))[0]
            assert expected[0] == 1000.0
            assert np.array_equal(values[switched], expected.astype(np.float32))
            # before the switch: the kind's default scenario (bulb squeezes) at the sensor's own counters
            early = counters[~switched]
            default = default_script(kind).values(int(early[0]), early.size)[0]
            assert np.array_equal(values[~switched], np.rint(default).astype(np.float32))

    run(scenario())


def test_a_profile_sensor_does_not_stream_before_the_start_command() -> None:
    kind = device_kind("pull")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(ble, kind, speed=5.0) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                await asyncio.sleep(0.15)
                assert probe.packets == [] and not sensor.streaming
                before = sensor.counter
                await probe.start()
                await asyncio.sleep(0.1)
                await probe.stop()
            # the counter ran while idle: the stream starts where the sensor's clock is, not at 0
            assert probe.counters()[0] >= before > 0
            assert sensor.sent().packets == len(probe.packets) > 0

    run(scenario())


def test_struct_of_the_weight_scale_feature_announces_bmi_and_resolutions() -> None:
    kind = device_kind("ble-weight-scale")

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(ble, kind) as sensor:
            async with StreamListener(ble, kind, address=sensor.address) as probe:
                (feature,) = struct.unpack("<I", await probe.read("00002a9e-0000-1000-8000-00805f9b34fb"))
            assert feature & 0x04 and (feature >> 3) & 0x0F == 7 and (feature >> 7) & 0x07 == 3

    run(scenario())
