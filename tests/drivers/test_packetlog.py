"""Packet log: round trip, torn tail and mid-file damage tolerated, replay order and pacing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from drivers.packetlog import (
    MAGIC,
    Packet,
    PacketLogWriter,
    ReadReport,
    RecordType,
    _encode,
    read_log,
    replay,
    replay_async,
)
from kinetics._checks import KineticsInputError

DATA = "34cd2001-f8f9-42b7-b55b-067e179b6b81"


def sample_packets(n: int = 50) -> list[Packet]:
    out = [Packet(10.0, "plate_left", "sim:plate:1", "", b"connected", RecordType.LINK)]
    for i in range(n):
        payload = bytes([i % 256]) * (6 + i % 30)
        out.append(Packet(10.0 + 0.004 * (i + 1), "plate_left", "sim:plate:1", DATA, payload))
    out.append(
        Packet(10.5, "plate_left", "sim:plate:1", "34cd2002-f8f9-42b7-b55b-067e179b6b81", b"\x01", RecordType.WRITE)
    )
    out.append(Packet(10.6, "grip", "AA:BB:CC:DD:EE:FF", "00002a19-0000-1000-8000-00805f9b34fb", b"\x5a"))
    return out


def write_all(path: Path, packets: list[Packet]) -> None:
    with PacketLogWriter(path, flush_every=7) as log:
        for p in packets:
            log.write(p)


def test_round_trip_keeps_every_field_in_order(tmp_path: Path) -> None:
    path = tmp_path / "s.knlog"
    packets = sample_packets()
    write_all(path, packets)
    report = ReadReport()
    assert list(read_log(path, report)) == packets
    assert report.records == len(packets) and report.skipped_bytes == 0 and report.torn_tail_bytes == 0
    with PacketLogWriter(path) as log:  # appending to an existing log
        log.notification(11.0, "grip", "x", DATA, b"\x00\x01")
    again = list(read_log(path))
    assert again[:-1] == packets and again[-1].payload == b"\x00\x01"


@pytest.mark.parametrize("cut", [1, 2, 5, 9, 20, 33])
def test_torn_tail_is_ignored(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "s.knlog"
    packets = sample_packets()
    write_all(path, packets)
    data = path.read_bytes()
    path.write_bytes(data[:-cut])  # the writer died in the middle of its last record
    report = ReadReport()
    got = list(read_log(path, report))
    assert got == packets[:-1]
    last_record = len(_encode(packets[-1]))
    assert report.records == len(packets) - 1
    assert report.torn_tail_bytes + report.skipped_bytes == last_record - cut


def test_damage_in_the_middle_skips_only_the_damaged_record(tmp_path: Path) -> None:
    path = tmp_path / "s.knlog"
    packets = sample_packets()
    write_all(path, packets)
    data = bytearray(path.read_bytes())
    target = data.find(packets[10].payload, len(MAGIC) + 100)
    data[target] ^= 0xFF  # flip one payload byte of a record in the middle
    path.write_bytes(bytes(data))
    report = ReadReport()
    got = list(read_log(path, report))
    assert len(got) == len(packets) - 1 and report.skipped_bytes > 0
    assert all(p in packets for p in got)


def test_not_a_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.bin"
    path.write_bytes(b"hello world")
    with pytest.raises(KineticsInputError, match="does not start"):
        list(read_log(path))
    with pytest.raises(KineticsInputError, match="not a packet log"):
        PacketLogWriter(path)


def test_replay_keeps_order_and_pacing() -> None:
    packets = [Packet(5.0 + 0.1 * i, "push", "a", DATA, bytes([i])) for i in range(6)]
    now = [100.0]
    waits: list[float] = []

    def fake_sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    out = list(replay(packets, speed=2.0, sleep=fake_sleep, clock=lambda: now[0]))
    assert out == packets
    assert waits == pytest.approx([0.05] * 5)  # 0.1 s of host time at twice the speed
    assert list(replay(packets)) == packets
    with pytest.raises(KineticsInputError):
        list(replay(packets, speed=0.0))


def test_async_replay_yields_everything_in_order() -> None:
    packets = [Packet(1.0 + 0.001 * i, "push", "a", DATA, bytes([i])) for i in range(20)]

    async def collect(speed: float | None) -> list[Packet]:
        return [p async for p in replay_async(packets, speed)]

    assert asyncio.run(collect(None)) == packets
    assert asyncio.run(collect(100.0)) == packets
