"""The recorded-trial data model shared by the drivers, the scoring, the app and the clinic.

A :class:`Trial` holds, for every device that took part, its :class:`DeviceInfo` (kind, model, address,
firmware, calibration, geometry, channels), the sample times on the session clock (s, float64), the device's
own sample counter (int64, unwrapped), the values (shape (n_channels, n_samples), SI units), and the gaps where
samples never arrived; plus the trial's events and its metadata. It never holds a patient's name: only a
pseudonymous id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import input_error

DEVICE_KINDS = ("push", "grip", "pull", "pneumatic", "goniometer", "plate", "force", "scale")
SIDES = ("none", "left", "right", "both", "alternating")
EVENT_KINDS = ("phase", "cue", "annotation", "marker", "trial", "device")
VALUE_DTYPES = ("float32", "float64")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Channel:
    """One channel of a device: its name (e.g. ``"force"``, ``"cell_0"``) and SI unit (``"N"``, ``"deg"``)."""

    name: str
    unit: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise input_error("channel name", f"{self.name!r} is not a short identifier", "use letters, digits, _ . -")


@dataclass(frozen=True)
class DeviceInfo:
    """What a device is.

    Attributes
    ----------
    name : str
        Its role in the trial, unique within it (``"plate_left"``, ``"push"``).
    kind : str
        One of :data:`DEVICE_KINDS`.
    rate : float
        Nominal sampling rate in Hz.
    channels : tuple of Channel
        In the order of the rows of the values array.
    model, address, firmware : str
        As the device reports them (address: BLE address or simulator id).
    calibration : mapping of str → float
        Gains, offsets, tare values the codec applied (SI units, documented per device).
    geometry : mapping of str → ndarray
        E.g. ``cell_positions`` (4, 2) in metres for a plate, ``lever_arm`` in metres.
    value_dtype : str
        Storage dtype of the values, ``"float32"`` (sensors with ≤ 24-bit resolution) or ``"float64"``.
    """

    name: str
    kind: str
    rate: float
    channels: tuple[Channel, ...]
    model: str = ""
    address: str = ""
    firmware: str = ""
    calibration: Mapping[str, float] = field(default_factory=dict)
    geometry: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    value_dtype: str = "float32"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise input_error("device name", f"{self.name!r} is not a short identifier", "use letters, digits, _ . -")
        if self.kind not in DEVICE_KINDS:
            raise input_error("device kind", f"unknown kind {self.kind!r}", f"use one of {', '.join(DEVICE_KINDS)}")
        if not (np.isfinite(self.rate) and self.rate > 0):
            raise input_error("device rate", f"{self.rate!r} is not a positive rate in Hz", "give the nominal rate")
        if not self.channels:
            raise input_error("device channels", f"device {self.name!r} has no channels", "list its channels")
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise input_error("device channels", f"duplicate channel names {names}", "name each channel once")
        if self.value_dtype not in VALUE_DTYPES:
            raise input_error("value_dtype", f"{self.value_dtype!r} is not supported", f"use {VALUE_DTYPES}")
        object.__setattr__(self, "rate", float(self.rate))
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "calibration", {str(k): float(v) for k, v in self.calibration.items()})
        object.__setattr__(
            self, "geometry", {str(k): np.asarray(v, dtype=np.float64) for k, v in self.geometry.items()}
        )

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    def channel_index(self, name: str) -> int:
        """Row of channel ``name`` in the values array."""
        try:
            return self.channel_names.index(name)
        except ValueError:
            raise input_error(
                "channel", f"device {self.name!r} has no channel {name!r}", f"use one of {self.channel_names}"
            ) from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DeviceInfo):
            return NotImplemented
        same_geometry = self.geometry.keys() == other.geometry.keys() and all(
            np.array_equal(self.geometry[k], other.geometry[k]) for k in self.geometry
        )
        plain = ("name", "kind", "rate", "channels", "model", "address", "firmware", "calibration", "value_dtype")
        return same_geometry and all(getattr(self, a) == getattr(other, a) for a in plain)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Gap:
    """Samples that never arrived: device counters ``first_missing`` … ``last_missing`` (inclusive).

    ``start`` and ``end`` (s, session clock) are the times of the last sample before and the first after the gap.
    """

    first_missing: int
    last_missing: int
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.last_missing < self.first_missing:
            raise input_error("gap", f"counter range {self.first_missing}..{self.last_missing} is empty", "check it")
        if not self.end >= self.start:
            raise input_error("gap", f"ends at {self.end} s before it starts at {self.start} s", "check the times")

    @property
    def missing_samples(self) -> int:
        return self.last_missing - self.first_missing + 1


@dataclass(frozen=True)
class Event:
    """A marker on the session clock: phase change, cue, annotation, trial start/stop, device state.

    ``time`` in s; ``kind`` one of :data:`EVENT_KINDS`; ``label`` ≤ 200 UTF-8 bytes; ``device`` optional name.
    """

    time: float
    kind: str
    label: str
    device: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise input_error("event kind", f"unknown kind {self.kind!r}", f"use one of {', '.join(EVENT_KINDS)}")
        if len(self.label.encode()) > 200 or len(self.device.encode()) > 64:
            raise input_error("event", "label over 200 bytes or device name over 64", "shorten it")
        if not np.isfinite(self.time):
            raise input_error("event time", f"{self.time!r} is not finite", "give the session time in seconds")


@dataclass(frozen=True)
class TrialMeta:
    """Trial metadata. ``patient_id`` is pseudonymous (never a name); ``start_utc`` is timezone-aware UTC."""

    trial_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    protocol: str = ""
    side: str = "none"
    start_utc: datetime = field(default_factory=lambda: datetime.now(UTC))
    patient_id: str = ""
    extra: Mapping[str, str | int | float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise input_error("side", f"unknown side {self.side!r}", f"use one of {', '.join(SIDES)}")
        if self.start_utc.tzinfo is None:
            raise input_error("start_utc", "is a naive datetime", "pass datetime.now(UTC) or another aware time")
        if not _NAME.match(self.trial_id):
            raise input_error("trial_id", f"{self.trial_id!r} is not a short identifier", "use letters and digits")
        object.__setattr__(self, "start_utc", self.start_utc.astimezone(UTC))
        object.__setattr__(self, "extra", dict(self.extra))


@dataclass(eq=False)
class DeviceRecording:
    """One device's samples in a trial.

    Attributes
    ----------
    info : DeviceInfo
    time : ndarray, shape (n_samples,), float64
        Session-clock time of each sample in s (mapped from the device clock, never the arrival time).
    counter : ndarray, shape (n_samples,), int64
        The device's own sample counter, strictly increasing (unwrapped).
    values : ndarray, shape (n_channels, n_samples), ``info.value_dtype``
    gaps : tuple of Gap
    """

    info: DeviceInfo
    time: NDArray[np.float64]
    counter: NDArray[np.int64]
    values: NDArray[np.floating[Any]]
    gaps: tuple[Gap, ...] = ()

    def __post_init__(self) -> None:
        name = f"device {self.info.name!r}"
        self.time = np.asarray(self.time, dtype=np.float64)
        self.counter = np.asarray(self.counter, dtype=np.int64)
        values = np.asarray(self.values)
        if values.dtype != np.dtype(self.info.value_dtype):
            if not np.can_cast(values.dtype, self.info.value_dtype, casting="safe"):
                raise input_error(
                    name,
                    f"values are {values.dtype} but the device stores {self.info.value_dtype}",
                    "convert them explicitly or declare value_dtype='float64'",
                )
            values = values.astype(self.info.value_dtype)
        self.values = values
        n = self.time.shape[0]
        n_ch = len(self.info.channels)
        if self.time.ndim != 1 or self.counter.shape != (n,):
            raise input_error(name, "time and counter must be 1-D of equal length", "pass shape (n_samples,)")
        if self.values.shape != (n_ch, n):
            raise input_error(
                name, f"values have shape {self.values.shape}, expected ({n_ch}, {n})", "rows are channels"
            )
        if n > 1 and np.any(np.diff(self.counter) <= 0):
            raise input_error(name, "sample counter is not strictly increasing", "unwrap and de-duplicate it")
        self.gaps = tuple(self.gaps)

    @property
    def n_samples(self) -> int:
        return int(self.time.shape[0])

    @property
    def duration(self) -> float:
        """Time from the first to the last sample plus one sample period (s); 0 when empty."""
        if self.n_samples == 0:
            return 0.0
        return float(self.time[-1] - self.time[0]) + 1.0 / self.info.rate

    def channel(self, name: str) -> NDArray[np.floating[Any]]:
        """The samples of one channel, shape (n_samples,)."""
        return self.values[self.info.channel_index(name)]

    def on_regular_grid(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(time (m,), values (n_channels, m) float64) with one sample per device counter from first to last.

        Samples lost in a gap are bridged by linear interpolation over the counter (their times too); ``gaps``
        says where that happened, so a caller that must not score bridged samples can flag them.
        """
        if self.n_samples < 2:
            raise input_error(f"device {self.info.name!r}", "fewer than 2 samples recorded", "record again")
        values = self.values.astype(np.float64)
        if self.counter[-1] - self.counter[0] + 1 == self.n_samples:
            return self.time, values
        full = np.arange(self.counter[0], self.counter[-1] + 1)
        time = np.interp(full, self.counter, self.time)
        return time, np.vstack([np.interp(full, self.counter, row) for row in values])

    def equals(self, other: DeviceRecording) -> bool:
        """Bit-exact equality of every field."""
        return (
            self.info == other.info
            and self.gaps == other.gaps
            and self.values.dtype == other.values.dtype
            and np.array_equal(self.time, other.time)
            and np.array_equal(self.counter, other.counter)
            and np.array_equal(self.values, other.values, equal_nan=True)
        )


