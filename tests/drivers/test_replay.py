"""Replay of a raw packet-log directory reproduces the recorded trial bit for bit (the regression guarantee).

One session is recorded once over the virtual radio with the real bleak API: a simulated push dynamometer whose
link drops mid-recording and a simulated goniometer that also sends malformed notifications, with a packet log.
The tests replay its log and compare with what was recorded live.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from drivers.acquisition import Acquisition, DeviceSpec
from drivers.ble.transport import open_transport
from drivers.devices import device_kind
from drivers.packetlog import MAGIC, Packet, PacketLogWriter, RecordType, _encode, read_log, session_data
from drivers.replay import ReplayAcquisition, load_session_log, numbered_paths
from drivers.session_clock import SessionClock
from drivers.sim.fleet import SimulatedFleet
from drivers.sim.sensor import SensorFaults
from drivers.supervisor import DeviceStatus, LinkState, describe
from kinetics._checks import KineticsInputError
from kinetics.io import read_trial
from kinetics.trial import Event, TrialMeta

T = TypeVar("T")
SPEED = 3.0  # device seconds per wall second
SECONDS = 6.0  # device seconds recorded
KINDS = ["push", "goniometer"]
N_JUNK = 7


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 40.0) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


@dataclass
class Recorded:
    logs: Path
    trial: Path
    statuses: dict[str, DeviceStatus]


async def record_session(root: Path) -> Recorded:
    logs, out = root / "logs", root / "recorded.h5"
    async with await open_transport("virtual") as ble:
        faults = {"push": SensorFaults(drop_link_at=2.5)}  # device s after the stream started
        fleet = SimulatedFleet(ble, KINDS, speed=SPEED, faults=faults)
        await fleet.start()
        try:
            clock = SessionClock(speed=SPEED)
            specs = [DeviceSpec(r, k, s.address) for r, k, s in zip(fleet.roles, KINDS, fleet.sensors, strict=True)]
            # a short settle span: blocks are released while streaming (and at the stop for the first ones)
            acq = Acquisition(ble, specs, clock=clock, packet_log_dir=logs, settle_span_s=1.0)
            await acq.start()
            assert await acq.wait_streaming(timeout=15.0)
            meta = TrialMeta(protocol="replay-test", side="left", patient_id="p-17", extra={"reps": 3, "note": "é"})
            acq.start_recording(out, meta, duration=SECONDS)
            assert acq.recorder is not None
            start = acq.recorder.start
            gonio = fleet.sensor("goniometer")
            data_uuid = device_kind("goniometer").data_uuid
            junk = [b"", b"\x07", bytes(range(40)), b"\xff" * 3, b"\x00\x01", bytes(19), b"\x10" * 11]
            assert len(junk) == N_JUNK
            marked = False
            while clock.now() < start + SECONDS + 0.3:
                if junk and clock.now() > start + 1.0:
                    assert await gonio.peripheral.notify(data_uuid, junk.pop())
                if not marked and clock.now() > start + 3.0:
                    acq.add_event(Event(clock.now(), "marker", "halfway"))
                    marked = True
                await asyncio.sleep(0.02)
            await acq.stop_recording(at=start + SECONDS)
            await acq.stop()
            statuses = {n: acq.status(n) for n in fleet.roles}
        finally:
            await fleet.stop()
    return Recorded(logs, out, statuses)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return run(record_session(tmp_path_factory.mktemp("replay")))


def replay_to(logs: Path | Any, out: Path, **kwargs: Any) -> tuple[list[Path], ReplayAcquisition]:
    async def go() -> tuple[list[Path], ReplayAcquisition]:
        acq = ReplayAcquisition(logs, trial_path=lambda i: out if i == 1 else out.with_suffix(f".{i}.h5"), **kwargs)
        return await acq.run(), acq

    return run(go())


def test_the_recorded_session_has_what_the_replay_must_reproduce(recorded: Recorded) -> None:
    trial = read_trial(recorded.trial)
    push, gonio = trial.device("push"), trial.device("goniometer")
    assert trial.complete and len(push.gaps) == 1 and gonio.gaps == ()
    assert recorded.statuses["push"].reconnects == 1
    assert recorded.statuses["goniometer"].decode_errors == N_JUNK
    labels = [(e.kind, e.label) for e in trial.events]
    assert ("device", "link lost") in labels and ("marker", "halfway") in labels
    # the log carries every device's description and the session records
    for role in ("push", "goniometer"):
        packets = list(read_log(recorded.logs / f"{role}.knlog"))
        first = session_data(packets[0])
        assert first["what"] == "device-added" and first["role"] == role and first["kind"] == role
        described = [p.payload for p in packets if p.type is RecordType.LINK and p.payload.startswith(b"device ")]
        assert len(described) == (2 if role == "push" else 1)  # the push connected twice
        whats = [session_data(p)["what"] for p in packets if p.type is RecordType.SESSION]
        assert whats == ["device-added", "recording-start", "event", "recording-stop-time", "recording-stop"]


def test_replay_reproduces_the_recorded_trial_bit_exactly(recorded: Recorded, tmp_path: Path) -> None:
    out = tmp_path / "replayed.h5"
    paths, acq = replay_to(recorded.logs, out)
    assert paths == [out]
    original, replayed = read_trial(recorded.trial), read_trial(out)
    for name in ("push", "goniometer"):
        a, b = original.device(name), replayed.device(name)
        np.testing.assert_array_equal(a.counter, b.counter)
        np.testing.assert_array_equal(a.time, b.time)  # exact float64 equality, not closeness
        np.testing.assert_array_equal(a.values, b.values)
        assert a.gaps == b.gaps and a.info == b.info
        assert b.info.address and b.info.firmware  # rebuilt from the log's device record
    assert original.events == replayed.events and original.meta == replayed.meta
    assert original.equals(replayed)
    # the supervisors end in the states the live ones did: same counts, gaps, decode errors, reconnects, clock fit
    for name, live in recorded.statuses.items():
        again = acq.status(name)
        assert again.state is LinkState.STOPPED
        assert {**describe(again), "last_error": ""} == {**describe(live), "last_error": ""}


def test_paced_replay_gives_the_same_trial(recorded: Recorded, tmp_path: Path) -> None:
    span = load_session_log(recorded.logs).span
    out = tmp_path / "paced.h5"
    replay_to(recorded.logs, out, speed=span / 0.5)  # the session in about half a second
    assert read_trial(out).equals(read_trial(recorded.trial))


def _cut_logs(src: Path, dst: Path) -> float:
    """Copy the logs, each cut 7 bytes into its first record past 80 % of the recording; the cut host time."""
    shutil.copytree(src, dst)
    packets = list(read_log(dst / "push.knlog"))
    marks = {session_data(p)["what"]: p.host_time for p in packets if p.type is RecordType.SESSION}
    cut = marks["recording-start"] + 0.8 * (marks["recording-stop"] - marks["recording-start"])
    for path in dst.glob("*.knlog"):
        offset = len(MAGIC)
        for p in read_log(path):
            if p.host_time > cut:
                break
            offset += len(_encode(p))
        with open(path, "r+b") as f:
            f.truncate(offset + 7)
    return cut


def test_a_log_torn_by_a_crash_replays_what_it_holds(recorded: Recorded, tmp_path: Path) -> None:
    cut = _cut_logs(recorded.logs, tmp_path / "torn")
    log = load_session_log(tmp_path / "torn")
    assert all(d.torn_tail_bytes == 7 for d in log.devices)
    out = tmp_path / "torn.h5"
    paths, _ = replay_to(log, out)
    assert paths == [out]
    original, replayed = read_trial(recorded.trial), read_trial(out)
    assert not replayed.complete  # the recording's stop never reached the log
    assert replayed.events[-1].label == "packet log ended"
    for name in ("push", "goniometer"):
        a, b = original.device(name), replayed.device(name)
        n = b.n_samples
        assert 0.5 * a.n_samples < n < a.n_samples
        # what the log holds, in order, nothing lost: the original's samples up to the cut. Blocks the clock
        # mapper still held at the cut (it settles after 100 packets) are mapped with the fit of a shorter
        # log, which can move the first few samples across the recording's start, either way.
        j = int(np.searchsorted(b.counter, a.counter[0]))
        i0 = int(np.searchsorted(a.counter, b.counter[j]))
        assert j <= 5 and i0 <= 5
        np.testing.assert_array_equal(b.counter[j:], a.counter[i0 : i0 + n - j])
        np.testing.assert_array_equal(b.values[:, j:], a.values[:, i0 : i0 + n - j])
        assert np.max(np.abs(b.time[j:] - a.time[i0 : i0 + n - j])) < 5e-3
        assert b.time[-1] <= log.speed * (cut - log.t0) + 0.1
    (gap,), (again,) = original.device("push").gaps, replayed.device("push").gaps
    assert (again.first_missing, again.last_missing) == (gap.first_missing, gap.last_missing)
    assert abs(again.start - gap.start) < 5e-3 and abs(again.end - gap.end) < 5e-3


def test_a_replay_is_also_a_live_source_you_record_from(recorded: Recorded, tmp_path: Path) -> None:
    out = tmp_path / "mine.h5"

    async def go() -> ReplayAcquisition:
        acq = ReplayAcquisition(recorded.logs)  # the log's own recordings are not reproduced
        await acq.start()
        acq.start_recording(out, TrialMeta(protocol="from-replay"))
        await acq.wait_finished()
        await acq.stop_recording()
        await acq.stop()
        return acq

    acq = run(go())
    assert acq.trial_paths == []
    original, mine = read_trial(recorded.trial), read_trial(out)
    assert mine.meta.protocol == "from-replay"
    for name in ("push", "goniometer"):
        a, b = original.device(name), mine.device(name)
        assert b.n_samples > a.n_samples  # the whole session, not just the recorded part
        common, ia, ib = np.intersect1d(a.counter, b.counter, return_indices=True)
        assert common.size == a.n_samples
        np.testing.assert_array_equal(a.time[ia], b.time[ib])
        np.testing.assert_array_equal(a.values[:, ia], b.values[:, ib])


def test_replay_refuses_what_is_not_a_session_log(tmp_path: Path, recorded: Recorded) -> None:
    with pytest.raises(KineticsInputError, match="is not a directory"):
        load_session_log(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KineticsInputError, match=r"holds no packet logs \(\*\.knlog\)"):
        load_session_log(empty)
    other = tmp_path / "other"
    other.mkdir()
    (other / "push.knlog").write_bytes(b"PK\x03\x04 a zip file, not a log")
    with pytest.raises(KineticsInputError, match="is not a Kinetics packet log"):
        load_session_log(other)
    old = tmp_path / "old"
    old.mkdir()
    with PacketLogWriter(old / "push.knlog") as w:  # a log without session records
        w.write(Packet(1.0, "push", "AA", "", b"connected", RecordType.LINK))
        w.notification(1.1, "push", "AA", device_kind("push").data_uuid, b"\x00" * 12)
    with pytest.raises(KineticsInputError, match="has no session header"):
        load_session_log(old)
    mixed = tmp_path / "mixed"
    shutil.copytree(recorded.logs, mixed)
    header = session_data(next(read_log(mixed / "push.knlog")))
    with PacketLogWriter(mixed / "push.knlog") as w:  # a second session appended to the same directory
        w.write(
            Packet(
                1e9, "push", "", "", _header_payload({**header, "session": "another", "seq": 99}), RecordType.SESSION
            )
        )
    with pytest.raises(KineticsInputError, match="mixes the logs of several sessions"):
        load_session_log(mixed)
    with pytest.raises(KineticsInputError, match="speed"):
        ReplayAcquisition(recorded.logs, speed=0.0)


def _header_payload(data: dict[str, Any]) -> bytes:
    import json

    return json.dumps(data).encode()


def test_numbered_paths_for_several_recordings(tmp_path: Path) -> None:
    assert numbered_paths(tmp_path / "t.h5", 1) == [tmp_path / "t.h5"]
    assert numbered_paths(tmp_path / "t.h5", 2) == [tmp_path / "t-1.h5", tmp_path / "t-2.h5"]
