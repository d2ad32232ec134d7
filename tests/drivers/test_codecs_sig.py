"""Bluetooth SIG codecs: Force (0x2C07), Weight Measurement (0x2A9D), Battery Level and DIS strings."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs import DecodeError, SampleBlock, codec_for, sig_force, sig_weight
from drivers.codecs.sig_battery import decode_battery_level, decode_string, encode_battery_level
from drivers.codecs.sig_weight import WeightMeasurement, decode_measurement
from drivers.devices import device_kind
from kinetics._checks import KineticsInputError

# --- Force ---------------------------------------------------------------------------------------------


def test_force_is_sint32_millinewtons() -> None:
    assert sig_force.encode(12.345) == struct.pack("<i", 12345)
    assert sig_force.encode(-0.0004) == struct.pack("<i", 0)
    block = sig_force.decode(struct.pack("<i", -250_500), arrival_index=8)
    assert block.first_counter == 8 and block.values[0, 0] == pytest.approx(-250.5)
    assert np.isnan(sig_force.decode(b"\xff\xff\xff\x7f").values[0, 0])  # "value is not known"
    assert sig_force.encode(math.nan) == b"\xff\xff\xff\x7f"
    assert sig_force.encode(1e12) == struct.pack("<i", 0x7FFFFFFE)  # saturates below the "not known" code
    for bad in (b"", b"\x00\x00\x00", b"\x00" * 5):
        with pytest.raises(DecodeError):
            sig_force.decode(bad)


@settings(max_examples=100, deadline=None)
@given(st.floats(-2_000_000, 2_000_000))
def test_force_round_trip(force: float) -> None:
    got = float(sig_force.decode(sig_force.encode(force)).values[0, 0])
    assert got == pytest.approx(force, abs=0.0005 + abs(force) * 1e-6)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=12))
def test_force_random_bytes(payload: bytes) -> None:
    try:
        assert sig_force.decode(payload).n_samples == 1
    except DecodeError:
        assert len(payload) != 4


# --- Weight Measurement ---------------------------------------------------------------------------------


def test_weight_measurement_si_with_every_field() -> None:
    # flags 0x0E: SI, time stamp, user ID, BMI and height; 70.5 kg = 14100 × 0.005 kg
    raw = bytes([0x0E]) + struct.pack("<H", 14100) + struct.pack("<HBBBBB", 2024, 3, 15, 9, 30, 5)
    raw += bytes([2]) + struct.pack("<HH", 230, 1750)
    m = decode_measurement(raw)
    assert (m.mass_kg, m.imperial, m.timestamp, m.user_id) == (70.5, False, datetime(2024, 3, 15, 9, 30, 5), 2)
    assert (m.bmi, m.height_m) == (pytest.approx(23.0), pytest.approx(1.75))
    assert sig_weight.encode(m) == raw
    block = sig_weight.decode(raw, arrival_index=1)
    assert block.values[:, 0] == pytest.approx([70.5, 23.0, 1.75], rel=1e-6)
    assert block.device_time is not None
    assert block.device_time[0] == datetime(2024, 3, 15, 9, 30, 5, tzinfo=UTC).timestamp()  # read as UTC


def test_weight_measurement_imperial_and_minimal() -> None:
    raw = bytes([0x01]) + struct.pack("<H", 15500)  # 155.00 lb
    m = decode_measurement(raw)
    assert m.imperial and m.mass_kg == pytest.approx(155.0 * 0.45359237) and m.timestamp is None
    assert sig_weight.encode(m) == raw
    raw = bytes([0x09]) + struct.pack("<HHH", 15500, 224, 690)  # imperial, BMI 22.4, height 69.0 in
    m = decode_measurement(raw)
    assert m.height_m == pytest.approx(69.0 * 0.0254) and m.bmi == pytest.approx(22.4)
    assert np.isnan(decode_measurement(b"\x00\xff\xff").mass_kg)  # measurement unsuccessful
    unknown_date = decode_measurement(bytes([0x02]) + struct.pack("<H", 100) + bytes(7))
    assert unknown_date.timestamp is None
    undated = sig_weight.decode(bytes([0x02]) + struct.pack("<H", 100) + bytes(7)).device_time
    assert undated is not None and np.isnan(undated[0])
    block = sig_weight.decode(b"\x00\x10\x27")
    assert block.values[0, 0] == pytest.approx(50.0) and np.isnan(block.values[1:, 0]).all()
    assert block.device_time is None


def test_weight_measurement_malformed() -> None:
    for bad in (b"", b"\x00\x01", b"\x02\x10\x27", b"\x08\x10\x27\x00\x00", b"\x00\x10\x27\x00"):
        with pytest.raises(DecodeError):
            decode_measurement(bad)
    with pytest.raises(DecodeError, match="date"):
        decode_measurement(bytes([0x02]) + struct.pack("<H", 100) + struct.pack("<HBBBBB", 2024, 13, 1, 0, 0, 0))
    with pytest.raises(KineticsInputError):
        sig_weight.encode(WeightMeasurement(400.0))  # beyond 327.67 kg
    with pytest.raises(KineticsInputError):
        sig_weight.encode(WeightMeasurement(70.0, bmi=22.0))


@settings(max_examples=100, deadline=None)
@given(
    mass=st.floats(0, 290),  # imperial tops out at 655.34 lb = 297 kg
    imperial=st.booleans(),
    user=st.none() | st.integers(0, 255),
    body=st.none() | st.tuples(st.floats(10, 60), st.floats(0.5, 2.5)),
    when=st.none() | st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1)).map(lambda d: d.replace(microsecond=0)),
)
def test_weight_round_trip(
    mass: float, imperial: bool, user: int | None, body: tuple[float, float] | None, when: datetime | None
) -> None:
    m = WeightMeasurement(
        mass, imperial, when, user, None if body is None else body[0], None if body is None else body[1]
    )
    back = decode_measurement(sig_weight.encode(m))
    assert back.mass_kg == pytest.approx(mass, abs=0.0051 * (0.45359237 * 2 if imperial else 1))
    assert back.imperial == imperial and back.timestamp == when and back.user_id == user
    if body is not None:
        assert back.bmi == pytest.approx(body[0], abs=0.051)
        assert back.height_m == pytest.approx(body[1], abs=0.0013 if imperial else 0.00051)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=20))
def test_weight_random_bytes(payload: bytes) -> None:
    try:
        block = sig_weight.decode(payload)
    except DecodeError:
        return
    assert isinstance(block, SampleBlock) and block.values.shape == (3, 1)


def test_weight_truncation() -> None:
    full = sig_weight.encode(WeightMeasurement(80.0, False, datetime(2020, 1, 2, 3, 4, 5), 1, 24.0, 1.8))
    for n in range(len(full)):
        with pytest.raises(DecodeError):
            sig_weight.decode(full[:n])


def test_sig_codec_objects() -> None:
    force = codec_for(device_kind("ble-force"))
    got = force.decode(force.encode(SampleBlock(0, np.array([[3.5]], dtype=np.float32))))
    assert isinstance(got, SampleBlock) and got.values[0, 0] == pytest.approx(3.5)
    scale = codec_for(device_kind("ble-weight-scale"))
    block = SampleBlock(0, np.array([[72.0], [np.nan], [np.nan]], dtype=np.float32))
    got = scale.decode(scale.encode(block))
    assert isinstance(got, SampleBlock) and got.values[0, 0] == pytest.approx(72.0)
    with pytest.raises(KineticsInputError):
        force.encode(SampleBlock(0, np.ones((1, 2), dtype=np.float32)))


# --- Battery and Device Information ---------------------------------------------------------------------


def test_battery_and_strings() -> None:
    assert decode_battery_level(b"\x57") == 87 and encode_battery_level(87) == b"\x57"
    for bad in (b"", b"\x65", b"\x10\x10"):
        with pytest.raises(DecodeError):
            decode_battery_level(bad)
    assert decode_string(b"Kinetics\x00") == "Kinetics"
    with pytest.raises(DecodeError):
        decode_string(b"\xff\xfe")
