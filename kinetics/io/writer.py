"""Write trial files: :class:`TrialWriter` streams blocks crash-safely; :func:`write_trial` writes one trial."""

from __future__ import annotations

import math
import os
import time as _time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np
from numpy.typing import ArrayLike, NDArray

from kinetics._checks import input_error
from kinetics.io import _schema as S
from kinetics.io._files import check_new_path, fsync_dir, fsync_file, write_atomically
from kinetics.io._layout import TrialGroupWriter, write_format_attrs, write_trial_group
from kinetics.trial import DeviceInfo, Event, Gap, Trial, TrialMeta


def write_trial(path: str | os.PathLike[str], trial: Trial, *, overwrite: bool = False) -> None:
    """Write ``trial`` to a new trial file at ``path`` in one call.

    The file appears atomically (written to a temporary name, fsync'd, renamed): after a crash there is either
    no file or a complete one. ``trial.complete`` is stored as is. Raises :class:`~kinetics.KineticsInputError`
    when ``path`` exists (unless ``overwrite``) or the trial cannot be stored.
    """
    if not isinstance(trial, Trial):
        raise input_error("trial", f"expected a Trial, got {type(trial).__name__}", "build one with Trial(...)")

    def fill(f: h5py.File) -> None:
        write_format_attrs(f, S.TRIAL_FORMAT)
        write_trial_group(f, trial)

    write_atomically(Path(path), overwrite, fill)


