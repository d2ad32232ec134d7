"""The Sensors screen: scan, connect and disconnect sensors, see their signal, battery and link, identify, tare.

Left, the sensors found by the last scan (and every connected one), one card each: the kind's icon and name, the
advertised name, the signal strength, the battery, the link state in plain words — *Streaming*, *Searching…*,
*Connecting…*, and *Reconnecting…* in amber while a lost link is being restored — its live value, and the
buttons (Connect/Disconnect, Identify, Tare; only those the sensor supports). Right, the live plots
(:class:`gui.live_view.LiveView`) of the connected sensors.

All Bluetooth work is done by the app's :class:`gui.device_session.DeviceSession` on the event loop; this screen
only sends it requests and shows what its signals report, so no click ever waits on the radio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QHideEvent, QPainter, QPaintEvent, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from drivers.devices import DeviceKind, all_kinds
from drivers.discovery import FoundDevice
from drivers.supervisor import LinkState
from gui.device_session import SCAN_SECONDS, DeviceSession
from gui.live_view import FORCE_KINDS, LiveView, tilt_deriver
from gui.plotting import LiveSeries
from gui.plotting.live import Derive
from gui.theme import Palette, current_metrics, current_palette
from gui.widgets import BigValue

#: How often the cards' live values are redrawn (Hz): a number read at arm's length needs no more.
VALUE_RATE_HZ = 15.0
#: Seconds averaged for a card's live value (steadier than the last sample).
VALUE_MEAN_S = 0.1
#: Seconds an error message stays on screen.
MESSAGE_SECONDS = 10.0

#: The list's empty state, while scanning and after.
EMPTY_SCANNING = "Looking for sensors…"
EMPTY_NOTHING_FOUND = "No sensor found.\nSwitch your sensors on and press “Scan for sensors”."
#: What a card says for each link state (None: not connected).
STATE_TEXT: dict[str | None, str] = {
    None: "Not connected",
    LinkState.SEARCHING.value: "Searching…",
    LinkState.CONNECTING.value: "Connecting…",
    LinkState.STREAMING.value: "Streaming",
    LinkState.RECONNECTING.value: "Reconnecting…",
    LinkState.STOPPED.value: "Not connected",
}
#: Short glyphs drawn in each kind's icon.
KIND_GLYPHS: dict[str, str] = {
    "push": "PU",
    "grip": "GR",
    "pull": "PL",
    "pneumatic": "kPa",
    "goniometer": "∠",
    "plate": "FP",
    "tindeq-progressor": "TQ",
    "witmotion-bwt901": "IMU",
    "ble-force": "F",
    "ble-weight-scale": "kg",
}
#: Icon colour per trial kind (index into the palette's curve colours).
KIND_COLOURS: dict[str, int] = {"push": 0, "grip": 0, "pull": 0, "force": 0, "pneumatic": 3, "goniometer": 2,
                                "plate": 1, "scale": 3}


@dataclass(frozen=True)
class LiveValueSpec:
    """Which number a card shows for a kind: ``label``, display ``unit``, SI → display ``scale``, ``decimals``,
    the buffer row ``channel`` or a ``derive`` of all rows (values (n_channels, n) → (n,))."""

    label: str
    unit: str
    scale: float = 1.0
    decimals: int = 0
    channel: int = 0
    derive: Derive | None = None


def _total_force(values: np.ndarray) -> np.ndarray:
    return np.asarray(values.sum(axis=0), dtype=np.float64)


def live_value_spec(kind: DeviceKind) -> LiveValueSpec:
    """The live number for a device of ``kind``: force or pressure, a plate's total vertical force, a joint angle
    (the sensor's own or the tilt from its accelerometer), a body mass — the same choice as its live plot."""
    names = kind.channel_names
    if kind.trial_kind in FORCE_KINDS:
        unit, scale, _range, decimals = FORCE_KINDS[kind.trial_kind]
        return LiveValueSpec("pressure" if unit.endswith("Pa") else "force", unit, scale, decimals)
    if kind.trial_kind == "plate":
        return LiveValueSpec("total force", "N", derive=_total_force)
    if kind.trial_kind == "goniometer":
        if "angle_x" in names:
            return LiveValueSpec("angle x", "°", channel=names.index("angle_x"))
        rows = [names.index(c) for c in ("acc_x", "acc_y", "acc_z")]
        return LiveValueSpec("tilt", "°", derive=tilt_deriver(rows))
    if kind.trial_kind == "scale":
        return LiveValueSpec("body mass", "kg", decimals=1)
    return LiveValueSpec(names[0], kind.channels[0].unit, decimals=1)


#: Link states that, after a device has streamed, mean its link is being restored.
RESTORING = (LinkState.RECONNECTING.value, LinkState.SEARCHING.value, LinkState.CONNECTING.value)


def state_text(state: str | None, streamed: bool) -> str:
    """What a card says for link ``state`` (None: not connected); once a device has streamed, searching for it
    and connecting to it again are one thing to the clinician: "Reconnecting…"."""
    if streamed and state in RESTORING:
        return STATE_TEXT[LinkState.RECONNECTING.value]
    return STATE_TEXT.get(state, state or STATE_TEXT[None])


def signal_bars(rssi: int | None) -> int:
    """Bars (0–4) for a received signal strength in dBm: ≥ −60 four, ≥ −70 three, ≥ −80 two, ≥ −90 one."""
    if rssi is None:
        return 0
    return sum(rssi >= limit for limit in (-90, -80, -70, -60))


def can_tare(kind: DeviceKind) -> bool:
    """Whether the sensor zeroes itself on command (our profile's force or pressure channels, the Tindeq)."""
    if kind.codec == "tindeq":
        return True
    return kind.codec == "kinetics-profile" and any(c.unit in ("N", "Pa") for c in kind.channels)


def can_identify(kind: DeviceKind) -> bool:
    """Whether the sensor can blink on command (our open profile)."""
    return kind.codec == "kinetics-profile"


class KindIcon(QWidget):
    """A rounded square in the kind's colour with a short glyph (GR, FP, ∠…); grey for an unknown device."""

    def __init__(self, kind: DeviceKind | None, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.palette_ = palette
        side = current_metrics().touch
        self.setFixedSize(side, side)
        self.setToolTip(kind.label if kind is not None else "Unknown device")

    @property
    def glyph(self) -> str:
        if self.kind is None:
            return "?"
        return KIND_GLYPHS.get(self.kind.key, self.kind.key[:2].upper())

    @property
    def colour(self) -> str:
        if self.kind is None:
            return self.palette_.muted
        return self.palette_.curve(KIND_COLOURS.get(self.kind.trial_kind, 0))

    def apply_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(self.colour))
            painter.drawRoundedRect(rect, rect.width() * 0.22, rect.width() * 0.22)
            font = QFont(self.font())
            font.setBold(True)
            font.setPixelSize(max(10, int(rect.height() * (0.42 if len(self.glyph) < 3 else 0.32))))
            painter.setFont(font)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.glyph)
        finally:
            painter.end()


