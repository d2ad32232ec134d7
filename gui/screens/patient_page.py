"""A patient's page: who (name, pseudonymous id), the sessions (date, protocol, headline metric), the progress
chart of a chosen metric (left/right, MDC band, real changes, limb symmetry) and "New session".

The page holds no storage logic: :func:`load_patient_page` gathers what it shows from the clinic store (run on
the worker thread, :mod:`gui.workers`), :mod:`gui.plotting.progress` prepares the chart, the page displays.
``new_session_requested(patient_id)`` is for the run screen to connect to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.progress import PatientProgress
from clinic.store import ClinicStore, PatientInfo, SessionInfo
from gui.plotting.progress import (
    ProgressChartData,
    chart_data,
    display_unit,
    format_value,
    metric_choices,
    metric_label,
)
from gui.theme import Metrics, Palette, current_metrics, current_palette
from gui.widgets.progress_chart import WORSE, ProgressChart
from gui.workers import TaskRunner

SIDE_SHORT = {"left": "L", "right": "R", "both": "", "none": "", "alternating": "alt."}


def screen_stylesheet(p: Palette, m: Metrics) -> str:
    """Touch-sized fields, lists and the primary button of the patient screens (on top of the app theme)."""
    pad = max(6, m.touch // 5)
    return f"""
