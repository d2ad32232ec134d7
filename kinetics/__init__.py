"""Kinetics science library: trial data model, trial files, filters and scoring. Pure: no Qt, no BLE, no DB."""

from kinetics._checks import KineticsInputError, KineticsWarning
from kinetics.results import Metrics
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Event, Gap, Trial, TrialMeta

__version__ = "0.1.0"

__all__ = [
    "Channel",
    "DeviceInfo",
    "DeviceRecording",
    "Event",
    "Gap",
    "KineticsInputError",
    "KineticsWarning",
    "Metrics",
    "Trial",
    "TrialMeta",
    "__version__",
]
