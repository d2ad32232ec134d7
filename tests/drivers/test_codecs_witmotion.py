"""WitMotion BWT901BLE codec: packet layout and scaling from the vendor SDK, round trips, malformed input."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs import DecodeError, DeviceMessage, SampleBlock, codec_for
from drivers.codecs.witmotion import (
    SCALES,
    decode,
    decode_command,
    encode_packet,
    encode_registers,
    read_register,
    save,
    set_rate,
    unlock,
)
from drivers.devices import device_kind
from kinetics._checks import KineticsInputError


def test_vendor_packet_decodes_to_si_units() -> None:
    raw = (2048, -2048, 16384, 16384, 0, -8192, 8192, -16384, 32767)
    packet = bytes([0x55, 0x61]) + struct.pack("<9h", *raw)
    assert len(packet) == 20
    block = decode(packet, arrival_index=12)
    assert isinstance(block, SampleBlock) and block.first_counter == 12
    g = 9.80665
    expected = [1 * g, -1 * g, 8 * g, math.radians(1000), 0.0, math.radians(-500), 45.0, -90.0, 32767 / 32768 * 180]
    assert block.values[:, 0] == pytest.approx(expected, rel=1e-6)


def test_back_to_back_packets_and_register_reads() -> None:
    two = encode_packet(np.zeros((3, 2)), np.ones((3, 2)) * 0.5, np.full((3, 2), 10.0))
    block = decode(two, arrival_index=0)
    assert isinstance(block, SampleBlock) and block.counters.tolist() == [0, 1]
    reply = encode_registers(0x64, [412, 0, 0, 0, 0, 0, 0, 0])
    msg = decode(reply)
    assert isinstance(msg, DeviceMessage) and msg.kind == "register" and msg.fields["reg_0x64"] == 412
    with pytest.raises(DecodeError, match="0x71"):
        decode(two[:20] + reply)
    with pytest.raises(DecodeError, match="0x55"):
        decode(b"\x54" + two[1:20])
    with pytest.raises(DecodeError, match="20-byte"):
        decode(two[:19])  # truncated


def test_commands_from_the_vendor_sdk() -> None:
    assert unlock() == bytes.fromhex("ffaa6988b5")
    assert save() == bytes.fromhex("ffaa000000")
    assert read_register(0x3A) == bytes.fromhex("ffaa273a00")
    assert set_rate(200) == bytes.fromhex("ffaa030a00")
    assert set_rate(10) == bytes.fromhex("ffaa030600")
    assert decode_command(bytes.fromhex("ffaa030900")) == (0x03, 0x09)
    with pytest.raises(KineticsInputError):
        set_rate(1000)
    with pytest.raises(DecodeError):
        decode_command(b"\xff\xab\x03\x09\x00")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-0.99, 0.99), min_size=9, max_size=9 * 5).filter(lambda v: len(v) % 9 == 0))
def test_round_trip(fractions: list[float]) -> None:
    v = np.asarray(fractions).reshape(-1, 9).T * 32768 * SCALES[:, None]
    block = decode(encode_packet(v[0:3], v[3:6], v[6:9]))
    assert isinstance(block, SampleBlock)
    assert np.all(np.abs(block.values - v) <= SCALES[:, None] / 2 + np.abs(v) * 1e-6)
    codec = codec_for(device_kind("witmotion-bwt901"))
    assert codec.encode(block) == encode_packet(v[0:3], v[3:6], v[6:9])
    assert codec.max_samples(23) == 1


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=100))
def test_random_bytes_only_raise_decode_error(payload: bytes) -> None:
    try:
        decode(payload)
    except DecodeError:
        pass


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(1, 39).filter(lambda c: c != 20))
def test_truncation_is_a_decode_error(cut: int) -> None:
    # (cut to exactly one whole packet is undetectable: the protocol has no counter or length field)
    two = encode_packet(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(DecodeError):
        decode(two[: len(two) - cut])
