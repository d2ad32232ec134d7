"""The session clock: one time base (s, float64) for every device of a session.

Session time is ``(clock() − t0) × speed``: host monotonic seconds since the session started, scaled by
``speed``. With real sensors ``speed`` is 1. Simulated sensors may run their device time ``speed`` × faster than
wall time (a 30 s recording in 3 s of a test); giving the session clock the same ``speed`` keeps device time and
session time in step, so the clock mapper sees the nominal sample period and every recorded time reads in device
seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from kinetics._checks import input_error


class SessionClock:
    """Session time in seconds since construction (or :meth:`restart`), ``speed`` × the host clock's pace.

    Parameters
    ----------
    clock : callable returning float
        Host clock in s; monotonic (default :func:`time.monotonic`).
    speed : float
        Session seconds per host second (> 0): 1 for real sensors, the simulators' speed for accelerated runs.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, speed: float = 1.0) -> None:
        value = float(speed)
        if not (math.isfinite(value) and value > 0):
            raise input_error(
                "speed", f"{speed!r} is not a positive factor", "pass 1.0 for real time, e.g. 10.0 faster"
            )
        self.clock = clock
        self.speed = value
        self.t0 = float(clock())

    def restart(self) -> None:
        """Make the current host instant session time 0."""
        self.t0 = float(self.clock())

    def now(self) -> float:
        """Current session time (s)."""
        return (self.clock() - self.t0) * self.speed

    def __call__(self) -> float:
        return self.now()

    def from_host(self, host_time: float) -> float:
        """Session time (s) of a host-clock reading ``host_time``."""
        return (host_time - self.t0) * self.speed

    def to_host(self, session_time: float) -> float:
        """Host-clock reading (s) at session time ``session_time``."""
        return self.t0 + session_time / self.speed

    def host_seconds(self, session_seconds: float) -> float:
        """Host (wall) seconds that ``session_seconds`` of session time take."""
        return session_seconds / self.speed
