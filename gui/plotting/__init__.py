"""Data preparation for the live plots — pure NumPy, no Qt.

The widgets only draw what these functions hand them: min/max-decimated time series, a thinned COP trail,
target shapes and fixed axis ranges, and the live series pulled from the acquisition's ring buffers.
"""

from gui.plotting.decimate import decimate_trail, minmax_decimate
from gui.plotting.geometry import (
    TargetBand,
    TargetZone,
    grow_range,
    nice_ceiling,
    nice_ticks,
    range_for_band,
    square_range,
)
from gui.plotting.live import LiveBalance, LiveSeries

__all__ = [
    "LiveBalance",
    "LiveSeries",
    "TargetBand",
    "TargetZone",
    "decimate_trail",
    "grow_range",
    "minmax_decimate",
    "nice_ceiling",
    "nice_ticks",
    "range_for_band",
    "square_range",
]
