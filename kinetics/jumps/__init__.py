"""Jump scoring from vertical ground reaction force: CMJ, squat jump, drop jump and repeated hops.

All functions take force of shape (..., n_samples) — or (..., 2, n_samples) for two plates (left, right) with
``sides=True`` — and return :class:`kinetics.results.Metrics`. Definitions and sources: docs/metrics/jumps.md.
"""

from kinetics.jumps._common import G, asymmetry, height_from_flight_time, height_from_velocity
from kinetics.jumps.countermovement import cmj_metrics, sj_metrics
from kinetics.jumps.drop import drop_jump_metrics
from kinetics.jumps.hops import HopContacts, dalleau_stiffness, hop_contacts, hop_metrics

__all__ = [
    "G",
    "HopContacts",
    "asymmetry",
    "cmj_metrics",
    "dalleau_stiffness",
    "drop_jump_metrics",
    "height_from_flight_time",
    "height_from_velocity",
    "hop_contacts",
    "hop_metrics",
    "sj_metrics",
]
