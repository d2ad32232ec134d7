"""Codec of the Tindeq Progressor (a crane-scale style traction dynamometer).

Sources: Tindeq's public Progressor API (https://tindeq.com/progressor_api/), the Python example client of
that API (github.com/blims/Tindeq-Progressor-API and its forks) and the Progressor model of hangtime-grip-connect
(github.com/Stevie-Ray/hangtime-grip-connect); the facts below agree across them:

- service ``7e4e1701-1ea6-40c9-9dcc-13d34ffead57``; data ``…1702…`` (notify); control point ``…1703…``
  (write with response); found by its advertised name, which starts with ``Progressor``.
- Every notification of the data characteristic is one TLV frame: ``tag`` (uint8), ``length`` (uint8, bytes of
  value), ``value``. Tags (response codes): 0 command response, 1 weight measurement, 2 peak RFD measurement,
  3 peak RFD measurement series, 4 low power warning.
- A weight-measurement value is N × (float32 kg, uint32 µs since the measurement started), little-endian; the
  device samples at about 80 Hz. A notification carries several samples (34 bytes for 4), so a central must
  exchange a larger MTU than 23; the codec accepts any whole number of samples and rejects a frame whose
  length byte disagrees with its size (a notification truncated to MTU−3).
- Commands are written to the control point as an opcode byte, followed for commands with a parameter by a
  length byte and the value (TLV): 0x64 tare, 0x65 start weight measurement, 0x66 stop, 0x67 start peak RFD,
  0x68 start peak RFD series, 0x69 add calibration point (float32 kg), 0x6A save calibration, 0x6B get app
  version, 0x6C get error information, 0x6D clear error information, 0x6E enter sleep, 0x6F get battery voltage,
  0x70 get Progressor ID. One command in flight at a time: its answer is the next command-response frame
  (battery: uint32 mV; app version and error information: UTF-8 text; ID: raw bytes).

Weights are converted to newtons with standard gravity g = 9.80665 m/s².
"""

from __future__ import annotations

import struct
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from drivers.codecs import Decoded, DecodeError, DeviceMessage, SampleBlock, require_bytes
from kinetics._checks import input_error

STANDARD_GRAVITY = 9.80665
DEVICE_CLOCK_HZ = 1_000_000
NOMINAL_RATE_HZ = 80.0
SAMPLE_BYTES = 8
MAX_SAMPLES = 255 // SAMPLE_BYTES  # the length byte limits a frame to 31 samples


class Response(IntEnum):
    COMMAND_RESPONSE = 0x00
    WEIGHT_MEASUREMENT = 0x01
    PEAK_RFD = 0x02
    PEAK_RFD_SERIES = 0x03
    LOW_POWER_WARNING = 0x04


class Command(IntEnum):
    TARE = 0x64
    START_WEIGHT = 0x65
    STOP_WEIGHT = 0x66
    START_PEAK_RFD = 0x67
    START_PEAK_RFD_SERIES = 0x68
    ADD_CALIBRATION_POINT = 0x69
    SAVE_CALIBRATION = 0x6A
    GET_APP_VERSION = 0x6B
    GET_ERROR_INFO = 0x6C
    CLEAR_ERROR_INFO = 0x6D
    SLEEP = 0x6E
    GET_BATTERY_VOLTAGE = 0x6F
    GET_PROGRESSOR_ID = 0x70


_MESSAGE_KINDS = {
    Response.COMMAND_RESPONSE: "command_response",
    Response.PEAK_RFD: "peak_rfd",
    Response.PEAK_RFD_SERIES: "peak_rfd_series",
    Response.LOW_POWER_WARNING: "low_power",
}


def encode_weights(force_n: NDArray[np.floating] | list[float], time_s: NDArray[np.floating] | list[float]) -> bytes:
    """A weight-measurement frame: forces (N) and device times (s, on the device's µs clock, wrapping at 2³²)."""
    f = np.atleast_1d(np.asarray(force_n, dtype=np.float64))
    t = np.atleast_1d(np.asarray(time_s, dtype=np.float64))
    if f.ndim != 1 or f.shape != t.shape or not 1 <= f.size <= MAX_SAMPLES:
        raise input_error("samples", f"forces {f.shape} and times {t.shape}", f"give 1..{MAX_SAMPLES} of each")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise input_error("time_s", "has negative or non-finite times", "give device times ≥ 0 s")
    rec = np.empty(f.size, dtype=[("kg", "<f4"), ("us", "<u4")])
    rec["kg"] = f / STANDARD_GRAVITY
    rec["us"] = (np.rint(t * DEVICE_CLOCK_HZ).astype(np.int64) % (1 << 32)).astype(np.uint32)
    return bytes([Response.WEIGHT_MEASUREMENT, SAMPLE_BYTES * f.size]) + rec.tobytes()


def encode_response(code: Response | int, value: bytes = b"") -> bytes:
    """Any TLV frame of the data characteristic (command responses, warnings)."""
    if not 0 <= int(code) <= 0xFF or len(value) > 0xFF:
        raise input_error("frame", f"tag {code!r} or {len(value)}-byte value does not fit a TLV", "check them")
    return bytes([int(code), len(value)]) + bytes(value)


