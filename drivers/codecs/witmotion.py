"""Codec of the WitMotion BWT901BLE (BLE 5.0) inertial sensor.

Sources: WitMotion's own Python SDK for the BWT901BLE5.0 (github.com/WITMOTION/WitBluetooth_BWT901BLE5_0,
``device_model.py``), the WT901BLECL datasheet (§6 communication protocol) and WitMotion's BLE 5.0 manuals:

- service ``0000ffe5-0000-1000-8000-00805f9a34fb``; notify ``0000ffe4-…``; write ``0000ffe9-…`` (note the
  ``…9a34fb`` suffix: not the SIG base UUID ``…9b34fb``).
- Default data packet, 20 bytes: ``0x55 0x61`` then 9 × int16 little-endian: acceleration x, y, z
  (raw / 32768 × 16 g), angular velocity x, y, z (raw / 32768 × 2000 °/s), angle x, y, z (roll, pitch, yaw;
  raw / 32768 × 180°). The SDK reassembles packets from a byte stream, so a notification may carry several
  whole packets back to back; this codec accepts any whole number of them.
- Register read-back, 20 bytes: ``0x55 0x71``, start register (uint16), 8 registers (int16), answering the
  command ``FF AA 27 reg 00``.
- Commands, 5 bytes: ``FF AA register value_lo value_hi``; unlock ``FF AA 69 88 B5``; save ``FF AA 00 00 00``;
  output rate register 0x03 with rate codes of the BLE 5.0 models (0x01 0.2 Hz … 0x06 10 Hz … 0x09 100 Hz,
  0x0A 200 Hz — the serial "WIT standard protocol" lists 0x0B for 200 Hz; the BLE 5.0 manuals and the
  WT901BLECL datasheet v23-0420 list 0x0A).

The sensor sends no sample counter or timestamp: counters are arrival indices. Units out: m/s², rad/s, degrees.
"""

from __future__ import annotations

import math
import struct

import numpy as np
from numpy.typing import NDArray

from drivers.codecs import Decoded, DecodeError, DeviceMessage, SampleBlock, require_bytes
from kinetics._checks import input_error

STANDARD_GRAVITY = 9.80665
PACKET_BYTES = 20
HEADER = 0x55
FLAG_DATA = 0x61
FLAG_REGISTERS = 0x71
ACC_FULL_SCALE = 16.0 * STANDARD_GRAVITY  # m/s² at raw 32768
GYR_FULL_SCALE = math.radians(2000.0)  # rad/s at raw 32768
ANGLE_FULL_SCALE = 180.0  # deg at raw 32768
SCALES = np.array([ACC_FULL_SCALE] * 3 + [GYR_FULL_SCALE] * 3 + [ANGLE_FULL_SCALE] * 3) / 32768.0
CHANNELS = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z", "angle_x", "angle_y", "angle_z")

REG_SAVE = 0x00
REG_CALSW = 0x01
REG_RATE = 0x03
REG_VERSION = 0x2E
REG_MAG_X = 0x3A
REG_QUATERNION = 0x51
REG_BATTERY = 0x64  # battery voltage in 0.01 V (per WitMotion support, as documented by esphome's driver)
REG_READ = 0x27
REG_UNLOCK = 0x69
UNLOCK_VALUE = 0xB588

RATE_CODES = {
    0.2: 0x01,
    0.5: 0x02,
    1.0: 0x03,
    2.0: 0x04,
    5.0: 0x05,
    10.0: 0x06,
    20.0: 0x07,
    50.0: 0x08,
    100.0: 0x09,
    200.0: 0x0A,
}


def encode_packet(acc: NDArray[np.floating], gyr: NDArray[np.floating], angle: NDArray[np.floating]) -> bytes:
    """Samples → back-to-back 20-byte packets. ``acc`` (3, n) m/s², ``gyr`` (3, n) rad/s, ``angle`` (3, n) deg.

    Values beyond full scale saturate at the int16 limits.
    """
    v = np.vstack([np.asarray(x, dtype=np.float64).reshape(3, -1) for x in (acc, gyr, angle)])
    if v.shape[0] != 9 or v.shape[1] < 1 or not np.all(np.isfinite(v)):
        raise input_error("samples", f"shape {v.shape} or non-finite values", "give three finite (3, n) arrays")
    raw = np.clip(np.rint(v / SCALES[:, None]), -32768, 32767).astype("<i2")
    out = bytearray()
    for i in range(v.shape[1]):
        out += bytes([HEADER, FLAG_DATA]) + raw[:, i].tobytes()
    return bytes(out)


