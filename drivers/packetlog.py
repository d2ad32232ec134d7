"""Raw packet log: every notification exactly as it arrived, written before it is decoded.

A session's log reproduces it: the replay transport feeds the same bytes at the same pace to the same codecs,
so a decoding bug found later can be fixed and the session rebuilt. The format is append-only and survives a
crash at any byte: a torn last record is ignored on read, a damaged one in the middle is skipped.

File layout (little-endian)::

    header   8 bytes  b"KNPKTLG1"
    record   sync     2 bytes  0xA5 0x5A
             length   uint32   bytes of body
             crc      uint32   CRC-32 (zlib) of body
             body     float64  host time (s, monotonic host clock)
                      uint8    record type (0 notification, 1 written command, 2 link event,
                                                3 session record)
                      uint8 + UTF-8   device name (role in the session, ≤ 255 bytes)
                      uint8 + UTF-8   device address
                      16 bytes        characteristic UUID (all zero for a link event)
                      rest            payload (link event: UTF-8 text such as "connected", "disconnected";
                                      session record: a UTF-8 JSON object, see below)

Session records are written by :class:`drivers.acquisition.Acquisition` so that a log directory replays the
whole session (:mod:`drivers.replay`). Each is a JSON object with ``what`` and ``seq`` (one counter per session,
so that the copies of a record written to every device's log are applied once):

* ``device-added`` — first record of a device's log section: ``session`` (id), ``format``, ``role``, ``kind``
  (device-table key), ``address`` (the one asked for, may be empty), ``t0`` and ``speed`` of the session clock,
  ``settle_span_s``, ``specs`` (every role and kind of the acquisition at that moment, in order).
* ``device-removed`` — the device left the acquisition.
* ``recording-start`` (``start``, ``duration``, ``meta``), ``recording-stop-time`` (``stop``),
  ``recording-stop`` (``stop``), ``recording-abort``, ``event`` (``time``, ``kind``, ``label``, ``device``) —
  written to every device's log at the instant they happened.

Readers older than session records skip them as damaged records.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from kinetics._checks import input_error
from kinetics.trial import TrialMeta

MAGIC = b"KNPKTLG1"
SYNC = b"\xa5\x5a"
_HEAD = struct.Struct("<2sII")  # sync, body length, crc
_MAX_BODY = 1 << 20
_NIL_UUID = uuid.UUID(int=0)
#: Version of the session records (``format`` of ``device-added``); :mod:`drivers.replay` reads this one.
LOG_FORMAT = 1


class RecordType(IntEnum):
    NOTIFICATION = 0
    WRITE = 1
    LINK = 2
    SESSION = 3


@dataclass(frozen=True)
class Packet:
    """One logged record: host time (s), type, device name and address, characteristic UUID, payload bytes."""

    host_time: float
    device: str
    address: str
    characteristic: str
    payload: bytes
    type: RecordType = RecordType.NOTIFICATION


def _encode(packet: Packet) -> bytes:
    name, address = packet.device.encode(), packet.address.encode()
    if len(name) > 255 or len(address) > 255:
        raise input_error("packet log", "device name or address over 255 bytes", "shorten it")
    char = uuid.UUID(packet.characteristic) if packet.characteristic else _NIL_UUID
    body = (
        struct.pack("<dBB", float(packet.host_time), int(packet.type), len(name))
        + name
        + bytes([len(address)])
        + address
        + char.bytes
        + bytes(packet.payload)
    )
    if len(body) > _MAX_BODY:
        raise input_error("packet log", f"a {len(body)}-byte record", "payloads are notifications: ≤ 512 bytes")
    return _HEAD.pack(SYNC, len(body), zlib.crc32(body)) + body


def _decode_body(body: bytes) -> Packet:
    host_time, rtype, n = struct.unpack_from("<dBB", body)
    pos = 10
    name = body[pos : pos + n].decode()
    pos += n
    m = body[pos]
    address = body[pos + 1 : pos + 1 + m].decode()
    pos += 1 + m
    if pos + 16 > len(body):
        raise ValueError("record body too short")
    char = uuid.UUID(bytes=body[pos : pos + 16])
    return Packet(
        host_time=host_time,
        device=name,
        address=address,
        characteristic="" if char == _NIL_UUID else str(char),
        payload=body[pos + 16 :],
        type=RecordType(rtype),
    )


class PacketLogWriter:
    """Appends packets to a log file (creating it with its header).

    Records are buffered and flushed every ``flush_every`` records and on :meth:`flush`/:meth:`close`;
    :meth:`checkpoint` also fsyncs. A crash loses at most the unflushed records and never the file.
    """

    def __init__(self, path: str | Path, *, flush_every: int = 64) -> None:
        self.path = Path(path)
        self.flush_every = max(1, int(flush_every))
        self._pending = 0
        self._file: BinaryIO = open(self.path, "ab")
        if self._file.tell() == 0:
            self._file.write(MAGIC)
            self._file.flush()
        elif not _has_magic(self.path):
            self._file.close()
            raise input_error("packet log", f"{self.path} exists and is not a packet log", "choose a new file")
        self.records_written = 0

    def write(self, packet: Packet) -> None:
        """Append one record (call it before decoding the payload)."""
        self._file.write(_encode(packet))
        self.records_written += 1
        self._pending += 1
        if self._pending >= self.flush_every:
            self.flush()

    def notification(self, host_time: float, device: str, address: str, characteristic: str, payload: bytes) -> None:
        """Shorthand for a notification record."""
        self.write(Packet(host_time, device, address, characteristic, bytes(payload)))

    def flush(self) -> None:
        self._file.flush()
        self._pending = 0

    def checkpoint(self) -> None:
        """Flush and fsync (the data reaches the disk)."""
        self.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.checkpoint()
            self._file.close()

    def __enter__(self) -> PacketLogWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def session_packet(host_time: float, device: str, data: dict[str, Any]) -> Packet:
    """A session record for ``device``'s log: ``data`` (with ``what`` and ``seq``) as compact JSON."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Packet(float(host_time), device, "", "", payload, RecordType.SESSION)


