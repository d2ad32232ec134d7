"""The measured pyqtgraph settings (DESIGN.md, 4 curves at 1 kHz + COP trail at 60 fps on 2 cores), in one place.

No antialiasing, width-1 cosmetic pens, no auto-range, no mouse interaction, a major-only grid at most, curves
fed NumPy arrays with ``connect="all"`` and ``skipFiniteCheck=True`` (the live series never pass NaN).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PySide6.QtGui import QBrush, QColor, QPen

from gui.plotting import nice_ticks
from gui.theme import Palette

pg.setConfigOptions(antialias=False, useOpenGL=False, useNumba=False, exitCleanup=False)


def pen(colour: str, width: float = 1.0) -> QPen:
    """A cosmetic pen (width in pixels whatever the view's scale)."""
    p = QPen(QColor(colour))
    p.setWidthF(width)
    p.setCosmetic(True)
    return p


def brush(colour: str) -> QBrush:
    """A solid brush; ``colour`` may be ``#aarrggbb``."""
    return QBrush(QColor(colour))


def fast_curve(colour: str) -> pg.PlotCurveItem:
    """A curve item with the fast settings: width-1 pen, no antialias, no finite check, connect all."""
    return pg.PlotCurveItem(pen=pen(colour), antialias=False, skipFiniteCheck=True, connect="all")


def set_curve(curve: pg.PlotCurveItem, x: NDArray[np.float64], y: NDArray[np.float64]) -> None:
    """Hand ``x, y`` to ``curve`` the fast way (no copy, no finite check)."""
    curve.setData(x, y, connect="all", skipFiniteCheck=True)


def style_plot(widget: pg.PlotWidget, palette: Palette, *, grid: bool = True) -> None:
    """Fixed, quiet plot: no mouse, no menu, no auto-range, colours from ``palette``, major grid lines only."""
    widget.setBackground(QColor(palette.surface))
    item = widget.getPlotItem()
    item.setMenuEnabled(False)
    item.hideButtons()
    item.setMouseEnabled(x=False, y=False)
    item.disableAutoRange()
    vb = item.getViewBox()
    vb.setDefaultPadding(0.0)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pen(palette.muted))
        axis.setTextPen(pen(palette.text))
        axis.setStyle(maxTickLevel=0, maxTextLevel=0)  # major ticks only: the minor grid costs 14-24 ms/frame
        axis.enableAutoSIPrefix(False)
    item.getAxis("left").setGrid(60 if grid else False)
    item.getAxis("bottom").setGrid(False)


def device_pixels(widget: Any, width: float) -> int:
    """``width`` logical pixels of ``widget`` in device pixels (≥ 16)."""
    return max(16, int(width * widget.devicePixelRatioF()))


def set_fixed_ticks(widget: pg.PlotWidget, axis: str, low: float, high: float, *, target: int = 5) -> None:
    """Fixed round ticks on ``axis`` for the display range ``low..high`` (one level: major ticks and grid only)."""
    values = nice_ticks(low, high, target)
    widget.getPlotItem().getAxis(axis).setTicks([[(v, f"{v:g}") for v in values], []])
