"""The protocol editor: a touch form to create, duplicate and edit custom protocols, plus the full TOML.

The editor holds the protocol as the plain table a TOML file parses to. Every edit in the form changes that table
and validates it with :func:`protocols.schema.protocol_from_dict` — the very validation the file format uses —
so a protocol the form accepts is a protocol the library accepts. The first problem found is shown in red under
the field its path names (``phases[2].duration`` → the duration field of the third phase card), repeated in the
header, and Save stays disabled until it is fixed. Fields the form does not show (acceptance rules, normative
values, conditions, tags, references, target profiles...) are kept as they are and can be edited as TOML text in
the second tab, checked the same way. No dialog ever blocks: discarding changes is a second tap on Cancel.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.theme import Metrics, Palette, current_metrics, current_palette
from protocols.custom import CustomProtocolError, CustomProtocolStore
from protocols.loader import dump_protocol
from protocols.schema import (
    AGGREGATES,
    BETTER,
    CATEGORIES,
    CATEGORY_FAMILIES,
    FIRST_SIDES,
    PHASE_KINDS,
    PHASE_STARTS,
    RECORDED_KINDS,
    REGIONS,
    SCORERS,
    SENSOR_KINDS,
    SIDE_COMPARISONS,
    SIDES,
    SIGNAL_UNITS,
    TARGET_KINDS,
    Protocol,
    ProtocolError,
    protocol_from_dict,
)

# ---------------------------------------------------------------------------------------------------------------
# words shown for the format's values (shared with the library screen)
# ---------------------------------------------------------------------------------------------------------------

CATEGORY_LABELS: Mapping[str, str] = {
    "strength": "Strength",
    "rom": "Range of motion",
    "balance": "Balance",
    "jump": "Jumps",
    "training": "Training",
}
SENSOR_LABELS: Mapping[str, str] = {
    "push": "push dynamometer",
    "grip": "grip dynamometer",
    "pull": "traction sensor",
    "force": "force sensor",
    "scale": "scale",
    "plate": "force plate",
    "pneumatic": "pneumatic bulb",
    "goniometer": "IMU goniometer",
}
SIDE_LABELS: Mapping[str, str] = {
    "none": "Not sided",
    "left": "Left only",
    "right": "Right only",
    "both": "Both sides, one after the other",
    "alternating": "Both sides, alternating",
}
PHASE_LABELS: Mapping[str, str] = {
    "prepare": "Prepare",
    "countdown": "Countdown",
    "effort": "Effort",
    "hold": "Hold",
    "rest": "Rest",
    "switch_side": "Switch side",
}
START_LABELS: Mapping[str, str] = {"cue": "On the cue", "onset": "When the effort is detected"}
TARGET_LABELS: Mapping[str, str] = {
    "": "No target",
    "absolute": "Fixed level",
    "percent_max": "% of the patient's maximum",
    "angle_range": "Angle range",
    "cop_zone": "Centre-of-pressure zone",
}
AGGREGATE_LABELS: Mapping[str, str] = {"best": "Best", "mean": "Mean", "median": "Median"}
BETTER_LABELS: Mapping[str, str] = {"higher": "Higher is better", "lower": "Lower is better"}
COMPARISON_LABELS: Mapping[str, str] = {
    "auto": "Automatic",
    "none": "None",
    "lsi": "Limb symmetry index",
    "symmetry_index": "Symmetry index",
    "bishop_asymmetry": "Asymmetry (Bishop)",
}
_ACRONYMS = {"rfd", "rtd", "cv", "rsi", "mrsi", "rms", "ml", "ap", "los", "sd", "cc", "cop", "cmj", "sj", "rom", "lsi"}

#: Text and error colours per theme for field problems (the palettes have no error colour).
ERROR_COLOURS: Mapping[str, str] = {"light": "#b42318", "dark": "#ff8a80"}


def region_label(region: str) -> str:
    """``"lumbar_spine"`` → ``"Lumbar spine"``."""
    return region.replace("_", " ").capitalize()


def metric_label(key: str) -> str:
    """A metric key in words: ``"peak_force"`` → ``"Peak force"``, ``"rfd_0_100"`` → ``"RFD 0–100 ms"``."""
    window = re.fullmatch(r"(rfd|rtd)_(\d+)_(\d+)", key)
    if window:
        return f"{window.group(1).upper()} {window.group(2)}–{window.group(3)} ms"
    key = re.sub(r"(\d)ms\b", r"\1_ms", key)
    words = [w.upper() if w in _ACRONYMS else w for w in key.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def scorer_label(name: str) -> str:
    """``"strength.isometric_metrics"`` → ``"Strength: isometric"``."""
    family, _, function = name.partition(".")
    what = function.removesuffix("_metrics").replace("_", " ")
    what = " ".join(w.upper() if w in _ACRONYMS else w for w in what.split())
    return f"{family.capitalize()}: {what}"


def editor_stylesheet(p: Palette, m: Metrics) -> str:
    """Touch sizes for the form's inputs (≥ the theme's touch target), chips, cards and error text."""
    pad = max(6, m.touch // 5)
    error = ERROR_COLOURS[p.name]
    indicator = max(24, int(m.touch * 0.6))
    return f"""
