"""Codec of the Kinetics open GATT profile (specification: docs/gatt-profile.md).

Data packet (notify), little-endian::

    offset 0  uint32  counter of the first sample (sample periods since the last rate change, wraps at 2**32)
    offset 4  uint8   n, samples in this packet (1..255)
    offset 5  uint8   format: high nibble = bytes per value (2, 3 or 4), low nibble = channels per sample
    offset 6  n × channels × signed little-endian integers, sample-major (all channels of sample 0 first)

A value is ``code × lsb`` in SI units (the lsb of each channel is in the device table and in the Layout
characteristic). Reserved codes: the most negative code means "no value" (decoded as NaN); ±(max code) mean
"saturated" and decode to ± full scale.

Command (write with response): one opcode byte then its parameters; errors come back as ATT application
errors (:class:`AttError`). Status (read, notify): 14 bytes, :class:`Status`. Layout (read):
:func:`encode_layout`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from drivers.codecs import DecodeError, SampleBlock, require_bytes
from kinetics._checks import input_error

if TYPE_CHECKING:
    from drivers.devices import DeviceKind

BASE_UUID = "34cd0000-f8f9-42b7-b55b-067e179b6b81"
"""Our 128-bit base UUID (random, fixed); 16-bit slots go in characters 4–7 (``34cdXXXX-…``)."""

HEADER_BYTES = 6
MAX_SAMPLES_PER_PACKET = 255
MAX_LATENCY_S = 0.020
"""A peripheral sends a packet when it is full or when its oldest unsent sample is this old."""
ATT_HEADER_BYTES = 3
MIN_ATT_MTU = 23
MAX_ATT_MTU = 517

KIND_CODES = {1: "push", 2: "grip", 3: "pull", 4: "pneumatic", 5: "goniometer", 6: "plate"}
"""Kind code (Layout characteristic, service UUID slot 0x1000 + code) → device-table key."""


def profile_uuid(slot: int) -> str:
    """The profile's 128-bit UUID for 16-bit ``slot`` (e.g. 0x2001 → data characteristic)."""
    if not 0 <= slot <= 0xFFFF:
        raise input_error("slot", f"{slot!r} is not a 16-bit number", "use 0..0xFFFF")
    return f"{BASE_UUID[:4]}{slot:04x}{BASE_UUID[8:]}"


SERVICE_SLOT_BASE = 0x1000
DATA_UUID = profile_uuid(0x2001)
COMMAND_UUID = profile_uuid(0x2002)
STATUS_UUID = profile_uuid(0x2003)
LAYOUT_UUID = profile_uuid(0x2004)


class Opcode(IntEnum):
    """Command opcodes (first byte written to the command characteristic)."""

    START = 0x01  # no parameter
    STOP = 0x02  # no parameter
    TARE = 0x03  # uint16 number of samples to average (0: the device's default, 0.5 s worth)
    SET_RATE = 0x04  # uint16 rate in Hz (only while idle; restarts the counter at 0)
    IDENTIFY = 0x05  # uint8 seconds to blink/beep (0 stops)


_PARAM_FORMAT = {Opcode.START: "", Opcode.STOP: "", Opcode.TARE: "<H", Opcode.SET_RATE: "<H", Opcode.IDENTIFY: "<B"}


class AttError(IntEnum):
    """ATT application error codes a peripheral returns to a command write."""

    UNKNOWN_OPCODE = 0x80
    BAD_LENGTH = 0x81
    RATE_NOT_SUPPORTED = 0x82
    NOT_ALLOWED = 0x83  # e.g. SET_RATE while streaming
    SENSOR_FAULT = 0x84


class State(IntEnum):
    IDLE = 0
    STREAMING = 1
    TARING = 2
    FAULT = 3


class StatusFlag(IntFlag):
    NONE = 0
    SENSOR_FAULT = 0x01
    SATURATED = 0x02  # a channel hit full scale since the last status
    TX_OVERFLOW = 0x04  # the peripheral dropped samples it could not send (counted in ``dropped``)
    LOW_BATTERY = 0x08
    NOT_CALIBRATED = 0x10


@dataclass(frozen=True)
class Command:
    opcode: Opcode
    value: int | None = None


