"""Acquisition over the virtual radio with the real bleak API: several devices on one clock, link loss, MTU 23.

The sensors here are small open-profile peripherals built on ``SimulatedPeripheral`` (real Bumble GATT servers
speaking the profile's bytes), paced so that device time runs ``SPEED`` × wall time; the session clock runs at
the same speed, so 30 s of device time take a few seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from drivers.acquisition import Acquisition, DeviceSpec, role_names
from drivers.ble.peripheral import (
    CharacteristicSpec,
    PeripheralFaults,
    ServiceSpec,
    SimulatedPeripheral,
    battery_service,
    device_information_service,
)
from drivers.ble.radio import Radio
from drivers.ble.transport import open_transport
from drivers.codecs.kinetics_profile import (
    Opcode,
    ProfileLayout,
    decode_command,
    encode_layout,
    layout_for,
    packetize,
    samples_per_packet,
)
from drivers.devices import DeviceKind, device_kind
from drivers.packetlog import RecordType, read_log
from drivers.session_clock import SessionClock
from drivers.supervisor import LinkState
from kinetics.io import read_trial
from kinetics.trial import TrialMeta

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 40.0) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def signal(kind: DeviceKind, counter: np.ndarray) -> np.ndarray:
    """Deterministic SI values per counter, exact on each channel's lsb grid: (n_channels, n)."""
    lsb = np.array([c.lsb or 1.0 for c in kind.channels])[:, None]
    ch = np.arange(kind.n_channels)[:, None]
    raw = 300.0 * (1 + ch) + 40.0 * np.sin(counter[None, :] / 97.0 + ch)
    if kind.key == "goniometer":
        raw = raw / 100.0
    return np.rint(raw / lsb) * lsb


class ProfileSensor:
    """An open-profile sensor: streams after START, keeps sampling while disconnected, paced at ``speed``."""

    def __init__(
        self, radio: Radio, kind: str, name: str, *, speed: float, faults: PeripheralFaults | None = None
    ) -> None:
        self.kind = device_kind(kind)
        self.layout: ProfileLayout = layout_for(self.kind)
        self.speed = speed
        self.peripheral = SimulatedPeripheral(
            radio,
            name=name,
            services=[
                ServiceSpec(
                    self.kind.service_uuid,
                    [
                        CharacteristicSpec(self.kind.data_uuid, ("notify",)),
                        CharacteristicSpec(self.kind.command_uuid, ("write",)),
                        CharacteristicSpec(self.kind.status_uuid, ("read", "notify"), bytes(14)),
                        CharacteristicSpec(self.kind.layout_uuid, ("read",), encode_layout(self.layout)),
                    ],
                ),
                battery_service(77),
                device_information_service("Kinetics", self.kind.model, "0001", "1.2.3"),
            ],
            faults=faults,
        )
        self.peripheral.on_write(self.kind.command_uuid, self._on_command)
        self.address = self.peripheral.address
        self.streaming = False
        self.sent: list[np.ndarray] = []  # counters of every notification handed to the link
        self.junk: list[bytes] = []  # malformed notifications to slip in between packets
        self._task: asyncio.Task[None] | None = None

    def _on_command(self, data: bytes) -> None:
        op = decode_command(data).opcode
        if op == Opcode.START:
            self.streaming = True
        elif op == Opcode.STOP:
            self.streaming = False

    async def __aenter__(self) -> ProfileSensor:
        await self.peripheral.start()
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.peripheral.stop()

    @property
    def sent_counters(self) -> np.ndarray:
        return np.concatenate(self.sent) if self.sent else np.zeros(0, np.int64)

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        next_counter = 0
        rate = self.kind.rate
        while True:
            await asyncio.sleep(0.004)
            due = int((loop.time() - t0) * self.speed * rate)
            if due <= next_counter:
                continue
            counters = np.arange(next_counter, due)
            next_counter = due
            if not (self.streaming and self.peripheral.is_subscribed(self.kind.data_uuid)):
                self.streaming = self.streaming and self.peripheral.is_connected
                continue  # sampled but not sent: the counter shows the gap
            per = samples_per_packet(self.layout, self.peripheral.mtu, rate)
            for k, packet in enumerate(
                packetize(int(counters[0]), signal(self.kind, counters), self.layout, self.peripheral.mtu, rate)
            ):
                if self.junk:
                    await self.peripheral.notify(self.kind.data_uuid, self.junk.pop())
                if await self.peripheral.notify(self.kind.data_uuid, packet):
                    self.sent.append(counters[k * per : (k + 1) * per])


