"""Tindeq Progressor codec, checked against byte sequences written from its public API description."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs import DecodeError, DeviceMessage, SampleBlock, codec_for
from drivers.codecs.tindeq import (
    STANDARD_GRAVITY,
    Command,
    Response,
    battery_millivolts,
    decode,
    decode_command,
    encode_command,
    encode_response,
    encode_weights,
    response_text,
)
from drivers.devices import device_kind
from kinetics._checks import KineticsInputError


def test_weight_frame_from_the_api_document() -> None:
    # Tag 0x01 (weight measurement), length 32, then 4 × (float32 kg, uint32 µs), little-endian: 34 bytes.
    kg = [0.0, 1.25, 20.5, -0.75]
    us = [1_000_000, 1_012_500, 1_025_000, 1_037_500]
    frame = bytes([0x01, 32]) + b"".join(struct.pack("<fI", m, t) for m, t in zip(kg, us, strict=True))
    assert len(frame) == 34
    block = decode(frame, arrival_index=40)
    assert isinstance(block, SampleBlock)
    assert block.counters.tolist() == [40, 41, 42, 43]
    assert block.values[0] == pytest.approx(np.array(kg) * 9.80665, rel=1e-6)
    assert block.device_time is not None
    assert block.device_time.tolist() == [1.0, 1.0125, 1.025, 1.0375]
    assert encode_weights(np.array(kg) * STANDARD_GRAVITY, np.array(us) / 1e6) == frame


def test_command_bytes_from_the_api_document() -> None:
    assert encode_command(Command.TARE) == b"\x64"
    assert encode_command(Command.START_WEIGHT) == b"\x65"
    assert encode_command(Command.STOP_WEIGHT) == b"\x66"
    assert encode_command(Command.SLEEP) == b"\x6e"
    assert encode_command(Command.GET_BATTERY_VOLTAGE) == b"\x6f"
    assert encode_command(Command.GET_APP_VERSION) == b"\x6b"
    assert encode_command(Command.ADD_CALIBRATION_POINT, 10.0) == b"\x69\x04" + struct.pack("<f", 10.0)
    assert decode_command(b"\x65") == (Command.START_WEIGHT, None)
    assert decode_command(b"\x65\x00") == (Command.START_WEIGHT, None)
    assert decode_command(b"\x69\x04" + struct.pack("<f", 2.5)) == (Command.ADD_CALIBRATION_POINT, 2.5)
    for bad in (b"", b"\x01", b"\x69", b"\x65\x02\x00", b"\x69\x02\x00\x00"):
        with pytest.raises(DecodeError):
            decode_command(bad)
    with pytest.raises(KineticsInputError):
        encode_command(0x99)
    with pytest.raises(KineticsInputError):
        encode_command(Command.TARE, 1.0)


def test_responses_and_warnings() -> None:
    battery = decode(bytes([0x00, 4]) + struct.pack("<I", 3871))
    assert isinstance(battery, DeviceMessage) and battery.kind == "command_response"
    assert battery_millivolts(battery) == 3871
    version = decode(bytes([0x00, 5]) + b"1.2.3")
    assert isinstance(version, DeviceMessage) and response_text(version) == "1.2.3"
    low = decode(b"\x04\x00")
    assert isinstance(low, DeviceMessage) and low.kind == "low_power" and low.code == Response.LOW_POWER_WARNING
    with pytest.raises(DecodeError, match="unknown"):
        decode(b"\x09\x00")
    with pytest.raises(DecodeError):
        battery_millivolts(version)


def test_mtu_23_truncation_is_detected() -> None:
    frame = encode_weights([10.0, 20.0, 30.0, 40.0], [0.0, 0.0125, 0.025, 0.0375])
    with pytest.raises(DecodeError, match="MTU"):
        decode(frame[:20])  # what a 23-byte MTU delivers of a 34-byte notification
    codec = codec_for(device_kind("tindeq-progressor"))
    assert codec.max_samples(23) == 2 and codec.max_samples(37) == 4
    assert not codec.has_counter
    with pytest.raises(DecodeError, match="multiple of 8"):
        decode(b"\x01\x04" + b"\x00" * 4)
    with pytest.raises(DecodeError, match="shorter"):
        decode(b"\x01")


@settings(max_examples=100, deadline=None)
@given(
    kg=st.lists(st.floats(-500, 500, allow_nan=False, width=32), min_size=1, max_size=31),
    start_us=st.integers(0, 2**32 - 1),
)
def test_round_trip(kg: list[float], start_us: int) -> None:
    n = len(kg)
    times = (start_us + 12_500 * np.arange(n)) % 2**32 / 1e6
    block = decode(encode_weights(np.array(kg) * STANDARD_GRAVITY, times), arrival_index=3)
    assert isinstance(block, SampleBlock)
    assert block.values[0] == pytest.approx(np.array(kg) * STANDARD_GRAVITY, rel=1e-6, abs=1e-9)
    assert block.device_time is not None and np.allclose(block.device_time, times, atol=1e-7)
    codec = codec_for(device_kind("tindeq-progressor"))
    assert codec.encode(block) == encode_weights(block.values[0].astype(float), block.device_time)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300))
def test_random_bytes_only_raise_decode_error(payload: bytes) -> None:
    try:
        out = decode(payload)
    except DecodeError:
        return
    assert isinstance(out, SampleBlock | DeviceMessage)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 31), cut=st.integers(1, 300))
def test_truncation_is_a_decode_error(n: int, cut: int) -> None:
    frame = encode_weights(np.ones(n), np.arange(n) * 0.0125)
    with pytest.raises(DecodeError):
        decode(frame[: max(0, len(frame) - cut)])


def test_response_frames_encode() -> None:
    assert encode_response(Response.COMMAND_RESPONSE, b"\x01\x02") == b"\x00\x02\x01\x02"
    with pytest.raises(KineticsInputError):
        encode_response(0x00, bytes(300))
