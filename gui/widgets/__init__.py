"""The live-display widgets (pyqtgraph and QPainter), drawing what :mod:`gui.plotting` prepares.

Every widget takes SI data, converts for display only (N, deg, mm), exposes ``set_target(...)``,
``set_data(...)`` and ``update_from(source)``, and applies the measured fast pyqtgraph settings.
"""

from gui.widgets.big_value import BigValue
from gui.widgets.stabilogram import StabilogramPlot
from gui.widgets.time_plot import AnglePlot, ForceTimePlot, TimePlot
from gui.widgets.weight_bars import WeightBars

__all__ = ["AnglePlot", "BigValue", "ForceTimePlot", "StabilogramPlot", "TimePlot", "WeightBars"]
