"""Codec of the Bluetooth SIG Weight Measurement characteristic (UUID 0x2A9D, indicate) of the Weight Scale
Service (0x181D).

Source: Bluetooth SIG Weight Scale Service 1.0 and GATT Specification Supplement §3.252 (Weight Measurement),
§3.70 (Date Time). Little-endian::

    flags      uint8   bit 0 units (0 SI: kg and m, 1 imperial: lb and in), bit 1 time stamp present,
                       bit 2 user ID present, bit 3 BMI and height present, bits 4–7 reserved (ignored)
    weight     uint16  SI 0.005 kg, imperial 0.01 lb; 0xFFFF = measurement unsuccessful (decoded as NaN)
    time stamp 7 B     Date Time: year uint16 (0 = unknown), month, day, hours, minutes, seconds (uint8 each)
    user ID    uint8   255 = unknown user
    BMI        uint16  0.1 kg/m²
    height     uint16  SI 0.001 m, imperial 0.1 in

One measurement per indication; counters are arrival indices. The sample's ``device_time`` is the time stamp as
POSIX seconds, reading the scale's local civil time as if it were UTC (NaN when the date is unknown).
"""

from __future__ import annotations

import calendar
import math
import struct
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from drivers.codecs import DecodeError, SampleBlock, require_bytes
from kinetics._checks import input_error

SERVICE_UUID = "0000181d-0000-1000-8000-00805f9b34fb"
CHARACTERISTIC_UUID = "00002a9d-0000-1000-8000-00805f9b34fb"
FEATURE_UUID = "00002a9e-0000-1000-8000-00805f9b34fb"
POUND_KG = 0.45359237
INCH_M = 0.0254
UNSUCCESSFUL = 0xFFFF
UNKNOWN_USER = 255
CHANNELS = ("mass", "bmi", "height")

_IMPERIAL, _TIME, _USER, _BMI = 0x01, 0x02, 0x04, 0x08


@dataclass(frozen=True)
class WeightMeasurement:
    """Every field of one measurement, in SI units (None where the flags say the field is absent)."""

    mass_kg: float  # NaN when the scale reports an unsuccessful measurement
    imperial: bool = False
    timestamp: datetime | None = None  # naive, the scale's local time; None if absent or unknown
    user_id: int | None = None
    bmi: float | None = None
    height_m: float | None = None


def _quantise(value: float, step: float, what: str) -> int:
    code = round(value / step)
    if not 0 <= code < UNSUCCESSFUL:
        raise input_error(what, f"{value!r} is outside the uint16 range at {step}", "check the value and units")
    return code


def encode(m: WeightMeasurement) -> bytes:
    """A measurement → the characteristic's bytes (quantised to its resolution)."""
    flags = (_IMPERIAL if m.imperial else 0) | (_TIME if m.timestamp else 0) | (_USER if m.user_id is not None else 0)
    if (m.bmi is None) != (m.height_m is None):
        raise input_error("bmi/height", "only one of BMI and height given", "give both or neither (one flag)")
    flags |= _BMI if m.bmi is not None else 0
    if math.isnan(m.mass_kg):
        weight = UNSUCCESSFUL
    elif m.imperial:
        weight = _quantise(m.mass_kg / POUND_KG, 0.01, "mass")
    else:
        weight = _quantise(m.mass_kg, 0.005, "mass")
    out = struct.pack("<BH", flags, weight)
    if m.timestamp:
        t = m.timestamp
        out += struct.pack("<HBBBBB", t.year, t.month, t.day, t.hour, t.minute, t.second)
    if m.user_id is not None:
        if not 0 <= m.user_id <= 255:
            raise input_error("user_id", f"{m.user_id!r}", "give 0..254, or 255 for an unknown user")
        out += bytes([m.user_id])
    if m.bmi is not None and m.height_m is not None:
        height = m.height_m / INCH_M if m.imperial else m.height_m
        out += struct.pack(
            "<HH", _quantise(m.bmi, 0.1, "bmi"), _quantise(height, 0.1 if m.imperial else 0.001, "height")
        )
    return out


def decode_measurement(payload: bytes) -> WeightMeasurement:
    """The characteristic's bytes → :class:`WeightMeasurement`; :class:`DecodeError` if malformed."""
    data = require_bytes(payload, "Weight Measurement")
    if len(data) < 3:
        raise DecodeError(f"Weight Measurement of {len(data)} bytes is shorter than flags + weight (3)")
    flags = data[0]
    imperial = bool(flags & _IMPERIAL)
    expected = 3 + (7 if flags & _TIME else 0) + (1 if flags & _USER else 0) + (4 if flags & _BMI else 0)
    if len(data) != expected:
        raise DecodeError(f"Weight Measurement of {len(data)} bytes, its flags 0x{flags:02x} announce {expected}")
    weight = struct.unpack_from("<H", data, 1)[0]
    mass = math.nan if weight == UNSUCCESSFUL else weight * (0.01 * POUND_KG if imperial else 0.005)
    pos = 3
    timestamp = None
    if flags & _TIME:
        year, month, day, hour, minute, second = struct.unpack_from("<HBBBBB", data, pos)
        pos += 7
        if year and month and day:
            try:
                timestamp = datetime(year, month, day, hour, minute, second)
            except ValueError as exc:
                raise DecodeError(f"Weight Measurement time stamp is not a date: {exc}") from None
        elif hour > 23 or minute > 59 or second > 59:
            raise DecodeError("Weight Measurement time stamp has an impossible time of day")
    user = None
    if flags & _USER:
        user = data[pos]
        pos += 1
    bmi = height = None
    if flags & _BMI:
        bmi_raw, height_raw = struct.unpack_from("<HH", data, pos)
        bmi = bmi_raw * 0.1
        height = height_raw * (0.1 * INCH_M if imperial else 0.001)
    return WeightMeasurement(mass, imperial, timestamp, user, bmi, height)


def decode(payload: bytes, arrival_index: int = 0) -> SampleBlock:
    """One indication → one sample of (mass kg, BMI kg/m², height m); absent BMI/height are NaN."""
    m = decode_measurement(payload)
    values = np.array(
        [[m.mass_kg], [np.nan if m.bmi is None else m.bmi], [np.nan if m.height_m is None else m.height_m]]
    )
    device_time = None
    if require_bytes(payload, "Weight Measurement")[0] & _TIME:
        device_time = np.array([calendar.timegm(m.timestamp.timetuple()) if m.timestamp else np.nan])
    return SampleBlock(first_counter=arrival_index, values=values.astype(np.float32), device_time=device_time)


class SigWeightCodec:
    """:class:`drivers.codecs.Codec` for a SIG Weight Scale (SI units, no time stamp when encoding a block)."""

    name = "sig-weight"
    n_channels = 3
    has_counter = False

    def decode(self, payload: bytes, arrival_index: int = 0) -> SampleBlock:
        return decode(payload, arrival_index)

    def encode(self, block: SampleBlock) -> bytes:
        if block.values.shape != (3, 1):
            raise input_error(
                "block", f"shape {block.values.shape}", "a weight measurement is one sample of 3 channels"
            )
        mass, bmi, height = (float(x) for x in block.values[:, 0])
        both = not (math.isnan(bmi) or math.isnan(height))
        return encode(WeightMeasurement(mass, bmi=bmi if both else None, height_m=height if both else None))

    def max_samples(self, mtu: int) -> int:
        return 1 if mtu - 3 >= 15 else 0
