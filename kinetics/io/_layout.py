"""Create and fill the HDF5 objects of one trial group (shared by trial files, the streaming writer and bundles).

A *trial group* is the root group of a trial file, or ``/trials/trial_NNNN`` of a session bundle; both have the
same layout (``docs/trial-format.md``). Every object is created in :class:`TrialGroupWriter`'s constructor, so
that the streaming writer can switch the file to SWMR afterwards and only append.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray

from kinetics._checks import input_error
from kinetics.io import _schema as S
from kinetics.trial import DeviceInfo, Event, Gap, Trial, TrialMeta


def write_scalar_attrs(group: h5py.Group, values: Mapping[str, str | int | float | bool]) -> None:
    """Store free key/values as attributes of ``group``, keeping their type (str, int, float, bool)."""
    for key, value in values.items():
        if isinstance(value, bool | np.bool_):
            group.attrs[key] = np.bool_(value)
        elif isinstance(value, int | np.integer):
            if not -(2**63) <= int(value) < 2**63:
                raise input_error(f"extra[{key!r}]", f"integer {value} does not fit in 64 bits", "store it as a str")
            group.attrs[key] = np.int64(value)
        elif isinstance(value, float | np.floating):
            group.attrs[key] = np.float64(value)
        elif isinstance(value, str):
            group.attrs[key] = value
        else:
            raise input_error(
                f"extra[{key!r}]", f"{type(value).__name__} values cannot be stored", "use str, int, float or bool"
            )


def write_meta(group: h5py.Group, meta: TrialMeta, *, complete: bool) -> None:
    """Trial metadata as attributes of the trial group, ``extra`` as attributes of its ``extra`` subgroup."""
    group.attrs["trial_id"] = meta.trial_id
    group.attrs["protocol"] = meta.protocol
    group.attrs["side"] = meta.side
    group.attrs["start_utc"] = meta.start_utc.isoformat()
    group.attrs["patient_id"] = meta.patient_id
    group.attrs["complete"] = np.int8(complete)
    write_scalar_attrs(group.create_group(S.EXTRA), meta.extra)


def _check_group_name(what: str, name: str) -> None:
    if name in (".", ".."):
        raise input_error(what, f"{name!r} cannot name an HDF5 group", "use letters or digits")


def _create_device(parent: h5py.Group, info: DeviceInfo, chunk_seconds: float) -> h5py.Group:
    _check_group_name("device name", info.name)
    g = parent.create_group(info.name)
    g.attrs["kind"] = info.kind
    g.attrs["rate"] = np.float64(info.rate)
    g.attrs["rate_units"] = "Hz"
    g.attrs["model"] = info.model
    g.attrs["address"] = info.address
    g.attrs["firmware"] = info.firmware
    g.attrs["value_dtype"] = info.value_dtype
    g.attrs["channel_names"] = [c.name for c in info.channels]
    g.attrs["channel_units"] = [c.unit for c in info.channels]
    cal = g.create_group(S.CALIBRATION)
    for key, value in info.calibration.items():
        cal.attrs[key] = np.float64(value)
    geo = g.create_group(S.GEOMETRY)
    geo.attrs["description"] = "device geometry in metres (e.g. cell_positions (4, 2) of a plate)"
    for key, arr in info.geometry.items():
        _check_group_name("geometry key", key)
        geo.create_dataset(key, data=np.asarray(arr, dtype=np.float64)).attrs["units"] = "m"

    chunk = S.sample_chunk(info.rate, chunk_seconds)
    n_ch = len(info.channels)
    t = g.create_dataset(S.TIME, shape=(0,), maxshape=(None,), dtype="<f8", chunks=(chunk,), **S.COMPRESSION)
    t.attrs["units"] = "s"
    t.attrs["description"] = "time of each sample on the session clock"
    c = g.create_dataset(S.COUNTER, shape=(0,), maxshape=(None,), dtype="<i8", chunks=(chunk,), **S.COMPRESSION)
    c.attrs["units"] = "1"
    c.attrs["description"] = "the device's own sample counter, unwrapped, strictly increasing"
    v = g.create_dataset(
        S.VALUES,
        shape=(n_ch, 0),
        maxshape=(n_ch, None),
        dtype=np.dtype(info.value_dtype).newbyteorder("<"),
        chunks=(n_ch, chunk),
        **S.COMPRESSION,
    )
    v.attrs["channel_names"] = [ch.name for ch in info.channels]
    v.attrs["units"] = [ch.unit for ch in info.channels]
    v.attrs["description"] = "samples, shape (n_channels, n_samples): row i is channel_names[i] in units[i]"
    gaps = g.create_dataset(S.GAPS, shape=(0,), maxshape=(None,), dtype=S.GAP_DTYPE, chunks=(64,))
    gaps.attrs["units"] = ["1", "1", "s", "s"]
    gaps.attrs["description"] = (
        "samples that never arrived: counters first_missing..last_missing (inclusive); start/end are the "
        "times of the last sample before and the first after the gap"
    )
    return g


class TrialGroupWriter:
    """Creates every object of a trial group in ``group`` and appends already-validated data to it.

    Parameters
    ----------
    group : h5py.Group
        An empty group (the root of a new trial file, or a new group of a bundle).
    meta : TrialMeta
    devices : sequence of DeviceInfo
        In the order they are listed in the file.
    complete : bool
        Value of the ``complete`` attribute (the streaming writer creates 0 and sets 1 on close).
    streaming : bool
        Short chunks for a file appended to at checkpoints, long ones for a trial written in one call.
    """

    def __init__(
        self, group: h5py.Group, meta: TrialMeta, devices: Sequence[DeviceInfo], *, complete: bool, streaming: bool
    ) -> None:
        names = [d.name for d in devices]
        if len(set(names)) != len(names):
            raise input_error("devices", f"duplicate device names {names}", "name each device once")
        self.group = group
        self.infos = {d.name: d for d in devices}
        write_meta(group, meta, complete=complete)
        dev = group.create_group(S.DEVICES)
        dev.attrs["order"] = names
        dev.attrs["description"] = "one group per device, listed in 'order'"
        self._dev = {
            d.name: _create_device(dev, d, S.STREAM_CHUNK_SECONDS if streaming else S.BULK_CHUNK_SECONDS)
            for d in devices
        }
        # Looking datasets up by name costs more than writing a small block; keep the handles.
        self._datasets = {n: (g[S.TIME], g[S.COUNTER], g[S.VALUES]) for n, g in self._dev.items()}
        self._gap_datasets = {n: g[S.GAPS] for n, g in self._dev.items()}
        self.samples = dict.fromkeys(names, 0)
        self.gaps = dict.fromkeys(names, 0)
        self.events = 0
        ev = group.create_dataset(S.EVENTS, shape=(0,), maxshape=(None,), dtype=S.EVENT_DTYPE, chunks=(64,))
        ev.attrs["units"] = ["s", "", "", ""]
        ev.attrs["description"] = "markers on the session clock: phase changes, cues, annotations, device states"
        columns = [f"{n}/samples" for n in names] + [f"{n}/gaps" for n in names] + ["events"]
        cp = group.create_dataset(
            S.CHECKPOINTS,
            shape=(0, len(columns)),
            maxshape=(None, len(columns)),
            dtype="<i8",
            chunks=(64, len(columns)),
        )
        cp.attrs["columns"] = columns
        cp.attrs["description"] = (
            "one row per durable checkpoint: how many samples, gaps and events were committed; a reader of an "
            "interrupted recording keeps what the last row counts"
        )
        self._events = ev
        self._checkpoints = cp

    def append_samples(
        self, name: str, time: NDArray[np.float64], counter: NDArray[np.int64], values: NDArray[Any]
    ) -> None:
        """Append ``n`` samples: time (n,), counter (n,), values (n_channels, n) — already validated."""
        n = time.shape[0]
        if n == 0:
            return
        time_ds, counter_ds, values_ds = self._datasets[name]
        start = self.samples[name]
        end = start + n
        for ds, data in ((time_ds, time), (counter_ds, counter)):
            ds.resize((end,))
            ds[start:end] = data
        values_ds.resize((values_ds.shape[0], end))
        values_ds[:, start:end] = values
        self.samples[name] = end

    def append_gaps(self, name: str, gaps: Sequence[Gap]) -> None:
        if not gaps:
            return
        rec = np.array([(g.first_missing, g.last_missing, g.start, g.end) for g in gaps], dtype=S.GAP_DTYPE)
        self.gaps[name] = _append_rows(self._gap_datasets[name], self.gaps[name], rec)

    def append_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        rec = np.array(
            [(e.time, e.kind.encode(), e.label.encode(), e.device.encode()) for e in events], dtype=S.EVENT_DTYPE
        )
        self.events = _append_rows(self._events, self.events, rec)

    def append_checkpoint(self) -> None:
        """Record the counts written so far as one row of ``checkpoints``."""
        row = [*self.samples.values(), *self.gaps.values(), self.events]
        _append_rows(self._checkpoints, self._checkpoints.shape[0], np.array([row], dtype="<i8"))


def _append_rows(ds: h5py.Dataset, start: int, rows: NDArray[Any]) -> int:
    end = start + rows.shape[0]
    ds.resize((end, *ds.shape[1:]))
    ds[start:end] = rows
    return end


def write_trial_group(group: h5py.Group, trial: Trial) -> None:
    """Write a whole in-memory trial into the empty ``group`` (one call, no SWMR)."""
    infos = [d.info for d in trial.devices.values()]
    w = TrialGroupWriter(group, trial.meta, infos, complete=trial.complete, streaming=False)
    for name, rec in trial.devices.items():
        w.append_samples(name, rec.time, rec.counter, rec.values)
        w.append_gaps(name, rec.gaps)
    w.append_events(trial.events)
    w.append_checkpoint()


def write_format_attrs(f: h5py.File, fmt: str) -> None:
    """Root attributes that identify the file: ``format``, ``format_version``, ``kinetics_version``."""
    from kinetics import __version__

    f.attrs["format"] = fmt
    f.attrs["format_version"] = np.int64(S.FORMAT_VERSION)
    f.attrs["kinetics_version"] = __version__
