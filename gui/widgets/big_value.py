"""A large live number with its unit, readable at arm's length."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from drivers.ringbuffer import RingBuffer
from gui.plotting import LiveSeries, TargetBand
from gui.theme import Palette, current_metrics, current_palette


class BigValue(QWidget):
    """``label`` above a big ``value unit``; the value turns the "in target" colour inside the target band.

    Parameters
    ----------
    label : str
        What the number is ("Force", "Knee angle").
    unit : str
        Display unit.
    display_scale : float
        SI → display factor.
    decimals : int
        Digits after the decimal point.
    channel : int
        Buffer row read by :meth:`update_from` when given a ring buffer.
    """

    def __init__(self, label: str = "", unit: str = "", *, display_scale: float = 1.0, decimals: int = 0,
                 channel: int = 0, palette: Palette | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self.unit = unit
        self.display_scale = float(display_scale)
        self.decimals = int(decimals)
        self.channel = channel
        self.value: float | None = None
        self.target: TargetBand | None = None
        self.palette_ = palette or current_palette()
        self._series: LiveSeries | None = None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        big = current_metrics().big_px
        self.setMinimumSize(int(big * 2.5), int(big * 1.5))

    def sizeHint(self) -> QSize:
        big = current_metrics().big_px
        return QSize(int(big * 3.4), int(big * 1.5))

    def apply_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        self.update()

    @property
    def in_target(self) -> bool | None:
        """Whether the value lies in the target band (None without a value or a target)."""
        if self.value is None or self.target is None:
            return None
        return self.target.contains(self.value)

    def text(self) -> str:
        """The number as shown (display units), "—" without a value."""
        if self.value is None:
            return "—"
        text = f"{self.value * self.display_scale:.{self.decimals}f}"
        return text[1:] if text.startswith("-") and float(text) == 0.0 else text  # no "-0" from noise

    def set_value(self, value: float | None) -> None:
        """Show ``value`` (SI); None or NaN shows a dash."""
        if value is not None and not math.isfinite(value):
            value = None
        if value != self.value:
            self.value = value
            self.update()

    def set_data(self, value: float | None) -> None:
        """Alias of :meth:`set_value`, for the widgets' common interface."""
        self.set_value(value)

    def set_target(self, low: float | None, high: float | None = None) -> None:
        """Target band in SI; None hides it."""
        self.target = None if low is None or high is None else TargetBand(low, high)
        self.update()

    def update_from(self, source: RingBuffer | LiveSeries, seconds: float = 0.1) -> None:
        """Show the mean of the last ``seconds`` of ``source`` (a buffer is wrapped once, row ``channel``)."""
        if isinstance(source, LiveSeries):
            series = source
        else:
            if self._series is None or self._series.buffer is not source:
                self._series = LiveSeries(source, channel=self.channel, window=max(1.0, seconds))
            series = self._series
            series.poll()
        self.set_value(series.recent_mean(seconds))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = self.palette_
        painter = QPainter(self)
        try:
            h = float(self.height())
            label_font = QFont(self.font())
            label_font.setPixelSize(max(12, int(h * 0.17)))
            painter.setFont(label_font)
            painter.setPen(QColor(p.muted))
            label_h = QFontMetricsF(label_font).height()
            painter.drawText(QRectF(0, 0, self.width(), label_h), Qt.AlignmentFlag.AlignLeft, self.label)
            text = self.text()
            value_font = QFont(self.font())
            value_font.setBold(True)
            value_font.setPixelSize(100)
            unit_font = QFont(self.font())
            unit_font.setPixelSize(100)
            # largest size that fits the height and, with the unit at 45 % of it, the width
            wide = QFontMetricsF(value_font).horizontalAdvance(text + " ") + 0.45 * QFontMetricsF(
                unit_font).horizontalAdvance(self.unit)
            size = min((h - label_h) * 0.8, 100.0 * self.width() / max(wide, 1.0))
            value_font.setPixelSize(max(12, int(size)))
            unit_font.setPixelSize(max(10, int(size * 0.45)))
            value_w = QFontMetricsF(value_font).horizontalAdvance(text + " ")
            base = QRectF(0, label_h, self.width(), h - label_h)
            painter.setFont(value_font)
            painter.setPen(QColor(p.in_target if self.in_target else p.text))
            painter.drawText(base, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, text)
            painter.setFont(unit_font)
            painter.setPen(QColor(p.muted))
            painter.drawText(base.adjusted(value_w, 0, 0, -h * 0.06),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, self.unit)
        finally:
            painter.end()
