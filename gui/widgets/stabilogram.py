"""COP stabilogram: the centre-of-pressure trail in the plate frame, a target zone, a fixed square view in mm.

Data in metres (x medio-lateral, right +; y antero-posterior, forward +), drawn in millimetres. The trail is
thinned by hand (pyqtgraph draws every point it is given) to ``max_points``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QAbstractGraphicsShapeItem, QGraphicsEllipseItem, QGraphicsRectItem, QWidget

from gui.plotting import LiveBalance, TargetZone, decimate_trail, square_range
from gui.theme import Palette, current_palette
from gui.widgets._pg import brush, fast_curve, pen, set_curve, set_fixed_ticks, style_plot

MM = 1000.0  # m → mm, display only


class StabilogramPlot(pg.PlotWidget):
    """COP trail with a target zone.

    Parameters
    ----------
    half_range : float
        Smallest half-width of the square view in m (grows to show a target zone).
    max_points : int
        Trail point budget per frame.
    """

    def __init__(self, *, half_range: float = 0.05, max_points: int = 1000, palette: Palette | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.min_half_range = float(half_range)
        self.max_points = int(max_points)
        self.zone: TargetZone | None = None
        self.view_range = square_range(None, self.min_half_range)
        self.palette_ = palette or current_palette()
        self.zone_item: QAbstractGraphicsShapeItem = QGraphicsEllipseItem()
        self.zone_item.setVisible(False)
        self.trail = fast_curve(self.palette_.curve(0))
        self.marker = pg.PlotCurveItem(antialias=False, skipFiniteCheck=True, connect="pairs")
        self.in_zone: bool | None = None
        item = self.getPlotItem()
        item.setAspectLocked(True, ratio=1.0)
        item.addItem(self.zone_item, ignoreBounds=True)
        item.addItem(self.trail)
        item.addItem(self.marker)
        item.getAxis("bottom").setLabel("ML (mm)")
        item.getAxis("left").setLabel("AP (mm)")
        self.apply_palette(self.palette_)
        self._apply_range()

    def apply_palette(self, palette: Palette) -> None:
        """Restyle for ``palette`` (theme switch)."""
        self.palette_ = palette
        style_plot(self, palette, grid=False)
        self.trail.setPen(pen(palette.curve(0)))
        self.zone_item.setBrush(brush(palette.band))
        self.zone_item.setPen(pen(palette.band_edge))
        self._style_marker()

    def _style_marker(self) -> None:
        colour = self.palette_.in_target if self.in_zone else self.palette_.off_target
        self.marker.setPen(pen(colour, 3.0))

    def _apply_range(self) -> None:
        lo, hi = self.view_range
        self.setXRange(lo * MM, hi * MM, padding=0.0)
        self.setYRange(lo * MM, hi * MM, padding=0.0)
        set_fixed_ticks(self, "left", lo * MM, hi * MM, target=4)
        # the locked aspect widens x beyond the range set: ticks with the same step over a wider span
        set_fixed_ticks(self, "bottom", 4 * lo * MM, 4 * hi * MM, target=16)

    def set_target(self, zone: TargetZone | None) -> None:
        """Show a target zone (circle or rectangle, metres); ``None`` hides it."""
        item = self.getPlotItem()
        item.removeItem(self.zone_item)
        self.zone = zone
        self.zone_item = QGraphicsRectItem() if zone is not None and zone.shape == "rect" else QGraphicsEllipseItem()
        self.zone_item.setZValue(-10)
        item.addItem(self.zone_item, ignoreBounds=True)
        self.apply_palette(self.palette_)
        if zone is None:
            self.zone_item.setVisible(False)
            return
        hx, hy = zone.extent
        rect = QRectF((zone.cx - hx) * MM, (zone.cy - hy) * MM, 2 * hx * MM, 2 * hy * MM)
        self.zone_item.setRect(rect)
        self.zone_item.setVisible(True)
        self.view_range = square_range(zone, self.min_half_range)
        self._apply_range()

    def set_data(self, x: Any, y: Any) -> None:
        """Draw the trail ``x, y`` (m), the newest point last (marked); NaN samples (unloaded) are skipped."""
        xs, ys = decimate_trail(x, y, self.max_points)
        set_curve(self.trail, xs * MM, ys * MM)
        if xs.size == 0:
            self.marker.setData(np.empty(0), np.empty(0))
            self.in_zone = None
            return
        cx, cy = float(xs[-1]), float(ys[-1])
        inside = None if self.zone is None else self.zone.contains(cx, cy)
        if inside != self.in_zone:
            self.in_zone = inside
            self._style_marker()
        r = 0.04 * (self.view_range[1] - self.view_range[0]) * MM  # cross arm: 4 % of the view
        mx, my = cx * MM, cy * MM
        self.marker.setData(np.array([mx - r, mx + r, mx, mx]), np.array([my, my, my - r, my + r]),
                            connect="pairs", skipFiniteCheck=True)

    def update_from(self, source: LiveBalance) -> LiveBalance:
        """Pull new plate samples from ``source`` and redraw the trail."""
        source.poll()
        x, y = source.trail_frame(self.max_points)
        self.set_data(x, y)
        return source

    def drawn_points(self) -> int:
        """Number of trail points handed to Qt at the last draw."""
        x = self.trail.xData
        return 0 if x is None else len(x)