def check_device(trial_dev: Any, sensor: ProfileSensor) -> None:
    """Counters contiguous except recorded gaps, values exactly what was sent, times one sample period apart."""
    c = trial_dev.counter
    assert c.size > 0
    covered = set(c.tolist())
    for gap in trial_dev.gaps:
        covered.update(range(gap.first_missing, gap.last_missing + 1))
    assert covered == set(range(int(c[0]), int(c[-1]) + 1))  # every counter is a sample or in a gap
    assert set(c.tolist()) <= set(sensor.sent_counters.tolist())  # nothing invented
    np.testing.assert_array_equal(trial_dev.values, signal(sensor.kind, c).astype(np.float32))
    # times follow the device counter on one line (nominal period; the running fit moves by < 1 ms of session
    # time, i.e. < 1 ms / speed of wall time) and never go back
    slope, offset = np.polyfit(c - c[0], trial_dev.time, 1)
    assert abs(slope * sensor.kind.rate - 1.0) < 1e-3
    # (exact timing under controlled jitter is test_supervisor.py's drift test; here the radio shares 2 busy cores)
    assert np.max(np.abs(trial_dev.time - (offset + slope * (c - c[0])))) < 0.02
    assert np.all(np.diff(trial_dev.time) > 0)


def test_role_names() -> None:
    assert role_names(["plate", "plate", "push", "goniometer"]) == ["plate_left", "plate_right", "push", "goniometer"]
    assert role_names(["push", "push", "push"]) == ["push", "push_2", "push_3"]


def test_four_devices_for_30_s_of_device_time_lose_nothing_on_one_clock(tmp_path: Path) -> None:
    speed = 2.0  # ≈ 420 notifications per wall second: what the in-process radio sustains on 2 busy cores
    seconds = 30.0

    async def scenario() -> None:
        async with await open_transport("virtual") as ble:
            assert ble.radio is not None
            kinds = ["plate", "plate", "push", "goniometer"]
            sensors = [
                ProfileSensor(ble.radio, k, f"{device_kind(k).name_prefix}-{i}", speed=speed)
                for i, k in enumerate(kinds)
            ]
            for s in sensors:
                await s.__aenter__()
            try:
                clock = SessionClock(speed=speed)
                names = role_names(kinds)
                acq = Acquisition(
                    ble,
                    [DeviceSpec(n, k, s.address) for n, k, s in zip(names, kinds, sensors, strict=True)],
                    clock=clock,
                    packet_log_dir=tmp_path / "logs",
                )
                await acq.start()
                assert await acq.wait_streaming(timeout=10.0)
                acq.start_recording(tmp_path / "four.h5", TrialMeta(protocol="test"), duration=seconds)
                assert acq.recorder is not None
                start = acq.recorder.start
                # until every device's samples up to the end have reached the tablet (the radio may lag on a busy
                # machine: what matters here is that nothing is lost, not the pace)
                while any(b.latest(1)[0][-1:].tolist() < [start + seconds] for b in acq.buffers.values()):
                    await asyncio.sleep(0.05)
                path = await acq.stop_recording()
                statuses = {n: acq.status(n) for n in names}
                live = {n: acq.buffers[n].latest(100) for n in names}
                await acq.stop()
            finally:
                for s in sensors:
                    await s.__aexit__(None, None, None)
        trial = read_trial(path)
        assert trial.complete
        assert list(trial.devices) == names
        for name, sensor in zip(names, sensors, strict=True):
            dev = trial.device(name)
            check_device(dev, sensor)
            assert dev.gaps == ()  # no sample lost
            st = statuses[name]
            assert st.state is LinkState.STREAMING and st.gaps == 0 and st.decode_errors == 0
            assert st.battery == 77 and dev.info.firmware == "1.2.3" and dev.info.address == sensor.address
            # the recording spans the requested 30 s of device time on the session clock
            assert dev.time[0] >= start - 1e-9
            assert abs(dev.time[0] - start) < 0.1 and abs(dev.time[-1] - (start + seconds)) < 0.3
            # the 30 s asked for (if the shared CPU makes the in-process radio lag, arrival delays grow and the
            # fitted clock leans by up to a few hundred ppm: allow 0.2 %)
            assert abs(dev.n_samples - seconds * sensor.kind.rate) <= 0.002 * seconds * sensor.kind.rate
            # every sample that reached the tablet during the recording is in the file
            sent = sensor.sent_counters
            inside = sent[(sent >= dev.counter[0]) & (sent <= dev.counter[-1])]
            np.testing.assert_array_equal(dev.counter, inside)
            t_live, v_live = live[name]
            assert v_live.shape == (sensor.kind.n_channels, 100) and np.all(np.diff(t_live) > 0)
        # one session clock: the devices start and end together (within a packet's latency)
        firsts = [trial.device(n).time[0] for n in names]
        lasts = [trial.device(n).time[-1] for n in names]
        assert max(firsts) - min(firsts) < 0.1 and max(lasts) - min(lasts) < 0.1
        # raw packet logs hold every notification, written before decoding
        log = list(read_log(tmp_path / "logs" / "plate_left.knlog"))
        last = trial.device("plate_left").counter[-1]
        before_end = sum(1 for counters in sensors[0].sent if counters[-1] <= last)
        assert sum(p.type == RecordType.NOTIFICATION for p in log) >= before_end
        assert any(p.type == RecordType.WRITE and p.payload == b"\x01" for p in log)

    run(scenario())


