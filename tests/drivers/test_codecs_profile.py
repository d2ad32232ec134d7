"""Kinetics open profile codec: exact byte layout, round trips, MTU 23, malformed packets, commands, status."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs import DecodeError, SampleBlock, codec_for
from drivers.codecs.kinetics_profile import (
    BASE_UUID,
    AttError,
    Command,
    Opcode,
    ProfileLayout,
    State,
    Status,
    StatusFlag,
    decode_command,
    decode_data,
    decode_layout,
    decode_status,
    encode_command,
    encode_data,
    encode_layout,
    encode_status,
    layout_for,
    min_mtu,
    packetize,
    profile_uuid,
    samples_per_packet,
    throughput,
)
from drivers.devices import all_kinds, device_kind
from kinetics._checks import KineticsInputError

PROFILE_KINDS = [k.key for k in all_kinds() if k.codec == "kinetics-profile"]
PLATE = layout_for(device_kind("plate"))
PUSH = layout_for(device_kind("push"))
GONIO = layout_for(device_kind("goniometer"))


def test_plate_packet_bytes_match_the_documented_layout() -> None:
    values = np.array([[100.0, 1.5], [-2.0, 0.0], [83886.07, 1e9], [np.nan, -1e9]])
    packet = encode_data(0x01020304, values, PLATE)
    expected = bytes.fromhex("040302010234")  # counter LE, 2 samples, 3 bytes × 4 channels
    expected += (10000).to_bytes(3, "little", signed=True) + (-200).to_bytes(3, "little", signed=True)
    expected += (8388607).to_bytes(3, "little", signed=True) + (-8388608).to_bytes(3, "little", signed=True)
    expected += (150).to_bytes(3, "little", signed=True) + (0).to_bytes(3, "little", signed=True)
    expected += (8388607).to_bytes(3, "little", signed=True) + (-8388607).to_bytes(3, "little", signed=True)
    assert packet == expected
    block = decode_data(packet, PLATE)
    assert block.first_counter == 0x01020304 and block.counters.tolist() == [0x01020304, 0x01020305]
    assert block.values[:, 0].tolist()[:3] == pytest.approx([100.0, -2.0, 83886.07])
    assert np.isnan(block.values[3, 0])  # "no value"
    assert block.values[2, 1] == pytest.approx(83886.07) and block.values[3, 1] == pytest.approx(-83886.07)


def test_the_example_of_the_specification() -> None:
    """docs/gatt-profile.md §3: plate, MTU 23, one sample."""
    packet = encode_data(0x01020304, np.array([[100.0], [-2.0], [np.nan], [1e6]]), PLATE)
    assert packet == bytes.fromhex("04030201 01 34 102700 38ffff 000080 ffff7f")


def test_goniometer_uses_int16() -> None:
    values = np.array([[1.0], [-0.5], [0.001], [9.80665], [0.0], [-9.80665]])
    packet = encode_data(7, values, GONIO)
    assert len(packet) == 6 + 12 and packet[5] == 0x26
    assert struct.unpack_from("<6h", packet, 6) == (1000, -500, 1, 1961, 0, -1961)
    assert decode_data(packet, GONIO).values[:, 0] == pytest.approx([1.0, -0.5, 0.001, 9.805, 0.0, -9.805], abs=1e-6)


@pytest.mark.parametrize("key", PROFILE_KINDS)
def test_mtu_23_packets_fit_in_20_bytes(key: str) -> None:
    layout = layout_for(device_kind(key))
    per = samples_per_packet(layout, 23)
    assert per >= 1
    rng = np.random.default_rng(3)
    values = rng.uniform(-0.9, 0.9, size=(layout.n_channels, 101)) * layout.full_scale[:, None]
    packets = packetize(1000, values, layout, mtu=23)
    assert all(len(p) <= 20 for p in packets)
    blocks = [decode_data(p, layout) for p in packets]
    assert [b.first_counter for b in blocks] == list(range(1000, 1101, per))
    got = np.concatenate([b.values for b in blocks], axis=1)
    assert np.all(np.abs(got - values) <= np.asarray(layout.lsb)[:, None] / 2 + np.abs(values) * 1e-6)


def test_samples_per_packet_and_minimum_mtu() -> None:
    assert samples_per_packet(PLATE, 23) == 1  # (20 − 6) // 12
    assert samples_per_packet(PUSH, 23) == 4  # (20 − 6) // 3
    assert samples_per_packet(PUSH, 247) == 79
    assert samples_per_packet(PUSH, 247, rate=1000.0) == 20  # 20 ms latency cap
    assert samples_per_packet(GONIO, 23) == 1 and samples_per_packet(GONIO, 247, rate=200.0) == 4
    assert throughput(PLATE, 1000.0, 23).packets_per_interval == pytest.approx(7.5)
    assert min_mtu(PLATE, 1000.0) == 33  # 2 samples: 6 + 24 bytes + 3
    assert min_mtu(PLATE, 500.0) == 23
    assert min_mtu(PUSH, 1000.0) == 23 and min_mtu(GONIO, 200.0) == 23
    for kind in all_kinds():
        if kind.codec == "kinetics-profile":
            assert kind.min_mtu == min_mtu(layout_for(kind), kind.rate), kind.key


@pytest.mark.parametrize("key", PROFILE_KINDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(key: str, data: st.DataObject) -> None:
    layout = layout_for(device_kind(key))
    n = data.draw(st.integers(1, 40))
    counter = data.draw(st.integers(0, 2**32 - 1))
    scale = layout.full_scale
    raw = data.draw(st.lists(st.floats(-1.0, 1.0), min_size=n * layout.n_channels, max_size=n * layout.n_channels))
    values = np.asarray(raw).reshape(layout.n_channels, n) * scale[:, None]
    block = decode_data(encode_data(counter, values, layout), layout)
    assert block.first_counter == counter and block.n_samples == n
    step = np.asarray(layout.lsb)[:, None]
    assert np.all(np.abs(block.values - values) <= step / 2 + np.abs(values) * 1e-6)


@pytest.mark.parametrize("key", PROFILE_KINDS)
@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=260))
def test_random_bytes_only_raise_decode_error(key: str, payload: bytes) -> None:
    layout = layout_for(device_kind(key))
    try:
        block = decode_data(payload, layout)
    except DecodeError:
        return
    assert block.values.shape == (layout.n_channels, payload[4])


@pytest.mark.parametrize("key", PROFILE_KINDS)
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), cut=st.integers(1, 400))
def test_truncation_is_a_decode_error(key: str, n: int, cut: int) -> None:
    layout = layout_for(device_kind(key))
    packet = encode_data(5, np.zeros((layout.n_channels, n)), layout)
    truncated = packet[: max(0, len(packet) - cut)]
    with pytest.raises(DecodeError):
        decode_data(truncated, layout)
    with pytest.raises(DecodeError):
        decode_data(packet + b"\x00", layout)


def test_malformed_packets_name_the_problem() -> None:
    with pytest.raises(DecodeError, match="header"):
        decode_data(b"\x00\x01", PUSH)
    with pytest.raises(DecodeError, match="format"):
        decode_data(encode_data(0, np.zeros((4, 1)), PLATE), PUSH)
    with pytest.raises(DecodeError, match="0 samples"):
        decode_data(struct.pack("<IBB", 0, 0, PUSH.format_byte), PUSH)
    with pytest.raises(DecodeError, match="truncated"):
        decode_data(encode_data(0, np.zeros((4, 2)), PLATE)[:20], PLATE)


def test_codec_object_matches_functions() -> None:
    codec = codec_for(device_kind("plate"))
    assert codec.has_counter and codec.n_channels == 4 and codec.max_samples(23) == 1
    block = SampleBlock(9, np.ones((4, 3), dtype=np.float32))
    decoded = codec.decode(codec.encode(block))
    assert isinstance(decoded, SampleBlock) and decoded.counters.tolist() == [9, 10, 11]


def test_commands_round_trip_and_reject_bad_writes() -> None:
    assert encode_command(Opcode.START) == b"\x01"
    assert encode_command(Opcode.SET_RATE, 1000) == b"\x04\xe8\x03"
    assert encode_command(Opcode.TARE, 0) == b"\x03\x00\x00"
    assert encode_command(Opcode.IDENTIFY, 5) == b"\x05\x05"
    for op, value in [
        (Opcode.START, None),
        (Opcode.STOP, None),
        (Opcode.TARE, 500),
        (Opcode.SET_RATE, 200),
        (Opcode.IDENTIFY, 3),
    ]:
        assert decode_command(encode_command(op, value)) == Command(op, value)
    with pytest.raises(DecodeError, match="0x80"):
        decode_command(b"\x7f")
    with pytest.raises(DecodeError, match="0x81"):
        decode_command(b"\x04\x01")
    with pytest.raises(DecodeError, match="0x81"):
        decode_command(b"")
    with pytest.raises(KineticsInputError):
        encode_command(Opcode.SET_RATE)
    with pytest.raises(KineticsInputError):
        encode_command(Opcode.IDENTIFY, 300)
    assert AttError.RATE_NOT_SUPPORTED == 0x82


def test_status_and_layout_round_trip() -> None:
    status = Status(State.STREAMING, StatusFlag.SATURATED | StatusFlag.LOW_BATTERY, 12, 2**32 - 1, 1000, 0x04, 0x83)
    raw = encode_status(status)
    assert len(raw) == 14 and raw[0] == 1 and raw[1] == 0x0A
    assert decode_status(raw) == status
    with pytest.raises(DecodeError):
        decode_status(raw[:-1])
    with pytest.raises(DecodeError, match="state"):
        decode_status(b"\x09" + raw[1:])
    for layout in (PLATE, PUSH, GONIO):
        raw = encode_layout(layout)
        assert len(raw) == 4 + 4 * layout.n_channels
        back = decode_layout(raw)
        assert back.kind_code == layout.kind_code and back.value_bytes == layout.value_bytes
        assert back.lsb == pytest.approx(layout.lsb, rel=1e-7)
    with pytest.raises(DecodeError):
        decode_layout(encode_layout(PLATE)[:-2])
    with pytest.raises(DecodeError):
        decode_layout(bytes([6, 1, 5, 0]) + struct.pack("<f", 0.01))  # 5 bytes per value


def test_profile_uuids_come_from_the_base() -> None:
    assert profile_uuid(0x2001) == "34cd2001-f8f9-42b7-b55b-067e179b6b81"
    assert BASE_UUID == profile_uuid(0)
    with pytest.raises(KineticsInputError):
        ProfileLayout(1, 3, ())
