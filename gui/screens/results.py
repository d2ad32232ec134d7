"""The Results screen: what a session measured, per trial and per side, and saving and exporting it.

Top, the headline per side (the protocol's aggregate of its headline metric over the counted trials, with the best,
the number of trials and their coefficient of variation), the left/right comparison with its symmetry value (LSI or
the protocol's method; the involved side named) drawn as two bars, and the session's flags in plain words
(inconsistent effort, a quiet phase that was not quiet, a sensor lost...). Below, every trial with its headline,
status and flags; the selected trial's curves are read from its trial file (off the GUI thread) and drawn with its
recorded phases shaded.

Save stores the session (trial files in place, every result row, the protocol as run) with
:meth:`clinic.store.ClinicStore.save_session` on the store's worker thread; Export writes the HDF5 bundle or the CSV
folder (:func:`clinic.exports.export_session`) to the path typed in the field — no dialog, the outcome is written
under the buttons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import NDArray
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.store import ClinicStore
from gui.screens.run import RunRecord, flag_text, format_metric, side_label
from gui.theme import Palette, current_metrics, current_palette
from gui.widgets._pg import brush, pen, set_fixed_ticks, style_plot
from gui.workers import TaskRunner
from kinetics.trial import Trial
from protocols.schema import Protocol
from protocols.session import SessionResult, TrialResult

FloatArray = NDArray[np.float64]
#: Trial statuses in plain words.
STATUS_TEXT = {"accepted": "Accepted", "rejected": "Rejected", "discarded": "Discarded", "redone": "Redone",
               "aborted": "Not finished"}
#: Fill alpha (of 255) of a recorded phase's shading on the curves.
PHASE_ALPHA = 0x30


@dataclass(frozen=True)
class Curve:
    """One signal of a trial for display: label, unit, session times (s), values (display units), and whether
    each sample joins the next (False across a gap in the recording)."""

    label: str
    unit: str
    t: FloatArray
    y: FloatArray
    connect: NDArray[np.bool_]


def trial_curves(trial: Trial, protocol: Protocol) -> list[Curve]:
    """The curves of ``trial`` worth showing for ``protocol``: force (N) or pressure (kPa) of a dynamometer, the
    total vertical force (N) on the plates, a goniometer's tilt from vertical (deg); gaps are not bridged."""
    from gui.live_view import tilt_deriver

    out: list[Curve] = []
    plates = [r for r in protocol.sensor_roles if r in trial.devices and trial.devices[r].info.kind == "plate"]
    for role in protocol.sensor_roles:
        if role not in trial.devices:
            continue
        rec = trial.devices[role]
        if rec.n_samples < 2:
            continue
        names = rec.info.channel_names
        values = rec.values.astype(np.float64)
        kind = rec.info.kind
        if kind == "plate":
            if role != plates[0]:
                continue
            total = np.zeros(0)
            times = rec.time
            for plate in plates:
                other = trial.devices[plate]
                cells = [i for i, n in enumerate(other.info.channel_names) if n.startswith("cell_") or n == "fz"]
                fz = other.values.astype(np.float64)[cells].sum(axis=0)
                total = fz if total.size == 0 else total + np.interp(times, other.time, fz)
            label, unit, y = ("total vertical force" if len(plates) > 1 else f"vertical force · {role}"), "N", total
        elif kind == "goniometer":
            if all(c in names for c in ("acc_x", "acc_y", "acc_z")):
                y = tilt_deriver([names.index(c) for c in ("acc_x", "acc_y", "acc_z")])(values)
                label, unit = f"tilt · {role}", "°"
            elif "angle_x" in names:
                y, label, unit = values[names.index("angle_x")], f"angle · {role}", "°"
            else:
                continue
        else:
            unit = rec.info.channels[0].unit
            y = values[0] / 1000.0 if unit == "Pa" else values[0]
            label, unit = (f"pressure · {role}", "kPa") if unit == "Pa" else (f"force · {role}", unit)
        connect = np.ones(rec.n_samples, dtype=bool)
        connect[:-1] = np.diff(rec.counter) == 1
        good = np.isfinite(y)
        out.append(Curve(label, unit, rec.time[good], y[good], connect[good]))
    return out