@dataclass(frozen=True)
class Status:
    """The status characteristic: state, flags, samples dropped by the peripheral, current counter, rate (Hz),
    the last command's opcode and result (0 = success, else an :class:`AttError`)."""

    state: State
    flags: StatusFlag
    dropped: int
    counter: int
    rate: int
    last_opcode: int = 0
    last_result: int = 0


_STATUS = struct.Struct("<BBIIHBB")


@dataclass(frozen=True)
class ProfileLayout:
    """How a kind packs its samples: kind code, bytes per value (2, 3 or 4) and the lsb of each channel (SI)."""

    kind_code: int
    value_bytes: int
    lsb: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.value_bytes not in (2, 3, 4):
            raise input_error("value_bytes", f"{self.value_bytes!r} is not 2, 3 or 4", "fix the device table")
        if not 1 <= len(self.lsb) <= 15:
            raise input_error("channels", f"{len(self.lsb)} channels", "a profile device has 1 to 15 channels")
        if not all(math.isfinite(x) and x > 0 for x in self.lsb):
            raise input_error("lsb", f"{self.lsb!r} has a non-positive value", "give each channel's lsb in SI")
        object.__setattr__(self, "lsb", tuple(float(x) for x in self.lsb))

    @property
    def n_channels(self) -> int:
        return len(self.lsb)

    @property
    def frame_bytes(self) -> int:
        """Bytes of one sample (all channels)."""
        return self.n_channels * self.value_bytes

    @property
    def format_byte(self) -> int:
        return (self.value_bytes << 4) | self.n_channels

    @property
    def max_code(self) -> int:
        return (1 << (8 * self.value_bytes - 1)) - 1

    @property
    def full_scale(self) -> NDArray[np.float64]:
        """Largest magnitude each channel can carry, in SI units, shape (n_channels,)."""
        return self.max_code * np.asarray(self.lsb)


def layout_for(kind: DeviceKind) -> ProfileLayout:
    """The layout of a profile device kind from the device table."""
    if kind.kind_code is None or kind.value_bytes is None or any(c.lsb is None for c in kind.channels):
        raise input_error("kind", f"{kind.key!r} is not a Kinetics-profile kind", "use a profile kind")
    return ProfileLayout(kind.kind_code, kind.value_bytes, tuple(float(c.lsb or 0.0) for c in kind.channels))


# --- data packets -----------------------------------------------------------------------------------------


