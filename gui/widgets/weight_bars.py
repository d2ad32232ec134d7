"""Left/right weight share as two vertical bars with their percentages (QPainter, no plot machinery)."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui.plotting import LiveBalance, TargetBand
from gui.theme import Palette, current_palette


class WeightBars(QWidget):
    """Two bars: the left and right shares of the body weight (0–100 %), with numbers above and an optional
    target band (e.g. 45–55 % for symmetric standing) drawn across both bars.

    Shares are fractions (0..1); ``None`` (nobody on the plates) shows empty bars and a dash.
    """

    def __init__(self, *, palette: Palette | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.palette_ = palette or current_palette()
        self.left_share: float | None = None
        self.target: TargetBand | None = None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 160)

    def sizeHint(self) -> QSize:
        return QSize(220, 320)

    def apply_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        self.update()

    @property
    def right_share(self) -> float | None:
        return None if self.left_share is None else 1.0 - self.left_share

    def set_data(self, left_share: float | None) -> None:
        """Show ``left_share`` (0..1) on the left and ``1 − left_share`` on the right; None: nobody standing."""
        if left_share is not None:
            value = float(left_share)
            if not math.isfinite(value):
                left_share = None
            else:
                left_share = min(1.0, max(0.0, value))
        if left_share != self.left_share:
            self.left_share = left_share
            self.update()

    def set_target(self, low: float | None, high: float | None = None) -> None:
        """Target share band for the left bar as fractions (the right bar shows its mirror); None hides it."""
        self.target = None if low is None or high is None else TargetBand(low, high)
        self.update()

    def update_from(self, source: LiveBalance) -> None:
        """Show the mean left share of the last 0.25 s of ``source`` (polled first)."""
        source.poll()
        self.set_data(source.recent_share_left(0.25))

    # -- geometry shared by painting and tests ----------------------------------------------------------------
    def bar_rects(self) -> tuple[QRectF, QRectF]:
        """The full-height frames (100 %) of the left and right bars, in widget coordinates."""
        w, h = self.width(), self.height()
        text_h = max(24.0, h * 0.16)
        label_h = max(20.0, h * 0.1)
        gap = w * 0.12
        bar_w = (w - 3 * gap) / 2
        top, bottom = text_h + 8, h - label_h - 4
        return (QRectF(gap, top, bar_w, bottom - top), QRectF(2 * gap + bar_w, top, bar_w, bottom - top))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = self.palette_
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor(p.surface))
            rects = self.bar_rects()
            shares = (self.left_share, self.right_share)
            colours = (p.left, p.right)
            text_font = QFont(self.font())
            text_font.setBold(True)
            text_font.setPixelSize(100)
            fit_w = 100.0 * (rects[0].width() + rects[0].left() * 0.8) / QFontMetricsF(text_font).horizontalAdvance(
                "100 %")
            text_font.setPixelSize(max(12, int(min(rects[0].top() * 0.7, fit_w))))
            label_font = QFont(self.font())
            label_font.setPixelSize(max(12, int((self.height() - rects[0].bottom()) * 0.6)))
            for rect, share, colour, side in zip(rects, shares, colours, ("L", "R"), strict=True):
                painter.setPen(QColor(p.border))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect)
                if share is not None:
                    fill_h = rect.height() * share
                    painter.fillRect(QRectF(rect.left(), rect.bottom() - fill_h, rect.width(), fill_h), QColor(colour))
                painter.setPen(QColor(p.text))
                painter.setFont(text_font)
                number = "—" if share is None else f"{round(share * 100):d} %"
                margin = rect.left() * 0.4
                painter.drawText(QRectF(rect.left() - margin, 0, rect.width() + 2 * margin, rect.top() - 4),
                                 Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, number)
                painter.setFont(label_font)
                painter.setPen(QColor(p.muted))
                painter.drawText(QRectF(rect.left(), rect.bottom() + 2, rect.width(), self.height() - rect.bottom()),
                                 Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, side)
            if self.target is not None:
                band = QColor(p.band)
                for rect, (lo, hi) in zip(rects, ((self.target.low, self.target.high),
                                                  (1 - self.target.high, 1 - self.target.low)), strict=True):
                    y_hi = rect.bottom() - rect.height() * min(1.0, hi)
                    y_lo = rect.bottom() - rect.height() * max(0.0, lo)
                    painter.fillRect(QRectF(rect.left() - 6, y_hi, rect.width() + 12, y_lo - y_hi), band)
        finally:
            painter.end()
