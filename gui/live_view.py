"""The live page: one card per streaming device, redrawn at 60 frames per second from the ring buffers.

Each card owns its widgets and the live series that feed them (:mod:`gui.plotting`); a single QTimer calls
:meth:`LiveView.refresh`, which only pulls what is new and draws. Cards are added by the code that knows the
devices (the sensors and run screens, fed by the acquisition's ring buffers)::

    view = LiveView()
    view.add_device("grip-left", device_kind("grip"), grip_buffer)
    view.add_balance("plates", left_buffer, cell_positions, right=right_buffer,
                     left_origin=(-0.12, 0), right_origin=(0.12, 0))
    view.card("grip-left").set_target(120.0, 180.0)

The timer runs only while the page is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from drivers.devices import DeviceKind
from drivers.ringbuffer import RingBuffer
from gui.plotting import LiveBalance, LiveSeries, TargetZone
from gui.plotting.live import Derive
from gui.theme import Palette, current_palette
from gui.widgets import AnglePlot, BigValue, ForceTimePlot, StabilogramPlot, TimePlot, WeightBars
from kinetics.rom.orientation import tilt_from_accelerometer

#: Redraw rate (Hz) and the timer interval that gives it.
FRAME_RATE = 60.0
FRAME_INTERVAL_MS = int(1000.0 / FRAME_RATE)
#: Trial kinds drawn as a force–time curve: (unit, SI → display factor, initial y range in SI, decimals).
FORCE_KINDS: dict[str, tuple[str, float, tuple[float, float], int]] = {
    "push": ("N", 1.0, (0.0, 200.0), 0),
    "grip": ("N", 1.0, (0.0, 300.0), 0),
    "pull": ("N", 1.0, (0.0, 500.0), 0),
    "force": ("N", 1.0, (0.0, 200.0), 0),
    "pneumatic": ("kPa", 1e-3, (0.0, 50e3), 1),
}


class LiveCard(QFrame):
    """One device's live display: a title, a big value and its plot(s); :meth:`refresh` draws one frame."""

    def __init__(self, name: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.name = name
        self.title = QLabel(title)
        self.title.setObjectName("cardTitle")
        self.body = QHBoxLayout()
        self.side = QVBoxLayout()  # the big value (and weight bars) right of the plot
        self.body.addLayout(self.side, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self.title)
        layout.addLayout(self.body, 1)
        self._refresh: Callable[[], None] = lambda: None
        self._targets: Callable[..., None] = lambda *a, **k: None
        self.widgets: list[QWidget] = []
        self.series: LiveSeries | None = None
        self.source: LiveBalance | None = None

    def refresh(self) -> None:
        """Pull the new samples and redraw this card."""
        self._refresh()

    def set_target(self, *args: Any, **kwargs: Any) -> None:
        """Target for this card: ``(low, high)`` in SI for a time plot, a :class:`TargetZone` for balance."""
        self._targets(*args, **kwargs)

    def apply_palette(self, palette: Palette) -> None:
        for widget in self.widgets:
            apply = getattr(widget, "apply_palette", None)
            if apply is not None:
                apply(palette)


class LiveView(QWidget):
    """Live plots of the streaming devices, refreshed by a 60 Hz QTimer while visible."""

    def __init__(self, *, window: float = 10.0, palette: Palette | None = None, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.window_s = float(window)
        self.palette_ = palette or current_palette()
        self._cards: dict[str, LiveCard] = {}
        self.heading = QLabel("Live signals")
        self.heading.setObjectName("cardTitle")
        self.empty = QLabel("No sensor is streaming.\nConnect a sensor to see its signal here.")
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid = QGridLayout()
        self.grid.setSpacing(12)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addWidget(self.heading)
        layout.addWidget(self.empty, 1)
        layout.addLayout(self.grid, 1)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_INTERVAL_MS)
        self.timer.timeout.connect(self.refresh)
        self.frames = 0

    # -- cards --------------------------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Names of the cards shown, in order."""
        return list(self._cards)

    def card(self, name: str) -> LiveCard:
        if name not in self._cards:
            raise KeyError(f"no live card named {name!r}; cards: {', '.join(self._cards) or 'none'}")
        return self._cards[name]

    def _add(self, card: LiveCard) -> LiveCard:
        if card.name in self._cards:
            raise ValueError(f"a live card named {card.name!r} exists already; remove it first")
        self._cards[card.name] = card
        self._relayout()
        return card

    def remove(self, name: str) -> None:
        """Remove the card ``name`` and delete its widgets."""
        card = self._cards.pop(name)
        self.grid.removeWidget(card)
        card.setParent(None)
        card.deleteLater()
        self._relayout()

    def clear(self) -> None:
        for name in list(self._cards):
            self.remove(name)

    def _relayout(self) -> None:
        cards = list(self._cards.values())
        columns = 1 if len(cards) <= 1 else 2
        for i, card in enumerate(cards):
            self.grid.addWidget(card, i // columns, i % columns)
        self.empty.setVisible(not cards)

    def add_time_signal(
        self,
        name: str,
        buffer: RingBuffer,
        *,
        title: str,
        plot: TimePlot,
        value_label: str,
        decimals: int = 0,
        channel: int = 0,
        derive: Derive | None = None,
    ) -> LiveCard:
        """A card with a time plot and a big value of one signal of ``buffer``."""
        series = LiveSeries(buffer, channel=channel, window=self.window_s, derive=derive)
        big = BigValue(value_label, plot.unit, display_scale=plot.display_scale, decimals=decimals,
                       palette=self.palette_)
        card = LiveCard(name, title)
        card.side.addWidget(big)
        card.side.addStretch(1)
        card.body.insertWidget(0, plot, 1)
        card.widgets = [plot, big]

        def refresh() -> None:
            plot.update_from(series)
            big.update_from(series)

        def targets(low: float | None, high: float | None = None) -> None:
            plot.set_target(low, high)
            big.set_target(low, high)

        card._refresh, card._targets = refresh, targets
        card.series = series
        return self._add(card)

    def add_force(self, name: str, buffer: RingBuffer, *, title: str | None = None, channel: int = 0,
                  unit: str = "N", display_scale: float = 1.0, y_range: tuple[float, float] = (0.0, 200.0),
                  decimals: int = 0) -> LiveCard:
        """A force–time card (or any scalar with a unit, e.g. pressure in kPa) for row ``channel``."""
        plot = ForceTimePlot(window=self.window_s, y_range=y_range, unit=unit, display_scale=display_scale,
                             quantity="pressure" if unit.endswith("Pa") else "force",
                             palette=self.palette_, colour_index=len(self._cards))
        return self.add_time_signal(name, buffer, title=title or name, plot=plot,
                                    value_label=plot.getPlotItem().getAxis("left").labelText,
                                    decimals=decimals, channel=channel)

    def add_angle(self, name: str, buffer: RingBuffer, *, title: str | None = None, channel: int = 0,
                  derive: Derive | None = None, quantity: str = "angle",
                  y_range: tuple[float, float] = (-10.0, 150.0)) -> LiveCard:
        """A joint-angle card (deg) from row ``channel`` or ``derive(values)``."""
        plot = AnglePlot(window=self.window_s, y_range=y_range, quantity=quantity, palette=self.palette_,
                         colour_index=len(self._cards))
        return self.add_time_signal(name, buffer, title=title or name, plot=plot, value_label=quantity,
                                    channel=channel, derive=derive)

    def add_balance(self, name: str, left: RingBuffer, cell_positions: Any, *, right: RingBuffer | None = None,
                    left_origin: Any = (0.0, 0.0), right_origin: Any = (0.0, 0.0), title: str | None = None,
                    trail: float = 5.0) -> LiveCard:
        """A stabilogram card for one plate, with left/right weight bars when two plates are given."""
        source = LiveBalance(left, cell_positions, right=right, left_origin=left_origin,
                             right_origin=right_origin, trail=trail)
        stabilogram = StabilogramPlot(palette=self.palette_, half_range=0.1 if right is not None else 0.05)
        card = LiveCard(name, title or name)
        card.body.insertWidget(0, stabilogram, 1)
        card.widgets = [stabilogram]
        total = BigValue("total force", "N", palette=self.palette_)
        card.side.addWidget(total)
        card.widgets.append(total)
        bars: WeightBars | None = None
        if right is not None:
            bars = WeightBars(palette=self.palette_)
            card.side.addWidget(bars, 1)
            card.widgets.append(bars)
        else:
            card.side.addStretch(1)

        def refresh() -> None:
            stabilogram.update_from(source)
            if bars is not None:
                bars.set_data(source.recent_share_left(0.25))
            f = source.total_force
            total.set_value(float(f[-1]) if f.size else None)

        def targets(zone: TargetZone | None = None, share: tuple[float, float] | None = None) -> None:
            stabilogram.set_target(zone)
            if bars is not None:
                bars.set_target(*(share or (None, None)))

        card._refresh, card._targets = refresh, targets
        card.source = source
        return self._add(card)

    def add_value(self, name: str, buffer: RingBuffer, *, title: str | None = None, channel: int = 0,
                  label: str = "", unit: str = "", decimals: int = 1) -> LiveCard:
        """A card with only a big number (e.g. a weight scale's body mass)."""
        big = BigValue(label, unit, decimals=decimals, channel=channel, palette=self.palette_)
        card = LiveCard(name, title or name)
        card.side.addWidget(big)
        card.side.addStretch(1)
        card.widgets = [big]
        card._refresh = lambda: big.update_from(buffer, seconds=0.0)
        card._targets = big.set_target
        return self._add(card)

    def add_device(self, name: str, kind: DeviceKind, buffer: RingBuffer, *, title: str | None = None
                   ) -> LiveCard:
        """The card that suits a device of ``kind`` (from the device table) streaming into ``buffer``."""
        title = title or f"{name} · {kind.label}"
        names = kind.channel_names
        if kind.trial_kind in FORCE_KINDS:
            unit, scale, y_range, decimals = FORCE_KINDS[kind.trial_kind]
            return self.add_force(name, buffer, title=title, channel=0, unit=unit, display_scale=scale,
                                  y_range=y_range, decimals=decimals)
        if kind.trial_kind == "goniometer":
            if "angle_x" in names:  # the sensor reports its own Euler angles (WitMotion)
                return self.add_angle(name, buffer, title=title, channel=names.index("angle_x"), quantity="angle x",
                                      y_range=(-180.0, 180.0))
            acc = [names.index(c) for c in ("acc_x", "acc_y", "acc_z")]
            return self.add_angle(name, buffer, title=title, derive=tilt_deriver(acc), quantity="tilt",
                                  y_range=(0.0, 180.0))
        if kind.trial_kind == "plate":
            return self.add_balance(name, buffer, kind.geometry["cell_positions"], title=title)
        if kind.trial_kind == "scale":
            return self.add_value(name, buffer, title=title, channel=0, label="body mass", unit="kg")
        raise ValueError(f"no live display for device kind {kind.trial_kind!r} ({kind.key})")

    # -- drawing ------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Draw one frame: every card pulls its new samples and redraws."""
        for card in self._cards.values():
            card.refresh()
        self.frames += 1

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self.stop()
        super().hideEvent(event)

    def apply_palette(self, palette: Palette) -> None:
        """Restyle every card for ``palette`` (theme switch)."""
        self.palette_ = palette
        for card in self._cards.values():
            card.apply_palette(palette)


def tilt_deriver(acc_rows: list[int], axis: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> Derive:
    """A ``derive`` giving the sensor's tilt from vertical (deg) from its accelerometer rows (static posture:
    :func:`kinetics.rom.orientation.tilt_from_accelerometer`); samples with no gravity reading become NaN."""

    def derive(values: np.ndarray) -> np.ndarray:
        acc = values[acc_rows].T
        ok = np.isfinite(acc).all(axis=1) & (np.linalg.norm(acc, axis=1) > 1e-9)
        out = np.full(acc.shape[0], np.nan)
        if ok.any():
            out[ok] = tilt_from_accelerometer(acc[ok], axis)
        return out

    return derive
