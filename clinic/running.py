"""Running a protocol for a patient, the pieces the command line and the app share (no typer, no Qt): the speed
of simulated sessions, the patient's stored maxima for %-of-maximum targets, and how a metric value is shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clinic.store import SessionInfo
    from protocols.schema import Protocol

__all__ = ["DEFAULT_SPEED", "PLATE_SPEED_CAP", "check_maxima", "fmt_value", "simulated_speed", "stored_maxima"]

#: Highest speed for protocols with force plates. Two 1000 Hz plates over the in-process virtual radio carry
#: about 5-6x real time on an idle 2-core machine and less under load; past that, notifications queue up, arrival
#: delays grow steadily and the clock fit cannot tell that from drift, so jump timings go wrong. At 2x the
#: simulated CMJ scores within 1 cm of the simulated patient's jump on every trial.
PLATE_SPEED_CAP = 2.0
#: Speed of simulated sessions when none is asked for (simulated seconds per real second).
DEFAULT_SPEED = 20.0


def simulated_speed(protocol: Protocol, speed: float, *, radio: bool = True) -> float:
    """The speed to run ``protocol`` at on simulated sensors: ``speed``, capped at :data:`PLATE_SPEED_CAP` when
    the protocol uses force plates over the virtual radio (an in-process run has no cap)."""
    plates = any(s.kind == "plate" for s in protocol.sensors)
    return min(speed, PLATE_SPEED_CAP) if plates and radio else speed


def fmt_value(value: float, unit: str) -> str:
    """A metric value for display: cm for lengths under 1 m, cm² for areas, kPa for pressures, no unit for a
    dimensionless ratio (unit "1"); "—" for NaN."""
    if not math.isfinite(value):
        return "—"
    if unit in ("m^2",):
        return f"{value * 1e4:.2f} cm²"
    if unit == "m" and abs(value) < 1:
        return f"{value * 100:.1f} cm"
    if unit == "Pa":
        return f"{value / 1000:.1f} kPa"
    if unit == "1":
        return f"{value:.3g}"
    return f"{value:.3g} {unit}".strip()


def stored_maxima(protocol: Protocol, sessions: Sequence[SessionInfo]) -> dict[str, float]:
    """The patient's maximum per side for the ``percent_max`` targets of ``protocol``: the session-level
    ``best_<reference_metric>`` of their latest session of the target's ``reference_protocol`` (N or Pa by
    side; empty when the protocol has no such target or the patient has no such session)."""
    refs = {
        (ph.target.reference_protocol, ph.target.reference_metric)
        for ph in protocol.phases
        if ph.target is not None and ph.target.kind == "percent_max" and ph.target.reference_protocol
    }
    out: dict[str, float] = {}
    for ref, metric in refs:
        for s in sessions:  # oldest first: a later session overrides
            if s.protocol_id != ref:
                continue
            found: dict[str, float] = {}
            for r in s.results:
                if r.trial_id or r.key.rsplit(".", 1)[-1] != f"best_{metric}":
                    continue
                if math.isfinite(r.value) and r.value > 0:
                    found[r.side] = max(r.value, found.get(r.side, 0.0))
            out.update(found)
    return out


def check_maxima(protocol: Protocol, maxima: Mapping[str, float], patient_id: str) -> None:
    """Raise a :class:`~clinic.errors.ClinicError` naming the test to run first when a ``percent_max`` target has
    no maximum for a side the protocol runs."""
    from clinic.errors import ClinicError

    if "any" in maxima or len(maxima) == 1:  # one value serves every side (ProtocolRunner.maximum_for)
        return
    sides = list(dict.fromkeys(p.side for p in protocol.trial_plan()))
    missing = [s for s in sides if s not in maxima]
    for ph in protocol.phases:
        t = ph.target
        if t is None or t.kind != "percent_max" or not missing:
            continue
        ref = t.reference_protocol or "a maximal test"
        raise ClinicError(
            f"{protocol.id} aims at {t.percent:g} % of the patient's maximum {t.reference_metric} from {ref}; "
            f"{patient_id} has no stored result for side(s) {', '.join(missing)}; "
            f"run `kinetics run {ref} --patient {patient_id}` first"
        )