def test_link_dropped_mid_recording_reconnects_and_records_the_exact_gap(tmp_path: Path) -> None:
    speed = 2.0

    async def scenario() -> None:
        async with await open_transport("virtual") as ble:
            assert ble.radio is not None
            faults = PeripheralFaults(drop_link_at=1.5)  # wall seconds after the first subscription
            async with ProfileSensor(ble.radio, "push", "KN-Push-9", speed=speed, faults=faults) as sensor:
                clock = SessionClock(speed=speed)
                acq = Acquisition(ble, [DeviceSpec("push", "push")], clock=clock)
                states: list[tuple[float, LinkState]] = []
                await acq.start()
                sup = acq.supervisors["push"]
                original = sup.on_state

                def on_state(name: str, state: LinkState) -> None:
                    states.append((clock.clock(), state))
                    if original is not None:
                        original(name, state)

                sup.on_state = on_state
                assert await acq.wait_streaming(timeout=10.0), acq.status("push")
                acq.start_recording(tmp_path / "drop.h5", TrialMeta())
                start = clock.now()
                while clock.now() < start + 8.0:
                    await asyncio.sleep(0.05)
                path = await acq.stop_recording()
                status = acq.status("push")
                await acq.stop()
        assert sensor.peripheral.stats.links_dropped == 1
        lost = [t for t, s in states if s is LinkState.RECONNECTING]
        back = [t for t, s in states if s is LinkState.STREAMING and lost and t > lost[0]]
        assert lost and back and back[0] - lost[0] < 2.0  # reconnected within 2 s (host time)
        assert status.reconnects == 1 and status.gaps == 1
        trial = read_trial(path)
        dev = trial.device("push")
        assert len(dev.gaps) == 1
        gap = dev.gaps[0]
        i = int(np.searchsorted(dev.counter, gap.first_missing))
        assert dev.counter[i - 1] == gap.first_missing - 1 and dev.counter[i] == gap.last_missing + 1
        assert gap.start == dev.time[i - 1] and abs(gap.end - dev.time[i]) < 2e-3
        check_device(dev, sensor)
        # every sample that arrived is in the file: what was sent minus the notifications in flight when the link
        # went (one or two, depending on when the drop caught the peripheral's queue), all inside the gap
        sent = sensor.sent_counters
        inside = sent[(sent >= dev.counter[0]) & (sent <= dev.counter[-1])]
        missing = np.setdiff1d(inside, dev.counter)
        assert missing.size <= 2 * samples_per_packet(layout_for(device_kind("push")), 247, 1000.0)
        assert np.all((missing >= gap.first_missing) & (missing <= gap.last_missing))
        labels = [(e.kind, e.label) for e in trial.events]
        assert ("device", "link lost") in labels and ("device", "streaming") in labels

    run(scenario())


def test_mtu_23_and_malformed_notifications_are_decoded_or_counted(tmp_path: Path) -> None:
    speed = 2.0

    async def scenario() -> None:
        async with await open_transport("virtual") as ble:
            assert ble.radio is not None
            faults = PeripheralFaults(max_mtu=23)
            async with ProfileSensor(ble.radio, "goniometer", "KN-Gonio-3", speed=speed, faults=faults) as sensor:
                rng = np.random.default_rng(5)
                sensor.junk = [bytes(rng.integers(0, 256, int(k), dtype=np.uint8)) for k in rng.integers(0, 20, 25)]
                sensor.junk += [b"\x00\x00\x00\x00\x01\x16" + bytes(12)]  # wrong format byte
                n_junk = len(sensor.junk)
                clock = SessionClock(speed=speed)
                async with Acquisition(ble, [DeviceSpec("goniometer", "goniometer")], clock=clock) as acq:
                    assert await acq.wait_streaming(timeout=10.0)
                    acq.start_recording(tmp_path / "mtu23.h5", TrialMeta())
                    start = clock.now()
                    while clock.now() < start + 4.0 or sensor.junk:
                        await asyncio.sleep(0.05)
                    path = await acq.stop_recording()
                    status = acq.status("goniometer")
        assert status.mtu == 23
        assert status.decode_errors == n_junk
        assert status.gaps == 0 and status.state is LinkState.STREAMING
        dev = read_trial(path).device("goniometer")
        assert dev.gaps == ()
        check_device(dev, sensor)

    run(scenario())