QLineEdit {{
    min-height: {m.touch}px; padding: 0 {pad}px; border: 1px solid {p.border}; border-radius: {pad}px;
    background: {p.surface}; color: {p.text};
}}
QLineEdit:focus {{ border: 1px solid {p.accent}; }}
QComboBox {{ min-height: {m.touch}px; padding: 0 {pad}px; }}
QTreeWidget {{ background: {p.surface}; border: 1px solid {p.border}; border-radius: {pad}px; }}
QTreeWidget::item {{ min-height: {m.touch}px; padding: 0 {pad // 2}px; }}
QTreeWidget::item:selected {{ background: {p.accent}; color: {p.on_accent}; }}
QHeaderView::section {{ background: {p.surface}; color: {p.muted}; border: none;
    border-bottom: 1px solid {p.border}; padding: {pad // 2}px {pad}px; font-weight: 600; }}
#fieldError {{ color: {WORSE[p.name]}; }}
#patientName {{ font-size: {m.title_px}px; font-weight: 700; }}
QProgressBar {{ border: none; background: {p.border}; max-height: 4px; }}
QProgressBar::chunk {{ background: {p.accent}; }}
"""


def touch_row(m: Metrics) -> QSize:
    """Size hint of a list row: a touch target high (the stylesheet's item ``min-height`` says the same)."""
    return QSize(0, m.touch)


def local_date(when: datetime | None) -> str:
    """An aware time as the local calendar date ``YYYY-MM-DD``; ``"—"`` for None."""
    return when.astimezone().date().isoformat() if when is not None else "—"


# -- data -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientPageData:
    """What the page shows, read from the store in one go (off the GUI thread).

    ``protocol_names``: session id → the protocol's name as run; ``headlines``: session id → its headline metric
    key (both from the definition stored with the session, so a later library change does not alter history).
    """

    patient: PatientInfo
    sessions: tuple[SessionInfo, ...]
    progress: PatientProgress
    protocol_names: dict[str, str]
    headlines: dict[str, str]

    def headline_of_protocols(self) -> dict[str, str]:
        """Protocol id → headline key (the newest session's definition wins)."""
        out: dict[str, str] = {}
        for s in self.sessions:
            if s.id in self.headlines:
                out[s.protocol_id] = self.headlines[s.id]
        return out


def load_patient_page(store: ClinicStore, patient_id: str) -> PatientPageData:
    """Read a patient, the sessions and the progress (audited as views of the patient, like the CLI)."""
    from clinic.progress import patient_progress
    from protocols.loader import parse_protocol
    from protocols.schema import ProtocolError

    patient = store.get_patient(patient_id)
    sessions = tuple(store.patient_sessions(patient_id))
    progress = patient_progress(store, patient_id)
    parsed: dict[str, tuple[str, str] | None] = {}
    names: dict[str, str] = {}
    heads: dict[str, str] = {}
    for s in sessions:
        if s.protocol_toml not in parsed:
            try:
                p = parse_protocol(s.protocol_toml, source=f"session {s.id}")
                parsed[s.protocol_toml] = (p.name, p.scoring.headline)
            except ProtocolError:
                parsed[s.protocol_toml] = None
        entry = parsed[s.protocol_toml]
        names[s.id] = entry[0] if entry else s.protocol_id
        if entry:
            heads[s.id] = entry[1]
    return PatientPageData(patient, sessions, progress, names, heads)


@dataclass(frozen=True)
class SessionRowText:
    """One line of the session list."""

    session_id: str
    date: str
    protocol: str
    headline: str


def headline_text(data: PatientPageData, session: SessionInfo) -> str:
    """The session's headline metric as the progress history has it, per side: ``"Peak force: L 190 N · R 250 N"``
    (display units of the metric's whole history); ``"—"`` when the session has no value of it."""
    key = data.headlines.get(session.id)
    if key is None:
        return "—"
    metrics = [m for m in data.progress.metrics if m.protocol == session.protocol_id and m.key == key]
    if not metrics:
        return "—"
    unit, scale = display_unit(metrics[0].unit, [p.value for m in metrics for p in m.points])
    parts = []
    for m in sorted(metrics, key=lambda m: ("left", "right").index(m.side) if m.side in ("left", "right") else 2):
        point = next((p for p in m.points if p.session_id == session.id), None)
        if point is None or not math.isfinite(point.value):
            continue
        side = SIDE_SHORT.get(m.side, m.side)
        value = format_value(point.value * scale, unit)
        parts.append(f"{side} {value}" if side else value)
    return f"{metric_label(key)}: {' · '.join(parts)}" if parts else "—"


def session_rows(data: PatientPageData) -> list[SessionRowText]:
    """The session list, newest first."""
    return [
        SessionRowText(s.id, local_date(s.started_at), data.protocol_names.get(s.id, s.protocol_id),
                       headline_text(data, s))
        for s in reversed(data.sessions)
    ]


def change_summary(data: ProgressChartData) -> str:
    """One line per side on the newest session: value, change from baseline, and whether it is a real change."""
    lines = []
    for s in data.series:
        if s.y.size == 0:
            continue
        name = s.label or data.title
        latest = format_value(float(s.y[-1]), data.unit)
        if s.y.size == 1:
            lines.append(f"{name}: {latest} (baseline)")
            continue
        delta = float(s.y[-1] - s.baseline)
        sign = "+" if delta >= 0 else "−"
        text = f"{name}: {latest}, {sign}{format_value(abs(delta), data.unit)} from baseline"
        if s.band is None:
            text += " (no MDC known)"
        elif s.real_x.size and s.real_x[-1] == s.x[-1]:
            text += " — real change, " + ("better" if bool(s.real_better[-1]) else "worse")
        else:
            text += f" — within MDC95 ({format_value(s.mdc, data.unit)})"
        lines.append(text)
    return "\n".join(lines)


# -- the page ---------------------------------------------------------------------------------------------------
class PatientPage(QWidget):
    """One patient: header, sessions, progress chart with a metric chooser, New session.

    Signals
    -------
    new_session_requested(str) : the patient id, when "New session" is pressed
    back_requested() : "‹ Patients" pressed
    loaded(str) : the patient id, once the page shows that patient's data
    """

    new_session_requested = Signal(str)
    back_requested = Signal()
    loaded = Signal(str)

    def __init__(self, runner: TaskRunner | None = None, palette: Palette | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.runner = runner or TaskRunner(self)
        self.palette_ = palette or current_palette()
        self.patient_id = ""
        self.data: PatientPageData | None = None
        self._request = 0
        self._choices: list[tuple[str, str]] = []  # the metric chooser's entries: (protocol, key)
        m = current_metrics()

        self.back_button = QPushButton("‹ Patients")
        self.back_button.clicked.connect(self.back_requested.emit)
        self.name_label = QLabel()
        self.name_label.setObjectName("patientName")
        self.details_label = QLabel()
        self.details_label.setObjectName("muted")
        who = QVBoxLayout()
        who.setSpacing(0)
        who.addWidget(self.name_label)
        who.addWidget(self.details_label)
        self.new_session_button = QPushButton("New session")
        self.new_session_button.setObjectName("primary")
        self.new_session_button.setEnabled(False)
        self.new_session_button.clicked.connect(self._new_session)
        header = QHBoxLayout()
        header.setSpacing(12)
        header.addWidget(self.back_button)
        header.addLayout(who, 1)
        header.addWidget(self.new_session_button)

        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        self.error_label = QLabel()
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)

        self.sessions = QTreeWidget()
        self.sessions.setHeaderLabels(["Date", "Protocol · headline"])
        self.sessions.setRootIsDecorated(False)
        self.sessions.setUniformRowHeights(True)
        self.sessions.setTextElideMode(Qt.TextElideMode.ElideRight)
        hdr = self.sessions.header()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        hdr.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        hdr.setStretchLastSection(False)
        self.sessions.setColumnWidth(0, self.sessions.fontMetrics().horizontalAdvance("2026-12-31") + m.touch // 2)
        self.sessions.itemClicked.connect(self._session_clicked)
        self.sessions_empty = QLabel("No sessions yet. Press New session to start the first one.")
        self.sessions_empty.setObjectName("emptyState")
        self.sessions_empty.setWordWrap(True)
        sessions_card = QFrame()
        sessions_card.setObjectName("card")
        sc = QVBoxLayout(sessions_card)
        sc.setContentsMargins(12, 8, 12, 12)
        title = QLabel("Sessions")
        title.setObjectName("cardTitle")
        sc.addWidget(title)
        sc.addWidget(self.sessions, 1)
        sc.addWidget(self.sessions_empty)

        self.metric_combo = QComboBox()
        self.metric_combo.setMinimumHeight(m.touch)
        self.metric_combo.currentIndexChanged.connect(self._metric_chosen)
        self.chart = ProgressChart(self.palette_)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        chart_card = QFrame()
        chart_card.setObjectName("card")
        cc = QVBoxLayout(chart_card)
        cc.setContentsMargins(12, 8, 12, 12)
        top = QHBoxLayout()
        progress_title = QLabel("Progress")
        progress_title.setObjectName("cardTitle")
        top.addWidget(progress_title)
        top.addSpacing(12)
        top.addWidget(self.metric_combo, 1)
        cc.addLayout(top)
        cc.addWidget(self.chart, 1)
        cc.addWidget(self.summary)

        body = QHBoxLayout()
        body.setSpacing(12)
        body.addWidget(sessions_card, 4)
        body.addWidget(chart_card, 6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 16)
        layout.setSpacing(10)
        layout.addLayout(header)
        layout.addWidget(self.busy)
        layout.addWidget(self.error_label)
        layout.addLayout(body, 1)
        self.apply_palette(self.palette_)

    # -- appearance -------------------------------------------------------------------------------------------
    def apply_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        self.setStyleSheet(screen_stylesheet(palette, current_metrics()))
        self.chart.apply_palette(palette)

    # -- loading ----------------------------------------------------------------------------------------------
    def show_patient(self, store: ClinicStore, patient_id: str) -> None:
        """Load ``patient_id`` from ``store`` on the worker thread; the page shows a busy bar until it arrives."""
        self._request += 1
        request = self._request
        self.patient_id = patient_id
        self.data = None
        self.name_label.setText(patient_id)
        self.details_label.setText("Loading…")
        self.new_session_button.setEnabled(False)
        self.error_label.setVisible(False)
        self.busy.setVisible(True)
        self.runner.submit(lambda: load_patient_page(store, patient_id),
                           on_done=lambda data: self._loaded(request, data),
                           on_error=lambda err: self._failed(request, err))

    def _loaded(self, request: int, data: PatientPageData) -> None:
        if request != self._request:  # another patient was opened meanwhile
            return
        self.busy.setVisible(False)
        self.set_data(data)
        self.loaded.emit(data.patient.id)

    def _failed(self, request: int, err: BaseException) -> None:
        if request != self._request:
            return
        self.busy.setVisible(False)
        self.details_label.setText("")
        self.error_label.setText(f"Cannot show this patient: {err}")
        self.error_label.setVisible(True)

    # -- display ----------------------------------------------------------------------------------------------
    def set_data(self, data: PatientPageData) -> None:
        """Show ``data`` (header, sessions, metric chooser on the newest session's headline, its chart)."""
        self.data = data
        p = data.patient
        self.patient_id = p.id
        self.name_label.setText(p.name or "(name not on this tablet)")
        details = [p.id]
        if p.birth_date is not None:
            details.append(f"born {p.birth_date.isoformat()}")
        if p.sex:
            details.append(p.sex)
        if p.involved_side in ("left", "right"):
            details.append(f"involved side: {p.involved_side}")
        self.details_label.setText(" · ".join(details))
        self.new_session_button.setEnabled(True)
        self._fill_sessions(session_rows(data))
        self._fill_metrics(data)

    def _fill_sessions(self, rows: Sequence[SessionRowText]) -> None:
        self.sessions.clear()
        size = touch_row(current_metrics())
        for r in rows:
            item = QTreeWidgetItem([r.date, f"{r.protocol}\n{r.headline}"])
            item.setData(0, Qt.ItemDataRole.UserRole, r.session_id)
            item.setSizeHint(0, size)
            item.setToolTip(1, f"{r.protocol}: {r.headline}")
            self.sessions.addTopLevelItem(item)
        self.sessions.setVisible(bool(rows))
        self.sessions_empty.setVisible(not rows)

    def _fill_metrics(self, data: PatientPageData) -> None:
        heads = data.headline_of_protocols()
        choices = metric_choices(data.progress, heads)
        latest = data.sessions[-1] if data.sessions else None
        default = 0
        if latest is not None and latest.protocol_id in heads:
            for i, c in enumerate(choices):
                if c.protocol == latest.protocol_id and c.key == heads[latest.protocol_id]:
                    default = i
        names = {s.protocol_id: data.protocol_names.get(s.id, s.protocol_id) for s in data.sessions}
        self._choices = [(c.protocol, c.key) for c in choices]
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        for c in choices:
            self.metric_combo.addItem(f"{c.label} — {names.get(c.protocol, c.protocol)}")
        self.metric_combo.setCurrentIndex(default if choices else -1)
        self.metric_combo.blockSignals(False)
        self.metric_combo.setEnabled(bool(choices))
        self._metric_chosen(self.metric_combo.currentIndex())

    def _session_clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        """Tapping a session charts its protocol's headline metric."""
        if self.data is None:
            return
        sid = str(item.data(0, Qt.ItemDataRole.UserRole))
        session = next((s for s in self.data.sessions if s.id == sid), None)
        key = self.data.headlines.get(sid)
        if session is not None and key is not None and (session.protocol_id, key) in self._choices:
            self.show_metric(session.protocol_id, key)

    def _metric_chosen(self, index: int) -> None:
        if self.data is None or index < 0:
            self.chart.set_data(None)
            self.summary.setText("")
            return
        protocol, key = self._choices[index]
        self.show_metric(protocol, key)

    def show_metric(self, protocol: str, key: str) -> ProgressChartData:
        """Chart metric ``key`` of ``protocol`` (also selects it in the chooser)."""
        if self.data is None:
            raise RuntimeError("no patient is loaded yet; call show_patient first")
        index = self._choices.index((protocol, key)) if (protocol, key) in self._choices else -1
        if index >= 0 and index != self.metric_combo.currentIndex():
            self.metric_combo.blockSignals(True)
            self.metric_combo.setCurrentIndex(index)
            self.metric_combo.blockSignals(False)
        chart = chart_data(self.data.progress, protocol, key)
        self.chart.set_data(chart)
        self.summary.setText(change_summary(chart))
        return chart

    def metric_keys(self) -> list[tuple[str, str]]:
        """The chooser's entries as (protocol, key), in order."""
        return list(self._choices)

    def _new_session(self) -> None:
        if self.patient_id:
            self.new_session_requested.emit(self.patient_id)