def session_data(packet: Packet) -> dict[str, Any]:
    """The JSON object of a session record (raises :class:`ValueError` if it is not one)."""
    if packet.type is not RecordType.SESSION:
        raise ValueError("not a session record")
    data = json.loads(packet.payload.decode())
    if not isinstance(data, dict) or not isinstance(data.get("what"), str) or not isinstance(data.get("seq"), int):
        raise ValueError("a session record needs 'what' and 'seq'")
    return data


def trial_meta_record(meta: TrialMeta) -> dict[str, Any]:
    """A trial's metadata as plain JSON values (``recording-start`` records); exact round trip."""
    return {
        "trial_id": meta.trial_id,
        "protocol": meta.protocol,
        "side": meta.side,
        "start_utc": meta.start_utc.isoformat(),
        "patient_id": meta.patient_id,
        "extra": dict(meta.extra),
    }


def trial_meta_from_record(data: dict[str, Any]) -> TrialMeta:
    """The :class:`~kinetics.trial.TrialMeta` of :func:`trial_meta_record`."""
    return TrialMeta(
        trial_id=str(data["trial_id"]),
        protocol=str(data["protocol"]),
        side=str(data["side"]),
        start_utc=datetime.fromisoformat(str(data["start_utc"])),
        patient_id=str(data["patient_id"]),
        extra=dict(data["extra"]),
    )


def _has_magic(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


@dataclass
class ReadReport:
    """What :func:`read_log` found besides the packets: skipped damaged bytes and an ignored torn tail."""

    records: int = 0
    skipped_bytes: int = 0
    torn_tail_bytes: int = 0


def read_log(path: str | Path, report: ReadReport | None = None) -> Iterator[Packet]:
    """Every intact record of a log, in file order.

    A record cut short at the end of the file (a crash mid-write) is ignored; a damaged record elsewhere is
    skipped by searching for the next record that passes its CRC. Counts go to ``report`` when given.
    """
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        raise input_error("packet log", f"{path} does not start with {MAGIC!r}", "give a file a PacketLogWriter wrote")
    rep = report if report is not None else ReadReport()
    pos = len(MAGIC)
    end = len(data)
    while pos < end:
        if end - pos < _HEAD.size:
            rep.torn_tail_bytes += end - pos
            return
        sync, length, crc = _HEAD.unpack_from(data, pos)
        body_end = pos + _HEAD.size + length
        if sync == SYNC and length <= _MAX_BODY and body_end > end and data.find(SYNC, pos + 2) == -1:
            rep.torn_tail_bytes += end - pos  # the last record, cut short
            return
        body = data[pos + _HEAD.size : body_end]
        packet = None
        if sync == SYNC and body_end <= end and zlib.crc32(body) == crc:
            try:
                packet = _decode_body(body)
            except (ValueError, struct.error, IndexError, UnicodeDecodeError):
                packet = None
        if packet is None:
            nxt = data.find(SYNC, pos + 1)
            if nxt == -1:
                rep.torn_tail_bytes += end - pos
                return
            rep.skipped_bytes += nxt - pos
            pos = nxt
            continue
        rep.records += 1
        yield packet
        pos = body_end


def replay(
    packets: Iterable[Packet],
    speed: float | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Packet]:
    """Yield packets in order; with ``speed`` (e.g. 1.0 real time, 10.0 ten times faster) wait so that their
    host-time spacing divided by ``speed`` is kept. ``None`` yields as fast as they are consumed."""
    if speed is not None and not speed > 0:
        raise input_error("speed", f"{speed!r}", "give a positive factor, or None for as fast as possible")
    start_clock = start_host = None
    for packet in packets:
        if speed is not None:
            if start_clock is None or start_host is None:
                start_clock, start_host = clock(), packet.host_time
            else:
                due = start_clock + (packet.host_time - start_host) / speed
                wait = due - clock()
                if wait > 0:
                    sleep(wait)
        yield packet


async def replay_async(packets: Iterable[Packet], speed: float | None = None) -> AsyncIterator[Packet]:
    """:func:`replay` for an asyncio transport (waits with ``asyncio.sleep``, yields control between packets)."""
    if speed is not None and not speed > 0:
        raise input_error("speed", f"{speed!r}", "give a positive factor, or None for as fast as possible")
    loop = asyncio.get_running_loop()
    start_clock = start_host = None
    for packet in packets:
        if speed is not None:
            if start_clock is None or start_host is None:
                start_clock, start_host = loop.time(), packet.host_time
            else:
                wait = start_clock + (packet.host_time - start_host) / speed - loop.time()
                await asyncio.sleep(max(wait, 0.0))
        else:
            await asyncio.sleep(0)
        yield packet
