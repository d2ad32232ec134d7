"""Byte codecs for every sensor: pure functions between notification bytes and samples in SI units.

A codec never touches Bluetooth, files or clocks. Its ``decode`` turns the bytes of one notification of a
device's data characteristic into either a :class:`SampleBlock` (samples) or a :class:`DeviceMessage` (a
command response, a warning, a register read-back), and raises :class:`DecodeError` for anything malformed —
wrong length, unknown frame type, a packet truncated to MTU−3. Its ``encode`` does the reverse; the simulated
peripherals and the tests use it.

Modules, one per protocol:

- :mod:`drivers.codecs.kinetics_profile` — our open GATT profile (docs/gatt-profile.md);
- :mod:`drivers.codecs.tindeq` — Tindeq Progressor;
- :mod:`drivers.codecs.witmotion` — WitMotion BWT901BLE (BLE 5.0 protocol);
- :mod:`drivers.codecs.sig_force` — Bluetooth SIG Force characteristic (0x2C07);
- :mod:`drivers.codecs.sig_weight` — Bluetooth SIG Weight Measurement characteristic (0x2A9D);
- :mod:`drivers.codecs.sig_battery` — Bluetooth SIG Battery Level (0x2A19) and Device Information strings.

:func:`codec_for` builds the codec named in a device kind of the device table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import input_error

if TYPE_CHECKING:
    from drivers.devices import DeviceKind

CODEC_NAMES = ("kinetics-profile", "tindeq", "witmotion", "sig-force", "sig-weight")


class DecodeError(ValueError):
    """Bytes that are not a valid packet of the protocol (wrong length, unknown type, truncated, bad field)."""


@dataclass(frozen=True, eq=False)
class SampleBlock:
    """Consecutive samples decoded from one notification.

    Attributes
    ----------
    first_counter : int
        The device's sample counter of the first sample (as sent, not unwrapped). For devices without a
        counter, the arrival index the caller passed to ``decode``.
    values : ndarray, shape (n_channels, n_samples), float32
        In SI units, rows in the order of the device kind's channels. NaN marks a sample the device sent as
        "no value".
    device_time : ndarray, shape (n_samples,), float64, or None
        The device's own timestamp of each sample in s (Tindeq: its µs clock), when the protocol has one.
    """

    first_counter: int
    values: NDArray[np.float32]
    device_time: NDArray[np.float64] | None = None
    counters: NDArray[np.int64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] < 1:
            raise DecodeError(f"sample block needs values of shape (n_channels, n ≥ 1), got {values.shape}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "first_counter", int(self.first_counter))
        object.__setattr__(self, "counters", self.first_counter + np.arange(values.shape[1], dtype=np.int64))
        if self.device_time is not None:
            t = np.asarray(self.device_time, dtype=np.float64)
            if t.shape != (values.shape[1],):
                raise DecodeError(f"device_time of shape {t.shape} does not match {values.shape[1]} samples")
            object.__setattr__(self, "device_time", t)

    @property
    def n_samples(self) -> int:
        return int(self.values.shape[1])

    @property
    def n_channels(self) -> int:
        return int(self.values.shape[0])

    @property
    def last_counter(self) -> int:
        """Counter of the last sample (the one a packet waits for before it is sent)."""
        return self.first_counter + self.n_samples - 1


@dataclass(frozen=True)
class DeviceMessage:
    """A notification that carries no samples.

    ``kind`` names it (``"command_response"``, ``"low_power"``, ``"register"``...), ``code`` is the
    protocol's type byte, ``data`` the raw value bytes, ``fields`` whatever the codec could decode from it.
    """

    kind: str
    code: int
    data: bytes = b""
    fields: Mapping[str, float | int | str] = field(default_factory=dict)


Decoded = SampleBlock | DeviceMessage


class Codec(Protocol):
    """What a supervisor and a simulated peripheral need from a device's codec."""

    name: str
    n_channels: int
    has_counter: bool  # packets carry the device's sample counter (else counters are arrival indices)

    def decode(self, payload: bytes, arrival_index: int = 0) -> Decoded:
        """One notification of the data characteristic → samples or a message; ``DecodeError`` if malformed.

        ``arrival_index`` numbers the first sample when the protocol has no counter of its own.
        """
        ...

    def encode(self, block: SampleBlock) -> bytes:
        """Samples → one notification (the block must fit in :meth:`max_samples` of the MTU in use)."""
        ...

    def max_samples(self, mtu: int) -> int:
        """Most samples one notification can carry with ATT MTU ``mtu`` (payload ≤ MTU − 3); 0 if none fit."""
        ...


def require_bytes(payload: object, what: str) -> bytes:
    """``payload`` as bytes, or ``DecodeError`` if it is not bytes-like."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray | memoryview):
        return bytes(payload)
    raise DecodeError(f"{what}: expected bytes, got {type(payload).__name__}")


def codec_for(kind: DeviceKind) -> Codec:
    """The codec for a device kind of the device table (by its ``codec`` name)."""
    if kind.codec == "kinetics-profile":
        from drivers.codecs.kinetics_profile import ProfileCodec, layout_for

        return ProfileCodec(layout_for(kind))
    if kind.codec == "tindeq":
        from drivers.codecs.tindeq import TindeqCodec

        return TindeqCodec()
    if kind.codec == "witmotion":
        from drivers.codecs.witmotion import WitMotionCodec

        return WitMotionCodec()
    if kind.codec == "sig-force":
        from drivers.codecs.sig_force import SigForceCodec

        return SigForceCodec()
    if kind.codec == "sig-weight":
        from drivers.codecs.sig_weight import SigWeightCodec

        return SigWeightCodec()
    raise input_error(
        "codec", f"device kind {kind.key!r} names unknown codec {kind.codec!r}", f"use one of {CODEC_NAMES}"
    )
