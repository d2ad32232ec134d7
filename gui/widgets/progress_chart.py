"""A metric's progress over the patient's sessions: left and right values by date, each side's MDC band around
its baseline, real-change markers, and limb symmetry underneath (data prepared by :mod:`gui.plotting.progress`).

Drawn once per metric with the measured settings (width-1 cosmetic pens, no antialias, major grid lines only,
fixed ranges and ticks computed from the data, no mouse interaction).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QStackedWidget, QVBoxLayout, QWidget

from gui.plotting.progress import ProgressChartData, SideSeries
from gui.theme import Palette, current_palette
from gui.widgets._pg import brush, pen, style_plot

FloatArray = NDArray[np.float64]

#: Alpha (of 255) of an MDC band's fill in its side's colour.
BAND_ALPHA = 0x38
#: Colour of a real change for the worse (the palette has no "worse" colour); light and dark theme.
WORSE = {"light": "#b91c1c", "dark": "#f87171"}
POINT_SIZE = 11
MARKER_SIZE = 24
AXIS_WIDTH = 64


def side_colour(palette: Palette, side: str) -> str:
    """Left and right in the palette's side colours; a single (bilateral or unilateral) series in curve 3."""
    return palette.left if side == "left" else palette.right if side == "right" else palette.curve(3)


def band_fill(colour: str) -> str:
    """``colour`` (#rrggbb) as the translucent band fill #aarrggbb."""
    return f"#{BAND_ALPHA:02x}{colour.lstrip('#')}"


class _SideItems:
    """The graphics items of one side: band, line, session points, real-change markers."""

    def __init__(self, series: SideSeries) -> None:
        self.series = series
        self.band = QGraphicsRectItem()
        self.band.setZValue(-10)
        self.line = pg.PlotCurveItem(antialias=False, skipFiniteCheck=True, connect="all")
        self.points = pg.ScatterPlotItem(size=POINT_SIZE, pxMode=True, antialias=False)
        self.points.setZValue(10)
        self.markers = pg.ScatterPlotItem(pxMode=True, antialias=False)
        self.markers.setZValue(5)  # behind the session point it surrounds


