"""The device table (drivers/device_table.toml) as frozen records: what each kind of sensor is.

>>> kind = device_kind("plate")
>>> kind.channel_names, kind.rate, kind.geometry["cell_positions"].shape
(('cell_0', 'cell_1', 'cell_2', 'cell_3'), 1000.0, (4, 2))

The table is data; this module only loads it, checks it and turns a kind into the
:class:`kinetics.trial.DeviceInfo` a recording carries.
"""

from __future__ import annotations

import functools
import math
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drivers.codecs import CODEC_NAMES
from kinetics._checks import check_rate, input_error
from kinetics.trial import DEVICE_KINDS, Channel, DeviceInfo

TABLE_PATH = Path(__file__).with_name("device_table.toml")
TIMINGS = ("counter", "device_time", "arrival")
DATA_PROPERTIES = ("notify", "indicate")


@dataclass(frozen=True)
class ChannelSpec:
    """One channel: name, SI unit and (Kinetics-profile kinds) the lsb, SI units per integer code."""

    name: str
    unit: str
    lsb: float | None = None


@dataclass(frozen=True, eq=False)
class DeviceKind:
    """One row of the device table; see the table's header comment for every field."""

    key: str
    label: str
    trial_kind: str
    model: str
    codec: str
    timing: str
    channels: tuple[ChannelSpec, ...]
    rate: float
    rates: tuple[float, ...]
    service_uuid: str
    data_uuid: str
    command_uuid: str
    status_uuid: str
    layout_uuid: str
    data_property: str
    command_with_response: bool
    name_prefix: str
    min_mtu: int
    battery_service: bool
    device_information: bool
    source: str
    kind_code: int | None = None
    value_bytes: int | None = None
    device_clock_hz: float | None = None
    geometry: Mapping[str, NDArray[np.float64]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @property
    def trial_channels(self) -> tuple[Channel, ...]:
        """The channels as :class:`kinetics.trial.Channel` records."""
        return tuple(Channel(c.name, c.unit) for c in self.channels)

    def check_rate(self, rate: float) -> float:
        """``rate`` (Hz) if this kind can sample at it, else a clear error."""
        value = check_rate(rate, "rate")
        if not any(math.isclose(value, r) for r in self.rates):
            raise input_error("rate", f"{self.label} cannot sample at {value} Hz", f"use one of {list(self.rates)}")
        return value


def _uuid(value: Any, key: str, field: str, *, optional: bool) -> str:
    if value == "" and optional:
        return ""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise input_error(f"device table [{key}].{field}", f"{value!r} is not a UUID", "write a 128-bit UUID") from None


def _kind_from_row(key: str, row: Mapping[str, Any]) -> DeviceKind:
    where = f"device table [{key}]"
    try:
        channels = tuple(
            ChannelSpec(str(c["name"]), str(c["unit"]), None if "lsb" not in c else float(c["lsb"]))
            for c in row["channels"]
        )
        geometry = MappingProxyType(
            {name: np.asarray(v, dtype=np.float64) for name, v in dict(row.get("geometry", {})).items()}
        )
        for arr in geometry.values():
            arr.setflags(write=False)
        kind = DeviceKind(
            key=key,
            label=str(row["label"]),
            trial_kind=str(row["trial_kind"]),
            model=str(row["model"]),
            codec=str(row["codec"]),
            timing=str(row["timing"]),
            channels=channels,
            rate=float(row["rate"]),
            rates=tuple(float(r) for r in row["rates"]),
            service_uuid=_uuid(row["service"], key, "service", optional=False),
            data_uuid=_uuid(row["data"], key, "data", optional=False),
            command_uuid=_uuid(row["command"], key, "command", optional=True),
            status_uuid=_uuid(row["status"], key, "status", optional=True),
            layout_uuid=_uuid(row["layout"], key, "layout", optional=True),
            data_property=str(row["data_property"]),
            command_with_response=bool(row["command_with_response"]),
            name_prefix=str(row["name_prefix"]),
            min_mtu=int(row["min_mtu"]),
            battery_service=bool(row["battery_service"]),
            device_information=bool(row["device_information"]),
            source=str(row["source"]),
            kind_code=None if "kind_code" not in row else int(row["kind_code"]),
            value_bytes=None if "value_bytes" not in row else int(row["value_bytes"]),
            device_clock_hz=None if "device_clock_hz" not in row else float(row["device_clock_hz"]),
            geometry=geometry,
        )
    except KeyError as exc:
        raise input_error(where, f"misses field {exc.args[0]!r}", "add it (see the table's header)") from None
    _check_kind(kind, where)
    return kind


def _check_kind(kind: DeviceKind, where: str) -> None:
    problems = []
    if kind.trial_kind not in DEVICE_KINDS:
        problems.append(f"trial_kind {kind.trial_kind!r} is not one of {DEVICE_KINDS}")
    if kind.codec not in CODEC_NAMES:
        problems.append(f"codec {kind.codec!r} is not one of {CODEC_NAMES}")
    if kind.timing not in TIMINGS:
        problems.append(f"timing {kind.timing!r} is not one of {TIMINGS}")
    if kind.timing == "device_time" and not kind.device_clock_hz:
        problems.append("timing 'device_time' needs device_clock_hz")
    if kind.data_property not in DATA_PROPERTIES:
        problems.append(f"data_property {kind.data_property!r} is not one of {DATA_PROPERTIES}")
    if not kind.channels or len(set(kind.channel_names)) != len(kind.channels):
        problems.append(f"channels {kind.channel_names} are empty or repeat a name")
    if kind.rate not in kind.rates or any(r <= 0 for r in kind.rates):
        problems.append(f"default rate {kind.rate} is not among the positive rates {kind.rates}")
    if not 23 <= kind.min_mtu <= 517:
        problems.append(f"min_mtu {kind.min_mtu} is outside 23..517")
    if kind.codec == "kinetics-profile":
        if kind.kind_code is None or kind.value_bytes is None or any(c.lsb is None for c in kind.channels):
            problems.append("a kinetics-profile kind needs kind_code, value_bytes and an lsb per channel")
        if not (kind.command_uuid and kind.status_uuid and kind.layout_uuid):
            problems.append("a kinetics-profile kind needs command, status and layout characteristics")
    if problems:
        raise input_error(where, "; ".join(problems), "fix drivers/device_table.toml")


@functools.cache
def _load(path: Path) -> Mapping[str, DeviceKind]:
    with open(path, "rb") as f:
        table = tomllib.load(f)
    kinds = {key: _kind_from_row(key, row) for key, row in table.get("kinds", {}).items()}
    if not kinds:
        raise input_error("device table", f"{path} lists no kinds", "add [kinds.<key>] sections")
    return MappingProxyType(kinds)


def load_table(path: Path | str = TABLE_PATH) -> Mapping[str, DeviceKind]:
    """Every kind of a device table file, by key (the default table is loaded once and cached)."""
    return _load(Path(path).resolve())


def all_kinds() -> tuple[DeviceKind, ...]:
    """Every kind of the default device table, in table order."""
    return tuple(load_table().values())


def device_kind(key: str) -> DeviceKind:
    """The kind ``key`` (``"plate"``, ``"tindeq-progressor"``...) of the default device table."""
    kinds = load_table()
    if key not in kinds:
        raise input_error("device kind", f"unknown kind {key!r}", f"use one of {', '.join(kinds)}")
    return kinds[key]


def to_device_info(
    kind: DeviceKind,
    name: str,
    address: str = "",
    *,
    rate: float | None = None,
    firmware: str = "",
    model: str | None = None,
    calibration: Mapping[str, float] | None = None,
    geometry: Mapping[str, NDArray[np.float64]] | None = None,
) -> DeviceInfo:
    """The :class:`kinetics.trial.DeviceInfo` of one device of ``kind`` taking part in a trial as ``name``.

    ``rate`` defaults to the kind's default rate and must be one it supports; ``geometry`` overrides the
    table's (e.g. a plate's measured cell positions). The calibration records each channel's lsb (``<ch>_lsb``,
    SI units per code) for profile kinds and standard gravity for the Tindeq's kg → N conversion, plus
    ``calibration``.
    """
    chosen = kind.rate if rate is None else kind.check_rate(rate)
    cal: dict[str, float] = {f"{c.name}_lsb": c.lsb for c in kind.channels if c.lsb is not None}
    if kind.codec in ("tindeq", "witmotion"):
        cal["standard_gravity"] = 9.80665
    cal.update(calibration or {})
    return DeviceInfo(
        name=name,
        kind=kind.trial_kind,
        rate=chosen,
        channels=kind.trial_channels,
        model=kind.model if model is None else model,
        address=address,
        firmware=firmware,
        calibration=cal,
        geometry=dict(kind.geometry if geometry is None else geometry),
    )
