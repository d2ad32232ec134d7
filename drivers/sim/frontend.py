"""A simulated sensor's front end: measured SI values → the values its protocol carries → notification bytes.

A real sensor reports integer codes (or float32 kilograms, for the Tindeq); what the host can decode is the
value of that code. :meth:`Framer.on_air` computes exactly that value from a measured one — the same rounding
and clipping as the codec's ``encode`` — so that ``decode(encode(x))`` equals ``on_air(x)`` cast to float32, bit
for bit. Saturation: a front end whose input range is ``saturate_at`` (SI units, per channel magnitude) reports
the Kinetics profile's saturation code (the host reads ± full scale) or, for protocols without one, clips at
± ``saturate_at``.

:meth:`Framer.per_packet` decides how many samples go into one notification at an ATT MTU:

- Kinetics profile: :func:`drivers.codecs.kinetics_profile.samples_per_packet` — as many as fit in MTU − 3, and no
  more than 20 ms of samples (20 ms of *wall* time: a sensor running ``speed``× fast counts ``rate × speed``);
- Tindeq Progressor: 4 samples per frame (34 bytes, as the real device; ``speed``× more when accelerated) — whatever
  the MTU, so at MTU 23 every frame arrives cut to 20 bytes, as it does from the real device;
- WitMotion: one 20-byte packet per notification (several back to back when accelerated, as many as fit);
- SIG Force and Weight Measurement: one value per notification / indication.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from drivers.codecs import kinetics_profile as profile
from drivers.codecs import sig_force, sig_weight, tindeq, witmotion
from drivers.devices import DeviceKind
from kinetics._checks import input_error

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

TINDEQ_SAMPLES_PER_FRAME = 4
TINDEQ_MAX_SAMPLES = 30  # 2 + 30 × 8 = 242 bytes: fits a 247-byte MTU


class Framer(Protocol):
    """How one protocol represents and packs samples (see the module docstring)."""

    max_latency: float | None
    """A short packet goes out when its oldest sample is this many wall seconds old (None: only full packets)."""

    def on_air(self, values: FloatArray, saturate_at: float | None) -> tuple[FloatArray, BoolArray]:
        """Measured values (n_channels, n) → (the values the protocol carries, per-sample "saturated" flags (n,))."""
        ...

    def per_packet(self, mtu: int, rate: float, speed: float) -> int:
        """Samples per notification at ATT MTU ``mtu`` for a sensor at ``rate`` Hz running ``speed``× real time."""
        ...

    def encode(self, first_counter: int, values: FloatArray, device_time: FloatArray) -> bytes:
        """One notification: on-air ``values`` (n_channels, n) of samples from ``first_counter``, whose device times
        (s since the stream started) are ``device_time`` (n,)."""
        ...


def _clip(values: FloatArray, saturate_at: float | None) -> tuple[FloatArray, BoolArray]:
    if saturate_at is None:
        return values, np.zeros(values.shape[1], dtype=bool)
    with np.errstate(invalid="ignore"):
        hit = np.abs(values) >= saturate_at
    return np.clip(values, -saturate_at, saturate_at), np.asarray(hit.any(axis=0), dtype=bool)


class ProfileFramer:
    """Kinetics open profile: int codes × lsb; ± max code when saturated; NaN is the "no value" code."""

    max_latency: float | None = profile.MAX_LATENCY_S

    def __init__(self, kind: DeviceKind) -> None:
        self.layout = profile.layout_for(kind)
        self.lsb = np.asarray(self.layout.lsb)[:, None]

    def on_air(self, values: FloatArray, saturate_at: float | None) -> tuple[FloatArray, BoolArray]:
        v = np.asarray(values, dtype=np.float64)
        top = self.layout.max_code
        with np.errstate(invalid="ignore"):
            codes = np.rint(v / self.lsb)
            saturated = np.abs(codes) >= top
            if saturate_at is not None:
                saturated |= np.abs(v) >= saturate_at
        codes = np.where(saturated, np.sign(v) * top, codes)
        return codes * self.lsb, saturated.any(axis=0)

    def per_packet(self, mtu: int, rate: float, speed: float) -> int:
        n = profile.samples_per_packet(self.layout, mtu, rate * speed)
        if n < 1:
            raise input_error("mtu", f"MTU {mtu} cannot carry one sample of this kind", "raise the MTU")
        return n

    def encode(self, first_counter: int, values: FloatArray, device_time: FloatArray) -> bytes:
        return profile.encode_data(first_counter, values, self.layout)


class TindeqFramer:
    """Tindeq Progressor: float32 kilograms and a µs device clock."""

    max_latency: float | None = None

    def on_air(self, values: FloatArray, saturate_at: float | None) -> tuple[FloatArray, BoolArray]:
        v, hit = _clip(np.asarray(values, dtype=np.float64), saturate_at)
        kg = (v / tindeq.STANDARD_GRAVITY).astype(np.float32)
        return kg.astype(np.float64) * tindeq.STANDARD_GRAVITY, hit

    def per_packet(self, mtu: int, rate: float, speed: float) -> int:
        return min(TINDEQ_MAX_SAMPLES, TINDEQ_SAMPLES_PER_FRAME * max(1, math.ceil(speed - 1e-9)))

    def encode(self, first_counter: int, values: FloatArray, device_time: FloatArray) -> bytes:
        return tindeq.encode_weights(values[0], device_time)


class WitMotionFramer:
    """WitMotion BWT901BLE: int16 codes of ±16 g, ±2000 °/s (sent in rad/s here) and ±180°."""

    max_latency: float | None = None

    scales = witmotion.SCALES[:, None]

    def on_air(self, values: FloatArray, saturate_at: float | None) -> tuple[FloatArray, BoolArray]:
        v, hit = _clip(np.asarray(values, dtype=np.float64), saturate_at)
        raw = np.clip(np.rint(v / self.scales), -32768, 32767)
        return raw * self.scales, hit

    def per_packet(self, mtu: int, rate: float, speed: float) -> int:
        return max(1, min(math.ceil(speed - 1e-9), (mtu - 3) // witmotion.PACKET_BYTES))

    def encode(self, first_counter: int, values: FloatArray, device_time: FloatArray) -> bytes:
        return witmotion.encode_packet(values[0:3], values[3:6], values[6:9])


class SigForceFramer:
    """SIG Force 0x2C07: sint32 millinewtons."""

    max_latency: float | None = None

    def on_air(self, values: FloatArray, saturate_at: float | None) -> tuple[FloatArray, BoolArray]:
        v, hit = _clip(np.asarray(values, dtype=np.float64), saturate_at)
        with np.errstate(invalid="ignore"):
            codes = np.clip(np.rint(v / sig_force.RESOLUTION_N), -(1 << 31), sig_force.NOT_KNOWN - 1)
        return codes * sig_force.RESOLUTION_N, hit

    def per_packet(self, mtu: int, rate: float, speed: float) -> int:
        return 1

    def encode(self, first_counter: int, values: FloatArray, device_time: FloatArray) -> bytes:
        return sig_force.encode(float(values[0, 0]))


class SigWeightFramer:
    """SIG Weight Measurement 0x2A9D in SI units: mass 0.005 kg, BMI 0.1 kg/m², height 1 mm."""

    max_latency: float | None = None

    steps = np.array([0.005, 0.1, 0.001])[:, None]

    def on_air(self, values: FloatArray, saturate_at: float | None) -> tuple[FloatArray, BoolArray]:
        v, hit = _clip(np.asarray(values, dtype=np.float64), saturate_at)
        codes = np.clip(np.rint(v / self.steps), 0, sig_weight.UNSUCCESSFUL - 1)
        return codes * self.steps, hit

    def per_packet(self, mtu: int, rate: float, speed: float) -> int:
        return 1

    def encode(self, first_counter: int, values: FloatArray, device_time: FloatArray) -> bytes:
        mass, bmi, height = (float(x) for x in values[:, 0])
        return sig_weight.encode(sig_weight.WeightMeasurement(mass, bmi=bmi, height_m=height))


def framer_for(kind: DeviceKind) -> Framer:
    """The front end of a device kind (by its codec)."""
    if kind.codec == "kinetics-profile":
        return ProfileFramer(kind)
    if kind.codec == "tindeq":
        return TindeqFramer()
    if kind.codec == "witmotion":
        return WitMotionFramer()
    if kind.codec == "sig-force":
        return SigForceFramer()
    if kind.codec == "sig-weight":
        return SigWeightFramer()
    raise input_error("kind", f"{kind.key!r} uses codec {kind.codec!r}, which has no simulated front end", "")
