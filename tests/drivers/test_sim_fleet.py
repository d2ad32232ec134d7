"""A fleet of simulated sensors: roles and names, two plates under one person, several streams at once through
the real bleak API."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest

from drivers.ble.transport import open_transport
from drivers.devices import device_kind
from drivers.sim import SensorFaults, SimulatedFleet, fleet_roles
from drivers.sim.listener import StreamListener
from drivers.sim.signals import LoopedScript, body_sway
from kinetics._checks import KineticsInputError
from kinetics.simulate.jumps import simulate_cmj

T = TypeVar("T")
G = 9.80665
CELLS = device_kind("plate").geometry["cell_positions"]


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 25.0) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def cop(cells: np.ndarray, offset_x: float = 0.0) -> np.ndarray:
    """COP (2, n) = Σ Fᵢ·rᵢ / Σ Fᵢ of 4 cell forces (4, n), in a frame whose origin is ``offset_x`` m to the left."""
    total = cells.sum(axis=0)
    return np.stack([(CELLS[:, 0] @ cells) / total + offset_x, (CELLS[:, 1] @ cells) / total])


def test_roles_name_two_plates_left_and_right_and_number_repeats() -> None:
    assert fleet_roles(["plate", "plate", "push", "goniometer"]) == ["plate_left", "plate_right", "push", "goniometer"]
    assert fleet_roles(["plate", "push", "push"]) == ["plate", "push", "push_2"]
    assert fleet_roles(["plate", "plate", "plate"]) == ["plate", "plate_2", "plate_3"]


def test_four_sensors_stream_at_once_and_the_plates_carry_one_person() -> None:
    kinds = ["plate", "plate", "push", "goniometer"]
    mass = 64.0

    async def scenario() -> None:
        async with await open_transport("virtual") as ble, SimulatedFleet(
            ble, kinds, speed=4.0, seed=11, body_mass=mass, faults={"push": SensorFaults(mtu=23)}
        ) as fleet:
            left, right = fleet.sensor("plate_left"), fleet.sensor("plate_right")
            assert left.name.startswith("KN-Plate") and left.name.endswith("-L") and right.name.endswith("-R")
            assert fleet.sensor("push").faults.mtu == 23 and left.faults.mtu is None
            probes = [StreamListener(ble, s.kind, address=s.address) for s in fleet.sensors]
            for probe in probes:
                await probe.connect()
            await asyncio.gather(*(p.start() for p in probes))
            await asyncio.sleep(1.0)
            await asyncio.gather(*(p.stop() for p in probes))
            for probe in probes:
                await probe.disconnect()

            for sensor, probe in zip(fleet.sensors, probes, strict=True):
                log = sensor.sent()
                assert log.counters.size >= 0.9 * 4.0 * sensor.rate
                assert probe.errors == []
                assert np.array_equal(probe.counters(), log.counters)
                assert np.array_equal(probe.values(), log.values.astype(np.float32))

            # one clock origin: sample k of both plates is the same instant, so the plates can be combined by counter
            counters = np.intersect1d(left.sent_counters(), right.sent_counters())
            assert counters.size > 2000
            first = int(counters[0])
            clean_l = left.script.clean(first, counters.size)  # type: ignore[attr-defined]
            clean_r = right.script.clean(first, counters.size)  # type: ignore[attr-defined]
            assert np.allclose(clean_l.sum(axis=0) + clean_r.sum(axis=0), mass * G, rtol=0, atol=1e-9)
            half = left.script.truth["half_width"]  # type: ignore[attr-defined]
            load_l, load_r = clean_l.sum(axis=0), clean_r.sum(axis=0)
            combined = (load_l * cop(clean_l, -half) + load_r * cop(clean_r, +half)) / (load_l + load_r)
            sway = body_sway(1000.0, person_seed=11)
            index = (first + np.arange(counters.size)) % sway.shape[1]
            assert np.allclose(combined, sway[:, index], rtol=0, atol=1e-12)

            # what the central received: loads add up to body weight and the COP follows the sway, ± the cells'
            # 0.5 N noise (≈ 0.5 mm of COP noise)
            log_l, log_r = left.sent(), right.sent()
            got_l = probes[0].values()[:, np.isin(log_l.counters, counters)].astype(np.float64)
            got_r = probes[1].values()[:, np.isin(log_r.counters, counters)].astype(np.float64)
            total = got_l.sum(axis=0) + got_r.sum(axis=0)
            assert abs(total.mean() - mass * G) < 0.2 and total.std() < 3.0
            measured = (got_l.sum(axis=0) * cop(got_l, -half) + got_r.sum(axis=0) * cop(got_r, +half)) / total
            assert np.sqrt(np.mean((measured - sway[:, index]) ** 2)) < 1e-3

    run(scenario())


def test_plate_scenario_switches_both_plates_to_the_same_jumps() -> None:
    async def scenario() -> None:
        async with await open_transport("virtual") as ble:
            fleet = SimulatedFleet(ble, ["plate", "plate"], body_mass=80.0)
            fleet.set_plate_scenario("cmj", flight_time=0.45, left_share=0.45, noise_sd=0.0)
            left, right = fleet.sensors
            assert isinstance(left.script, LoopedScript) and isinstance(right.script, LoopedScript)
            jump = simulate_cmj(fs=1000.0, body_mass=80.0, flight_time=0.45, quiet_time=2.0, after_time=2.0)
            n = jump.force.size
            assert left.script.period_trace.shape[1] == n
            total = left.script.values(0, n).sum(axis=0) + right.script.values(0, n).sum(axis=0)
            assert np.allclose(total, jump.force, rtol=0, atol=1e-9)
            assert np.allclose(left.script.values(0, n).sum(axis=0), 0.45 * jump.force, rtol=0, atol=1e-9)
            assert left.script.truth["jump_height"] == pytest.approx(G * 0.45**2 / 8)
            with pytest.raises(KineticsInputError, match="scenario"):
                fleet.set_plate_scenario("hop")  # type: ignore[arg-type]
            with pytest.raises(KineticsInputError, match="role"):
                fleet.sensor("plate")

    run(scenario())
