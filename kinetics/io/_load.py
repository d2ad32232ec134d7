"""Open a Kinetics HDF5 file defensively and read trial groups back into :class:`~kinetics.trial.Trial`.

Every failure — a missing file, garbage bytes, a truncated or corrupted file, a file of another program — ends as
a :class:`TrialFileError` that says what is wrong; h5py's own exceptions (``OSError``, ``KeyError``,
``ValueError``, ``RuntimeError``...) never escape.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from kinetics._checks import KineticsInputError
from kinetics.io import _schema as S
from kinetics.io.errors import TrialFileError
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Event, Gap, Trial, TrialMeta

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_CORRUPT_REMEDY = "the file is damaged; use a backup or the raw packet log of the session"
# A gzip chunk inflates at most ~1032×; a dataset claiming far more data than the file could hold is damaged.
_MAX_INFLATION = 1100


def _has_hdf5_signature(path: Path, size: int) -> bool:
    """HDF5 puts its signature at byte 0, or after a user block at 512, 1024, 2048, ... bytes."""
    with open(path, "rb") as fh:
        offset = 0
        while offset + 8 <= size:
            fh.seek(offset)
            if fh.read(8) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def _open_h5(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except Exception as exc:
        message = str(exc)
    if "truncated" in message:
        raise TrialFileError(
            path,
            f"truncated: the file is shorter than HDF5 says it should be ({message})",
            "it was cut short (copy interrupted, disk full); copy it again from its source or use a backup",
        )
    try:
        # A writer killed in SWMR mode leaves the file marked "open for writing"; SWMR readers may open it.
        return h5py.File(path, "r", swmr=True)
    except Exception as exc:
        raise TrialFileError(
            path, f"corrupted: HDF5 cannot open it ({message}; as SWMR: {exc})", _CORRUPT_REMEDY
        ) from None


@contextmanager
def open_kinetics_file(path: str | os.PathLike[str], expected: str | None) -> Iterator[h5py.File]:
    """Open ``path`` read-only after checking it is a Kinetics file of format ``expected`` (``None``: trial or
    session), of a version this library reads."""
    p = Path(path)
    if not p.exists():
        raise TrialFileError(p, "no such file", "check the path")
    if not p.is_file():
        raise TrialFileError(p, "is not a regular file", "give the path of a .h5 trial or session file")
    size = p.stat().st_size
    if size == 0:
        raise TrialFileError(p, "is empty (0 bytes)", "the recording never started or the copy failed; use a backup")
    if not _has_hdf5_signature(p, size):
        raise TrialFileError(
            p,
            "is not an HDF5 file (no HDF5 signature), so it is not a Kinetics trial or session file",
            "check that you picked the right file (Kinetics files are HDF5, usually *.h5)",
        )
    f = _open_h5(p)
    try:
        with reading(p, "the root attributes"):
            _check_format(p, f, expected)
        yield f
    finally:
        try:
            f.close()
        except Exception:  # closing a damaged file can fail too; the caller already has the real error
            pass


def _check_format(path: Path, f: h5py.File, expected: str | None) -> None:
    if "format" not in set(f.attrs.keys()):
        names = sorted(f.keys())
        if {S.DEVICES, S.EVENTS} <= set(names) or S.TRIALS in names:
            raise TrialFileError(
                path,
                "corrupted: it is laid out like a Kinetics file but its 'format' attribute is lost",
                _CORRUPT_REMEDY,
            )
        listed = ", ".join(names[:8]) or "nothing"
        raise TrialFileError(
            path,
            f"is an HDF5 file but not a Kinetics file: it has no 'format' attribute (top level holds {listed})",
            "it was written by another program; open it with h5py or the program that made it",
        )
    fmt = f.attrs["format"]
    fmt = as_text(fmt)
    if fmt != expected:
        if fmt in (S.TRIAL_FORMAT, S.SESSION_FORMAT) and expected is not None:
            reader = "read_trial" if fmt == S.TRIAL_FORMAT else "read_session"
            raise TrialFileError(path, f"is a {fmt} file, not a {expected} file", f"read it with {reader}()")
        if fmt not in (S.TRIAL_FORMAT, S.SESSION_FORMAT):
            raise TrialFileError(
                path, f"is an HDF5 file of format {fmt!r}, not a Kinetics file", "open it with the program that made it"
            )
    version = f.attrs.get("format_version")
    if version is None or np.ndim(version) != 0 or not np.issubdtype(np.asarray(version).dtype, np.integer):
        raise TrialFileError(path, f"corrupted: format_version is {version!r}, not an integer", _CORRUPT_REMEDY)
    if int(version) > S.FORMAT_VERSION:
        raise TrialFileError(
            path,
            f"was written in format version {int(version)}, newer than version {S.FORMAT_VERSION} that this "
            "kinetics reads",
            "upgrade kinetics (pip install --upgrade kinetics) to read it",
        )
    if int(version) < 1:
        raise TrialFileError(path, f"corrupted: format_version {int(version)} does not exist", _CORRUPT_REMEDY)


class Invalid(ValueError):
    """A value read from the file that breaks the schema (reported as corruption)."""


@contextmanager
def reading(path: Path, what: str) -> Iterator[None]:
    """Turn anything h5py or the data model raises while reading ``what`` into a :class:`TrialFileError`."""
    try:
        yield
    except TrialFileError:
        raise
    except (KineticsInputError, Invalid) as exc:
        raise TrialFileError(path, f"corrupted: {what} is invalid ({exc})", _CORRUPT_REMEDY) from None
    except Exception as exc:
        raise TrialFileError(
            path,
            f"corrupted or truncated: reading {what} failed ({type(exc).__name__}: {exc})",
            _CORRUPT_REMEDY,
        ) from None


def as_text(value: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8")
    if isinstance(value, str):
        return value
    raise Invalid(f"expected a string, got {type(value).__name__}")


def as_texts(value: Any) -> list[str]:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise Invalid(f"expected a list of strings, got shape {arr.shape}")
    return [as_text(v) for v in arr]


def _plain(value: Any) -> str | int | float | bool:
    if isinstance(value, bytes | np.bytes_ | str):
        return as_text(value)
    if isinstance(value, np.generic) and np.ndim(value) == 0:
        item = value.item()
        if isinstance(item, bool | int | float):
            return item
    raise Invalid(f"unexpected attribute value {value!r}")


class Node:
    """Looks up members of a group and names the missing one precisely."""

    def __init__(self, path: Path, group: h5py.Group, where: str) -> None:
        self.path, self.group, self.where = path, group, where

    def _full(self, name: str) -> str:
        return f"{self.where.rstrip('/')}/{name}"

    def dataset(self, name: str) -> h5py.Dataset:
        obj = self.group.get(name)
        if not isinstance(obj, h5py.Dataset):
            kind = "missing" if obj is None else "not a dataset"
            raise TrialFileError(
                self.path,
                f"dataset {self._full(name)!r} is {kind}",
                "the file is incomplete or was edited; use a backup",
            )
        return obj

    def subgroup(self, name: str) -> Node:
        obj = self.group.get(name)
        if not isinstance(obj, h5py.Group):
            kind = "missing" if obj is None else "not a group"
            raise TrialFileError(
                self.path, f"group {self._full(name)!r} is {kind}", "the file is incomplete or was edited; use a backup"
            )
        return Node(self.path, obj, self._full(name))

    def attr(self, name: str) -> Any:
        if name not in self.group.attrs:
            raise TrialFileError(
                self.path,
                f"attribute {name!r} of {self.where!r} is missing",
                "the file is incomplete or was edited; use a backup",
            )
        return self.group.attrs[name]

    def attrs(self) -> dict[str, str | int | float | bool]:
        return {str(k): _plain(v) for k, v in self.group.attrs.items()}


def read_scalar_attrs(node: Node) -> dict[str, str | int | float | bool]:
    return node.attrs()


def _read_rows(path: Path, ds: h5py.Dataset, n: int, file_size: int) -> np.ndarray:
    if ds.shape[0] < n:
        raise TrialFileError(
            path, f"truncated: {ds.name} has {ds.shape[0]} rows where {n} were committed", _CORRUPT_REMEDY
        )
    claimed = n * int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize
    if claimed > _MAX_INFLATION * file_size + (1 << 24):
        raise TrialFileError(
            path, f"corrupted: {ds.name} claims {claimed} bytes, more than the file can hold", _CORRUPT_REMEDY
        )
    return np.asarray(ds[:n])


def _committed_counts(
    path: Path, node: Node, names: list[str], complete: bool
) -> tuple[dict[str, int], dict[str, int], int]:
    """Counts of samples, gaps and events to read: everything of a complete trial, else the last checkpoint."""
    cp = node.dataset(S.CHECKPOINTS)
    columns = as_texts(cp.attrs.get("columns", []))
    expected = [f"{n}/samples" for n in names] + [f"{n}/gaps" for n in names] + ["events"]
    if columns != expected:
        raise TrialFileError(
            path, f"corrupted: checkpoint columns {columns} do not match the devices {names}", _CORRUPT_REMEDY
        )
    devices = node.subgroup(S.DEVICES)
    sample_lengths = []
    for n in names:
        dev = devices.subgroup(n)
        per_dataset = {
            S.TIME: dev.dataset(S.TIME).shape[0],
            S.COUNTER: dev.dataset(S.COUNTER).shape[0],
            S.VALUES: dev.dataset(S.VALUES).shape[-1],
        }
        if complete and len(set(per_dataset.values())) != 1:
            raise Invalid(f"device {n!r} holds datasets of different lengths {per_dataset}")
        sample_lengths.append(min(per_dataset.values()))
    lengths = sample_lengths + [devices.subgroup(n).dataset(S.GAPS).shape[0] for n in names]
    lengths.append(node.dataset(S.EVENTS).shape[0])
    rows = np.asarray(cp[()], dtype=np.int64)
    if rows.ndim != 2 or rows.shape[1] != len(columns):
        raise Invalid(f"checkpoints have shape {rows.shape}, expected (n, {len(columns)})")
    if complete:
        # A finished trial holds exactly what its last checkpoint counts.
        if rows.shape[0] == 0 or rows[-1].tolist() != lengths:
            last = rows[-1].tolist() if rows.shape[0] else "none"
            raise Invalid(f"the last checkpoint counts {last} but the datasets hold {lengths} ({columns})")
        counts = lengths
    else:
        best = np.zeros(len(columns), dtype=np.int64)
        # A row torn by a crash reads as zeros (fill value): keep the last row that grows from its predecessor
        # and does not exceed what is on disk.
        for row in rows:
            if np.all(row >= best) and np.all(row <= lengths):
                best = row
        counts = [int(c) for c in best]
    k = len(names)
    return dict(zip(names, counts[:k], strict=True)), dict(zip(names, counts[k : 2 * k], strict=True)), counts[-1]


def read_trial_group(path: Path, group: h5py.Group, where: str, file_size: int) -> Trial:
    """Read the trial group ``group`` (``where`` names it in messages) into a :class:`Trial`."""
    node = Node(path, group, where)
    with reading(path, f"the metadata of {where}"):
        complete_attr = node.attr("complete")
        if np.ndim(complete_attr) != 0 or int(complete_attr) not in (0, 1):
            raise Invalid(f"'complete' is {complete_attr}, expected 0 or 1")
        complete = bool(int(complete_attr))
        meta = TrialMeta(
            trial_id=as_text(node.attr("trial_id")),
            protocol=as_text(node.attr("protocol")),
            side=as_text(node.attr("side")),
            start_utc=datetime.fromisoformat(as_text(node.attr("start_utc"))),
            patient_id=as_text(node.attr("patient_id")),
            extra=read_scalar_attrs(node.subgroup(S.EXTRA)),
        )
        devices = node.subgroup(S.DEVICES)
        names = as_texts(devices.attr("order"))
    with reading(path, f"the checkpoints of {where}"):
        n_samples, n_gaps, n_events = _committed_counts(path, node, names, complete)
    recordings = []
    for name in names:
        with reading(path, f"device {name!r} of {where}"):
            recordings.append(_read_device(path, devices.subgroup(name), n_samples[name], n_gaps[name], file_size))
    with reading(path, f"the events of {where}"):
        rows = _read_rows(path, node.dataset(S.EVENTS), n_events, file_size)
        events = [Event(float(r["time"]), as_text(r["kind"]), as_text(r["label"]), as_text(r["device"])) for r in rows]
    with reading(path, f"{where}"):
        trial = Trial.from_recordings(meta, recordings, events)
        trial.complete = complete
    return trial


def _read_device(path: Path, node: Node, n: int, n_gaps: int, file_size: int) -> DeviceRecording:
    g = node.group
    names = as_texts(node.attr("channel_names"))
    units = as_texts(node.attr("channel_units"))
    if len(names) != len(units):
        raise Invalid(f"{len(names)} channel names but {len(units)} units")
    geometry = node.subgroup(S.GEOMETRY)
    geo = {}
    for key, obj in geometry.group.items():
        if not isinstance(obj, h5py.Dataset):
            raise Invalid(f"geometry {key!r} is not a dataset")
        geo[key] = np.asarray(obj[()], dtype=np.float64)
    cal = {}
    for key, value in node.subgroup(S.CALIBRATION).group.attrs.items():
        cal[key] = float(value)
    info = DeviceInfo(
        name=g.name.rsplit("/", 1)[-1],
        kind=as_text(node.attr("kind")),
        rate=float(node.attr("rate")),
        channels=tuple(Channel(a, b) for a, b in zip(names, units, strict=True)),
        model=as_text(node.attr("model")),
        address=as_text(node.attr("address")),
        firmware=as_text(node.attr("firmware")),
        calibration=cal,
        geometry=geo,
        value_dtype=as_text(node.attr("value_dtype")),
    )
    values_ds = node.dataset(S.VALUES)
    if values_ds.ndim != 2 or values_ds.shape[0] != len(names):
        raise Invalid(f"values have shape {values_ds.shape}, expected ({len(names)}, n_samples)")
    if values_ds.dtype != np.dtype(info.value_dtype):
        raise Invalid(f"values are stored as {values_ds.dtype}, the device declares {info.value_dtype}")
    if values_ds.shape[1] < n:
        raise Invalid(f"values hold {values_ds.shape[1]} samples where {n} were committed")
    claimed = n * len(names) * values_ds.dtype.itemsize
    if claimed > _MAX_INFLATION * file_size + (1 << 24):
        raise Invalid(f"values claim {claimed} bytes, more than the file can hold")
    values = np.asarray(values_ds[:, :n])
    time = _read_rows(path, node.dataset(S.TIME), n, file_size).astype(np.float64, copy=False)
    counter = _read_rows(path, node.dataset(S.COUNTER), n, file_size).astype(np.int64, copy=False)
    gap_rows = _read_rows(path, node.dataset(S.GAPS), n_gaps, file_size)
    gaps = tuple(
        Gap(int(r["first_missing"]), int(r["last_missing"]), float(r["start"]), float(r["end"])) for r in gap_rows
    )
    return DeviceRecording(info, time, counter, values, gaps)
