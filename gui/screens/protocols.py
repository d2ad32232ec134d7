"""The Protocols screen: the library by category with search, a protocol's details, and custom protocols.

Left, the list: large category chips (All, Strength, Range of motion, Balance, Jumps, Training, My protocols)
and a search field narrow it (the same matching as ``kinetics protocols list``: id, name, summary, region and
tags, word by word); each row shows the name, the body region, the sensors and the session's estimated duration.
Right, the selected protocol: summary, sensors and their placement, instructions, the schedule (trials, sides,
phases), live targets, metrics with the headline, acceptance rules and the normative reference; then "Use this
protocol" (:attr:`ProtocolsScreen.protocol_chosen`), Duplicate, and for custom protocols Edit and Delete (a second
tap confirms; no dialog). New, Duplicate and Edit open the :class:`~gui.screens.protocol_editor.ProtocolEditor`
in place of the library; custom protocols live in the data directory (:class:`protocols.custom.CustomProtocolStore`),
and files there that cannot be used are listed with their error.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from gui.screens.protocol_editor import (
    CATEGORY_LABELS,
    PHASE_LABELS,
    SENSOR_LABELS,
    ArmedButton,
    ProtocolEditor,
    editor_stylesheet,
    format_duration,
    metric_label,
    region_label,
)
from gui.theme import Metrics, Palette, current_metrics, current_palette
from protocols.custom import CustomProtocolError, CustomProtocolStore, InvalidProtocolFile
from protocols.library import builtin_protocols, find_protocols
from protocols.schema import (
    CATEGORIES,
    SIGNAL_UNITS,
    AcceptanceRule,
    Phase,
    Protocol,
    Target,
)

#: The category chips, in order: every protocol, the five categories, the clinic's own protocols.
FILTERS: tuple[str, ...] = ("all", *CATEGORIES, "custom")
FILTER_LABELS = {"all": "All", **CATEGORY_LABELS, "custom": "My protocols"}
#: Item data roles of the list rows.
ID_ROLE = int(Qt.ItemDataRole.UserRole)
SUBTITLE_ROLE = ID_ROLE + 1
#: Invalid custom files listed in the notice (the rest are counted).
MAX_INVALID_SHOWN = 3


# ---------------------------------------------------------------------------------------------------------------
# a protocol in words
# ---------------------------------------------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:g}"


def sensors_line(protocol: Protocol) -> str:
    """The sensors in a few words: ``"grip dynamometer"``, ``"2 force plates"``."""
    parts = []
    for s in protocol.sensors:
        label = SENSOR_LABELS.get(s.kind, s.kind)
        parts.append(label if s.count == 1 else f"{s.count} {label}s")
    return ", ".join(parts)


def row_subtitle(protocol: Protocol, custom: bool) -> str:
    """Second line of a list row: region · sensors · duration (· custom)."""
    parts = [region_label(protocol.region), sensors_line(protocol), format_duration(protocol.estimated_duration())]
    if custom:
        parts.append("custom")
    return " · ".join(parts)


def describe_sensors(protocol: Protocol) -> str:
    """One line per sensor: what, how many (with their roles), and where it goes."""
    lines = []
    for s in protocol.sensors:
        label = SENSOR_LABELS.get(s.kind, s.kind)
        what = label[:1].upper() + label[1:]
        if s.count > 1:
            what = f"{s.count} × {label} ({', '.join(s.role_names)})"
        lines.append(f"{what} — {s.placement}")
    return "\n".join(lines)


def describe_trials(protocol: Protocol) -> str:
    """How many trials, on which sides, in which order, and about how long."""
    n = protocol.repetitions
    each = f"{n} trial{'s' if n != 1 else ''}"
    other = "left" if protocol.first_side == "right" else "right"
    if protocol.sides == "none":
        text = each
    elif protocol.sides in ("left", "right"):
        text = f"{each}, {protocol.sides} side only"
    elif protocol.sides == "both":
        text = f"{each} on the {protocol.first_side}, then {n} on the {other}"
    else:
        text = f"{each} per side, alternating, {protocol.first_side} first"
    if protocol.conditions:
        names = ", ".join(c.name for c in protocol.conditions)
        text += f", in each of {len(protocol.conditions)} conditions ({names})"
    total = len(protocol.trial_plan())
    if total != n:
        text += f" — {total} trials in all"
    return f"{text}; about {format_duration(protocol.estimated_duration())}"


def describe_phase(index: int, phase: Phase, protocol: Protocol) -> str:
    """``"3. Effort 5 s, starts when the effort is detected (waits up to 10 s), recorded — “Squeeze!”"``."""
    text = f"{index + 1}. {PHASE_LABELS.get(phase.kind, phase.kind)} {_num(phase.duration)} s"
    notes = []
    if phase.repeat > 1:
        text += f" × {phase.repeat}, {_num(phase.rest_between)} s apart"
    last_recorded = max(i for i, p in enumerate(protocol.phases) if p.recorded)
    if phase.kind == "prepare":
        two_sided = protocol.sides in ("both", "alternating")
        if two_sided and protocol.conditions:
            notes.append("before the first trial of each side and condition")
        elif two_sided:
            notes.append("before each side's first trial")
        elif protocol.conditions:
            notes.append("before each condition's first trial")
        else:
            notes.append("once, before the first trial")
    elif phase.kind == "switch_side":
        notes.append("between sides")
    elif phase.kind == "rest" and index > last_recorded:
        notes.append("between trials")
    if phase.start == "onset":
        notes.append(f"starts when the effort is detected (waits up to {_num(phase.onset_timeout)} s)")
    if phase.stop == "balance_loss":
        notes.append("ends early on loss of balance")
    if phase.recorded:
        notes.append("recorded")
    if notes:
        text += ", " + ", ".join(notes)
    if phase.cue:
        text += f" — “{phase.cue}”"
    if phase.instruction:
        text += f" — {' '.join(phase.instruction.split())}"
    return text


def describe_schedule(protocol: Protocol) -> str:
    """The trials line, then one line per phase of a repetition."""
    lines = [describe_trials(protocol)]
    lines.extend(describe_phase(i, ph, protocol) for i, ph in enumerate(protocol.phases))
    return "\n".join(lines)


def _profile(target: Target) -> str:
    if target.profile == "ramp" and target.ramp_time is not None:
        return f", rising from {_num(100 * target.start_level)} % over {_num(target.ramp_time)} s"
    if target.profile == "sine" and target.amplitude is not None and target.period is not None:
        return f", a sine of ± {_num(100 * target.amplitude)} % every {_num(target.period)} s"
    if target.profile == "steps" and target.step_time is not None:
        levels = ", ".join(f"{_num(100 * v)} %" for v in target.levels)
        return f", in steps of {levels}, {_num(target.step_time)} s each"
    return ""


def describe_target(target: Target, protocol: Protocol) -> str:
    """A live target in words, in the sensor's unit."""
    if target.kind == "absolute":
        unit = target.unit
        text = f"{_num(target.value or 0.0)} {unit}"
        if target.tolerance:
            text += f" ± {_num(target.tolerance)} {unit}"
        return text + _profile(target)
    if target.kind == "percent_max":
        text = f"{_num(target.percent or 0.0)} % of the maximum {metric_label(target.reference_metric).lower()}"
        if target.reference_protocol:
            text += f" (from {target.reference_protocol})"
        if target.tolerance:
            text += f" ± {_num(target.tolerance)} % points"
        return text + _profile(target)
    if target.kind == "angle_range":
        return f"between {_num(target.low or 0.0)}° and {_num(target.high or 0.0)}°"
    radius = f"radius {_num(100 * (target.radius or 0.0))} cm"
    if target.path:
        return f"a zone ({radius}) visiting {len(target.path)} points, {_num(target.dwell or 0.0)} s at each"
    return f"a zone ({radius}) centred at x = {_num(100 * target.x)} cm, y = {_num(100 * target.y)} cm"