def session_flags(result: SessionResult) -> dict[str, list[int]]:
    """Flag → the trial numbers (1-based slots) carrying it, over the trials that were not redone."""
    out: dict[str, list[int]] = {}
    for t in result.trials:
        if t.status == "redone":
            continue
        for f in t.flags:
            out.setdefault(f, [])
            if t.index + 1 not in out[f]:
                out[f].append(t.index + 1)
    return out


def default_export_path(data_dir: Path | None, record: RunRecord) -> Path:
    """``<data dir>/exports/<patient>_<protocol>_<YYYYmmdd-HHMM>.h5`` (home folder without a data directory)."""
    base = (data_dir if data_dir is not None else Path.home()) / "exports"
    stamp = record.started.astimezone().strftime("%Y%m%d-%H%M")
    return base / f"{record.patient_id}_{record.protocol.id}_{stamp}.h5"


class SideComparison(QWidget):
    """Left and right headline values as two horizontal bars (side colours) on one scale, with their values."""

    def __init__(self, palette: Palette | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.palette_ = palette or current_palette()
        self.values: dict[str, float] = {}
        self.texts: dict[str, str] = {}
        self.setMinimumHeight(current_metrics().touch * 2)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(360, current_metrics().touch * 2)

    def apply_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        self.update()

    def set_values(self, values: dict[str, float], texts: dict[str, str]) -> None:
        """``values``: side → headline (SI); ``texts``: side → the value as shown."""
        self.values = {k: v for k, v in values.items() if math.isfinite(v)}
        self.texts = dict(texts)
        self.update()

    def _font(self) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(max(12, int(self.height() / 2 * 0.45)))
        font.setBold(True)
        return font

    def _label_width(self) -> float:
        metrics = QFontMetricsF(self._font())
        return max(self.width() * 0.12, max(metrics.horizontalAdvance(side_label(s)) for s in ("left", "right")) + 12)

    def bar_rects(self) -> dict[str, QRectF]:
        """The drawn bars by side (widget coordinates), for tests."""
        top = max(self.values.values(), default=0.0)
        label_w = self._label_width()
        text_w = self.width() * 0.24
        full = max(1.0, self.width() - label_w - text_w - 8)
        h = self.height() / 2
        out = {}
        for i, side in enumerate(("left", "right")):
            if side in self.values and top > 0:
                out[side] = QRectF(label_w, i * h + h * 0.18, full * max(0.0, self.values[side]) / top, h * 0.64)
        return out

    def paintEvent(self, event: QPaintEvent) -> None:
        p = self.palette_
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor(p.surface))
            h = self.height() / 2
            font = self._font()
            painter.setFont(font)
            rects = self.bar_rects()
            label_w = self._label_width()
            for i, (side, colour) in enumerate((("left", p.left), ("right", p.right))):
                row = QRectF(0, i * h, label_w - 6, h)
                painter.setPen(QColor(p.muted))
                painter.drawText(row, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, side_label(side))
                rect = rects.get(side)
                if rect is None:
                    continue
                painter.fillRect(rect, QColor(colour))
                painter.setPen(QColor(p.text))
                text_rect = QRectF(rect.right() + 8, i * h, self.width() - rect.right() - 8, h)
                text = self.texts.get(side, "")
                if QFontMetricsF(font).horizontalAdvance(text) > text_rect.width():
                    text_rect = QRectF(rect.left() + 6, i * h, rect.width(), h)
                    painter.setPen(QColor(p.on_accent))
                painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        finally:
            painter.end()