class ProgressChart(QWidget):
    """The progress chart of one metric: :meth:`set_data` with a :class:`ProgressChartData` (None: empty state).

    The value plot (top, about two thirds) shows each side's session values joined by a line, its MDC band
    (baseline ± MDC95, translucent in the side's colour) and a triangle behind every session flagged as a real
    change (pointing up or down; green when better, red when worse). The symmetry plot (bottom) shows LSI or the
    symmetry index with its reference line (100 % or 0 %), hidden when only one side was tested.
    """

    def __init__(self, palette: Palette | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.palette_ = palette or current_palette()
        self.data: ProgressChartData | None = None
        self._sides: dict[str, _SideItems] = {}
        self.value_plot = pg.PlotWidget()
        self.sym_plot = pg.PlotWidget()
        self.sym_curve = pg.PlotCurveItem(antialias=False, skipFiniteCheck=True, connect="all")
        self.sym_points = pg.ScatterPlotItem(size=POINT_SIZE, pxMode=True, antialias=False)
        self.sym_reference = pg.InfiniteLine(angle=0, movable=False)
        for item in (self.sym_reference, self.sym_curve, self.sym_points):
            self.sym_plot.getPlotItem().addItem(item)
        for plot in (self.value_plot, self.sym_plot):
            plot.getPlotItem().getAxis("left").setWidth(AXIS_WIDTH)
        self.legend = QLabel()
        self.legend.setObjectName("muted")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.empty = QLabel("No results for this patient yet. Results appear here after the first session.")
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        charts = QWidget()
        charts_layout = QVBoxLayout(charts)
        charts_layout.setContentsMargins(0, 0, 0, 0)
        charts_layout.setSpacing(4)
        charts_layout.addWidget(self.value_plot, 2)
        charts_layout.addWidget(self.sym_plot, 1)
        charts_layout.addWidget(self.legend)
        self.stack = QStackedWidget()
        self.stack.setObjectName("progressStack")  # the theme paints QStackedWidgets in the window colour
        self.stack.setStyleSheet("QStackedWidget#progressStack { background: transparent; }")
        self.stack.addWidget(self.empty)
        self.stack.addWidget(charts)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.apply_palette(self.palette_)

    # -- appearance -------------------------------------------------------------------------------------------
    def apply_palette(self, palette: Palette) -> None:
        """Restyle for ``palette`` (theme switch) and redraw the current data."""
        self.palette_ = palette
        for plot in (self.value_plot, self.sym_plot):
            style_plot(plot, palette)
        self.sym_reference.setPen(pen(palette.muted))
        self.set_data(self.data)

    # -- data -------------------------------------------------------------------------------------------------
    def set_data(self, data: ProgressChartData | None) -> None:
        """Draw ``data`` (ranges and ticks fixed from it), or the empty state for None."""
        self.data = data
        item = self.value_plot.getPlotItem()
        for side in self._sides.values():
            for graphic in (side.band, side.line, side.points, side.markers):
                item.removeItem(graphic)
        self._sides = {}
        if data is None:
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        p = self.palette_
        for series in data.series:
            items = _SideItems(series)
            colour = side_colour(p, series.side)
            band = series.band
            if band is not None:
                items.band.setRect(QRectF(data.x_range[0], band[0], data.x_range[1] - data.x_range[0],
                                          band[1] - band[0]))
                items.band.setBrush(brush(band_fill(colour)))
                items.band.setPen(pen(colour))
            items.band.setVisible(band is not None)
            items.line.setData(series.x, series.y, connect="all", skipFiniteCheck=True)
            items.line.setPen(pen(colour))
            items.points.setData(series.x, series.y, pen=pen(p.surface), brush=brush(colour), symbol="o")
            if series.real_x.size:
                symbols = ["t1" if up else "t" for up in series.real_up]
                brushes = [brush(p.in_target if better else WORSE[p.name]) for better in series.real_better]
                items.markers.setData(series.real_x, series.real_y, symbol=symbols, brush=brushes,
                                      pen=pen(p.surface), size=MARKER_SIZE)
            else:
                items.markers.setData([], [])
            item.addItem(items.band, ignoreBounds=True)
            item.addItem(items.line)
            item.addItem(items.markers)
            item.addItem(items.points)
            self._sides[series.side] = items
        self._fix_axes(self.value_plot, data.x_range, data.y_range, data.y_ticks, data.x_ticks)
        item.getAxis("left").setLabel(f"{data.title} ({data.unit})" if data.unit else data.title)
        sym = data.symmetry
        self.sym_plot.setVisible(sym is not None)
        bottom = item.getAxis("bottom")
        if sym is None:
            bottom.setLabel(data.x_label)
        else:
            bottom.showLabel(False)
            self.sym_plot.getPlotItem().getAxis("bottom").setLabel(data.x_label)
        if sym is not None:
            self.sym_curve.setData(sym.x, sym.y, connect="all", skipFiniteCheck=True)
            self.sym_curve.setPen(pen(p.curve(3)))
            self.sym_points.setData(sym.x, sym.y, pen=pen(p.surface), brush=brush(p.curve(3)), symbol="s")
            self.sym_reference.setValue(sym.reference)
            self._fix_axes(self.sym_plot, data.x_range, data.sym_range, data.sym_ticks, data.x_ticks)
            self.sym_plot.getPlotItem().getAxis("left").setLabel(sym.label)
        self.legend.setText(self._legend_html(data))

    @staticmethod
    def _fix_axes(plot: pg.PlotWidget, x_range: tuple[float, float], y_range: tuple[float, float],
                  y_ticks: list[float], x_ticks: list[tuple[float, str]]) -> None:
        plot.setXRange(*x_range, padding=0.0)
        plot.setYRange(*y_range, padding=0.0)
        item = plot.getPlotItem()
        item.getAxis("left").setTicks([[(v, f"{v:g}") for v in y_ticks], []])
        item.getAxis("bottom").setTicks([x_ticks, []])

    def _legend_html(self, data: ProgressChartData) -> str:
        p = self.palette_
        parts = []
        for s in data.series:
            name = s.label or data.title
            parts.append(f"<span style='color:{side_colour(p, s.side)}'>●</span> {name}")
        if any(s.band is not None for s in data.series):
            parts.append("▭ baseline ± MDC95")
        parts.append(f"real change: <span style='color:{p.in_target}'>▲</span> better"
                     f" <span style='color:{WORSE[p.name]}'>▼</span> worse")
        if data.symmetry is not None:
            parts.append(f"<span style='color:{p.curve(3)}'>■</span> {data.symmetry.label}")
        return " &nbsp;&nbsp; ".join(parts) + f"<br>{data.sem_note}"

    # -- what is drawn (tests, screenshots) -------------------------------------------------------------------
    def sides(self) -> list[str]:
        return list(self._sides)

    def plotted_points(self, side: str) -> tuple[FloatArray, FloatArray]:
        """The session points drawn for ``side``: x (POSIX s) and y (display unit)."""
        x, y = self._sides[side].points.getData()
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def band_rect(self, side: str) -> tuple[float, float, float, float] | None:
        """The MDC band drawn for ``side`` as (x0, x1, low, high), or None when hidden."""
        band = self._sides[side].band
        if not band.isVisible():
            return None
        r = band.rect()
        return (r.left(), r.right(), r.top(), r.bottom())

    def real_change_points(self, side: str) -> tuple[FloatArray, FloatArray]:
        """Where real-change markers are drawn for ``side``."""
        x, y = self._sides[side].markers.getData()
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def symmetry_points(self) -> tuple[FloatArray, FloatArray]:
        x, y = self.sym_points.getData()
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def view_ranges(self) -> tuple[list[float], list[float]]:
        """The value plot's x and y range as drawn."""
        xr, yr = self.value_plot.getPlotItem().getViewBox().viewRange()
        return list(xr), list(yr)