def describe_targets(protocol: Protocol) -> str:
    """One line per phase that shows a target, or a sentence saying there is none."""
    lines = [
        f"{PHASE_LABELS.get(ph.kind, ph.kind)} (phase {i + 1}): {describe_target(ph.target, protocol)}"
        for i, ph in enumerate(protocol.phases)
        if ph.target is not None
    ]
    return "\n".join(lines) if lines else "No live target: a maximal or free test."


def describe_headline(protocol: Protocol) -> str:
    """The headline metric, how repetitions combine and which direction is better."""
    sc = protocol.scoring
    combine = {"best": "best", "mean": "mean", "median": "median"}[sc.aggregate]
    text = (f"Headline: {metric_label(sc.headline)} ({sc.headline}), the {combine} of the trials; "
            f"{sc.better} is better")
    if protocol.sides in ("both", "alternating") and sc.side_comparison != "none":
        text += f"; left and right compared ({sc.side_comparison.replace('_', ' ')})"
    return text


def describe_metrics(protocol: Protocol) -> str:
    """Every metric computed, in words, then the ratios between conditions."""
    keys = protocol.scoring.metric_keys
    text = "Computed: " + ", ".join(metric_label(k) for k in keys)
    for ratio in protocol.scoring.ratios:
        text += f"\nRatio {ratio.key}: {metric_label(ratio.metric)} {ratio.numerator} / {ratio.denominator}"
    return text