QLineEdit, QComboBox {{
    min-height: {m.touch - 2}px; padding: 0 {pad}px; border: 1px solid {p.border}; border-radius: {pad}px;
    background: {p.surface}; color: {p.text};
}}
QPlainTextEdit {{ border: 1px solid {p.border}; border-radius: {pad}px; background: {p.surface}; color: {p.text};
    padding: {pad // 2}px; }}
QLineEdit:focus, QComboBox:focus, QPlainTextEdit:focus {{ border: 2px solid {p.accent}; }}
QComboBox QAbstractItemView::item {{ min-height: {m.touch}px; }}
QCheckBox {{ min-height: {m.touch}px; spacing: {pad}px; }}
QCheckBox::indicator {{ width: {indicator}px; height: {indicator}px; }}
QTabBar::tab {{ min-height: {m.touch}px; min-width: {3 * m.touch}px; padding: 0 {2 * pad}px; font-weight: 600;
    border: 1px solid {p.border}; background: {p.window}; color: {p.muted}; }}
QTabBar::tab:selected {{ background: {p.surface}; color: {p.text}; border-bottom: 3px solid {p.accent}; }}
QScrollBar:vertical {{ width: {max(12, m.touch // 4)}px; }}
QPushButton#primary {{ background: {p.accent}; color: {p.on_accent}; border-color: {p.accent}; font-weight: 700; }}
QPushButton#primary:disabled {{ background: {p.border}; color: {p.muted}; border-color: {p.border}; }}
QPushButton[armed="true"] {{ background: {error}; color: {p.surface}; border-color: {error}; font-weight: 700; }}
QLabel#fieldLabel {{ color: {p.muted}; font-weight: 600; }}
QLabel#sectionTitle {{ font-size: {m.title_px}px; font-weight: 700; padding: {pad}px 0 0 0; margin: 0; }}
QLabel#fieldError {{ color: {error}; font-weight: 600; }}
QLabel#statusError {{ color: {error}; font-weight: 700; }}
QLabel#statusOk {{ color: {p.in_target}; font-weight: 700; }}
QPlainTextEdit#tomlEditor {{ font-family: "DejaVu Sans Mono", "Consolas", monospace; }}
"""


def parse_number(text: str) -> int | float | str | None:
    """What a number field holds: None when empty (the field is left out), an int or a float when the text is
    one (a decimal comma is accepted), else the text itself — so the protocol validation reports it by name."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text


def format_number(value: Any) -> str:
    """A number for a field: ``5.0`` → ``"5"``, ``2.5`` → ``"2.5"``; anything else as text ("" for None)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ---------------------------------------------------------------------------------------------------------------
# TOML text of a table that may not validate (dump_protocol needs a valid Protocol)
# ---------------------------------------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")  # JSON escapes are TOML escapes
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit(lines: list[str], prefix: str, table: Mapping[str, Any]) -> None:
    for name, value in table.items():
        if not isinstance(value, dict) and not _is_table_array(value):
            lines.append(f"{_toml_key(name)} = {_toml_value(value)}")
    for name, value in table.items():
        full = f"{prefix}.{_toml_key(name)}" if prefix else _toml_key(name)
        if isinstance(value, dict):
            lines.extend(("", f"[{full}]"))
            _emit(lines, full, value)
        elif _is_table_array(value):
            for item in value:
                lines.extend(("", f"[[{full}]]"))
                _emit(lines, full, item)


def table_to_toml(table: Mapping[str, Any]) -> str:
    """TOML text of a parsed protocol table, valid or not (``tomllib.loads`` of it gives ``table`` back)."""
    lines: list[str] = []
    _emit(lines, "", table)
    return "\n".join(lines) + "\n"


def protocol_table(protocol: Protocol) -> dict[str, Any]:
    """The table a protocol file holds (fields at their defaults left out), as the form edits it."""
    return tomllib.loads(dump_protocol(protocol))


def new_protocol_table(protocol_id: str) -> dict[str, Any]:
    """A starting point for a new protocol: one grip sensor, countdown, 5 s effort, rest; peak force.

    Summary, instructions and placement are left empty: the validation asks for them in turn."""
    return {
        "id": protocol_id,
        "name": "New protocol",
        "category": "strength",
        "region": "hand",
        "summary": "",
        "instructions": "",
        "sensors": [{"kind": "grip", "placement": ""}],
        "phases": [
            {"kind": "countdown", "duration": 3.0},
            {"kind": "effort", "duration": 5.0},
            {"kind": "rest", "duration": 30.0},
        ],
        "scoring": {
            "headline": "peak_force",
            "scorers": [{"name": "strength.isometric_metrics", "metrics": ["peak_force"]}],
        },
    }


_PATH_WORDS = (("phases", "phase"), ("sensors", "sensor"), ("scorers", "scorer"), ("acceptance", "acceptance rule"),
               ("conditions", "condition"), ("values", "value"), ("ratios", "ratio"), ("metrics", "metric"))


def human_path(path: str) -> str:
    """A field path for people: ``"phases[1].duration"`` → ``"phase 2 › duration"`` (indices counted from 1)."""
    if not path:
        return "file"
    text = path
    for plural, word in _PATH_WORDS:

        def numbered(match: re.Match[str], word: str = word) -> str:
            return f"{word} {int(match.group(1)) + 1}"

        text = re.sub(rf"\b{plural}\[(\d+)\]", numbered, text)
    text = text.replace("scoring.scorer", "scorer").replace(".", " › ").replace("_", " ")
    return text


def path_matches(key: str, path: str) -> bool:
    """Whether the error ``path`` lies at or under the field ``key`` (``phases[2]`` holds ``phases[2].duration``)."""
    return path == key or path.startswith(key + ".") or path.startswith(key + "[")


# ---------------------------------------------------------------------------------------------------------------
# small widgets
# ---------------------------------------------------------------------------------------------------------------


class ArmedButton(QPushButton):
    """A button that asks for a second tap: the first arms it (``armed_text``, red) for ``timeout_ms``; the
    second emits :attr:`confirmed`. A non-blocking confirm for destructive actions."""

    confirmed = Signal()

    def __init__(self, text: str, armed_text: str, *, timeout_ms: int = 4000, parent: QWidget | None = None
                 ) -> None:
        super().__init__(text, parent)
        self.idle_text = text
        self.armed_text = armed_text
        self.needs_confirm = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(timeout_ms)
        self._timer.timeout.connect(self.disarm)
        self.clicked.connect(self._tapped)
        self.setProperty("armed", False)

    @property
    def armed(self) -> bool:
        return bool(self.property("armed"))

    def _tapped(self) -> None:
        if self.armed or not self.needs_confirm:
            self.disarm()
            self.confirmed.emit()
            return
        self.setProperty("armed", True)
        self.setText(self.armed_text)
        self._restyle()
        self._timer.start()

    def disarm(self) -> None:
        """Back to the first state (no confirm pending)."""
        self._timer.stop()
        if self.armed:
            self.setProperty("armed", False)
            self.setText(self.idle_text)
            self._restyle()

    def _restyle(self) -> None:
        style = self.style()
        style.unpolish(self)
        style.polish(self)

    def hideEvent(self, event: QHideEvent) -> None:
        self.disarm()
        super().hideEvent(event)


class ChoiceBox(QComboBox):
    """A combo box of format values shown with words; :meth:`value` is the format value.

    A value that is not among the choices (read from a file) is added as it is, so the validation names it."""

    def __init__(self, values: Sequence[str], labels: Mapping[str, str] | Callable[[str], str] | None = None,
                 current: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(9)
        for value in values:
            self.addItem(self._label(value, labels), value)
        if current is not None:
            self.set_value(current, labels)

    @staticmethod
    def _label(value: str, labels: Mapping[str, str] | Callable[[str], str] | None) -> str:
        if labels is None:
            return value
        if callable(labels):
            return labels(value)
        return labels.get(value, value)

    def set_value(self, value: str, labels: Mapping[str, str] | Callable[[str], str] | None = None) -> None:
        index = self.findData(value)
        if index < 0:
            self.addItem(self._label(value, labels) if value else "(none)", value)
            index = self.count() - 1
        self.setCurrentIndex(index)

    def value(self) -> str:
        data = self.currentData()
        return str(data) if data is not None else ""


def _label(text: str, name: str = "fieldLabel") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setIndent(0)  # a styled label otherwise indents its text by half an "x"
    return label


def _error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("fieldError")
    label.setIndent(0)
    label.setWordWrap(True)
    label.setVisible(False)
    return label


# ---------------------------------------------------------------------------------------------------------------
# the editor
# ---------------------------------------------------------------------------------------------------------------

#: Editor modes: a new protocol, a copy of one, or a custom protocol edited in place.
MODES = ("new", "duplicate", "edit")


class ProtocolEditor(QWidget):
    """Create, duplicate or edit a custom protocol; saves to a :class:`protocols.custom.CustomProtocolStore`.

    Start it with :meth:`start_new`, :meth:`start_duplicate` or :meth:`start_edit`.

    Signals
    -------
    saved(str) : the id of the protocol just written to the store
    cancelled() : the user left without saving
    """

    saved = Signal(str)
    cancelled = Signal()

    def __init__(self, store: CustomProtocolStore, *, palette: Palette | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.store = store
        self.palette_ = palette or current_palette()
        self.mode = "new"
        self.original_id: str | None = None
        self.problem_path: str | None = None
        self.problem_text = ""
        #: The form field showing the problem (its path key; "" for the form's top), None without a problem.
        self.problem_key: str | None = None
        self._data: dict[str, Any] = {}
        self._saved_data: dict[str, Any] = {}
        self._protocol: Protocol | None = None
        self._toml_syntax_error: str | None = None
        self._loading = False
        self._errors: dict[str, QLabel] = {}
        self._error_titles: dict[str, str] = {}
        self._row_errors: dict[tuple[int, int], QLabel] = {}
        self._rebuild_pending = False

        self.title = _label("New protocol", "cardTitle")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = ArmedButton("Cancel", "Discard changes?")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.confirmed.connect(self._cancel)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save)

        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(self.title)
        titles.addWidget(self.status)
        header.addLayout(titles, 1)
        header.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignTop)

        self.form_scroll = QScrollArea()
        self.form_scroll.setWidgetResizable(True)
        self.form_scroll.setFrameShape(QFrame.Shape.NoFrame)
        QScroller.grabGesture(self.form_scroll.viewport(), QScroller.ScrollerGestureType.TouchGesture)
        self.form = QWidget()
        self.form_scroll.setWidget(self.form)

        self.toml_edit = QPlainTextEdit()
        self.toml_edit.setObjectName("tomlEditor")
        self.toml_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.toml_edit.textChanged.connect(self._toml_changed)
        self.toml_error = _error_label()
        toml_page = QWidget()
        toml_layout = QVBoxLayout(toml_page)
        toml_layout.setContentsMargins(0, 8, 0, 0)
        toml_hint = _label("Every field of the protocol file, as described in docs/protocols.md. "
                           "Checked as you type, the same way as the form.", "muted")
        toml_hint.setWordWrap(True)
        toml_layout.addWidget(toml_hint)
        toml_layout.addWidget(self.toml_edit, 1)
        toml_layout.addWidget(self.toml_error)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.form_scroll, "Form")
        self.tabs.addTab(toml_page, "Advanced (TOML)")
        self.tabs.currentChanged.connect(self._tab_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)
        self.apply_palette(self.palette_)

    # -- starting -----------------------------------------------------------------------------------------------
    def start_new(self) -> None:
        """A new protocol from a small template under an unused id."""
        self._start("new", new_protocol_table(self._unused_id("my-protocol")), None, "New protocol")

    def start_duplicate(self, protocol: Protocol) -> None:
        """A copy of ``protocol`` (built-in or custom) under a free id, named "… (copy)"."""
        copy_ = self.store.duplicate(protocol)
        self._start("duplicate", protocol_table(copy_), None, f"Copy of “{protocol.name}”")

    def start_edit(self, protocol: Protocol) -> None:
        """Edit the custom protocol ``protocol`` in place (saving under a new id moves its file)."""
        if protocol.id in self.store.builtin_ids:
            raise CustomProtocolError(f"{protocol.id!r} is a built-in protocol; duplicate it to change it")
        self._start("edit", protocol_table(protocol), protocol.id, f"Edit “{protocol.name}”")

    def _start(self, mode: str, table: dict[str, Any], original_id: str | None, title: str) -> None:
        self.mode = mode
        self.original_id = original_id
        self._data = table
        self._saved_data = copy.deepcopy(table)
        self._toml_syntax_error = None
        self.title.setText(title)
        self.cancel_button.disarm()
        self.cancel_button.needs_confirm = False
        self.tabs.setCurrentIndex(0)
        self._load_form()
        self.form_scroll.verticalScrollBar().setValue(0)

    def _unused_id(self, base: str) -> str:
        candidate, n = base, 1
        while candidate in self.store.builtin_ids or self.store.exists(candidate):
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    # -- state --------------------------------------------------------------------------------------------------
    def table(self) -> dict[str, Any]:
        """A copy of the protocol table being edited."""
        return copy.deepcopy(self._data)

    @property
    def protocol(self) -> Protocol | None:
        """The protocol as validated now, or None while there is a problem."""
        return self._protocol

    @property
    def dirty(self) -> bool:
        """Whether anything changed since the editor started."""
        return self._data != self._saved_data

    def error_label(self, path: str) -> QLabel:
        """The error label shown under the field ``path`` (``"phases[2].duration"``, ``""`` for the form's top)."""
        return self._errors[path]

    def field_error(self, path: str) -> str:
        """The problem shown for field ``path`` now ("" when the problem, if any, belongs to another field)."""
        label = self._errors.get(path)
        if label is None or path != self.problem_key or label.isHidden():
            return ""
        return label.text()

    # -- validation ---------------------------------------------------------------------------------------------
    def validate(self) -> None:
        """Check the table with the file format's validation and show the first problem by its field."""
        path: str | None = None
        text = ""
        protocol: Protocol | None = None
        if self._toml_syntax_error is not None:
            path, text = "", self._toml_syntax_error
        else:
            try:
                protocol = protocol_from_dict(self._data)
            except ProtocolError as err:
                path, text = err.path, err.problem
            except (ValueError, TypeError) as err:  # a value no TOML file could hold (a bug guard, shown plainly)
                path, text = "", str(err)
            else:
                id_problem = self.store.id_problem(protocol.id, replacing=self.original_id)
                if id_problem is not None:
                    path, text, protocol = "id", id_problem, None
        self._protocol = protocol
        self.problem_path, self.problem_text = path, text
        self._show_problem()

    def _show_problem(self) -> None:
        self.problem_key = None
        for label in self._errors.values():
            label.clear()
            label.setVisible(False)
        self.toml_error.clear()
        self.toml_error.setVisible(False)
        path, text = self.problem_path, self.problem_text
        if path is None:
            self.save_button.setEnabled(True)
            self.status.setObjectName("statusOk")
            duration = self._protocol.estimated_duration() if self._protocol is not None else 0.0
            self.status.setText(f"Ready to save · about {format_duration(duration)} per session")
        else:
            self.save_button.setEnabled(False)
            where = path or "file"
            self.status.setObjectName("statusError")
            self.status.setText(f"Fix {human_path(path)}: {text}")
            self.toml_error.setText(f"{where}: {text}")
            self.toml_error.setVisible(True)
            keys = [k for k in self._errors if k and path_matches(k, path)]
            self.problem_key = max(keys, key=len) if keys else ""
            label = self._errors[self.problem_key]
            title = self._error_titles.get(self.problem_key)
            if not keys:
                label.setText(f"{where}: {text} — this field is not on the form; change it in the TOML tab.")
            elif self.problem_key == path and title:
                label.setText(f"{title}: {text}")
            else:
                label.setText(f"{path}: {text}")
            label.setVisible(True)
        style = self.status.style()
        style.unpolish(self.status)
        style.polish(self.status)

    # -- saving -------------------------------------------------------------------------------------------------
    def save(self) -> bool:
        """Write the protocol to the store when it validates; True when saved (then :attr:`saved` is emitted)."""
        self.validate()
        if self._protocol is None:
            return False
        try:
            self.store.save(self._protocol, replacing=self.original_id)
        except CustomProtocolError as err:
            self.save_button.setEnabled(True)
            self.status.setObjectName("statusError")
            self.status.setText(f"Not saved: {err}")
            style = self.status.style()
            style.unpolish(self.status)
            style.polish(self.status)
            return False
        self._saved_data = copy.deepcopy(self._data)
        self.saved.emit(self._protocol.id)
        return True

    def _cancel(self) -> None:
        self.cancelled.emit()

    # -- the table ----------------------------------------------------------------------------------------------
    def _set(self, keys: Sequence[str | int], value: Any, *, structural: bool = False) -> None:
        """Set (or, with None, remove) the value at ``keys`` in the table, then validate."""
        if self._loading:
            return
        node: Any = self._data
        for key in keys[:-1]:
            if isinstance(node, dict):
                node = node.setdefault(key, {})
            else:
                node = node[key]
        last = keys[-1]
        if isinstance(node, dict):
            if value is None:
                node.pop(last, None)
            else:
                node[last] = value
        else:
            node[last] = value
        self._after_form_edit(structural)

    def _after_form_edit(self, structural: bool) -> None:
        self._toml_syntax_error = None
        self._sync_units()
        self.cancel_button.needs_confirm = self.dirty
        if structural:
            self._schedule_rebuild()
        else:
            self.validate()

    def _schedule_rebuild(self) -> None:
        """Rebuild the form after the current signal returns (its sender may be among the widgets replaced)."""
        if not self._rebuild_pending:
            self._rebuild_pending = True
            QTimer.singleShot(0, self._rebuild_now)

    def _rebuild_now(self) -> None:
        self._rebuild_pending = False
        self._load_form()

    def _sensor_kind_of(self, role: str) -> str | None:
        """Kind of the sensor with ``role`` ("" = the first sensor), None when the table does not say."""
        sensors = self._data.get("sensors", [])
        for sensor in sensors if isinstance(sensors, list) else []:
            if not isinstance(sensor, dict):
                continue
            kind, count = sensor.get("kind"), sensor.get("count", 1)
            roles = sensor.get("roles")
            if not roles:
                n = count if isinstance(count, int) and count > 0 else 1
                roles = [kind] if n == 1 else [f"{kind}_{i + 1}" for i in range(n)]
            if not role or role in roles:
                return str(kind) if kind in SIGNAL_UNITS else None
        return None

    def _sync_units(self) -> None:
        """Keep the unit of fixed-level targets the unit of their sensor (the form has no unit field)."""
        for phase in self._data.get("phases", []):
            target = phase.get("target") if isinstance(phase, dict) else None
            if isinstance(target, dict) and target.get("kind") == "absolute":
                kind = self._sensor_kind_of(str(target.get("sensor", "")))
                if kind is not None:
                    target["unit"] = SIGNAL_UNITS[kind]

    # -- TOML tab -----------------------------------------------------------------------------------------------
    def _tab_changed(self, index: int) -> None:
        if index == 1:
            self._fill_toml()
        elif self._toml_syntax_error is None:
            self._load_form()

    def _fill_toml(self) -> None:
        try:
            text = dump_protocol(protocol_from_dict(self._data))
        except (ValueError, TypeError):
            text = table_to_toml(self._data)
        self.toml_edit.blockSignals(True)
        self.toml_edit.setPlainText(text)
        self.toml_edit.blockSignals(False)
        self.validate()

    def set_toml(self, text: str) -> None:
        """Replace the TOML text (as if typed in the TOML tab)."""
        self.toml_edit.setPlainText(text)

    def _toml_changed(self) -> None:
        try:
            data = tomllib.loads(self.toml_edit.toPlainText())
        except tomllib.TOMLDecodeError as err:
            self._toml_syntax_error = f"not valid TOML: {err}; check the quoting and brackets there"
        else:
            self._toml_syntax_error = None
            self._data = data
        self.cancel_button.needs_confirm = self.dirty or self._toml_syntax_error is not None
        self.validate()

    # -- the form -----------------------------------------------------------------------------------------------
    def _load_form(self) -> None:
        """(Re)build the form from the table, keeping the scroll position, then validate."""
        position = self.form_scroll.verticalScrollBar().value()
        self._loading = True
        self._errors = {}
        self._error_titles = {}
        self._row_errors = {}
        form = QWidget()
        layout = QVBoxLayout(form)
        layout.setContentsMargins(0, 0, 8, 16)
        layout.setSpacing(6)
        top = _error_label()
        self._errors[""] = top
        layout.addWidget(top)
        self._build_identity(layout)
        self._build_sensors(layout)
        self._build_phases(layout)
        self._build_scoring(layout)
        note = _label("Acceptance rules, normative values, conditions, tags, references and target profiles: "
                      "edit them in the Advanced (TOML) tab.", "muted")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addStretch(1)
        old = self.form_scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        self.form = form
        self.form_scroll.setWidget(form)
        self._loading = False
        self.form_scroll.verticalScrollBar().setValue(position)
        self.validate()

    def _field(self, grid: QGridLayout, row: int, col: int, label: str, widget: QWidget, key: str,
               span: int = 1) -> None:
        """A labelled field at form row ``row`` (grid rows 2·row, and 2·row + 1 for the error line shared by the
        row's fields, across the whole grid so that a long message never squeezes into a narrow column)."""
        box = QVBoxLayout()
        box.setSpacing(2)
        box.addWidget(_label(label))
        box.addWidget(widget)
        grid.addLayout(box, 2 * row, col, 1, span, Qt.AlignmentFlag.AlignTop)
        slot = (id(grid), row)
        if slot not in self._row_errors:
            error = _error_label()
            self._row_errors[slot] = error
            grid.addWidget(error, 2 * row + 1, 0, 1, -1)
        self._errors[key] = self._row_errors[slot]
        self._error_titles[key] = label

    def _line(self, keys: Sequence[str | int], value: Any, *, number: bool = False, required: bool = False,
              name: str = "") -> QLineEdit:
        edit = QLineEdit(format_number(value) if number else ("" if value is None else str(value)))
        edit.setObjectName(name or ".".join(str(k) for k in keys))
        if number:
            edit.setInputMethodHints(Qt.InputMethodHint.ImhFormattedNumbersOnly)
            edit.setMaximumWidth(current_metrics().touch * 3)

        def changed(text: str) -> None:
            if number:
                self._set(keys, parse_number(text))
            else:
                self._set(keys, text if (text or required) else None)

        edit.textChanged.connect(changed)
        return edit

    def _choice(self, keys: Sequence[str | int], values: Sequence[str], labels: Mapping[str, str] |
                Callable[[str], str] | None, current: Any, *, structural: bool = False, name: str = "",
                on_change: Callable[[str], None] | None = None) -> ChoiceBox:
        box = ChoiceBox(values, labels, None if current is None else str(current))
        box.setObjectName(name or ".".join(str(k) for k in keys))

        def changed(_index: int) -> None:
            if self._loading:
                return
            if on_change is not None:
                on_change(box.value())
            else:
                self._set(keys, box.value(), structural=structural)

        box.currentIndexChanged.connect(changed)
        return box

    def _section(self, layout: QVBoxLayout, title: str, key: str | None = None) -> None:
        layout.addWidget(_label(title, "sectionTitle"))
        if key is not None:
            error = _error_label()
            self._errors[key] = error
            layout.addWidget(error)

    def _build_identity(self, layout: QVBoxLayout) -> None:
        d = self._data
        self._section(layout, "Protocol")
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        self.name_edit = self._line(["name"], d.get("name"), required=True)
        self.id_edit = self._line(["id"], d.get("id"), required=True)
        self.category_combo = self._choice(["category"], CATEGORIES, CATEGORY_LABELS, d.get("category"),
                                           structural=True)
        self.region_combo = self._choice(["region"], REGIONS, region_label, d.get("region"))
        self.summary_edit = self._line(["summary"], d.get("summary"), required=True)
        self.instructions_edit = QPlainTextEdit(str(d.get("instructions", "")))
        self.instructions_edit.setObjectName("instructions")
        self.instructions_edit.setTabChangesFocus(True)
        self.instructions_edit.setMinimumHeight(current_metrics().body_px * 7)
        self.instructions_edit.textChanged.connect(
            lambda: self._set(["instructions"], self.instructions_edit.toPlainText()))
        self._field(grid, 0, 0, "Name", self.name_edit, "name")
        self._field(grid, 0, 1, "Id (file name: lower-case words joined by hyphens)", self.id_edit, "id")
        self._field(grid, 1, 0, "Category", self.category_combo, "category")
        self._field(grid, 1, 1, "Body region", self.region_combo, "region")
        self._field(grid, 2, 0, "Summary (one line: what it measures)", self.summary_edit, "summary", span=2)
        self._field(grid, 3, 0, "Instructions for the clinician and the patient", self.instructions_edit,
                    "instructions", span=2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)

        self._section(layout, "Sides and repetitions")
        sides = QGridLayout()
        sides.setHorizontalSpacing(12)
        self.sides_combo = self._choice(["sides"], SIDES, SIDE_LABELS, d.get("sides", "none"),
                                        on_change=self._sides_changed)
        self.first_side_combo = self._choice(["first_side"], FIRST_SIDES, str.capitalize,
                                             d.get("first_side", "right"))
        self.repetitions_edit = self._line(["repetitions"], d.get("repetitions", 1), number=True)
        self._field(sides, 0, 0, "Sides tested", self.sides_combo, "sides")
        self._field(sides, 0, 1, "First side", self.first_side_combo, "first_side")
        self._field(sides, 0, 2, "Trials per side", self.repetitions_edit, "repetitions")
        self.first_side_combo.setEnabled(d.get("sides", "none") in ("both", "alternating"))
        sides.setColumnStretch(3, 1)
        layout.addLayout(sides)

    def _sides_changed(self, sides: str) -> None:
        """Two-sided protocols need a final switch_side phase; one-sided ones must not have one: add or remove it."""
        self._data["sides"] = sides
        if sides == "none":
            self._data.pop("sides", None)
        phases = self._data.setdefault("phases", [])
        has_switch = any(isinstance(ph, dict) and ph.get("kind") == "switch_side" for ph in phases)
        if sides in ("both", "alternating") and not has_switch:
            phases.append({"kind": "switch_side", "duration": 15.0, "cue": "Other side"})
        elif sides not in ("both", "alternating"):
            self._data["phases"] = [ph for ph in phases if not (isinstance(ph, dict) and ph.get("kind") ==
                                                               "switch_side")]
            self._data.pop("first_side", None)
        self._after_form_edit(structural=True)

    # sensors
    def _build_sensors(self, layout: QVBoxLayout) -> None:
        self._section(layout, "Sensors", "sensors")
        self.sensor_rows: list[QWidget] = []
        sensors = self._data.get("sensors", [])
        for i, sensor in enumerate(sensors if isinstance(sensors, list) else []):
            if not isinstance(sensor, dict):
                continue
            card = QFrame()
            card.setObjectName("card")
            grid = QGridLayout(card)
            grid.setContentsMargins(12, 8, 12, 8)
            grid.setHorizontalSpacing(12)
            kind = self._choice(["sensors", i, "kind"], SENSOR_KINDS, SENSOR_LABELS, sensor.get("kind"),
                                name=f"sensors[{i}].kind")
            count = self._line(["sensors", i, "count"], sensor.get("count", 1), number=True,
                               name=f"sensors[{i}].count")
            placement = self._line(["sensors", i, "placement"], sensor.get("placement"), required=True,
                                   name=f"sensors[{i}].placement")
            self._field(grid, 0, 0, "Sensor", kind, f"sensors[{i}].kind")
            self._field(grid, 0, 1, "How many", count, f"sensors[{i}].count")
            self._field(grid, 0, 2, "Placement (where and how)", placement, f"sensors[{i}].placement")
            remove = QPushButton("Remove")
            remove.setObjectName(f"sensors[{i}].remove")
            remove.setEnabled(len(sensors) > 1)
            remove.clicked.connect(lambda _=False, i=i: self._remove_item("sensors", i))
            grid.addWidget(remove, 0, 3, Qt.AlignmentFlag.AlignBottom)
            row_error = _error_label()
            self._errors[f"sensors[{i}]"] = row_error
            grid.addWidget(row_error, grid.rowCount(), 0, 1, -1)
            grid.setColumnStretch(2, 1)
            self.sensor_rows.append(card)
            layout.addWidget(card)
        add = QPushButton("Add sensor")
        add.setObjectName("addSensor")
        add.clicked.connect(self._add_sensor)
        layout.addWidget(add, 0, Qt.AlignmentFlag.AlignLeft)

    def _add_sensor(self) -> None:
        self._data.setdefault("sensors", []).append({"kind": "plate", "placement": ""})
        self._after_form_edit(structural=True)

    def _remove_item(self, key: str, index: int) -> None:
        items = self._data.get(key, [])
        if isinstance(items, list) and 0 <= index < len(items):
            del items[index]
        self._after_form_edit(structural=True)

    # phases
    def _build_phases(self, layout: QVBoxLayout) -> None:
        self._section(layout, "Phases of one repetition, in order", "phases")
        self.phase_rows: list[QWidget] = []
        phases = self._data.get("phases", [])
        phases = phases if isinstance(phases, list) else []
        for i, phase in enumerate(phases):
            if isinstance(phase, dict):
                card = self._phase_card(i, phase, len(phases))
                self.phase_rows.append(card)
                layout.addWidget(card)
        add = QPushButton("Add phase")
        add.setObjectName("addPhase")
        add.clicked.connect(self._add_phase)
        layout.addWidget(add, 0, Qt.AlignmentFlag.AlignLeft)

    def _phase_card(self, i: int, phase: dict[str, Any], n: int) -> QFrame:
        card = QFrame()
        card.setObjectName("card")
        grid = QGridLayout(card)
        grid.setContentsMargins(12, 8, 12, 8)
        grid.setHorizontalSpacing(12)
        base: list[str | int] = ["phases", i]
        key = f"phases[{i}]"
        kind_value = str(phase.get("kind", ""))
        kind = self._choice([*base, "kind"], PHASE_KINDS, PHASE_LABELS, kind_value, structural=True,
                            name=f"{key}.kind")
        duration = self._line([*base, "duration"], phase.get("duration"), number=True, name=f"{key}.duration")
        cue = self._line([*base, "cue"], phase.get("cue"), name=f"{key}.cue")
        cue.setPlaceholderText("default cue of the kind")
        self._field(grid, 0, 0, f"Phase {i + 1}", kind, f"{key}.kind")
        self._field(grid, 0, 1, "Duration (s)", duration, f"{key}.duration")
        self._field(grid, 0, 2, "Cue shown", cue, f"{key}.cue", span=2)
        active = kind_value in RECORDED_KINDS
        if active or any(k in phase for k in ("repeat", "rest_between", "start", "target")):
            start = self._choice([*base, "start"], PHASE_STARTS, START_LABELS, phase.get("start", "cue"),
                                 name=f"{key}.start")
            repeat = self._line([*base, "repeat"], phase.get("repeat", 1), number=True, name=f"{key}.repeat")
            rest = self._line([*base, "rest_between"], phase.get("rest_between"), number=True,
                              name=f"{key}.rest_between")
            rest.setPlaceholderText("0")
            self._field(grid, 1, 0, "Starts", start, f"{key}.start")
            self._field(grid, 1, 1, "Repeats in one recording", repeat, f"{key}.repeat")
            self._field(grid, 1, 2, "Rest between repeats (s)", rest, f"{key}.rest_between")
            self._target_fields(grid, i, phase)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        for text, name, enabled, slot in (
            ("↑", "up", i > 0, lambda _=False, i=i: self._move_phase(i, -1)),
            ("↓", "down", i < n - 1, lambda _=False, i=i: self._move_phase(i, +1)),
            ("Remove", "remove", n > 1, lambda _=False, i=i: self._remove_item("phases", i)),
        ):
            button = QPushButton(text)
            button.setObjectName(f"{key}.{name}")
            button.setEnabled(enabled)
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        grid.addLayout(buttons, 0, 4, Qt.AlignmentFlag.AlignBottom)
        row_error = _error_label()
        self._errors[key] = row_error
        grid.addWidget(row_error, grid.rowCount(), 0, 1, -1)
        grid.setColumnStretch(3, 1)
        return card

    def _target_fields(self, grid: QGridLayout, i: int, phase: dict[str, Any]) -> None:
        key = f"phases[{i}].target"
        target = phase.get("target")
        target = target if isinstance(target, dict) else {}
        kind = str(target.get("kind", ""))
        box = self._choice(["phases", i, "target"], ("", *TARGET_KINDS), TARGET_LABELS, kind, name=f"{key}.kind",
                           on_change=functools.partial(self._target_kind_changed, i))
        unit = SIGNAL_UNITS.get(self._sensor_kind_of(str(target.get("sensor", ""))) or "", "")
        fields: dict[str, tuple[tuple[str, str], ...]] = {
            "absolute": (("value", f"Level ({unit})"), ("tolerance", f"± band ({unit})")),
            "percent_max": (("percent", "Level (% of maximum)"), ("tolerance", "± band (% points)")),
            "angle_range": (("low", "Lowest angle (deg)"), ("high", "Highest angle (deg)")),
            "cop_zone": (("radius", "Zone radius (m)"),),
        }
        self._field(grid, 2, 0, "Live target", box, key)
        for col, (name, label) in enumerate(fields.get(kind, ()), start=1):
            edit = self._line(["phases", i, "target", name], target.get(name), number=True, name=f"{key}.{name}")
            self._field(grid, 2, col, label, edit, f"{key}.{name}")

    def _target_kind_changed(self, i: int, kind: str) -> None:
        phase = self._data["phases"][i]
        old = phase.get("target") if isinstance(phase.get("target"), dict) else {}
        if not kind:
            phase.pop("target", None)
        else:
            target: dict[str, Any] = {"kind": kind}
            if old.get("sensor"):
                target["sensor"] = old["sensor"]
            phase["target"] = target
        self._after_form_edit(structural=True)

    def _add_phase(self) -> None:
        phases = self._data.setdefault("phases", [])
        at = next((j for j, ph in enumerate(phases) if isinstance(ph, dict) and ph.get("kind") == "switch_side"),
                  len(phases))
        phases.insert(at, {"kind": "rest", "duration": 10.0})
        self._after_form_edit(structural=True)

    def _move_phase(self, i: int, step: int) -> None:
        phases = self._data.get("phases", [])
        j = i + step
        if 0 <= i < len(phases) and 0 <= j < len(phases):
            phases[i], phases[j] = phases[j], phases[i]
        self._after_form_edit(structural=True)

    # scoring
    def _build_scoring(self, layout: QVBoxLayout) -> None:
        self._section(layout, "Scoring", "scoring")
        scoring = self._data.get("scoring")
        scoring = scoring if isinstance(scoring, dict) else {}
        scorers = scoring.get("scorers", [])
        scorers = scorers if isinstance(scorers, list) else []
        self.scorer_rows: list[QWidget] = []
        self.metric_boxes: dict[str, QCheckBox] = {}
        families = CATEGORY_FAMILIES.get(str(self._data.get("category", "")), tuple({s.family for s in
                                                                                    SCORERS.values()}))
        for i, use in enumerate(scorers):
            if isinstance(use, dict):
                card = self._scorer_card(i, use, families, len(scorers))
                self.scorer_rows.append(card)
                layout.addWidget(card)
        add = QPushButton("Add scorer")
        add.setObjectName("addScorer")
        add.clicked.connect(self._add_scorer)
        layout.addWidget(add, 0, Qt.AlignmentFlag.AlignLeft)

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        self.headline_combo = ChoiceBox((), metric_label)
        self.headline_combo.setObjectName("scoring.headline")
        self.headline_combo.currentIndexChanged.connect(
            lambda _i: self._set(["scoring", "headline"], self.headline_combo.value() or None))
        self._refresh_headline_choices()
        self.aggregate_combo = self._choice(["scoring", "aggregate"], AGGREGATES, AGGREGATE_LABELS,
                                            scoring.get("aggregate", "best"))
        self.better_combo = self._choice(["scoring", "better"], BETTER, BETTER_LABELS, scoring.get("better",
                                                                                                   "higher"))
        self.comparison_combo = self._choice(["scoring", "side_comparison"], SIDE_COMPARISONS, COMPARISON_LABELS,
                                             scoring.get("side_comparison", "auto"))
        self._field(grid, 0, 0, "Headline metric", self.headline_combo, "scoring.headline")
        self._field(grid, 0, 1, "Repetitions combine as", self.aggregate_combo, "scoring.aggregate")
        self._field(grid, 0, 2, "Direction", self.better_combo, "scoring.better")
        self._field(grid, 0, 3, "Left/right comparison", self.comparison_combo, "scoring.side_comparison")
        grid.setColumnStretch(4, 1)
        layout.addLayout(grid)

    def _scorer_card(self, i: int, use: dict[str, Any], families: Sequence[str], n: int) -> QFrame:
        card = QFrame()
        card.setObjectName("card")
        grid = QGridLayout(card)
        grid.setContentsMargins(12, 8, 12, 8)
        key = f"scoring.scorers[{i}]"
        name = str(use.get("name", ""))
        names = [s.name for s in SCORERS.values() if s.family in families]
        box = self._choice(["scoring", "scorers", i, "name"], names, scorer_label, name, name=f"{key}.name",
                           on_change=functools.partial(self._scorer_changed, i))
        self._field(grid, 0, 0, f"Scorer {i + 1}: computes", box, f"{key}.name", span=2)
        remove = QPushButton("Remove")
        remove.setObjectName(f"{key}.remove")
        remove.setEnabled(n > 1)
        remove.clicked.connect(lambda _=False, i=i: self._remove_scorer(i))
        grid.addWidget(remove, 0, 3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom)
        chosen = [str(m) for m in use.get("metrics", [])] if isinstance(use.get("metrics"), list) else []
        spec = SCORERS.get(name)
        available = list(spec.metrics) if spec is not None else []
        available += [m for m in chosen if m not in available]
        grid.addWidget(_label("Metrics kept"), 2, 0, 1, 4)
        columns = 3
        for j, metric in enumerate(available):
            check = QCheckBox(metric_label(metric))
            check.setObjectName(f"{key}.metric.{metric}")
            check.setToolTip(metric)
            check.setChecked(metric in chosen)
            check.toggled.connect(lambda on, i=i, metric=metric: self._metric_toggled(i, metric, on))
            self.metric_boxes[f"{i}:{metric}"] = check
            grid.addWidget(check, 3 + j // columns, j % columns)
        row_error = _error_label()
        self._errors[key] = row_error
        grid.addWidget(row_error, grid.rowCount(), 0, 1, -1)
        for col in range(columns):
            grid.setColumnStretch(col, 1)
        return card

    def _scorers(self) -> list[dict[str, Any]]:
        scoring = self._data.setdefault("scoring", {})
        scorers: list[dict[str, Any]] = scoring.setdefault("scorers", [])
        return scorers

    def _scorer_changed(self, i: int, name: str) -> None:
        spec = SCORERS[name]
        used = {m for j, s in enumerate(self._scorers()) if j != i for m in s.get("metrics", [])}
        first = next((m for m in spec.metrics if m not in used), spec.metrics[0])
        self._scorers()[i] = {"name": name, "metrics": [first]}
        self._fix_headline()
        self._after_form_edit(structural=True)

    def _metric_toggled(self, i: int, metric: str, on: bool) -> None:
        if self._loading:
            return
        use = self._scorers()[i]
        metrics = [m for m in use.get("metrics", []) if m != metric]
        if on:
            spec = SCORERS.get(str(use.get("name")))
            order = list(spec.metrics) if spec is not None else []
            metrics.append(metric)
            metrics.sort(key=lambda m: order.index(m) if m in order else len(order))
        use["metrics"] = metrics
        self._fix_headline()
        self._refresh_headline_choices()
        self._after_form_edit(structural=False)

    def _all_metrics(self) -> list[str]:
        return [str(m) for s in self._scorers() if isinstance(s, dict) for m in s.get("metrics", [])]

    def _fix_headline(self) -> None:
        """A headline no longer computed moves to the first metric kept (the form never shows a dangling one)."""
        metrics = self._all_metrics()
        scoring = self._data.setdefault("scoring", {})
        if metrics and scoring.get("headline") not in metrics:
            scoring["headline"] = metrics[0]

    def _refresh_headline_choices(self) -> None:
        scoring = self._data.get("scoring", {})
        headline = str(scoring.get("headline", "")) if isinstance(scoring, dict) else ""
        box = self.headline_combo
        was_loading, self._loading = self._loading, True
        box.clear()
        for metric in self._all_metrics():
            box.addItem(metric_label(metric), metric)
        box.set_value(headline, metric_label)
        self._loading = was_loading

    def _add_scorer(self) -> None:
        families = CATEGORY_FAMILIES.get(str(self._data.get("category", "")), ())
        used = {str(s.get("name")) for s in self._scorers()}
        spec = next((s for s in SCORERS.values() if s.family in families and s.name not in used),
                    next(iter(SCORERS.values())))
        self._scorers().append({"name": spec.name, "metrics": [spec.metrics[0]]})
        self._fix_headline()
        self._after_form_edit(structural=True)

    def _remove_scorer(self, i: int) -> None:
        scorers = self._scorers()
        if 0 <= i < len(scorers):
            del scorers[i]
        self._fix_headline()
        self._after_form_edit(structural=True)

    # -- theme --------------------------------------------------------------------------------------------------
    def apply_palette(self, palette: Palette) -> None:
        """Restyle for ``palette`` (called by the main window on a theme change)."""
        self.palette_ = palette
        self.setStyleSheet(editor_stylesheet(palette, current_metrics()))


def format_duration(seconds: float) -> str:
    """``130`` → ``"2 min 10 s"``, ``45`` → ``"45 s"``, ``3725`` → ``"1 h 2 min"`` (no-break spaces inside, so a
    duration never wraps between a number and its unit)."""
    total = round(seconds)
    if total < 60:
        text = f"{total} s"
    else:
        minutes, secs = divmod(total, 60)
        if minutes < 60:
            text = f"{minutes} min {secs} s" if secs else f"{minutes} min"
        else:
            hours, minutes = divmod(minutes, 60)
            text = f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return text.replace(" ", "\u00a0")