class ResultsScreen(QWidget):
    """The Results page; see the module docstring.

    Parameters
    ----------
    data_dir : Path, optional
        The clinic data directory (default place of exports).

    Signals
    -------
    saved(str, str) : patient id and session id, once the store has the session
    exported(list) : the paths written by an export
    progress_requested(str) : "Show progress" was tapped; the patient id
    curves_shown(str) : the trial id whose curves are drawn
    """

    saved = Signal(str, str)
    exported = Signal(list)
    progress_requested = Signal(str)
    curves_shown = Signal(str)

    def __init__(self, data_dir: Path | None = None, *, palette: Palette | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.data_dir = data_dir
        self.palette_ = palette or current_palette()
        self.record: RunRecord | None = None
        self.store: ClinicStore | None = None
        self.store_runner: TaskRunner | None = None
        self.files = TaskRunner(self)  # trial files are read here, never on the GUI thread
        self.saved_id: str | None = None
        self.curves: list[Curve] = []
        self._curve_request = 0
        self._curve_items: list[Any] = []
        self._spans: list[tuple[float, float]] = []
        m = current_metrics()

        self.title = QLabel("Results")
        self.title.setObjectName("cardTitle")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)
        self.progress_button = QPushButton("Show progress")
        self.progress_button.setObjectName("progressButton")
        self.progress_button.clicked.connect(self._progress)
        header = QHBoxLayout()
        who = QVBoxLayout()
        who.setSpacing(0)
        who.addWidget(self.title)
        who.addWidget(self.subtitle)
        header.addLayout(who, 1)
        header.addWidget(self.progress_button)

        # summary: headline per side, comparison, flags
        self.headlines = QLabel()
        self.headlines.setObjectName("headlines")
        self.headlines.setWordWrap(True)
        self.headlines.setTextFormat(Qt.TextFormat.RichText)
        self.comparison = SideComparison(self.palette_)
        self.symmetry_label = QLabel()
        self.symmetry_label.setObjectName("symmetry")
        self.symmetry_label.setWordWrap(True)
        self.flags_label = QLabel()
        self.flags_label.setObjectName("flags")
        self.flags_label.setWordWrap(True)
        summary = QFrame()
        summary.setObjectName("card")
        sl = QVBoxLayout(summary)
        sl.setContentsMargins(12, 8, 12, 10)
        head = QLabel("Session")
        head.setObjectName("cardTitle")
        sl.addWidget(head)
        sl.addWidget(self.headlines)
        sl.addWidget(self.comparison)
        sl.addWidget(self.symmetry_label)
        sl.addWidget(self.flags_label)
        sl.addStretch(1)

        # trials and the selected trial's curves
        self.trials = QTreeWidget()
        self.trials.setHeaderLabels(["Trial", "Side", "Result", "Status"])
        self.trials.setRootIsDecorated(False)
        self.trials.setUniformRowHeights(True)
        hdr = self.trials.header()
        for col in range(4):
            hdr.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.trials.currentItemChanged.connect(self._trial_selected)
        self.trial_notes = QLabel()
        self.trial_notes.setObjectName("muted")
        self.trial_notes.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(160)
        self.plot_title = QLabel()
        self.plot_title.setObjectName("muted")
        trials_card = QFrame()
        trials_card.setObjectName("card")
        tl = QVBoxLayout(trials_card)
        tl.setContentsMargins(12, 8, 12, 10)
        th = QLabel("Trials")
        th.setObjectName("cardTitle")
        tl.addWidget(th)
        tl.addWidget(self.trials, 1)
        tl.addWidget(self.plot_title)
        tl.addWidget(self.plot, 1)
        tl.addWidget(self.trial_notes)

        # save and export
        self.save_button = QPushButton("Save session")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.save)
        self.save_status = QLabel()
        self.save_status.setObjectName("saveStatus")
        self.save_status.setWordWrap(True)
        self.export_path = QLineEdit()
        self.export_path.setObjectName("exportPath")
        self.export_path.setMinimumHeight(m.touch)
        self.export_path.setPlaceholderText("Where to write the export (a .h5 file, or a new folder for CSV)")
        self.export_hdf5_button = QPushButton("Export HDF5")
        self.export_hdf5_button.clicked.connect(lambda: self.export("hdf5"))
        self.export_csv_button = QPushButton("Export CSV")
        self.export_csv_button.clicked.connect(lambda: self.export("csv"))
        self.export_status = QLabel()
        self.export_status.setObjectName("exportStatus")
        self.export_status.setWordWrap(True)
        self.export_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions = QFrame()
        actions.setObjectName("card")
        al = QGridLayout(actions)
        al.setContentsMargins(12, 8, 12, 10)
        al.addWidget(self.save_button, 0, 0)
        al.addWidget(self.save_status, 0, 1, 1, 3)
        al.addWidget(self.export_path, 1, 0, 1, 2)
        al.addWidget(self.export_hdf5_button, 1, 2)
        al.addWidget(self.export_csv_button, 1, 3)
        al.addWidget(self.export_status, 2, 0, 1, 4)
        al.setColumnStretch(1, 1)

        self.empty = QLabel("No results yet. Run a session: its scores appear here.")
        self.empty.setObjectName("emptyState")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.content = QWidget()
        body = QHBoxLayout()
        body.setSpacing(12)
        body.addWidget(summary, 5)
        body.addWidget(trials_card, 6)
        cl = QVBoxLayout(self.content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(10)
        cl.addLayout(header)
        cl.addLayout(body, 1)
        cl.addWidget(actions)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 16)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.content, 1)
        self.content.setVisible(False)
        self.apply_palette(self.palette_)
        self._refresh_buttons()

    # -- appearance -------------------------------------------------------------------------------------------------
    def apply_palette(self, palette: Palette) -> None:
        """Restyle for ``palette`` (theme switch) and redraw the selected trial's curves."""
        self.palette_ = palette
        m = current_metrics()
        p = palette
        pad = max(6, m.touch // 5)
        self.setStyleSheet(f"""
QLineEdit {{ padding: 0 {pad}px; border: 1px solid {p.border}; border-radius: {pad}px; background: {p.surface}; }}
QTreeWidget {{ background: {p.surface}; border: 1px solid {p.border}; border-radius: {pad}px; }}
QTreeWidget::item {{ min-height: {m.touch}px; }}
QTreeWidget::item:selected {{ background: {p.accent}; color: {p.on_accent}; }}
#headlines {{ font-size: {m.title_px}px; }}
#symmetry {{ font-size: {m.title_px}px; font-weight: 600; }}
""")
        style_plot(self.plot, palette)
        self.comparison.apply_palette(palette)
        self._draw_curves()

    # -- the store --------------------------------------------------------------------------------------------------
    def set_store(self, store: ClinicStore, runner: TaskRunner | None = None) -> None:
        """Use ``store`` for Save and Export; its calls run on ``runner`` (the Patients screen's, so the store is
        never used from two threads)."""
        self.store = store
        self.store_runner = runner or self.store_runner or TaskRunner(self)
        self._refresh_buttons()

    # -- showing a session ------------------------------------------------------------------------------------------
    def show_result(self, record: RunRecord) -> None:
        """Show the session ``record`` (not saved yet)."""
        self.record = record
        self.saved_id = None
        result = record.result
        protocol = record.protocol
        self.title.setText(f"Results · {protocol.name}")
        when = record.started.astimezone().strftime("%Y-%m-%d %H:%M")
        state = "complete" if result.completed and not record.error else "ended early"
        self.subtitle.setText(" · ".join(x for x in (record.patient_id, when, state, record.notes) if x))
        self._fill_summary(result)
        self._fill_trials(result)
        self.save_status.setText("Not saved yet.")
        self.export_status.setText("")
        self.export_path.setText(str(default_export_path(self.data_dir, record)))
        self.empty.setVisible(False)
        self.content.setVisible(True)
        self._refresh_buttons()

    def _fill_summary(self, result: SessionResult) -> None:
        protocol = result.protocol
        head = protocol.scoring.headline
        units = result.units()
        unit = units.get(head, "")
        aggregate = protocol.scoring.aggregate
        lines = []
        values: dict[str, float] = {}
        texts: dict[str, str] = {}
        for s in result.summaries():
            where = side_label(s.side) or "Result"
            if s.condition != "default":
                where += f" · {s.condition.replace('_', ' ')}"
            cv = s.cv.get(head, math.nan)
            extra = [f"best {format_metric(s.best.get(head, math.nan), unit)}",
                     f"{s.n_trials} trial{'s' if s.n_trials != 1 else ''}"]
            if math.isfinite(cv):
                extra.append(f"CV {cv:.1f} %")
            lines.append(f"<b>{where}</b>: {head.replace('_', ' ')} ({aggregate}) "
                         f"<b>{format_metric(s.headline, unit)}</b> · {' · '.join(extra)}")
            if s.side in ("left", "right") and s.condition == result.summaries()[0].condition:
                values[s.side] = s.headline
                texts[s.side] = format_metric(s.headline, unit)
        self.headlines.setText("<br>".join(lines) if lines else "No trial counts: every trial was rejected, "
                               "discarded or not finished.")
        self.comparison.set_values(values, texts)
        self.comparison.setVisible(len(values) == 2)
        sym = result.symmetry()
        parts = []
        for cond, entry in sym.items():
            name = {"lsi": "Limb symmetry index", "symmetry_index": "Symmetry index",
                    "bishop_asymmetry": "Asymmetry"}.get(entry["method"], entry["method"])
            text = f"{name}: {entry['value']:.1f} %"
            if entry.get("involved"):
                text += f" (involved side: {entry['involved']})"
            if cond != "default":
                text = f"{cond.replace('_', ' ')} — {text}"
            parts.append(text)
        self.symmetry_label.setText("\n".join(parts))
        self.symmetry_label.setVisible(bool(parts))
        flags = session_flags(result)
        if flags:
            rows = [f"⚠ {flag_text(f)} (trial{'s' if len(ts) > 1 else ''} {', '.join(map(str, ts))})"
                    for f, ts in flags.items()]
            self.flags_label.setText("\n".join(rows))
            self.flags_label.setStyleSheet(f"color: {self.palette_.on_banner}; background: {self.palette_.banner};"
                                           " padding: 6px; border-radius: 6px;")
        else:
            self.flags_label.setText("No flags: every counted trial passed the protocol's checks.")
            self.flags_label.setStyleSheet(f"color: {self.palette_.muted};")

    def _fill_trials(self, result: SessionResult) -> None:
        self.trials.blockSignals(True)
        self.trials.clear()
        size = QSize(0, current_metrics().touch)
        protocol = result.protocol
        head = protocol.scoring.headline
        first: QTreeWidgetItem | None = None
        for i, t in enumerate(result.trials):
            name = f"{t.index + 1}" + (f" (attempt {t.attempt})" if t.attempt > 1 else "")
            value = format_metric(t.values.get(head, math.nan), t.units.get(head, ""))
            flags = f" ⚠ {', '.join(f.replace('_', ' ') for f in t.flags)}" if t.flags else ""
            item = QTreeWidgetItem([name, side_label(t.side) or "—", f"{value}{flags}",
                                    STATUS_TEXT.get(t.status, t.status)])
            item.setData(0, Qt.ItemDataRole.UserRole, i)
            item.setSizeHint(0, size)
            self.trials.addTopLevelItem(item)
            if first is None and t.path is not None:
                first = item
        self.trials.blockSignals(False)
        if first is not None:
            self.trials.setCurrentItem(first)
        else:
            self.curves = []
            self._draw_curves()

    def trial_rows(self) -> list[list[str]]:
        """The trial table as text (for tests and accessibility)."""
        rows = []
        for i in range(self.trials.topLevelItemCount()):
            item = self.trials.topLevelItem(i)
            if item is not None:
                rows.append([item.text(c) for c in range(self.trials.columnCount())])
        return rows

    # -- curves -----------------------------------------------------------------------------------------------------
    def _trial_selected(self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None = None) -> None:
        if item is None or self.record is None:
            return
        trial = self.record.result.trials[int(item.data(0, Qt.ItemDataRole.UserRole))]
        self.show_trial(trial)

    def show_trial(self, trial: TrialResult) -> None:
        """Read ``trial``'s file on a worker thread and draw its curves."""
        record = self.record
        if record is None or trial.path is None:
            return
        self._curve_request += 1
        request = self._curve_request
        path = trial.path
        protocol = record.protocol
        notes = "; ".join(trial.notes)
        self.trial_notes.setText(notes)
        self.plot_title.setText(f"Trial {trial.index + 1} · reading {path.name}…")

        def load() -> tuple[Trial, list[Curve]]:
            from kinetics.io import read_trial

            data = read_trial(path)
            return data, trial_curves(data, protocol)

        def done(value: tuple[Trial, list[Curve]]) -> None:
            if request != self._curve_request:
                return
            data, curves = value
            self.curves = curves
            self._spans = _spans(data)
            side = side_label(trial.side)
            self.plot_title.setText(f"Trial {trial.index + 1}" + (f" · {side}" if side else "")
                                    + f" · {', '.join(c.label for c in curves)}")
            self._draw_curves()
            self.curves_shown.emit(data.meta.trial_id)

        def failed(err: BaseException) -> None:
            if request == self._curve_request:
                self.plot_title.setText(f"Cannot read {path.name}: {err}")

        self.files.submit(load, on_done=done, on_error=failed)

    def _draw_curves(self) -> None:
        item = self.plot.getPlotItem()
        for graphic in self._curve_items:
            item.removeItem(graphic)
        self._curve_items = []
        if not self.curves:
            return
        p = self.palette_
        t0 = min(float(c.t[0]) for c in self.curves if c.t.size)
        t1 = max(float(c.t[-1]) for c in self.curves if c.t.size)
        lo = min(float(c.y.min()) for c in self.curves if c.y.size)
        hi = max(float(c.y.max()) for c in self.curves if c.y.size)
        if not hi > lo:
            hi = lo + 1.0
        pad = 0.08 * (hi - lo)
        for span in self._spans:
            region = pg.LinearRegionItem((span[0] - t0, span[1] - t0), movable=False,
                                         brush=brush(f"#{PHASE_ALPHA:02x}{p.accent.lstrip('#')}"))
            for line in region.lines:
                line.setPen(pen(p.border))
            region.setZValue(-10)
            item.addItem(region)
            self._curve_items.append(region)
        for i, c in enumerate(self.curves):
            curve = pg.PlotCurveItem(c.t - t0, c.y, pen=pen(p.curve(i)), antialias=False, connect=c.connect)
            item.addItem(curve)
            self._curve_items.append(curve)
        self.plot.setXRange(0.0, max(t1 - t0, 1e-3), padding=0.0)
        self.plot.setYRange(lo - pad, hi + pad, padding=0.0)
        set_fixed_ticks(self.plot, "bottom", 0.0, max(t1 - t0, 1e-3))
        set_fixed_ticks(self.plot, "left", lo - pad, hi + pad, target=4)
        units = sorted({c.unit for c in self.curves})
        item.getAxis("left").setLabel(", ".join(units))
        item.getAxis("bottom").setLabel("time (s)")

    def drawn_curves(self) -> int:
        """Number of curves drawn for the selected trial."""
        return sum(isinstance(g, pg.PlotCurveItem) for g in self._curve_items)

    # -- save and export --------------------------------------------------------------------------------------------
    def _refresh_buttons(self) -> None:
        has = self.record is not None
        busy = self.store_runner is not None and self.store_runner.busy
        self.save_button.setEnabled(has and self.saved_id is None and not busy)
        self.save_button.setText("Saved" if self.saved_id else "Save session")
        can_export = has and self.saved_id is not None and not busy
        for b in (self.export_hdf5_button, self.export_csv_button, self.export_path):
            b.setEnabled(can_export)
        self.progress_button.setEnabled(has and self.saved_id is not None)

    def save(self) -> None:
        """Store the session on the store's worker thread (Save)."""
        record = self.record
        if record is None or self.saved_id is not None:
            return
        if self.store is None or self.store_runner is None:
            self.save_status.setText("The clinic records are locked: unlock them on the Patients page, then Save.")
            return
        store = self.store
        files = record.trial_files()
        rows = record.result.result_rows()

        def work() -> str:
            return store.save_session(record.patient_id, record.protocol, files, rows, started=record.started,
                                      ended=record.ended, notes=record.notes, session_id=record.session_id,
                                      completed=bool(record.result.completed) and not record.error)

        self.save_status.setText("Saving…")
        self.store_runner.submit(work, on_done=self._saved, on_error=self._save_failed)
        self._refresh_buttons()

    def _saved(self, session_id: str) -> None:
        self.saved_id = session_id
        assert self.record is not None
        n = len(self.record.trial_files())
        self.save_status.setText(f"Saved: session {session_id} with {n} trial file{'s' if n != 1 else ''}.")
        self._refresh_buttons()
        self.saved.emit(self.record.patient_id, session_id)

    def _save_failed(self, err: BaseException) -> None:
        self.save_status.setText(f"Could not save: {err}. The trial files are kept in "
                                 f"{self.record.out_dir if self.record else 'the session folder'}.")
        self._refresh_buttons()

    def export(self, fmt: str) -> None:
        """Export the saved session as ``hdf5`` (the file in the path field) or ``csv`` (a new folder next to it,
        or the folder typed)."""
        if self.saved_id is None or self.store is None or self.store_runner is None:
            self.export_status.setText("Save the session first.")
            return
        text = self.export_path.text().strip()
        if not text:
            self.export_status.setText("Type where to write the export.")
            return
        path = Path(text).expanduser()
        if fmt == "hdf5" and path.suffix.lower() not in (".h5", ".hdf5"):
            path = path.with_suffix(".h5")
        if fmt == "csv" and path.suffix:
            path = path.with_name(path.stem + "-csv")
        store, sid = self.store, self.saved_id

        def work() -> list[Path]:
            from clinic.exports import export_session

            path.parent.mkdir(parents=True, exist_ok=True)
            return export_session(store, sid, path, fmt)

        self.export_status.setText(f"Exporting to {path}…")
        self.store_runner.submit(work, on_done=lambda paths: self._exported(fmt, path, paths),
                                 on_error=self._export_failed)
        self._refresh_buttons()

    def _exported(self, fmt: str, path: Path, paths: Sequence[Path]) -> None:
        what = "HDF5 bundle" if fmt == "hdf5" else f"{len(paths)} CSV files in"
        self.export_status.setText(f"Exported the {what} {path}")
        self._refresh_buttons()
        self.exported.emit(list(paths))

    def _export_failed(self, err: BaseException) -> None:
        self.export_status.setText(f"Could not export: {err}")
        self._refresh_buttons()

    def _progress(self) -> None:
        if self.record is not None:
            self.progress_requested.emit(self.record.patient_id)


def _spans(trial: Trial) -> list[tuple[float, float]]:
    from protocols.scoring import phase_spans

    return [(s.start, s.end) for s in phase_spans(trial)]


__all__ = ["Curve", "ResultsScreen", "SideComparison", "default_export_path", "session_flags", "trial_curves"]
