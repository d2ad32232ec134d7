"""Recording a chosen subset of the connected devices (``start_recording(..., devices=[...])``).

One session over the virtual radio with the real bleak API: a push dynamometer and a goniometer are connected,
the goniometer's link drops while a trial records only the push. The trial must hold the push alone (none of
the goniometer's samples, gaps or link events), the goniometer must keep streaming live, a bad selection must
be refused with the connected roles named, and a replay of the packet log must record the same subset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from drivers.acquisition import Acquisition, DeviceSpec
from drivers.ble.transport import open_transport
from drivers.packetlog import PacketLogWriter, RecordType, read_log, session_data, session_packet
from drivers.recording import recording_roles
from drivers.replay import ReplayAcquisition
from drivers.session_clock import SessionClock
from drivers.sim.fleet import SimulatedFleet
from drivers.sim.sensor import SensorFaults
from drivers.supervisor import LinkState
from kinetics._checks import KineticsInputError
from kinetics.io import read_trial
from kinetics.trial import TrialMeta

T = TypeVar("T")
SPEED = 3.0  # device seconds per wall second
SECONDS = 6.0  # device seconds recorded
KINDS = ["push", "goniometer"]


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 40.0) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


@dataclass
class Session:
    logs: Path
    trial: Path
    start: float
    stop: float
    gonio_lost_at: list[float]  # session times the goniometer's link was lost while recording
    gonio_reconnects: int
    gonio_live_last: float  # the goniometer's last live sample time at the stop
    last_recorded: dict[str, int]
    refusals: list[str]


async def record_push_only(root: Path) -> Session:
    logs, out = root / "logs", root / "push-only.h5"
    lost: list[float] = []
    async with await open_transport("virtual") as ble:
        # the goniometer's link drops 4 device s into its stream: inside the push-only recording below
        fleet = SimulatedFleet(ble, KINDS, speed=SPEED, faults={"goniometer": SensorFaults(drop_link_at=4.0)})
        await fleet.start()
        try:
            clock = SessionClock(speed=SPEED)
            specs = [DeviceSpec(r, k, s.address) for r, k, s in zip(fleet.roles, KINDS, fleet.sensors, strict=True)]

            def on_state(name: str, state: LinkState) -> None:
                if name == "goniometer" and state is LinkState.RECONNECTING and acq.recording:
                    lost.append(clock.now())

            acq = Acquisition(ble, specs, clock=clock, packet_log_dir=logs, settle_span_s=1.0, on_state=on_state)
            await acq.start()
            assert await acq.wait_streaming(timeout=15.0)
            refusals = []
            for bad in (["plate_left"], ["push", "grip"], "push", [], ["push", "push"]):
                with pytest.raises(KineticsInputError) as err:
                    acq.start_recording(root / "refused.h5", TrialMeta(), devices=bad)
                refusals.append(str(err.value))
                assert not acq.recording
            assert not (root / "refused.h5").exists()
            acq.start_recording(out, TrialMeta(protocol="push-only"), duration=SECONDS, devices=["push"])
            assert acq.recorder is not None
            start = acq.recorder.start
            while clock.now() < start + SECONDS + 0.3:
                await asyncio.sleep(0.02)
            await acq.stop_recording(at=start + SECONDS)
            live_last = float(acq.buffers["goniometer"].latest(1)[0][-1])
            reconnects = acq.status("goniometer").reconnects
            last_recorded = dict(acq.last_recorded)
            await acq.stop()
        finally:
            await fleet.stop()
    return Session(logs, out, start, start + SECONDS, lost, reconnects, live_last, last_recorded, refusals)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return run(record_push_only(tmp_path_factory.mktemp("subset")))


def replay(logs: Path, out: Path) -> list[Path]:
    async def go() -> list[Path]:
        return await ReplayAcquisition(logs, trial_path=lambda i: out).run()

    return run(go())


def test_recording_roles_checks_the_selection() -> None:
    connected = ["plate_left", "plate_right", "grip"]
    assert recording_roles(None, connected) == ("plate_left", "plate_right", "grip")
    assert recording_roles(["grip", "plate_left"], connected) == ("grip", "plate_left")  # the order given
    with pytest.raises(KineticsInputError, match=r"'push' is not connected.*\['plate_left', 'plate_right', 'grip'\]"):
        recording_roles(["grip", "push"], connected)
    with pytest.raises(KineticsInputError, match=r"'push', 'goniometer' are not connected"):
        recording_roles(["push", "goniometer"], connected)


def test_the_trial_holds_only_the_selected_device(session: Session) -> None:
    trial = read_trial(session.trial)
    assert trial.complete
    assert list(trial.devices) == ["push"]  # the goniometer's samples and description are absent
    push = trial.device("push")
    assert push.info.kind == "push" and push.gaps == ()
    assert push.time[0] >= session.start - 1e-9 and push.time[-1] < session.stop
    assert abs(push.n_samples - SECONDS * push.info.rate) <= 0.01 * SECONDS * push.info.rate
    assert session.last_recorded == {"push": push.n_samples}
    # the goniometer lost its link during the recording and kept streaming live meanwhile
    assert session.gonio_reconnects == 1 and len(session.gonio_lost_at) == 1
    assert session.start < session.gonio_lost_at[0] < session.stop
    assert session.gonio_live_last > session.stop - 0.5
    # ... but none of its link events entered the trial
    assert [e for e in trial.events if e.device == "goniometer"] == []
    assert [(e.kind, e.label) for e in trial.events] == [("trial", "recording started"), ("trial", "recording stopped")]


def test_a_bad_selection_names_the_role_and_the_connected_ones(session: Session) -> None:
    unknown, partly, bare, empty, repeated = session.refusals
    assert "'plate_left' is not connected" in unknown and "['push', 'goniometer']" in unknown
    assert "'grip' is not connected" in partly and "'push'" not in partly.split(";")[0]
    assert "one string" in bare and "['push']" in bare
    assert "no role selected" in empty and "['push', 'goniometer']" in empty
    assert "repeat" in repeated


def test_the_log_names_the_recorded_devices_and_a_replay_records_the_same(session: Session, tmp_path: Path) -> None:
    for role in KINDS:
        starts = [
            session_data(p)
            for p in read_log(session.logs / f"{role}.knlog")
            if p.type is RecordType.SESSION and session_data(p)["what"] == "recording-start"
        ]
        assert [s["devices"] for s in starts] == [["push"]]
    (path,) = replay(session.logs, tmp_path / "replayed.h5")
    live, again = read_trial(session.trial), read_trial(path)
    assert list(again.devices) == ["push"]
    a, b = live.device("push"), again.device("push")
    np.testing.assert_array_equal(a.counter, b.counter)
    np.testing.assert_array_equal(a.time, b.time)
    np.testing.assert_array_equal(a.values, b.values)


def test_a_log_without_the_device_list_replays_every_device(session: Session, tmp_path: Path) -> None:
    """Logs written before device selection carry no ``devices``: their trials held every device."""
    old = tmp_path / "old"
    old.mkdir()
    for role in KINDS:
        with PacketLogWriter(old / f"{role}.knlog") as w:
            for p in read_log(session.logs / f"{role}.knlog"):
                if p.type is RecordType.SESSION and session_data(p)["what"] == "recording-start":
                    data = session_data(p)
                    del data["devices"]
                    p = session_packet(p.host_time, p.device, data)
                w.write(p)
    (path,) = replay(old, tmp_path / "old.h5")
    trial, live = read_trial(path), read_trial(session.trial)
    assert list(trial.devices) == KINDS
    np.testing.assert_array_equal(trial.device("push").values, live.device("push").values)
    gonio = trial.device("goniometer")
    assert gonio.n_samples > 0 and len(gonio.gaps) == 1  # the drop inside the recording, now recorded
    assert [e.label for e in trial.events if e.device == "goniometer"][:1] == ["link lost"]