def decode(payload: bytes, arrival_index: int = 0) -> Decoded:
    """One notification → :class:`SampleBlock` (9 channels, :data:`CHANNELS`) or a register read-back message."""
    data = require_bytes(payload, "WitMotion notification")
    if not data or len(data) % PACKET_BYTES:
        raise DecodeError(f"WitMotion notification of {len(data)} bytes is not whole 20-byte packets")
    packets = np.frombuffer(data, dtype=np.uint8).reshape(-1, PACKET_BYTES)
    if np.any(packets[:, 0] != HEADER):
        raise DecodeError("WitMotion packet does not start with 0x55")
    flags = packets[:, 1]
    if packets.shape[0] == 1 and flags[0] == FLAG_REGISTERS:
        start = struct.unpack_from("<H", data, 2)[0]
        regs = struct.unpack_from("<8h", data, 4)
        fields: dict[str, float | int | str] = {"start_register": start}
        fields.update({f"reg_{start + i:#04x}": r for i, r in enumerate(regs)})
        return DeviceMessage(kind="register", code=FLAG_REGISTERS, data=data[2:], fields=fields)
    if np.any(flags != FLAG_DATA):
        bad = int(flags[flags != FLAG_DATA][0])
        raise DecodeError(f"WitMotion packet flag 0x{bad:02x} is not a data packet (0x61) in a data run")
    raw = packets[:, 2:].copy().view("<i2").astype(np.float64)  # (n, 9)
    values = (raw * SCALES[None, :]).T
    return SampleBlock(first_counter=arrival_index, values=values.astype(np.float32))


def encode_registers(start: int, registers: list[int]) -> bytes:
    """A register read-back packet (the simulated sensor's answer to :func:`read_register`)."""
    if len(registers) != 8 or not 0 <= start <= 0xFFFF:
        raise input_error("registers", f"{len(registers)} registers from {start}", "give 8 int16 registers")
    return bytes([HEADER, FLAG_REGISTERS]) + struct.pack("<H8h", start, *registers)


def command(register: int, value: int) -> bytes:
    """``FF AA register value_lo value_hi``."""
    if not 0 <= register <= 0xFF or not 0 <= value <= 0xFFFF:
        raise input_error("command", f"register {register!r} value {value!r}", "register 0..255, value 0..65535")
    return bytes([0xFF, 0xAA, register, value & 0xFF, value >> 8])


def unlock() -> bytes:
    return command(REG_UNLOCK, UNLOCK_VALUE)


def save() -> bytes:
    return command(REG_SAVE, 0)


def read_register(register: int) -> bytes:
    return command(REG_READ, register)


def set_rate(rate_hz: float) -> bytes:
    """The output-rate command (send :func:`unlock` first and :func:`save` after)."""
    code = RATE_CODES.get(float(rate_hz))
    if code is None:
        raise input_error("rate", f"{rate_hz} Hz is not a WitMotion output rate", f"use one of {sorted(RATE_CODES)}")
    return command(REG_RATE, code)


def decode_command(payload: bytes) -> tuple[int, int]:
    """A 5-byte command → (register, value); used by the simulated sensor."""
    data = require_bytes(payload, "WitMotion command")
    if len(data) != 5 or data[0] != 0xFF or data[1] != 0xAA:
        raise DecodeError(f"WitMotion command must be FF AA reg lo hi, got {data.hex(' ')}")
    return data[2], data[3] | (data[4] << 8)


class WitMotionCodec:
    """:class:`drivers.codecs.Codec` for the WitMotion BWT901BLE."""

    name = "witmotion"
    n_channels = 9
    has_counter = False

    def decode(self, payload: bytes, arrival_index: int = 0) -> Decoded:
        return decode(payload, arrival_index)

    def encode(self, block: SampleBlock) -> bytes:
        v = block.values.astype(np.float64)
        if v.shape[0] != 9:
            raise input_error("block", f"{v.shape[0]} channels", "a WitMotion block has 9 channels")
        return encode_packet(v[0:3], v[3:6], v[6:9])

    def max_samples(self, mtu: int) -> int:
        return max(0, (mtu - 3) // PACKET_BYTES)