class TrialWriter:
    """Stream a trial to an HDF5 file as its blocks arrive, losing at most ``checkpoint_interval`` s on a crash.

    The constructor creates every group, dataset and attribute, then switches the file to SWMR mode (so that
    the file stays readable whatever moment the process dies at) and only appends from then on. Blocks are
    buffered in memory; a *checkpoint* writes the buffers, flushes HDF5 and fsyncs the file, then records the
    committed counts in ``checkpoints`` and fsyncs again. :meth:`append`, :meth:`add_gap` and
    :meth:`add_event` make a checkpoint whenever ``checkpoint_interval`` seconds of wall time have passed since
    the last one. :meth:`close` (or leaving the ``with`` block normally) writes the rest and marks the trial
    complete; leaving it by an exception keeps the data but leaves the trial marked incomplete.

    Parameters
    ----------
    path : path-like
        The new file (``*.h5``); refused when it exists unless ``overwrite``.
    meta : TrialMeta
    devices : sequence of DeviceInfo
        Every device of the trial, in the order they will be listed.
    checkpoint_interval : float
        Seconds of wall time between durable checkpoints (default 1 s).
    overwrite : bool
        Replace an existing file at ``path``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: TrialMeta,
        devices: Sequence[DeviceInfo],
        *,
        checkpoint_interval: float = 1.0,
        overwrite: bool = False,
    ) -> None:
        interval = float(checkpoint_interval)
        if not (math.isfinite(interval) and interval > 0):
            raise input_error(
                "checkpoint_interval", f"{checkpoint_interval!r} is not a positive number of seconds", "pass e.g. 1.0"
            )
        if not isinstance(meta, TrialMeta):
            raise input_error("meta", f"expected TrialMeta, got {type(meta).__name__}", "pass a TrialMeta")
        devices = list(devices)
        for d in devices:
            if not isinstance(d, DeviceInfo):
                raise input_error("devices", f"expected DeviceInfo, got {type(d).__name__}", "pass DeviceInfo items")
        self.path = Path(path)
        self.checkpoint_interval = interval
        check_new_path(self.path, overwrite)
        self._infos = {d.name: d for d in devices}
        f = h5py.File(self.path, "w", libver=S.LIBVER)
        try:
            write_format_attrs(f, S.TRIAL_FORMAT)
            self._group = TrialGroupWriter(f, meta, devices, complete=False, streaming=True)
            fsync_file(f)
            # Nothing may be created after this line: SWMR readers only cope with appends.
            f.swmr_mode = True
        except BaseException:
            f.close()
            self.path.unlink(missing_ok=True)
            raise
        fsync_dir(self.path.parent)
        self._file: h5py.File | None = f
        self._blocks: dict[str, list[tuple[NDArray[np.float64], NDArray[np.int64], NDArray[Any]]]] = {
            n: [] for n in self._infos
        }
        self._gaps: dict[str, list[Gap]] = {n: [] for n in self._infos}
        self._events: list[Event] = []
        self._last_counter: dict[str, int | None] = dict.fromkeys(self._infos)
        self._buffered = dict.fromkeys(self._infos, 0)
        self._committed = dict.fromkeys(self._infos, 0)
        self._last_checkpoint = _time.monotonic()

    # -- context manager -------------------------------------------------------------------------------
    def __enter__(self) -> TrialWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._close(complete=False)

    # -- state -----------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._file is None

    @property
    def committed_samples(self) -> dict[str, int]:
        """Samples per device that are durably on disk (written, flushed and fsync'd at a checkpoint)."""
        return dict(self._committed)

    @property
    def buffered_samples(self) -> dict[str, int]:
        """Samples per device accepted but not yet written (lost if the process dies now)."""
        return dict(self._buffered)

    def _require_open(self) -> h5py.File:
        if self._file is None:
            raise input_error("TrialWriter", f"{self.path} is already closed", "open a new TrialWriter")
        return self._file

    def _device(self, name: str) -> DeviceInfo:
        try:
            return self._infos[name]
        except KeyError:
            raise input_error(
                "device_name", f"this trial has no device {name!r}", f"use one of {list(self._infos)}"
            ) from None

    # -- appending -------------------------------------------------------------------------------------
    def append(self, device_name: str, time: ArrayLike, counter: ArrayLike, values: ArrayLike) -> None:
        """Append a block of ``n`` samples of one device.

        Parameters
        ----------
        device_name : str
        time : array_like, shape (n,)
            Session-clock times in s (float64).
        counter : array_like of int, shape (n,)
            The device's sample counter, unwrapped; strictly increasing, also across blocks.
        values : array_like, shape (n_channels, n)
            In the device's SI units; cast to its ``value_dtype`` only when that loses nothing.

        A block that breaks these rules raises :class:`~kinetics.KineticsInputError` and is not stored; what
        was appended before stays intact.
        """
        self._require_open()
        info = self._device(device_name)
        block = _check_block(info, time, counter, values, self._last_counter[device_name])
        n = block[0].shape[0]
        if n:
            self._blocks[device_name].append(block)
            self._last_counter[device_name] = int(block[1][-1])
            self._buffered[device_name] += n
        self._maybe_checkpoint()

    def add_gap(self, device_name: str, gap: Gap) -> None:
        """Record samples of ``device_name`` that never arrived."""
        self._require_open()
        self._device(device_name)
        if not isinstance(gap, Gap):
            raise input_error("gap", f"expected a Gap, got {type(gap).__name__}", "pass Gap(first, last, start, end)")
        self._gaps[device_name].append(gap)
        self._maybe_checkpoint()

    def add_event(self, event: Event) -> None:
        """Record a marker (phase change, cue, annotation...)."""
        self._require_open()
        if not isinstance(event, Event):
            raise input_error(
                "event", f"expected an Event, got {type(event).__name__}", "pass Event(time, kind, label)"
            )
        self._events.append(event)
        self._maybe_checkpoint()

    def _maybe_checkpoint(self) -> None:
        if _time.monotonic() - self._last_checkpoint >= self.checkpoint_interval:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Write everything buffered, flush and fsync, then record and fsync the committed counts."""
        f = self._require_open()
        g = self._group
        for name, blocks in self._blocks.items():
            if blocks:
                if len(blocks) == 1:
                    t, c, v = blocks[0]
                else:
                    t = np.concatenate([b[0] for b in blocks])
                    c = np.concatenate([b[1] for b in blocks])
                    v = np.concatenate([b[2] for b in blocks], axis=1)
                g.append_samples(name, t, c, v)
                blocks.clear()
            g.append_gaps(name, self._gaps[name])
            self._gaps[name].clear()
        g.append_events(self._events)
        self._events.clear()
        fsync_file(f)
        # The row goes in only once the data it counts is on disk, so a reader trusts it.
        g.append_checkpoint()
        fsync_file(f)
        self._committed = dict(g.samples)
        self._buffered = dict.fromkeys(self._infos, 0)
        self._last_checkpoint = _time.monotonic()

    # -- closing ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Write the rest, close the file and mark the trial complete. Closing twice does nothing."""
        self._close(complete=True)

    def _close(self, *, complete: bool) -> None:
        f = self._file
        if f is None:
            return
        try:
            self.checkpoint()
        finally:
            self._file = None
            f.close()
        if complete:
            # Attributes cannot change under SWMR; reopen normally (the data is already durable).
            with h5py.File(self.path, "r+", libver=S.LIBVER) as f2:
                f2.attrs["complete"] = np.int8(1)
                fsync_file(f2)


def _check_block(
    info: DeviceInfo, time: ArrayLike, counter: ArrayLike, values: ArrayLike, last: int | None
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[Any]]:
    """Validate one block and return private copies (time f8, counter i8, values in the device's dtype)."""
    name = f"device {info.name!r}"
    try:
        t = np.array(time, dtype=np.float64)
    except (TypeError, ValueError):
        raise input_error(name, "time is not numeric", "pass session times in seconds as floats") from None
    c_in = np.asarray(counter)
    v_in = np.asarray(values)
    if t.ndim != 1 or c_in.shape != t.shape:
        raise input_error(
            name, f"time {t.shape} and counter {c_in.shape} must be 1-D of equal length", "pass shape (n_samples,)"
        )
    n = t.shape[0]
    n_ch = len(info.channels)
    if v_in.shape != (n_ch, n):
        raise input_error(
            name, f"values have shape {v_in.shape}, expected ({n_ch}, {n})", "rows are channels, columns samples"
        )
    if n == 0:
        return t, np.zeros(0, np.int64), np.zeros((n_ch, 0), info.value_dtype)
    if c_in.dtype.kind not in "iu":
        raise input_error(name, f"counter has dtype {c_in.dtype}", "pass the device's integer sample counter")
    if c_in.dtype.kind == "u" and int(c_in.max()) >= 2**63:
        raise input_error(name, "counter exceeds the int64 range", "unwrap it from the first sample")
    c = c_in.astype(np.int64, copy=True)
    if n > 1 and np.any(np.diff(c) <= 0):
        raise input_error(name, "sample counter is not strictly increasing within the block", "unwrap and de-duplicate")
    if last is not None and c[0] <= last:
        raise input_error(
            name,
            f"block starts at counter {int(c[0])}, not after the last stored counter {last}",
            "drop duplicated or late blocks before appending",
        )
    target = np.dtype(info.value_dtype)
    if v_in.dtype.kind not in "fiub" or not np.can_cast(v_in.dtype, target, casting="safe"):
        raise input_error(
            name,
            f"values are {v_in.dtype} but the device stores {info.value_dtype}",
            "convert them explicitly or declare value_dtype='float64'",
        )
    return t, c, v_in.astype(target, copy=True)
