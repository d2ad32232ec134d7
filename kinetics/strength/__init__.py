"""Strength scoring for the dynamometers (push, grip, traction, pneumatic) and force plates.

Isometric force–time metrics, repetitions and fatigue, endurance, side-to-side symmetry, torque and body-mass
normalisation, and force control against a target. Every function takes signals of shape (..., n_samples) and
returns :class:`kinetics.results.Metrics` (floats for one trace, arrays for a batch). Definitions and sources:
``docs/metrics/strength.md``.
"""

from kinetics.strength.control import force_control_metrics
from kinetics.strength.efforts import CV_LIMIT_PCT, Efforts, repetition_metrics, split_efforts
from kinetics.strength.endurance import endurance_metrics
from kinetics.strength.isometric import isometric_metrics
from kinetics.strength.onset import MIN_BASELINE_SAMPLES
from kinetics.strength.scaling import normalise_to_body_mass, torque
from kinetics.strength.symmetry import bishop_asymmetry, limb_symmetry_index, symmetry_index

__all__ = [
    "CV_LIMIT_PCT",
    "MIN_BASELINE_SAMPLES",
    "Efforts",
    "bishop_asymmetry",
    "endurance_metrics",
    "force_control_metrics",
    "isometric_metrics",
    "limb_symmetry_index",
    "normalise_to_body_mass",
    "repetition_metrics",
    "split_efforts",
    "symmetry_index",
    "torque",
]
