"""Recording: time-stamped blocks, gaps and events into a crash-safe trial file, off the event loop.

:class:`TrialRecorder` wraps :class:`kinetics.io.TrialWriter` (SWMR HDF5, fsync'd checkpoints every second) in
a writer thread fed by a queue, so the event loop that receives notifications never waits for HDF5 or for an
fsync. The recorder keeps only samples whose session time is within ``[start, stop)`` of the recording, drops
gaps that lie wholly outside it, and closes the file complete on :meth:`close` (or incomplete but readable on
:meth:`abort`).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kinetics._checks import input_error
from kinetics.io import TrialWriter
from kinetics.trial import DeviceInfo, Event, Gap, TrialMeta

logger = logging.getLogger(__name__)

_STOP = object()


class TrialRecorder:
    """Streams one trial to ``path`` from any thread; the HDF5 work happens on its own writer thread.

    Parameters
    ----------
    path : path-like
        New trial file (``*.h5``); refused if it exists unless ``overwrite``.
    meta : TrialMeta
    devices : sequence of DeviceInfo
        Every device of the trial (their names are the roles blocks are addressed to).
    start : float
        Session time (s) of the recording's start: earlier samples are not recorded.
    checkpoint_interval : float
        Wall seconds between durable checkpoints (at most this much is lost on a crash).
    overwrite : bool
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: TrialMeta,
        devices: Sequence[DeviceInfo],
        *,
        start: float,
        checkpoint_interval: float = 1.0,
        overwrite: bool = False,
    ) -> None:
        if not math.isfinite(start):
            raise input_error("start", f"{start!r} is not a session time", "pass the session clock's now()")
        self.path = Path(path)
        self.start = float(start)
        self.stop_time = math.inf
        self._writer = TrialWriter(
            self.path, meta, devices, checkpoint_interval=checkpoint_interval, overwrite=overwrite
        )
        self._names = {d.name for d in devices}
        self._recorded: dict[str, int] = dict.fromkeys(self._names, 0)
        self._gaps: dict[str, int] = dict.fromkeys(self._names, 0)
        self._last_counter: dict[str, int | None] = dict.fromkeys(self._names)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"recorder-{self.path.name}", daemon=True)
        self._thread.start()

    # -- feeding (any thread) --------------------------------------------------------------------------

    @property
    def recorded_samples(self) -> dict[str, int]:
        """Samples accepted per device (queued or written)."""
        return dict(self._recorded)

    @property
    def recorded_gaps(self) -> dict[str, int]:
        return dict(self._gaps)

    def block(self, device: str, counter: NDArray[np.int64], time: NDArray[np.float64], values: NDArray[Any]) -> int:
        """Queue the samples of a block that fall within the recording; returns how many were kept."""
        if self._closed:
            return 0
        keep = (time >= self.start) & (time < self.stop_time)
        last = self._last_counter.get(device)
        if last is not None:
            keep &= counter > last
        k = int(np.count_nonzero(keep))
        if k == 0:
            return 0
        if k < counter.shape[0]:
            counter, time, values = counter[keep], time[keep], values[:, keep]
        self._last_counter[device] = int(counter[-1])
        self._recorded[device] += k
        self._queue.put(("block", device, time, counter, values))
        return k

    def gap(self, device: str, gap: Gap) -> bool:
        """Queue a gap if it lies within the recording (after its first recorded sample); True if kept."""
        if self._closed or self._last_counter.get(device) is None or gap.start >= self.stop_time:
            return False
        self._gaps[device] += 1
        self._queue.put(("gap", device, gap))
        return True

    def event(self, event: Event) -> None:
        """Queue an event (kept whatever its time: markers may annotate the whole trial)."""
        if not self._closed:
            self._queue.put(("event", event))

    # -- closing ---------------------------------------------------------------------------------------

    def close(self) -> Path:
        """Write the rest, mark the trial complete and close; re-raises a writer-thread error."""
        return self._finish(complete=True)

    def abort(self) -> Path:
        """Write the rest and close, leaving the trial marked incomplete (an interrupted recording)."""
        return self._finish(complete=False)

    def _finish(self, *, complete: bool) -> Path:
        if not self._closed:
            self._closed = True
            self._queue.put((_STOP, complete))
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self.path

    # -- writer thread ---------------------------------------------------------------------------------

    def _work(self) -> None:
        writer = self._writer
        try:
            while True:
                item = self._queue.get()
                if item[0] is _STOP:
                    if item[1]:
                        writer.close()
                    else:
                        writer.__exit__(RuntimeError, RuntimeError("recording interrupted"), None)
                    return
                if item[0] == "block":
                    writer.append(item[1], item[2], item[3], item[4])
                elif item[0] == "gap":
                    writer.add_gap(item[1], item[2])
                else:
                    writer.add_event(item[1])
        except BaseException as error:
            self._error = error
            logger.error("recorder %s failed: %s", self.path, error)
            try:
                writer.__exit__(type(error), error, None)
            except Exception as second:  # the file stays as its last checkpoint left it
                logger.error("recorder %s could not close: %s", self.path, second)
            while True:  # drain until the stop marker so close() returns
                item = self._queue.get()
                if item[0] is _STOP:
                    return


def recording_roles(devices: Sequence[str] | None, connected: Sequence[str]) -> tuple[str, ...]:
    """The roles a recording holds: ``devices`` in the order given, checked against the ``connected`` roles.

    None means every connected role (in their order). An unknown or unconnected role, a repeated one, a bare
    string or an empty selection raises :class:`~kinetics._checks.KineticsInputError` naming the connected roles.
    """
    have = list(connected)
    if devices is None:
        return tuple(have)
    if isinstance(devices, str):
        raise input_error("devices", f"{devices!r} is one string", f"pass a list of roles, e.g. [{devices!r}]")
    roles = [str(d) for d in devices]
    if not roles:
        raise input_error("devices", "no role selected", f"record one or more of {have}, or None for all")
    if len(set(roles)) != len(roles):
        raise input_error("devices", f"roles repeat: {roles}", "name each device to record once")
    unknown = [r for r in roles if r not in have]
    if unknown:
        raise input_error(
            "devices",
            f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not connected",
            f"connect {'it' if len(unknown) == 1 else 'them'} first or record only connected roles: {have}",
        )
    return tuple(roles)