def decode(payload: bytes, arrival_index: int = 0) -> Decoded:
    """One notification of the data characteristic → weights as a :class:`SampleBlock` or a :class:`DeviceMessage`.

    Samples: one channel, force in N; ``device_time`` in s from the µs field (not unwrapped). Counters are
    ``arrival_index`` onwards (the Progressor sends no sample counter).
    """
    data = require_bytes(payload, "Tindeq frame")
    if len(data) < 2:
        raise DecodeError(f"Tindeq frame of {len(data)} bytes is shorter than its tag and length")
    tag, length = data[0], data[1]
    if len(data) != 2 + length:
        raise DecodeError(
            f"Tindeq frame of {len(data)} bytes announces a {length}-byte value"
            + (" (truncated, e.g. to MTU−3: exchange a larger MTU)" if len(data) < 2 + length else "")
        )
    value = data[2:]
    if tag == Response.WEIGHT_MEASUREMENT:
        if length == 0 or length % SAMPLE_BYTES:
            raise DecodeError(f"Tindeq weight frame value of {length} bytes is not a multiple of 8")
        rec = np.frombuffer(value, dtype=[("kg", "<f4"), ("us", "<u4")])
        force = rec["kg"].astype(np.float64) * STANDARD_GRAVITY
        t = rec["us"].astype(np.float64) / DEVICE_CLOCK_HZ
        return SampleBlock(first_counter=arrival_index, values=force[None, :].astype(np.float32), device_time=t)
    try:
        kind = _MESSAGE_KINDS[Response(tag)]
    except (ValueError, KeyError):
        raise DecodeError(f"unknown Tindeq response code 0x{tag:02x}") from None
    return DeviceMessage(kind=kind, code=tag, data=value)


def battery_millivolts(message: DeviceMessage) -> int:
    """The answer to GET_BATTERY_VOLTAGE (uint32 mV)."""
    if message.code != Response.COMMAND_RESPONSE or len(message.data) != 4:
        raise DecodeError(f"not a battery-voltage response: code {message.code}, {len(message.data)} bytes")
    return int(struct.unpack("<I", message.data)[0])


def response_text(message: DeviceMessage) -> str:
    """The answer to GET_APP_VERSION or GET_ERROR_INFO (UTF-8 text)."""
    if message.code != Response.COMMAND_RESPONSE:
        raise DecodeError(f"not a command response: code {message.code}")
    try:
        return message.data.decode("utf-8").rstrip("\x00")
    except UnicodeDecodeError:
        raise DecodeError("command response is not UTF-8 text") from None


def encode_command(command: Command | int, value: float | None = None) -> bytes:
    """Bytes for the control point: the opcode alone, or opcode, length 4, float32 for ADD_CALIBRATION_POINT."""
    try:
        cmd = Command(command)
    except ValueError:
        raise input_error(
            "command", f"0x{int(command):02x} is not a Progressor command", f"use {list(Command)}"
        ) from None
    if cmd == Command.ADD_CALIBRATION_POINT:
        if value is None:
            raise input_error("value", "ADD_CALIBRATION_POINT needs the reference mass in kg", "pass value=")
        return bytes([cmd, 4]) + struct.pack("<f", float(value))
    if value is not None:
        raise input_error("value", f"{cmd.name} takes no parameter", "pass value=None")
    return bytes([cmd])


def decode_command(payload: bytes) -> tuple[Command, float | None]:
    """A control-point write (opcode alone, or TLV) → (command, parameter); used by the simulated Progressor."""
    data = require_bytes(payload, "Tindeq command")
    if not data:
        raise DecodeError("empty Tindeq command")
    try:
        cmd = Command(data[0])
    except ValueError:
        raise DecodeError(f"unknown Tindeq command 0x{data[0]:02x}") from None
    if len(data) == 1:
        if cmd == Command.ADD_CALIBRATION_POINT:
            raise DecodeError("ADD_CALIBRATION_POINT without its float32 value")
        return cmd, None
    if len(data) != 2 + data[1]:
        raise DecodeError(f"Tindeq command of {len(data)} bytes announces a {data[1]}-byte value")
    if cmd == Command.ADD_CALIBRATION_POINT:
        if data[1] != 4:
            raise DecodeError(f"ADD_CALIBRATION_POINT value of {data[1]} bytes, expected 4")
        return cmd, float(struct.unpack("<f", data[2:])[0])
    if data[1] != 0:
        raise DecodeError(f"{cmd.name} takes no value, got {data[1]} bytes")
    return cmd, None


class TindeqCodec:
    """:class:`drivers.codecs.Codec` for the Tindeq Progressor."""

    name = "tindeq"
    n_channels = 1
    has_counter = False

    def decode(self, payload: bytes, arrival_index: int = 0) -> Decoded:
        return decode(payload, arrival_index)

    def encode(self, block: SampleBlock) -> bytes:
        if block.device_time is None:
            raise input_error("block", "a Progressor frame needs device_time", "give the device time of each sample")
        return encode_weights(block.values[0].astype(np.float64), block.device_time)

    def max_samples(self, mtu: int) -> int:
        return max(0, min(MAX_SAMPLES, (mtu - 3 - 2) // SAMPLE_BYTES))
