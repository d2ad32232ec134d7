"""Every kind of simulated sensor streams through the real bleak API over the virtual radio: every sample arrives,
in order, and decodes to exactly what the sensor sent (and what its script says it measured)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest
from bleak import BleakScanner

from drivers.ble.transport import open_transport
from drivers.codecs import sig_battery
from drivers.devices import all_kinds, device_kind
from drivers.sim import SimulatedSensor
from drivers.sim.frontend import framer_for
from drivers.sim.listener import StreamListener, stop_command

T = TypeVar("T")

KINDS = [k.key for k in all_kinds()]
# device seconds streamed and speed-up per kind: a few seconds of device time, about 0.6 s of wall time each
PLAN = {
    "push": (3.0, 5.0),
    "grip": (3.0, 5.0),
    "pull": (3.0, 5.0),
    "pneumatic": (3.0, 5.0),
    "goniometer": (3.0, 5.0),
    "plate": (3.0, 5.0),
    "tindeq-progressor": (3.0, 5.0),
    "witmotion-bwt901": (3.0, 5.0),
    "ble-force": (6.0, 10.0),
    "ble-weight-scale": (6.0, 10.0),
}


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def test_the_plan_covers_every_kind_of_the_device_table() -> None:
    assert set(PLAN) == set(KINDS)


@pytest.mark.parametrize("key", KINDS)
def test_every_sample_arrives_in_order_and_decodes_to_what_the_sensor_sent(key: str) -> None:
    seconds, speed = PLAN[key]
    kind = device_kind(key)

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedSensor(ble, key, speed=speed, seed=3) as s:
            # found as the central's scanner finds it: by advertised service, or by name prefix for the Progressor
            found = await BleakScanner.find_device_by_filter(
                lambda _d, adv: (adv.local_name or "").startswith(kind.name_prefix)
                and (kind.key == "tindeq-progressor" or kind.service_uuid in adv.service_uuids),
                timeout=3.0,
                **ble.scanner_kwargs(),
            )
            assert found is not None and found.address == s.address
            async with StreamListener(ble, kind, address=s.address) as probe:
                await probe.start()
                await asyncio.sleep(seconds / speed)
                if stop_command(kind) is not None:
                    await probe.stop()  # its response comes after every notification sent before it
                else:
                    s.pause_sending()  # no stop command: the sensor falls silent, a read round trip flushes the link
                    await probe.barrier()
                log = s.sent()

                assert probe.errors == []
                assert log.packets == len(probe.packets) and not log.lost.any()
                # a few seconds of device time, all of it sent: no counter gap
                assert log.counters.size >= int(0.9 * seconds * kind.rate)
                assert np.array_equal(np.diff(log.counters), np.ones(log.counters.size - 1, dtype=np.int64))
                # exactly what was sent, in order, bit for bit at the codec's float32
                values = probe.values()
                assert values.shape == log.values.shape
                assert np.array_equal(values, log.values.astype(np.float32), equal_nan=True)
                if kind.timing == "counter":
                    assert np.array_equal(probe.counters(), log.counters)
                if kind.timing == "device_time":  # the Progressor's µs clock
                    times = probe.device_times()
                    assert times is not None
                    assert np.array_equal(np.rint(times * 1e6), np.rint(log.device_time * 1e6))
                    assert np.allclose(np.diff(log.device_time), 1.0 / kind.rate, rtol=0, atol=1e-9)
                # and what was sent is what the script measured, through the protocol's front end
                measured = s.script.values(int(log.counters[0]) - s.script_origin, log.counters.size)
                on_air, _ = framer_for(kind).on_air(measured, None)
                assert np.array_equal(on_air, log.values, equal_nan=True)
                # the SIG services a kind declares are there
                if kind.battery_service:
                    assert sig_battery.decode_battery_level(await probe.read(sig_battery.BATTERY_LEVEL_UUID)) == 87
                if kind.device_information:
                    model = await probe.read(sig_battery.DIS_STRINGS["model"])
                    assert sig_battery.decode_string(model) == kind.model

    run(scenario())
