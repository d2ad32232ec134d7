"""Balance scoring: centre of pressure from force plates, the posturography descriptor catalogue
(Quijoux et al. 2021, Prieto et al. 1996, Santos & Duarte 2016) and clinical composites.

Axes: x medio-lateral (right +), y antero-posterior (forward +), z up; SI units (m, N, s). A COP is an array
of shape (..., 2, n_samples), row 0 x (ML), row 1 y (AP). Every descriptor is documented in
docs/metrics/balance.md.
"""

from kinetics.balance.composites import limits_of_stability, romberg_quotient, single_leg_stance, weight_bearing
from kinetics.balance.cop import (
    MIN_FORCE,
    PLATE_HALF_SPACING,
    PlateCOP,
    TrialCOP,
    TwoPlateCOP,
    combine_plates,
    cop_from_cells,
    cop_from_recording,
    cop_from_trial,
    cop_from_wrench,
)
from kinetics.balance.preprocessing import butter_lowpass, fill_gaps, swarii
from kinetics.balance.scoring import METHODS, UNITS, sway_metrics

__all__ = [
    "METHODS",
    "MIN_FORCE",
    "PLATE_HALF_SPACING",
    "UNITS",
    "PlateCOP",
    "TrialCOP",
    "TwoPlateCOP",
    "butter_lowpass",
    "combine_plates",
    "cop_from_cells",
    "cop_from_recording",
    "cop_from_trial",
    "cop_from_wrench",
    "fill_gaps",
    "limits_of_stability",
    "romberg_quotient",
    "single_leg_stance",
    "swarii",
    "sway_metrics",
    "weight_bearing",
]