def samples_per_packet(layout: ProfileLayout, mtu: int, rate: float | None = None) -> int:
    """Samples a peripheral puts in one packet at ATT MTU ``mtu``.

    As many as fit in MTU − 3 bytes (at most 255); with ``rate`` (Hz) also at most ``ceil(rate × 20 ms)``, the
    latency cap of the profile. 0 when not even one sample fits.
    """
    if not MIN_ATT_MTU <= mtu <= MAX_ATT_MTU:
        raise input_error("mtu", f"{mtu!r} is outside the ATT range", f"use {MIN_ATT_MTU}..{MAX_ATT_MTU}")
    fit = min(MAX_SAMPLES_PER_PACKET, max(0, (mtu - ATT_HEADER_BYTES - HEADER_BYTES) // layout.frame_bytes))
    if rate is not None and fit > 0:
        fit = min(fit, max(1, math.ceil(rate * MAX_LATENCY_S - 1e-9)))
    return fit


def encode_data(first_counter: int, values: NDArray[np.floating] | list[list[float]], layout: ProfileLayout) -> bytes:
    """One data packet: samples ``values`` (n_channels, n) in SI units starting at ``first_counter``.

    Values are rounded to the nearest lsb; beyond full scale they saturate; NaN is sent as "no value".
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] != layout.n_channels or not 1 <= v.shape[1] <= MAX_SAMPLES_PER_PACKET:
        raise input_error(
            "values", f"shape {v.shape} does not fit", f"give ({layout.n_channels}, 1..{MAX_SAMPLES_PER_PACKET})"
        )
    top = layout.max_code
    with np.errstate(invalid="ignore"):
        codes = np.rint(v / np.asarray(layout.lsb)[:, None])
        codes = np.clip(codes, -top, top)
    codes = np.where(np.isnan(codes), -top - 1, codes).astype("<i4")
    frames = codes.T.copy()  # (n, channels): sample-major
    raw = frames.view(np.uint8).reshape(-1, 4)[:, : layout.value_bytes]
    header = struct.pack("<IBB", int(first_counter) % (1 << 32), v.shape[1], layout.format_byte)
    return header + raw.tobytes()


def decode_data(payload: bytes, layout: ProfileLayout) -> SampleBlock:
    """One data packet → :class:`SampleBlock` (values in SI units); :class:`DecodeError` if malformed."""
    data = require_bytes(payload, "profile data packet")
    if len(data) < HEADER_BYTES:
        raise DecodeError(f"profile data packet of {len(data)} bytes is shorter than its 6-byte header")
    counter, n, fmt = struct.unpack_from("<IBB", data)
    if fmt != layout.format_byte:
        raise DecodeError(
            f"profile data packet has format 0x{fmt:02x} ({fmt >> 4} bytes × {fmt & 15} channels), "
            f"this device kind expects 0x{layout.format_byte:02x}"
        )
    if n == 0:
        raise DecodeError("profile data packet announces 0 samples")
    expected = HEADER_BYTES + n * layout.frame_bytes
    if len(data) != expected:
        raise DecodeError(
            f"profile data packet of {len(data)} bytes, its header announces {n} samples = {expected} bytes"
            + (" (truncated, e.g. to MTU−3)" if len(data) < expected else "")
        )
    b = np.frombuffer(data, dtype=np.uint8, offset=HEADER_BYTES).reshape(n, layout.n_channels, layout.value_bytes)
    codes = np.zeros((n, layout.n_channels), dtype=np.int64)
    for i in range(layout.value_bytes):
        codes |= b[:, :, i].astype(np.int64) << (8 * i)
    sign = 1 << (8 * layout.value_bytes - 1)
    codes = (codes ^ sign) - sign
    values = codes.T.astype(np.float64) * np.asarray(layout.lsb)[:, None]
    values[codes.T == -sign] = np.nan
    return SampleBlock(first_counter=counter, values=values.astype(np.float32))


def packetize(
    first_counter: int, values: NDArray[np.floating], layout: ProfileLayout, mtu: int, rate: float | None = None
) -> list[bytes]:
    """Split samples (n_channels, n) into the packets a compliant peripheral would send at ``mtu``."""
    per = samples_per_packet(layout, mtu, rate)
    if per == 0:
        raise input_error("mtu", f"MTU {mtu} cannot carry one {layout.frame_bytes}-byte sample", "raise the MTU")
    v = np.asarray(values, dtype=np.float64)
    return [encode_data(first_counter + i, v[:, i : i + per], layout) for i in range(0, v.shape[1], per)]


# --- throughput -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    samples_per_packet: int
    packets_per_s: float
    packets_per_interval: float  # at the connection interval asked for


def throughput(layout: ProfileLayout, rate: float, mtu: int, interval_s: float = 0.0075) -> Throughput:
    """Packets a peripheral must send for ``rate`` Hz at ATT MTU ``mtu``, per second and per connection interval."""
    per = samples_per_packet(layout, mtu, rate)
    if per == 0:
        return Throughput(0, math.inf, math.inf)
    pps = rate / per
    return Throughput(per, pps, pps * interval_s)


def min_mtu(layout: ProfileLayout, rate: float, packets_per_interval: float = 4.0, interval_s: float = 0.0075) -> int:
    """Smallest ATT MTU that streams ``rate`` Hz within ``packets_per_interval`` notifications per interval.

    The default budget (4 notifications per 7.5 ms interval, 533 per second) is what common phone and tablet
    stacks sustain without LE Data Length Extension. Raises when even MTU 517 is not enough.
    """
    for mtu in range(MIN_ATT_MTU, MAX_ATT_MTU + 1):
        if throughput(layout, rate, mtu, interval_s).packets_per_interval <= packets_per_interval + 1e-12:
            return mtu
    raise input_error("rate", f"{rate} Hz does not fit in any MTU within the budget", "lower the rate")


# --- commands, status, layout -------------------------------------------------------------------------------


def encode_command(opcode: Opcode | int, value: int | None = None) -> bytes:
    """Bytes to write to the command characteristic."""
    try:
        op = Opcode(opcode)
    except ValueError:
        raise input_error("opcode", f"0x{int(opcode):02x} is not a profile command", f"use {list(Opcode)}") from None
    fmt = _PARAM_FORMAT[op]
    if not fmt:
        if value is not None:
            raise input_error("value", f"{op.name} takes no parameter", "pass value=None")
        return bytes([op])
    if value is None:
        raise input_error("value", f"{op.name} needs a parameter ({fmt})", "pass value=")
    try:
        return bytes([op]) + struct.pack(fmt, int(value))
    except struct.error:
        raise input_error("value", f"{value!r} does not fit {op.name}'s {fmt}", "check the range") from None


def decode_command(payload: bytes) -> Command:
    """A command write → :class:`Command`; :class:`DecodeError` naming the ATT error to return."""
    data = require_bytes(payload, "profile command")
    if not data:
        raise DecodeError("empty command (ATT error 0x81)")
    try:
        op = Opcode(data[0])
    except ValueError:
        raise DecodeError(f"unknown command opcode 0x{data[0]:02x} (ATT error 0x80)") from None
    fmt = _PARAM_FORMAT[op]
    if len(data) - 1 != struct.calcsize(fmt or "<"):
        raise DecodeError(f"{op.name} command of {len(data)} bytes has the wrong length (ATT error 0x81)")
    return Command(op, struct.unpack(fmt, data[1:])[0] if fmt else None)


def encode_status(status: Status) -> bytes:
    return _STATUS.pack(
        status.state,
        int(status.flags),
        status.dropped % (1 << 32),
        status.counter % (1 << 32),
        status.rate,
        status.last_opcode,
        status.last_result,
    )


def decode_status(payload: bytes) -> Status:
    data = require_bytes(payload, "profile status")
    if len(data) != _STATUS.size:
        raise DecodeError(f"profile status of {len(data)} bytes, expected {_STATUS.size}")
    state, flags, dropped, counter, rate, op, result = _STATUS.unpack(data)
    try:
        st = State(state)
    except ValueError:
        raise DecodeError(f"profile status has unknown state {state}") from None
    if flags & ~int(StatusFlag(0x1F)):
        raise DecodeError(f"profile status has reserved flag bits set (0x{flags:02x})")
    return Status(st, StatusFlag(flags), dropped, counter, rate, op, result)


def encode_layout(layout: ProfileLayout) -> bytes:
    """The Layout characteristic: kind code, channels, bytes per value, 0, then each channel's lsb (float32)."""
    head = struct.pack("<BBBB", layout.kind_code, layout.n_channels, layout.value_bytes, 0)
    return head + struct.pack(f"<{layout.n_channels}f", *layout.lsb)


def decode_layout(payload: bytes) -> ProfileLayout:
    data = require_bytes(payload, "profile layout")
    if len(data) < 4:
        raise DecodeError(f"profile layout of {len(data)} bytes is shorter than its 4-byte header")
    code, n, width, _ = struct.unpack_from("<BBBB", data)
    if len(data) != 4 + 4 * n:
        raise DecodeError(f"profile layout of {len(data)} bytes announces {n} channels = {4 + 4 * n} bytes")
    lsb = struct.unpack_from(f"<{n}f", data, 4)
    try:
        return ProfileLayout(code, width, tuple(float(x) for x in lsb))
    except ValueError as exc:
        raise DecodeError(f"profile layout is invalid: {exc}") from None


class ProfileCodec:
    """:class:`drivers.codecs.Codec` for a Kinetics-profile device kind."""

    name = "kinetics-profile"
    has_counter = True

    def __init__(self, layout: ProfileLayout) -> None:
        self.layout = layout
        self.n_channels = layout.n_channels

    def decode(self, payload: bytes, arrival_index: int = 0) -> SampleBlock:
        return decode_data(payload, self.layout)

    def encode(self, block: SampleBlock) -> bytes:
        return encode_data(block.first_counter, block.values, self.layout)

    def max_samples(self, mtu: int) -> int:
        return samples_per_packet(self.layout, mtu)