class SignalBars(QWidget):
    """Four rising bars, as many filled as :func:`signal_bars` gives for the RSSI."""

    def __init__(self, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.palette_ = palette
        self.rssi: int | None = None
        self.setFixedSize(QSize(28, 20))

    @property
    def bars(self) -> int:
        return signal_bars(self.rssi)

    def set_rssi(self, rssi: int | None) -> None:
        self.rssi = rssi
        self.setToolTip("signal unknown" if rssi is None else f"signal {rssi} dBm")
        self.update()

    def apply_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            width, height = self.width(), self.height()
            bar_w = width / 4.0
            for i in range(4):
                h = height * (i + 1) / 4.0
                colour = self.palette_.text if i < self.bars else self.palette_.border
                painter.fillRect(QRectF(i * bar_w + 1, height - h, bar_w - 2, h), QColor(colour))
        finally:
            painter.end()


def _chip_style(state: str | None, p: Palette) -> str:
    if state == LinkState.STREAMING.value:
        colours = f"background: {p.in_target}; color: {p.surface};"
    elif state == LinkState.RECONNECTING.value:
        colours = f"background: {p.banner}; color: {p.on_banner}; border: 1px solid {p.on_banner};"
    elif state in (LinkState.SEARCHING.value, LinkState.CONNECTING.value):
        colours = f"background: {p.accent}; color: {p.on_accent};"
    else:
        colours = f"background: transparent; color: {p.muted}; border: 1px solid {p.border};"
    return f"QLabel {{ {colours} border-radius: 6px; padding: 4px 10px; font-weight: 700; }}"


class DeviceCard(QFrame):
    """One sensor on the list: icon, names, signal, battery, link state, live value and its buttons."""

    def __init__(self, found: FoundDevice, session: DeviceSession, palette: Palette,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.session = session
        self.found = found
        self.address = found.address
        self.kind = found.kind
        self.role: str | None = None
        self.state: str | None = None
        self.streamed = False  # the device has streamed since it was connected: a new link is a reconnection
        self.battery: int | None = None
        self.busy = False  # a connect or disconnect request is in flight
        self.series: LiveSeries | None = None
        self.palette_ = palette

        self.icon = KindIcon(self.kind, palette)
        self.name_label = QLabel(found.name or found.address)
        self.name_label.setObjectName("deviceName")
        bold = QFont(self.name_label.font())
        bold.setBold(True)
        self.name_label.setFont(bold)
        self.kind_label = QLabel()
        self.kind_label.setObjectName("muted")
        self.state_chip = QLabel()
        self.state_chip.setObjectName("stateChip")
        self.state_chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.bars = SignalBars(palette)
        self.signal_label = QLabel()
        self.signal_label.setObjectName("muted")
        self.battery_label = QLabel()
        self.battery_label.setObjectName("muted")
        spec = live_value_spec(self.kind) if self.kind is not None else LiveValueSpec("", "")
        self.value_spec = spec
        self.value = BigValue(spec.label, spec.unit, display_scale=spec.scale, decimals=spec.decimals,
                              palette=palette)
        self.value.setFixedHeight(int(current_metrics().big_px * 1.25))
        self.value.setMinimumWidth(int(current_metrics().big_px * 2))
        self.connect_button = QPushButton("Connect")
        self.connect_button.setObjectName("connectButton")
        self.identify_button = QPushButton("Identify")
        self.identify_button.setObjectName("identifyButton")
        self.tare_button = QPushButton("Tare")
        self.tare_button.setObjectName("tareButton")
        self.connect_button.clicked.connect(self._toggle_connection)
        self.identify_button.clicked.connect(self._identify)
        self.tare_button.clicked.connect(self._tare)
        self.identify_button.setVisible(self.kind is not None and can_identify(self.kind))
        self.tare_button.setVisible(self.kind is not None and can_tare(self.kind))
        self.identify_button.setToolTip("Make the sensor blink for 5 s")
        self.tare_button.setToolTip("Zero the sensor with no load on it")

        self.kind_label.setWordWrap(True)
        self.name_label.setWordWrap(True)
        signal_row = QHBoxLayout()
        signal_row.setSpacing(6)
        signal_row.addWidget(self.bars)
        signal_row.addWidget(self.signal_label)
        signal_row.addSpacing(12)
        signal_row.addWidget(self.battery_label)
        signal_row.addStretch(1)
        # icon | name, kind, signal and battery | link state above the Connect button;
        # below, once connected: the live value, Identify and Tare
        layout = QGridLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setHorizontalSpacing(10)
        layout.setVerticalSpacing(4)
        layout.addWidget(self.icon, 0, 0, 3, 1, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.name_label, 0, 1)
        layout.addWidget(self.kind_label, 1, 1)
        layout.addLayout(signal_row, 2, 1)
        layout.addWidget(self.state_chip, 0, 2, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.connect_button, 1, 2, 2, 1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom)
        self.controls = QWidget()
        controls = QHBoxLayout(self.controls)
        controls.setContentsMargins(0, 6, 0, 0)
        controls.setSpacing(8)
        controls.addWidget(self.value, 1)
        controls.addWidget(self.identify_button, 0, Qt.AlignmentFlag.AlignBottom)
        controls.addWidget(self.tare_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addWidget(self.controls, 3, 0, 1, 3)
        layout.setColumnStretch(1, 1)
        self.set_found(found)
        self._refresh()

    # -- what the session reports ---------------------------------------------------------------------------------
    def set_found(self, found: FoundDevice) -> None:
        """Newer advertisement data (name, signal strength)."""
        self.found = found
        self.name_label.setText(found.name or found.address)
        self.bars.set_rssi(found.rssi)
        self.signal_label.setText("—" if found.rssi is None else f"{found.rssi} dBm")
        self._refresh_kind_label()

    def attach(self, role: str) -> None:
        """The device was connected as ``role``: its live value follows the role's ring buffer."""
        self.role = role
        self.busy = False
        if self.kind is not None:
            spec = self.value_spec
            self.series = LiveSeries(self.session.buffer(role), channel=spec.channel, window=1.0, derive=spec.derive)
        state = self.session.state(role)
        self.state = state.value if state is not None else None
        self._refresh()

    def detach(self) -> None:
        """The device was disconnected."""
        self.role = None
        self.state = None
        self.streamed = False
        self.busy = False
        self.series = None
        self.value.set_value(None)
        self._refresh()

    def set_state(self, state: str) -> None:
        self.state = state
        if state == LinkState.STREAMING.value:
            self.streamed = True
            if self.series is not None:
                self.series.reset()  # the value restarts from the new link's samples
        self.update_value()  # a dash at once when the link goes: never a stale number
        self._refresh()

    def set_battery(self, percent: int | None) -> None:
        self.battery = percent
        self._refresh()

    def update_value(self) -> None:
        """Redraw the live value from the ring buffer (a dash unless the device streams)."""
        if self.series is None or self.state != LinkState.STREAMING.value:
            self.value.set_value(None)
            return
        self.series.poll()
        self.value.set_value(self.series.recent_mean(VALUE_MEAN_S))

    @property
    def state_text(self) -> str:
        return state_text(self.state if self.role is not None else None, self.streamed)

    @property
    def reconnecting(self) -> bool:
        """Whether the link was lost and is being restored (the supervisor searching or connecting again)."""
        return self.role is not None and self.streamed and self.state in RESTORING

    @property
    def connected(self) -> bool:
        return self.role is not None

    # -- buttons --------------------------------------------------------------------------------------------------
    def _toggle_connection(self) -> None:
        if self.busy:
            return
        self.busy = True
        if self.role is None:
            self.session.request_connect(self.address)
        else:
            self.session.request_disconnect(self.role)
        self._refresh()

    def request_failed(self) -> None:
        """A connect or disconnect request came back with an error: the button works again."""
        self.busy = False
        self._refresh()

    def _identify(self) -> None:
        if self.role is not None:
            self.session.request_identify(self.role)

    def _tare(self) -> None:
        if self.role is not None:
            self.session.request_tare(self.role)

    # -- drawing --------------------------------------------------------------------------------------------------
    def _refresh_kind_label(self) -> None:
        kind = self.kind.label if self.kind is not None else "Unknown device — not a sensor Kinetics knows"
        self.kind_label.setText(kind if self.role is None else f"{kind} · {self.role}")

    def _refresh(self) -> None:
        streaming = self.state == LinkState.STREAMING.value
        self.state_chip.setText(self.state_text)
        chip_state = LinkState.RECONNECTING.value if self.reconnecting else self.state if self.role else None
        self.state_chip.setStyleSheet(_chip_style(chip_state, self.palette_))
        self.battery_label.setText("Battery —" if self.battery is None else f"Battery {self.battery} %")
        self.controls.setVisible(self.role is not None)
        if self.kind is None:
            self.connect_button.setText("Not supported")
            self.connect_button.setEnabled(False)
        elif self.busy:
            self.connect_button.setText("Connecting…" if self.role is None else "Disconnecting…")
            self.connect_button.setEnabled(False)
        else:
            self.connect_button.setText("Connect" if self.role is None else "Disconnect")
            self.connect_button.setEnabled(True)
        self.identify_button.setEnabled(streaming)
        self.tare_button.setEnabled(streaming)
        self._refresh_kind_label()

    def apply_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        for widget in (self.icon, self.bars, self.value):
            widget.apply_palette(palette)
        self._refresh()


class SensorsLiveView(LiveView):
    """The live plots beside the list: one column up to three cards (the pane is narrow), two beyond."""

    def _relayout(self) -> None:
        cards = [self.card(name) for name in self.names()]
        columns = 1 if len(cards) <= 3 else 2
        for card in cards:
            self.grid.removeWidget(card)
        for i, card in enumerate(cards):
            self.grid.addWidget(card, i // columns, i % columns)
        self.empty.setVisible(not cards)


class SensorsScreen(QWidget):
    """The Sensors page; see the module docstring.

    Parameters
    ----------
    session : DeviceSession
        The app's sensors (opened by the app; the screen follows its signals).
    auto_scan : bool
        Scan once as soon as the session is open, so that the list is filled when the clinician arrives.
    scan_seconds : float
        Length of a scan started by the Scan button.
    """

    def __init__(self, session: DeviceSession, *, auto_scan: bool = True, scan_seconds: float = SCAN_SECONDS,
                 palette: Palette | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.session = session
        self.auto_scan = auto_scan
        self.scan_seconds = float(scan_seconds)
        self.palette_ = palette or current_palette()
        self.cards: dict[str, DeviceCard] = {}  # by address
        self._titles: dict[str, str] = {}  # live card titles by role

        self.heading = QLabel("Sensors")
        self.heading.setObjectName("cardTitle")
        self.scan_button = QPushButton("Scan for sensors")
        self.scan_button.setObjectName("scanButton")
        self.scan_button.clicked.connect(self.scan)
        self.scan_progress = QProgressBar()
        self.scan_progress.setRange(0, 1000)
        self.scan_progress.setTextVisible(False)
        self.scan_progress.setFixedHeight(8)
        self.scan_progress.setVisible(False)
        self.status_label = QLabel("Starting Bluetooth…")
        self.status_label.setObjectName("muted")
        self.status_label.setWordWrap(True)
        self.message_label = QLabel()
        self.message_label.setObjectName("sensorMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setVisible(False)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(lambda: self.message_label.setVisible(False))
        self.empty = QLabel(EMPTY_NOTHING_FOUND)
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)

        self.list_widget = QWidget()
        self.list_layout = QVBoxLayout(self.list_widget)
        self.list_layout.setContentsMargins(0, 0, 4, 0)
        self.list_layout.setSpacing(10)
        self.list_layout.addWidget(self.empty)
        self.list_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(self.list_widget)
        self.list_widget.setObjectName("page")

        header = QHBoxLayout()
        header.addWidget(self.heading, 1)
        header.addWidget(self.scan_button, 0)
        left = QWidget()
        left.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(16, 16, 8, 16)
        left_layout.setSpacing(8)
        left_layout.addLayout(header)
        left_layout.addWidget(self.scan_progress)
        left_layout.addWidget(self.status_label)
        left_layout.addWidget(self.message_label)
        left_layout.addWidget(self.scroll_area, 1)
        self.live = SensorsLiveView(palette=self.palette_)
        self.live.heading.setText("Live signals")
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(0)
        layout.addWidget(left, 0, 0)
        layout.addWidget(self.live, 0, 1)
        layout.setColumnStretch(0, 9)
        layout.setColumnStretch(1, 10)
        left.setMinimumWidth(460)

        self.value_timer = QTimer(self)
        self.value_timer.setInterval(int(1000 / VALUE_RATE_HZ))
        self.value_timer.timeout.connect(self.update_values)

        session.opened.connect(self._on_opened)
        session.open_failed.connect(self._on_open_failed)
        session.scan_started.connect(self._on_scan_started)
        session.scan_progress.connect(self._on_scan_progress)
        session.device_seen.connect(self._on_device_seen)
        session.scan_finished.connect(self._on_scan_finished)
        session.device_added.connect(self._on_device_added)
        session.device_removed.connect(self._on_device_removed)
        session.state_changed.connect(self._on_state_changed)
        session.battery_changed.connect(self._on_battery_changed)
        session.error.connect(self.show_message)
        session.request_failed.connect(self._on_request_failed)
        if session.is_open:
            self._on_opened()
        elif session.open_error:
            self._on_open_failed(session.open_error)
        self._refresh_scan_button()
        self._apply_message_style()

    # -- queries --------------------------------------------------------------------------------------------------
    def card(self, address: str) -> DeviceCard:
        try:
            return self.cards[address.upper()]
        except KeyError:
            raise KeyError(f"no sensor {address!r} on the list; listed: {', '.join(self.cards) or 'none'}") from None

    def card_for_role(self, role: str) -> DeviceCard:
        return self.card(self.session.address_of(role))

    def listed(self) -> list[DeviceCard]:
        """The cards in the order shown."""
        items = (self.list_layout.itemAt(i) for i in range(self.list_layout.count()))
        widgets = (item.widget() for item in items if item is not None)
        return [w for w in widgets if isinstance(w, DeviceCard)]

    # -- actions --------------------------------------------------------------------------------------------------
    def scan(self) -> None:
        """Start a scan (the Scan button)."""
        if self.session.scanning or not self.session.is_open:
            return
        self.message_label.setVisible(False)
        self.session.request_scan(self.scan_seconds)
        self._refresh_scan_button(scanning=True)

    def show_message(self, text: str) -> None:
        """Show a plain sentence (an action that failed) above the list for a while."""
        self.message_label.setText(text)
        self.message_label.setVisible(True)
        self._message_timer.start(int(MESSAGE_SECONDS * 1000))

    def update_values(self) -> None:
        """Redraw every connected card's live value."""
        for card in self.cards.values():
            if card.role is not None:
                card.update_value()

    # -- session signals ------------------------------------------------------------------------------------------
    def _on_opened(self) -> None:
        self.status_label.setText(f"Ready · {self.session.description}")
        self._refresh_scan_button()
        if self.auto_scan and not self.session.scanning:
            self.scan()

    def _on_open_failed(self, reason: str) -> None:
        self.status_label.setText(f"Bluetooth could not be started: {reason}")
        self._refresh_scan_button()

    def _on_scan_started(self, seconds: float) -> None:
        self.empty.setText(EMPTY_SCANNING)
        self.scan_progress.setValue(0)
        self.scan_progress.setVisible(True)
        self.status_label.setText(f"Scanning for {seconds:g} s… keep the sensors switched on and near the tablet.")
        self._refresh_scan_button(scanning=True)

    def _on_scan_progress(self, fraction: float) -> None:
        self.scan_progress.setValue(round(1000 * max(0.0, min(1.0, fraction))))

    def _on_device_seen(self, found: FoundDevice) -> None:
        card = self.cards.get(found.address)
        if card is None:
            self._add_card(found)
        else:
            card.set_found(found)

    def _on_scan_finished(self, rows: list[FoundDevice]) -> None:
        seen = {row.address for row in rows}
        for address, card in list(self.cards.items()):
            if address not in seen and not card.connected:
                self._remove_card(address)
        self._sort_cards()
        self.scan_progress.setVisible(False)
        self.empty.setText(EMPTY_NOTHING_FOUND)
        known = sum(row.kind is not None for row in rows)
        connected = len(self.session.roles())
        text = f"{known} sensor{'s' if known != 1 else ''} found"
        if connected:
            text += f" · {connected} connected"
        self.status_label.setText(f"{text} · {self.session.description}")
        self._refresh_scan_button(scanning=False)

    def _on_device_added(self, role: str) -> None:
        address = self.session.address_of(role)
        card = self.cards.get(address)
        if card is None:
            found = self.session.found_device(address) or FoundDevice(address, "", self.session.kind_of(role), None)
            card = self._add_card(found)
        card.attach(role)
        kind = self.session.kind_of(role)
        title = f"{role} · {card.found.name or kind.label}"
        self._titles[role] = title
        live_card = self.live.add_device(role, kind, self.session.buffer(role), title=title)
        live_card.title.setWordWrap(True)  # "— reconnecting…" must not widen the pane beyond the window
        self._retitle(role)

    def _on_device_removed(self, role: str) -> None:
        for card in self.cards.values():
            if card.role == role:
                card.detach()
        if role in self.live.names():
            self.live.remove(role)
        self._titles.pop(role, None)

    def _on_state_changed(self, role: str, state: str) -> None:
        for card in self.cards.values():
            if card.role == role:
                card.set_state(state)
        self._retitle(role)

    def _on_request_failed(self, action: str, subject: str, _sentence: str) -> None:
        if action == "scan":
            self.empty.setText(EMPTY_NOTHING_FOUND)
            self.scan_progress.setVisible(False)
            self._refresh_scan_button(scanning=False)
        elif action == "connect" and subject in self.cards:
            self.cards[subject].request_failed()
        elif action == "disconnect":
            for card in self.cards.values():
                if card.role == subject:
                    card.request_failed()

    def _on_battery_changed(self, role: str, percent: int) -> None:
        for card in self.cards.values():
            if card.role == role:
                card.set_battery(percent)

    # -- helpers --------------------------------------------------------------------------------------------------
    def _retitle(self, role: str) -> None:
        """The live card's title says plainly when its sensor is not streaming."""
        if role not in self.live.names() or role not in self._titles:
            return
        card = next((c for c in self.cards.values() if c.role == role), None)
        title = self._titles[role]
        label = self.live.card(role).title
        if card is not None and card.state != LinkState.STREAMING.value:
            p = self.palette_
            label.setText(f"{title} — {card.state_text.lower()}")
            label.setStyleSheet(f"QLabel {{ background: {p.banner}; color: {p.on_banner}; border-radius: 6px; "
                                "padding: 2px 8px; }")
        else:
            label.setText(title)
            label.setStyleSheet("")

    def _add_card(self, found: FoundDevice) -> DeviceCard:
        card = DeviceCard(found, self.session, self.palette_)
        self.cards[found.address] = card
        self.list_layout.insertWidget(self.list_layout.count() - 1, card)
        self.empty.setVisible(False)
        return card

    def _remove_card(self, address: str) -> None:
        card = self.cards.pop(address)
        self.list_layout.removeWidget(card)
        card.setParent(None)
        card.deleteLater()
        self.empty.setVisible(not self.cards)

    def _sort_cards(self) -> None:
        """Connected sensors first (in the order connected), then known kinds in device-table order, then names.

        Done when a scan ends, never on a tap: a card must not move from under the finger that connects it.
        """
        order = {k.key: i for i, k in enumerate(all_kinds())}
        roles = self.session.roles()

        def key(card: DeviceCard) -> tuple[int, int, int, str]:
            rank = roles.index(card.role) if card.role in roles else len(roles)
            kind = order.get(card.kind.key, len(order)) if card.kind is not None else len(order) + 1
            return (0 if card.connected else 1, rank, kind, card.found.name or card.address)

        cards = sorted(self.cards.values(), key=key)
        if cards == self.listed():
            return
        for card in cards:
            self.list_layout.removeWidget(card)
        for i, card in enumerate(cards):
            self.list_layout.insertWidget(1 + i, card)  # after the empty-state label

    def _refresh_scan_button(self, scanning: bool | None = None) -> None:
        busy = self.session.scanning if scanning is None else scanning
        self.scan_button.setEnabled(self.session.is_open and not busy)
        self.scan_button.setText("Scanning…" if busy else "Scan for sensors")

    def _apply_message_style(self) -> None:
        p = self.palette_
        self.message_label.setStyleSheet(
            f"QLabel {{ background: {p.banner}; color: {p.on_banner}; padding: 8px 12px; border-radius: 6px; }}")
        pad = max(6, current_metrics().touch // 5)
        self.setStyleSheet(  # compact buttons inside the cards (still touch-high), and a visible disabled look
            f"#card QPushButton {{ padding: 0 {pad + 4}px; }}"
            f"QPushButton:disabled {{ color: {p.muted}; background: {p.window}; border-style: dashed; }}")

    def apply_palette(self, palette: Palette) -> None:
        """Restyle for a theme switch."""
        self.palette_ = palette
        self.live.apply_palette(palette)
        for card in self.cards.values():
            card.apply_palette(palette)
        for role in self._titles:
            self._retitle(role)
        self._apply_message_style()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.value_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self.value_timer.stop()
        super().hideEvent(event)