def describe_rule(rule: AcceptanceRule, protocol: Protocol) -> str:
    """An acceptance rule in words."""
    verb = "Flag" if rule.action == "flag" else "Reject"
    metric = metric_label(rule.metric or protocol.scoring.headline).lower()
    if rule.rule == "effort_cv":
        return f"{verb} a side whose {metric} varies by more than {_num(rule.max_cv or 0.0)} % (CV) across trials"
    if rule.rule == "quiet_phase":
        unit = SIGNAL_UNITS.get(protocol.sensors[0].kind, "")
        text = f"{verb} a trial whose quiet hold varies by more than {_num(rule.max_sd or 0.0)} {unit} (SD)"
        if rule.min_duration is not None:
            text += f" or lasts under {_num(rule.min_duration)} s"
        return text
    if rule.rule == "metric_range":
        if rule.minimum is not None and rule.maximum is not None:
            return f"{verb} a trial whose {metric} lies outside {_num(rule.minimum)} to {_num(rule.maximum)}"
        if rule.minimum is not None:
            return f"{verb} a trial whose {metric} is below {_num(rule.minimum)}"
        return f"{verb} a trial whose {metric} is above {_num(rule.maximum or 0.0)}"
    return f"{verb} a trial missing more than {_num(rule.max_missing or 0.0)} s of data"


def describe_acceptance(protocol: Protocol) -> str:
    lines = [describe_rule(r, protocol) for r in protocol.acceptance]
    return "\n".join(lines) if lines else "No acceptance rule: every trial is kept as recorded."


def describe_normative(protocol: Protocol) -> str:
    """Source of the reference values, the population and how to compare."""
    norm = protocol.normative
    if norm is None:
        return "No normative reference: compare with the patient's own previous results."
    lines = [" ".join(norm.source.split())]
    if norm.population:
        lines.append(f"Population: {norm.population}")
    if norm.notes:
        lines.append(" ".join(norm.notes.split()))
    if norm.values:
        lines.append(f"{len(norm.values)} reference value{'s' if len(norm.values) != 1 else ''} included.")
    return "\n".join(lines)


def describe_references(protocol: Protocol) -> str:
    return "\n".join(f"• {ref}" for ref in protocol.references) if protocol.references else "None given."


# ---------------------------------------------------------------------------------------------------------------
# widgets
# ---------------------------------------------------------------------------------------------------------------


