"""Codec of the Bluetooth SIG Force characteristic (UUID 0x2C07).

Source: Bluetooth SIG GATT Specification Supplement (GSS), characteristic ``org.bluetooth.characteristic.force``
(as published in the SIG's GSS YAML and reproduced by e.g. the trouble-host crate's characteristic table):
one ``sint32`` little-endian, unit newton, represented values M = 1, d = −3, b = 0 (resolution 1 mN);
0x7FFFFFFF means "value is not known" (decoded as NaN).

The GSS defines the characteristic, not a service that carries it. Our device table expects it, with notify, in
the Industrial Measurement Device Service (0x185A), which lists Force among its measurement characteristics;
the match rests on the characteristic UUID, so a device that hosts it elsewhere is still decoded the same way.
One value per notification, no counter, no timestamp: counters are arrival indices.
"""

from __future__ import annotations

import struct

import numpy as np

from drivers.codecs import DecodeError, SampleBlock, require_bytes
from kinetics._checks import input_error

CHARACTERISTIC_UUID = "00002c07-0000-1000-8000-00805f9b34fb"
SERVICE_UUID = "0000185a-0000-1000-8000-00805f9b34fb"
RESOLUTION_N = 0.001
NOT_KNOWN = 0x7FFFFFFF
_MAX = NOT_KNOWN - 1  # largest code that is a value
_MIN = -(1 << 31)


def encode(force_n: float) -> bytes:
    """A force in N → 4 bytes (rounded to 1 mN, saturating at the sint32 range; NaN → "value is not known")."""
    f = float(force_n)
    if np.isnan(f):
        return struct.pack("<i", NOT_KNOWN)
    code = int(np.clip(np.rint(f / RESOLUTION_N), _MIN, _MAX))
    return struct.pack("<i", code)


def decode(payload: bytes, arrival_index: int = 0) -> SampleBlock:
    """4 bytes → one sample, force in N (NaN when the device says "not known")."""
    data = require_bytes(payload, "SIG Force value")
    if len(data) != 4:
        raise DecodeError(f"SIG Force value of {len(data)} bytes, expected 4 (sint32)")
    code = struct.unpack("<i", data)[0]
    value = np.nan if code == NOT_KNOWN else code * RESOLUTION_N
    return SampleBlock(first_counter=arrival_index, values=np.array([[value]], dtype=np.float32))


class SigForceCodec:
    """:class:`drivers.codecs.Codec` for a SIG Force (0x2C07) sensor."""

    name = "sig-force"
    n_channels = 1
    has_counter = False

    def decode(self, payload: bytes, arrival_index: int = 0) -> SampleBlock:
        return decode(payload, arrival_index)

    def encode(self, block: SampleBlock) -> bytes:
        if block.values.shape != (1, 1):
            raise input_error("block", f"shape {block.values.shape}", "a SIG Force value is one sample of 1 channel")
        return encode(float(block.values[0, 0]))

    def max_samples(self, mtu: int) -> int:
        return 1 if mtu - 3 >= 4 else 0