@dataclass(eq=False)
class Trial:
    """A recorded trial: metadata, the devices' recordings (by name, in order) and the events.

    ``complete`` is False for a trial recovered from a recording that was interrupted (crash, power loss).
    """

    meta: TrialMeta
    devices: dict[str, DeviceRecording]
    events: list[Event] = field(default_factory=list)
    complete: bool = True

    def __post_init__(self) -> None:
        for key, rec in self.devices.items():
            if key != rec.info.name:
                raise input_error("trial devices", f"key {key!r} differs from device name {rec.info.name!r}", "fix")

    @classmethod
    def from_recordings(
        cls, meta: TrialMeta, recordings: Sequence[DeviceRecording], events: Sequence[Event] = ()
    ) -> Trial:
        devices: dict[str, DeviceRecording] = {}
        for rec in recordings:
            if rec.info.name in devices:
                raise input_error("trial devices", f"two devices named {rec.info.name!r}", "name each once")
            devices[rec.info.name] = rec
        return cls(meta, devices, list(events))

    def device(self, name: str) -> DeviceRecording:
        try:
            return self.devices[name]
        except KeyError:
            raise input_error("device", f"trial has no device {name!r}", f"use one of {list(self.devices)}") from None

    def devices_of_kind(self, kind: str) -> list[DeviceRecording]:
        return [d for d in self.devices.values() if d.info.kind == kind]

    @property
    def duration(self) -> float:
        """Span of all devices' samples on the session clock (s)."""
        spans = [(d.time[0], d.time[-1] + 1.0 / d.info.rate) for d in self.devices.values() if d.n_samples]
        if not spans:
            return 0.0
        return float(max(e for _, e in spans) - min(s for s, _ in spans))

    def equals(self, other: Trial) -> bool:
        """Bit-exact equality of every field."""
        return (
            self.meta == other.meta
            and self.events == other.events
            and self.complete == other.complete
            and list(self.devices) == list(other.devices)
            and all(self.devices[k].equals(other.devices[k]) for k in self.devices)
        )