def screen_stylesheet(p: Palette, m: Metrics) -> str:
    """The editor's touch sizes plus the library's chips, list and notice."""
    pad = max(6, m.touch // 5)
    return editor_stylesheet(p, m) + f"""
QPushButton#chip {{ border-radius: {m.touch // 2}px; padding: 0 {2 * pad}px; font-weight: 600; }}
QPushButton#chip:checked {{ background: {p.accent}; color: {p.on_accent}; border-color: {p.accent}; }}
QListWidget#protocolList {{ background: {p.surface}; border: 1px solid {p.border}; border-radius: {pad}px;
    outline: none; }}
QLabel#notice {{ background: {p.banner}; color: {p.on_banner}; padding: {pad}px; border-radius: {pad}px; }}
QLabel#detailTitle {{ font-size: {m.title_px}px; font-weight: 700; }}
QLabel#headline {{ color: {p.accent}; font-weight: 700; }}
QScrollArea#detailScroll, QWidget#detailBody {{ background: transparent; }}
"""


class ProtocolRowDelegate(QStyledItemDelegate):
    """Draws a list row: the name in bold, then region · sensors · duration in the muted colour; rows are at
    least one touch target high."""

    def __init__(self, palette: Palette, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.palette_ = palette

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        body = QFont(option.font)
        body.setPixelSize(current_metrics().body_px)
        bold = QFont(body)
        bold.setBold(True)
        return bold, body

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        bold, body = self._fonts(option)
        m = current_metrics()
        pad = max(6, m.touch // 5)
        height = QFontMetrics(bold).height() + QFontMetrics(body).height() + 2 * pad
        return QSize(200, max(m.touch, height))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        p = self.palette_
        rect: QRect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        bold, body = self._fonts(option)
        pad = max(6, current_metrics().touch // 5)
        painter.save()
        if selected:
            painter.fillRect(rect, QColor(p.accent))
        painter.setPen(QPen(QColor(p.border)))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        text_rect = rect.adjusted(pad * 2, pad, -pad * 2, -pad)
        name_height = QFontMetrics(bold).height()
        painter.setFont(bold)
        painter.setPen(QColor(p.on_accent if selected else p.text))
        name = QFontMetrics(bold).elidedText(str(index.data(Qt.ItemDataRole.DisplayRole)),
                                             Qt.TextElideMode.ElideRight, text_rect.width())
        painter.drawText(QRect(text_rect.left(), text_rect.top(), text_rect.width(), name_height),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), name)
        painter.setFont(body)
        painter.setPen(QColor(p.on_accent if selected else p.muted))
        subtitle = QFontMetrics(body).elidedText(str(index.data(SUBTITLE_ROLE) or ""), Qt.TextElideMode.ElideRight,
                                                 text_rect.width())
        painter.drawText(QRect(text_rect.left(), text_rect.top() + name_height, text_rect.width(),
                               text_rect.height() - name_height),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), subtitle)
        painter.restore()


def _text(name: str, *, selectable: bool = True) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setIndent(0)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


#: Sections of the details pane: (key, title).
DETAIL_SECTIONS: tuple[tuple[str, str], ...] = (
    ("sensors", "Sensors and placement"),
    ("instructions", "Instructions"),
    ("schedule", "Schedule"),
    ("targets", "Targets"),
    ("metrics", "Metrics"),
    ("acceptance", "Acceptance"),
    ("normative", "Normative reference"),
    ("references", "Method references"),
)


class ProtocolsScreen(QWidget):
    """The protocol library and editor page.

    Parameters
    ----------
    store : CustomProtocolStore
        Where custom protocols are read and written.

    Signals
    -------
    protocol_chosen(str) : "Use this protocol" was tapped; the protocol's id (built-in or custom)
    """

    protocol_chosen = Signal(str)

    def __init__(self, store: CustomProtocolStore, *, palette: Palette | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.store = store
        self.palette_ = palette or current_palette()
        self._builtin: list[Protocol] = builtin_protocols()
        self._custom: list[Protocol] = []
        self.invalid_files: tuple[InvalidProtocolFile, ...] = ()
        self._category = "all"
        self._selected_id: str | None = None

        # the library page
        self.library = QWidget()
        heading = QLabel("Protocols")
        heading.setObjectName("cardTitle")
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("search")
        self.search_edit.setPlaceholderText("Search by name, region, sensor word or tag")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(lambda _t: self._refill())
        self.new_button = QPushButton("New protocol")
        self.new_button.setObjectName("newButton")
        self.new_button.clicked.connect(self.new_protocol)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addSpacing(16)
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.new_button)

        self.chips: dict[str, QPushButton] = {}
        self._chip_group = QButtonGroup(self)
        self._chip_group.setExclusive(True)
        chips = QHBoxLayout()
        chips.setSpacing(8)
        for name in FILTERS:
            chip = QPushButton(FILTER_LABELS[name])
            chip.setObjectName("chip")
            chip.setCheckable(True)
            chip.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            chip.clicked.connect(lambda _=False, n=name: self.set_category(n))
            self._chip_group.addButton(chip)
            self.chips[name] = chip
            chips.addWidget(chip)
        chips.addStretch(1)
        self.chips["all"].setChecked(True)

        self.list_widget = QListWidget()
        self.list_widget.setObjectName("protocolList")
        self.list_widget.setUniformItemSizes(True)
        self.list_widget.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list_widget.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._delegate = ProtocolRowDelegate(self.palette_, self.list_widget)
        self.list_widget.setItemDelegate(self._delegate)
        QScroller.grabGesture(self.list_widget.viewport(), QScroller.ScrollerGestureType.TouchGesture)
        self.list_widget.currentRowChanged.connect(self._row_changed)
        self.count_label = _text("muted", selectable=False)
        self.empty_label = _text("emptyState", selectable=False)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.notice = _text("notice")
        self.message = _text("statusOk")
        self.message.setVisible(False)
        left = QVBoxLayout()
        left.addWidget(self.count_label)
        left.addWidget(self.list_widget, 1)
        left.addWidget(self.empty_label, 1)
        left.addWidget(self.notice)

        self.details = self._build_details()
        columns = QHBoxLayout()
        columns.setSpacing(16)
        columns.addLayout(left, 2)
        columns.addWidget(self.details, 3)

        lib_layout = QVBoxLayout(self.library)
        lib_layout.setContentsMargins(16, 12, 16, 12)
        lib_layout.setSpacing(8)
        lib_layout.addLayout(top)
        lib_layout.addLayout(chips)
        lib_layout.addWidget(self.message)
        lib_layout.addLayout(columns, 1)

        # the editor page
        self.editor = ProtocolEditor(store, palette=self.palette_)
        self.editor.saved.connect(self._editor_saved)
        self.editor.cancelled.connect(self.show_library)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.library)
        self.stack.addWidget(self.editor)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.apply_palette(self.palette_)
        self.reload()

    @classmethod
    def for_data_dir(cls, data_dir: str | os.PathLike[str] | None) -> ProtocolsScreen:
        """The screen over the custom protocols of ``data_dir`` (None: the clinic's default data directory)."""
        from clinic.paths import resolve_data_dir

        return cls(CustomProtocolStore.for_data_dir(resolve_data_dir(data_dir)))

    # -- details pane -------------------------------------------------------------------------------------------
    def _build_details(self) -> QFrame:
        card = QFrame()
        card.setObjectName("card")
        body = QWidget()
        body.setObjectName("detailBody")
        column = QVBoxLayout(body)
        column.setContentsMargins(16, 12, 16, 12)
        column.setSpacing(4)
        self.detail_title = _text("detailTitle")
        self.detail_meta = _text("muted")
        self.detail_summary = _text("summary")
        self.detail_headline = _text("headline")
        column.addWidget(self.detail_title)
        column.addWidget(self.detail_meta)
        column.addWidget(self.detail_summary)
        self.sections: dict[str, QLabel] = {}
        self._section_titles: dict[str, QLabel] = {}
        for key, title in DETAIL_SECTIONS:
            header = QLabel(title)
            header.setObjectName("sectionTitle")
            header.setIndent(0)
            column.addWidget(header)
            if key == "metrics":
                column.addWidget(self.detail_headline)
            label = _text(f"detail_{key}")
            column.addWidget(label)
            self.sections[key] = label
            self._section_titles[key] = header
        column.addStretch(1)
        self.detail_scroll = QScrollArea()
        self.detail_scroll.setObjectName("detailScroll")
        self.detail_scroll.setWidgetResizable(True)
        self.detail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.detail_scroll.setWidget(body)
        QScroller.grabGesture(self.detail_scroll.viewport(), QScroller.ScrollerGestureType.TouchGesture)

        self.use_button = QPushButton("Use this protocol")
        self.use_button.setObjectName("primary")
        self.use_button.clicked.connect(self._use)
        self.duplicate_button = QPushButton("Duplicate")
        self.duplicate_button.setObjectName("duplicateButton")
        self.duplicate_button.clicked.connect(self.duplicate_selected)
        self.edit_button = QPushButton("Edit")
        self.edit_button.setObjectName("editButton")
        self.edit_button.clicked.connect(self.edit_selected)
        self.delete_button = ArmedButton("Delete", "Confirm delete")
        self.delete_button.setObjectName("deleteButton")
        self.delete_button.confirmed.connect(self.delete_selected)
        self.readonly_hint = _text("muted", selectable=False)
        self.readonly_hint.setText("Built-in: duplicate it to make your own version.")
        for button in (self.use_button, self.duplicate_button, self.edit_button, self.delete_button):
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # never clip the words
        buttons = QHBoxLayout()
        buttons.setContentsMargins(16, 8, 16, 12)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.readonly_hint, 1)
        buttons.addWidget(self.duplicate_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.delete_button)
        self.detail_empty = _text("emptyState", selectable=False)
        self.detail_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail_empty.setText("Choose a protocol to see its details.")

        layout = QVBoxLayout(card)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.detail_scroll, 1)
        layout.addWidget(self.detail_empty, 1)
        layout.addLayout(buttons)
        return card

    def _show_details(self, protocol: Protocol | None) -> None:
        self.delete_button.disarm()
        shown = protocol is not None
        self.detail_scroll.setVisible(shown)
        self.detail_empty.setVisible(not shown)
        for button in (self.use_button, self.duplicate_button):
            button.setVisible(shown)
        if protocol is None:
            for widget in (self.edit_button, self.delete_button, self.readonly_hint):
                widget.setVisible(False)
            return
        custom = self.is_custom(protocol.id)
        self.edit_button.setVisible(custom)
        self.delete_button.setVisible(custom)
        self.readonly_hint.setVisible(not custom)
        self.detail_title.setText(protocol.name)
        origin = "custom (saved in this clinic's data directory)" if custom else "built-in"
        self.detail_meta.setText(f"{CATEGORY_LABELS.get(protocol.category, protocol.category)} · "
                                 f"{region_label(protocol.region)} · {origin} · id {protocol.id}")
        self.detail_summary.setText(" ".join(protocol.summary.split()))
        self.detail_headline.setText(describe_headline(protocol))
        texts = {
            "sensors": describe_sensors(protocol),
            "instructions": protocol.instructions.strip(),
            "schedule": describe_schedule(protocol),
            "targets": describe_targets(protocol),
            "metrics": describe_metrics(protocol),
            "acceptance": describe_acceptance(protocol),
            "normative": describe_normative(protocol),
            "references": describe_references(protocol),
        }
        for key, text in texts.items():
            self.sections[key].setText(text)
        self.detail_scroll.verticalScrollBar().setValue(0)

    # -- data ---------------------------------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the custom protocols again and refill the list (keeping the selection when it still exists)."""
        loaded = self.store.load_all()
        self._custom = list(loaded.protocols)
        self.invalid_files = loaded.invalid
        self._refill()

    def all_protocols(self) -> list[Protocol]:
        """Built-in and custom protocols, by category then name."""
        order = {c: i for i, c in enumerate(CATEGORIES)}
        return sorted([*self._builtin, *self._custom], key=lambda p: (order.get(p.category, 99), p.name.lower()))

    def is_custom(self, protocol_id: str) -> bool:
        return any(p.id == protocol_id for p in self._custom)

    def protocol(self, protocol_id: str) -> Protocol:
        """The built-in or custom protocol ``protocol_id``."""
        for p in (*self._builtin, *self._custom):
            if p.id == protocol_id:
                return p
        raise KeyError(f"no protocol {protocol_id!r} in the library or the custom protocols")

    def selected(self) -> Protocol | None:
        """The protocol shown in the details pane."""
        return self.protocol(self._selected_id) if self._selected_id is not None else None

    def visible_ids(self) -> list[str]:
        """Ids of the rows listed now, top to bottom."""
        ids = []
        for row in range(self.list_widget.count()):
            item = self.list_widget.item(row)
            ids.append(str(item.data(ID_ROLE)))
        return ids

    # -- filtering ----------------------------------------------------------------------------------------------
    @property
    def category(self) -> str:
        """The chip selected: "all", a category, or "custom"."""
        return self._category

    def set_category(self, name: str) -> None:
        """Show one category ("all", a category of the format, or "custom" for the clinic's own)."""
        if name not in FILTERS:
            raise ValueError(f"unknown filter {name!r}; expected one of: {', '.join(FILTERS)}")
        self._category = name
        self.chips[name].setChecked(True)
        self._refill()

    def set_search(self, text: str) -> None:
        self.search_edit.setText(text)

    def _matching(self) -> list[Protocol]:
        text = self.search_edit.text().strip() or None
        if self._category == "custom":
            pool: Sequence[Protocol] = sorted(self._custom, key=lambda p: p.name.lower())
            return find_protocols(text=text, protocols=pool)
        category = None if self._category == "all" else self._category
        return find_protocols(category=category, text=text, protocols=self.all_protocols())

    def _refill(self) -> None:
        matches = self._matching()
        custom_ids = {p.id for p in self._custom}
        keep = self._selected_id
        self.list_widget.blockSignals(True)
        self.list_widget.clear()
        for p in matches:
            item = QListWidgetItem(p.name)
            item.setData(ID_ROLE, p.id)
            item.setData(SUBTITLE_ROLE, row_subtitle(p, p.id in custom_ids))
            item.setToolTip(" ".join(p.summary.split()))
            self.list_widget.addItem(item)
        self.list_widget.blockSignals(False)
        ids = [p.id for p in matches]
        has_rows = bool(ids)
        self.list_widget.setVisible(has_rows)
        self.empty_label.setVisible(not has_rows)
        if not has_rows:
            search = self.search_edit.text().strip()
            if self._category == "custom" and not search:
                self.empty_label.setText("No protocol of your own yet.\nDuplicate one from the library, or tap "
                                         "New protocol.")
            else:
                where = FILTER_LABELS[self._category]
                self.empty_label.setText(f"No protocol matches “{search}” in {where}." if search else
                                         f"No protocol in {where}.")
        total = len(self._builtin) + len(self._custom)
        self.count_label.setText(f"{len(ids)} of {total} protocols")
        self._update_notice()
        if keep in ids:
            self.list_widget.setCurrentRow(ids.index(keep))
            self._show_details(self.protocol(keep))
        elif has_rows:
            self.list_widget.setCurrentRow(0)
            self._select_row(0)
        else:
            self._selected_id = None
            self._show_details(None)

    def _update_notice(self) -> None:
        bad = self.invalid_files
        if not bad or self._category not in ("all", "custom"):
            self.notice.setVisible(False)
            return
        lines = [f"{len(bad)} custom protocol file{'s' if len(bad) != 1 else ''} could not be read:"]
        for entry in bad[:MAX_INVALID_SHOWN]:
            lines.append(f"• {entry.path.name}: {_short_error(entry)}")
        if len(bad) > MAX_INVALID_SHOWN:
            lines.append(f"…and {len(bad) - MAX_INVALID_SHOWN} more in {self.store.folder}")
        self.notice.setText("\n".join(lines))
        self.notice.setVisible(True)

    def select(self, protocol_id: str) -> bool:
        """Select ``protocol_id`` if it is listed; True when it is."""
        ids = self.visible_ids()
        if protocol_id not in ids:
            return False
        self.list_widget.setCurrentRow(ids.index(protocol_id))
        return True

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self._select_row(row)

    def _select_row(self, row: int) -> None:
        item = self.list_widget.item(row)
        if item is None:
            return
        self._selected_id = str(item.data(ID_ROLE))
        self._show_details(self.protocol(self._selected_id))

    # -- actions ------------------------------------------------------------------------------------------------
    def _use(self) -> None:
        if self._selected_id is not None:
            self.protocol_chosen.emit(self._selected_id)

    def new_protocol(self) -> None:
        """Open the editor on a new protocol."""
        self.editor.start_new()
        self.stack.setCurrentWidget(self.editor)

    def duplicate_selected(self) -> None:
        """Open the editor on a copy of the selected protocol."""
        protocol = self.selected()
        if protocol is not None:
            self.editor.start_duplicate(protocol)
            self.stack.setCurrentWidget(self.editor)

    def edit_selected(self) -> None:
        """Open the editor on the selected custom protocol."""
        protocol = self.selected()
        if protocol is not None and self.is_custom(protocol.id):
            self.editor.start_edit(protocol)
            self.stack.setCurrentWidget(self.editor)

    def delete_selected(self) -> None:
        """Delete the selected custom protocol (the Delete button calls this on its second tap)."""
        protocol = self.selected()
        if protocol is None or not self.is_custom(protocol.id):
            return
        try:
            self.store.delete(protocol.id)
        except CustomProtocolError as err:
            self._say(f"Not deleted: {err}", error=True)
            return
        self._selected_id = None
        self.reload()
        self._say(f"Deleted “{protocol.name}”.")

    def show_library(self) -> None:
        """Back to the library (leaving the editor)."""
        self.stack.setCurrentWidget(self.library)

    def _editor_saved(self, protocol_id: str) -> None:
        self.search_edit.blockSignals(True)
        self.search_edit.clear()
        self.search_edit.blockSignals(False)
        self._selected_id = protocol_id
        self._category = "custom"
        self.chips["custom"].setChecked(True)
        self.reload()
        self.show_library()
        saved = self.protocol(protocol_id) if self.is_custom(protocol_id) else None
        name = saved.name if saved is not None else protocol_id
        self._say(f"Saved “{name}” to {self.store.path_for(protocol_id)}.")

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setObjectName("statusError" if error else "statusOk")
        self.message.setText(text)
        self.message.setVisible(bool(text))
        style = self.message.style()
        style.unpolish(self.message)
        style.polish(self.message)

    # -- theme --------------------------------------------------------------------------------------------------
    def apply_palette(self, palette: Palette) -> None:
        """Restyle for ``palette`` (called by the main window on a theme change)."""
        self.palette_ = palette
        self._delegate.palette_ = palette
        self.setStyleSheet(screen_stylesheet(palette, current_metrics()))
        self.editor.apply_palette(palette)
        self.list_widget.viewport().update()


def _short_error(entry: InvalidProtocolFile) -> str:
    """The error without the file path it starts with (the notice names the file already)."""
    text = entry.error
    prefix = f"{entry.path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


__all__ = [
    "DETAIL_SECTIONS",
    "FILTERS",
    "ProtocolRowDelegate",
    "ProtocolsScreen",
    "describe_acceptance",
    "describe_headline",
    "describe_metrics",
    "describe_normative",
    "describe_schedule",
    "describe_sensors",
    "describe_target",
    "describe_targets",
    "describe_trials",
    "row_subtitle",
]

