"""Moving-window time plots with a target band: force–time and joint angle.

The x axis is fixed at ``-window..0`` s (0 = the newest sample); the y axis is fixed and only grows, to a nice
value, when the signal leaves it. Data arrive in SI (N, Pa, deg) and are multiplied by ``display_scale`` for
display only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from drivers.ringbuffer import RingBuffer
from gui.plotting import LiveSeries, TargetBand, grow_range, minmax_decimate, range_for_band
from gui.theme import Palette, current_palette
from gui.widgets._pg import brush, device_pixels, fast_curve, pen, set_curve, set_fixed_ticks, style_plot

FloatArray = NDArray[np.float64]


class TimePlot(pg.PlotWidget):
    """A live signal over the last ``window`` seconds, with an optional target band.

    Parameters
    ----------
    window : float
        Seconds shown (x axis ``-window..0``).
    y_range : (low, high)
        Initial fixed y range in SI units.
    unit : str
        Display unit (axis label).
    display_scale : float
        SI → display factor (e.g. 1e-3 for Pa → kPa).
    channel : int
        Ring-buffer row drawn by :meth:`update_from` when given a buffer.
    palette : Palette, optional
        Colours (the current theme when omitted).
    colour_index : int
        Which of the palette's curve colours to use.
    """

    def __init__(
        self,
        *,
        window: float = 10.0,
        y_range: tuple[float, float] = (0.0, 100.0),
        unit: str = "",
        quantity: str = "",
        display_scale: float = 1.0,
        channel: int = 0,
        palette: Palette | None = None,
        colour_index: int = 0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent=parent)
        self.window_s = float(window)
        self.unit = unit
        self.display_scale = float(display_scale)
        self.channel = channel
        self.colour_index = colour_index
        self.target: TargetBand | None = None
        self.y_range = (float(y_range[0]), float(y_range[1]))
        self._base_range = self.y_range
        self._series: LiveSeries | None = None
        self.palette_ = palette or current_palette()
        self.band_item = QGraphicsRectItem()
        self.band_item.setVisible(False)
        self.band_item.setZValue(-10)
        self.curve = fast_curve(self.palette_.curve(colour_index))
        item = self.getPlotItem()
        item.addItem(self.band_item, ignoreBounds=True)
        item.addItem(self.curve)
        item.getAxis("left").setLabel(f"{quantity} ({unit})" if unit else quantity)
        item.getAxis("bottom").setLabel("time (s)")
        self.setXRange(-self.window_s, 0.0, padding=0.0)
        set_fixed_ticks(self, "bottom", -self.window_s, 0.0)
        self.apply_palette(self.palette_)
        self._apply_y_range()

    # -- appearance -------------------------------------------------------------------------------------------
    def apply_palette(self, palette: Palette) -> None:
        """Restyle for ``palette`` (theme switch)."""
        self.palette_ = palette
        style_plot(self, palette)
        self.curve.setPen(pen(palette.curve(self.colour_index)))
        self.band_item.setBrush(brush(palette.band))
        self.band_item.setPen(pen(palette.band_edge))
        for name in ("left", "bottom"):
            self.getPlotItem().getAxis(name).setTextPen(pen(palette.text))

    def _apply_y_range(self) -> None:
        lo, hi = self.y_range[0] * self.display_scale, self.y_range[1] * self.display_scale
        self.setYRange(lo, hi, padding=0.0)
        set_fixed_ticks(self, "left", lo, hi, target=4)

    # -- targets and data -------------------------------------------------------------------------------------
    def set_target(self, low: float | None, high: float | None = None) -> None:
        """Show the target band ``low..high`` (SI units); ``set_target(None)`` hides it."""
        if low is None or high is None:
            self.target = None
            self.band_item.setVisible(False)
            return
        self.target = TargetBand(low, high)
        self.y_range = range_for_band(self.target, self.y_range)
        self._apply_y_range()
        x, y, w, h = self.target.rect(-self.window_s, 0.0)
        s = self.display_scale
        self.band_item.setRect(QRectF(x, y * s, w, h * s))
        self.band_item.setVisible(True)

    def plot_pixels(self) -> int:
        """Width of the plot area in device pixels (the decimation budget is 2 points per pixel)."""
        return device_pixels(self, self.getPlotItem().getViewBox().width())

    def set_data(self, t: Any, y: Any) -> None:
        """Draw samples ``y`` (SI) at times ``t`` (s); x is time relative to the newest sample.

        Long series are min/max-decimated to the plot's width; the y range grows if the data leave it.
        """
        tt = np.asarray(t, dtype=np.float64)
        yy = np.asarray(y, dtype=np.float64)
        if tt.size == 0:
            self.curve.setData(np.empty(0), np.empty(0))
            return
        if tt[-1] != 0.0:
            tt = tt - tt[-1]
        tt, yy = minmax_decimate(tt, yy, self.plot_pixels())
        new_range = grow_range(self.y_range, float(yy.min()), float(yy.max()))
        if new_range != self.y_range:
            self.y_range = new_range
            self._apply_y_range()
        set_curve(self.curve, tt, yy * self.display_scale if self.display_scale != 1.0 else yy)

    def series_for(self, source: RingBuffer | LiveSeries) -> LiveSeries:
        """The live series this plot draws from ``source`` (a buffer is wrapped once, on row ``channel``)."""
        if isinstance(source, LiveSeries):
            self._series = source
        elif self._series is None or self._series.buffer is not source:
            self._series = LiveSeries(source, channel=self.channel, window=self.window_s)
        return self._series

    def update_from(self, source: RingBuffer | LiveSeries) -> LiveSeries:
        """Pull what is new in ``source`` and redraw; returns the series (for a big readout of the same data)."""
        series = self.series_for(source)
        series.poll()
        t, y = series.frame(self.plot_pixels())
        self.set_data(t, y)
        return series

    def drawn_points(self) -> int:
        """Number of points handed to Qt at the last draw (for tests and benchmarks)."""
        x = self.curve.xData
        return 0 if x is None else len(x)


class ForceTimePlot(TimePlot):
    """Force–time curve (N) with a target band (e.g. 40–60 % of the maximal force)."""

    def __init__(self, *, window: float = 10.0, y_range: tuple[float, float] = (0.0, 200.0),
                 unit: str = "N", display_scale: float = 1.0, quantity: str = "force", **kwargs: Any) -> None:
        super().__init__(window=window, y_range=y_range, unit=unit, quantity=quantity,
                         display_scale=display_scale, **kwargs)


class AnglePlot(TimePlot):
    """Joint angle (deg) with a target range of motion."""

    def __init__(self, *, window: float = 10.0, y_range: tuple[float, float] = (-10.0, 150.0),
                 quantity: str = "angle", **kwargs: Any) -> None:
        super().__init__(window=window, y_range=y_range, unit="°", quantity=quantity, **kwargs)
