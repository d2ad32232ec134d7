"""The Patients screen: unlock the clinic records, search, add, edit and open patients.

The encrypted store is opened on the worker thread (the key derivation takes ≈0.2 s) with the key from
``$KINETICS_DB_KEY``; without it the screen asks for the passphrase in a field on the page (twice for a new
database) — never a blocking dialog. Every store call runs on the worker thread (:mod:`gui.workers`); the list
is filtered in memory as the clinician types (by name or pseudonymous id). Add and Edit use an inline form whose
messages appear under the fields. Opening a patient shows :class:`~gui.screens.patient_page.PatientPage`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.store import ClinicStore, PatientInfo
from gui.screens.patient_page import PatientPage, local_date, screen_stylesheet, touch_row
from gui.theme import Palette, current_metrics, current_palette
from gui.workers import TaskRunner

ENV_KEY = "KINETICS_DB_KEY"  # the same variable clinic.db reads
SEX_CHOICES = (("", "Not recorded"), ("female", "Female"), ("male", "Male"), ("other", "Other"))
SIDE_CHOICES = (("none", "None"), ("left", "Left"), ("right", "Right"))
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Earliest birth year accepted by the form (an older year is almost surely a typing slip).
EARLIEST_BIRTH_YEAR = 1900


# -- pure helpers -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientForm:
    """The values of the add/edit form, checked (``birth_date`` None when left empty)."""

    name: str
    birth_date: date | None
    sex: str
    involved_side: str


def validate_patient_form(name: str, birth_date: str, sex: str, involved_side: str, *,
                          today: date | None = None) -> tuple[PatientForm | None, dict[str, str]]:
    """Check the form as the store will (name given and ≤ 200 characters; birth date ``YYYY-MM-DD``, not in the
    future, from 1900; sex and side from the lists). Returns the values, or None and a message per field."""
    errors: dict[str, str] = {}
    clean = name.strip()
    if not clean:
        errors["name"] = "Type the patient's name."
    elif len(clean) > 200:
        errors["name"] = "The name is over 200 characters; shorten it."
    born: date | None = None
    text = birth_date.strip()
    if text:
        try:
            if not _ISO_DATE.match(text):
                raise ValueError
            born = date.fromisoformat(text)
        except ValueError:
            errors["birth_date"] = "Write the birth date as YYYY-MM-DD, e.g. 1962-04-30."
        else:
            if born > (today or date.today()):
                errors["birth_date"] = "The birth date is in the future; check the year."
            elif born.year < EARLIEST_BIRTH_YEAR:
                errors["birth_date"] = f"The birth date is before {EARLIEST_BIRTH_YEAR}; check the year."
    if sex not in {k for k, _ in SEX_CHOICES}:
        errors["sex"] = "Choose female, male, other or not recorded."
    if involved_side not in {k for k, _ in SIDE_CHOICES}:
        errors["involved_side"] = "Choose none, left or right."
    if errors:
        return None, errors
    return PatientForm(clean, born, sex, involved_side), {}


def patient_matches(info: PatientInfo, query: str) -> bool:
    """Whether ``info`` fits the search text: every word appears (case-insensitive) in the name or the id
    (``7f3a`` finds ``P-7F3A2C``; ``ada love`` finds ``Ada Lovelace``)."""
    haystack = f"{info.name or ''} {info.id}".casefold()
    return all(word in haystack for word in query.casefold().split())


def last_session_text(info: PatientInfo) -> str:
    return local_date(info.last_session)


# -- the inline form --------------------------------------------------------------------------------------------
class PatientFormPanel(QFrame):
    """Add or edit a patient in place: fields, a message under each wrong field, Save and Cancel.

    Signals
    -------
    submitted(object) : a :class:`PatientForm` that passed validation (the screen stores it)
    cancelled()
    """

    submitted = Signal(object)
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.patient_id: str | None = None  # None: adding a new patient
        self.title = QLabel("New patient")
        self.title.setObjectName("cardTitle")
        self.name = QLineEdit()
        self.name.setPlaceholderText("Full name")
        self.name.setMaxLength(240)
        self.birth_date = QLineEdit()
        self.birth_date.setPlaceholderText("YYYY-MM-DD (optional)")
        self.birth_date.setInputMethodHints(Qt.InputMethodHint.ImhDate | Qt.InputMethodHint.ImhPreferNumbers)
        self.sex = QComboBox()
        for value, label in SEX_CHOICES:
            self.sex.addItem(label, value)
        self.side = QComboBox()
        for value, label in SIDE_CHOICES:
            self.side.addItem(label, value)
        self.errors: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        fields: list[tuple[str, str, QWidget]] = [
            ("name", "Name", self.name),
            ("birth_date", "Birth date", self.birth_date),
            ("sex", "Sex", self.sex),
            ("involved_side", "Involved side", self.side),
        ]
        for i, (key, label, widget) in enumerate(fields):
            row, col = divmod(i, 2)
            caption = QLabel(label)
            caption.setObjectName("muted")
            error = QLabel()
            error.setObjectName("fieldError")
            error.setWordWrap(True)
            error.setVisible(False)
            self.errors[key] = error
            grid.addWidget(caption, row * 3, col)
            grid.addWidget(widget, row * 3 + 1, col)
            grid.addWidget(error, row * 3 + 2, col)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        self.form_error = QLabel()
        self.form_error.setObjectName("fieldError")
        self.form_error.setWordWrap(True)
        self.form_error.setVisible(False)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(self.submit)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelled.emit)
        self.name.returnPressed.connect(self.submit)
        self.birth_date.returnPressed.connect(self.submit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.form_error, 1)
        buttons.addStretch(0)  # keeps the buttons at their size while no message shows
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 12)
        layout.addWidget(self.title)
        layout.addLayout(grid)
        layout.addLayout(buttons)

    def start_add(self) -> None:
        """Empty form for a new patient."""
        self.patient_id = None
        self.title.setText("New patient")
        self.name.clear()
        self.birth_date.clear()
        self.sex.setCurrentIndex(0)
        self.side.setCurrentIndex(0)
        self.clear_errors()
        self.name.setFocus()

    def start_edit(self, info: PatientInfo) -> None:
        """The form filled with ``info`` (identified) for corrections."""
        self.patient_id = info.id
        self.title.setText(f"Edit patient {info.id}")
        self.name.setText(info.name or "")
        self.birth_date.setText(info.birth_date.isoformat() if info.birth_date else "")
        self.sex.setCurrentIndex(max(0, self.sex.findData(info.sex or "")))
        self.side.setCurrentIndex(max(0, self.side.findData(info.involved_side)))
        self.clear_errors()
        self.name.setFocus()

    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.clear()
            label.setVisible(False)
        self.form_error.clear()
        self.form_error.setVisible(False)
        self.save_button.setEnabled(True)

    def show_errors(self, errors: dict[str, str]) -> None:
        for key, label in self.errors.items():
            label.setText(errors.get(key, ""))
            label.setVisible(key in errors)

    def show_form_error(self, message: str) -> None:
        """A message from the store (e.g. a rule the form does not know) under the whole form."""
        self.form_error.setText(message)
        self.form_error.setVisible(True)
        self.save_button.setEnabled(True)

    def submit(self) -> None:
        """Validate; show the messages in place, or emit :attr:`submitted` with the values."""
        form, errors = validate_patient_form(self.name.text(), self.birth_date.text(), str(self.sex.currentData()),
                                             str(self.side.currentData()))
        self.show_errors(errors)
        self.form_error.setVisible(False)
        if form is not None:
            self.save_button.setEnabled(False)  # until the store answers
            self.submitted.emit(form)


# -- the screen -------------------------------------------------------------------------------------------------
class PatientsScreen(QWidget):
    """The Patients page of the app.

    Parameters
    ----------
    data_dir : Path
        The clinic data directory (see :func:`clinic.paths.resolve_data_dir`).
    key : str, optional
        The database passphrase; default ``$KINETICS_DB_KEY``. Without either the page shows the unlock field.
    runner : TaskRunner, optional
        Where store calls run (a private one-thread runner by default).

    Signals
    -------
    store_ready(object) : the opened :class:`~clinic.store.ClinicStore` (other screens may use it)
    patients_changed() : the list was (re)loaded
    patient_opened(str) : the patient page shows this patient
    new_session_requested(str) : "New session" pressed on a patient's page (for the run screen)
    """

    store_ready = Signal(object)
    patients_changed = Signal()
    patient_opened = Signal(str)
    new_session_requested = Signal(str)

    def __init__(self, data_dir: Path, *, key: str | None = None, runner: TaskRunner | None = None,
                 palette: Palette | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.data_dir = Path(data_dir)
        self.runner = runner or TaskRunner(self)
        self.palette_ = palette or current_palette()
        self.store: ClinicStore | None = None
        self.patients: list[PatientInfo] = []
        self.state = "locked"  # locked → opening → ready
        self._closing = False
        m = current_metrics()

        # locked: the passphrase field
        self.unlock_title = QLabel()
        self.unlock_title.setObjectName("cardTitle")
        self.unlock_text = QLabel()
        self.unlock_text.setWordWrap(True)
        self.unlock_text.setObjectName("muted")
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Passphrase")
        self.passphrase_again = QLineEdit()
        self.passphrase_again.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_again.setPlaceholderText("Repeat the passphrase")
        self.unlock_error = QLabel()
        self.unlock_error.setObjectName("fieldError")
        self.unlock_error.setWordWrap(True)
        self.unlock_error.setVisible(False)
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setObjectName("primary")
        self.unlock_button.clicked.connect(self.unlock)
        self.passphrase.returnPressed.connect(self.unlock)
        self.passphrase_again.returnPressed.connect(self.unlock)
        unlock_card = QFrame()
        unlock_card.setObjectName("card")
        unlock_card.setMaximumWidth(640)
        uc = QVBoxLayout(unlock_card)
        uc.setContentsMargins(24, 16, 24, 20)
        uc.setSpacing(10)
        for w in (self.unlock_title, self.unlock_text, self.passphrase, self.passphrase_again, self.unlock_error):
            uc.addWidget(w)
        uc.addWidget(self.unlock_button, 0, Qt.AlignmentFlag.AlignRight)
        self.unlock_panel = self._centred(unlock_card)

        # opening: the busy indicator
        self.opening_label = QLabel("Opening the clinic records…")
        self.opening_label.setObjectName("emptyState")
        self.opening_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.opening_bar = QProgressBar()
        self.opening_bar.setRange(0, 0)
        self.opening_bar.setTextVisible(False)
        self.opening_bar.setFixedWidth(320)
        opening = QWidget()
        ol = QVBoxLayout(opening)
        ol.addWidget(self.opening_label)
        ol.addWidget(self.opening_bar, 0, Qt.AlignmentFlag.AlignHCenter)
        self.opening_panel = self._centred(opening)

        # ready: search, list, form, actions
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name or id")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_filter)
        self.add_button = QPushButton("Add patient")
        self.add_button.setObjectName("primary")
        self.add_button.clicked.connect(self.start_add)
        top = QHBoxLayout()
        top.setSpacing(12)
        title = QLabel("Patients")
        title.setObjectName("patientName")
        top.addWidget(title)
        top.addWidget(self.search, 1)
        top.addWidget(self.add_button)
        self.form = PatientFormPanel()
        self.form.setVisible(False)
        self.form.submitted.connect(self._save_form)
        self.form.cancelled.connect(self.hide_form)
        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Name", "Id", "Last session", "Sessions"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setSortingEnabled(False)
        hdr = self.list.header()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            hdr.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setStretchLastSection(False)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.list.itemActivated.connect(lambda item, _col: self.open_patient(self._item_id(item)))
        self.empty_label = QLabel()
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        self.edit_button = QPushButton("Edit")
        self.edit_button.clicked.connect(self.start_edit)
        self.open_button = QPushButton("Open")
        self.open_button.setObjectName("primary")
        self.open_button.clicked.connect(self.open_selected)
        actions = QHBoxLayout()
        actions.addWidget(self.count_label, 1)
        actions.addWidget(self.edit_button)
        actions.addWidget(self.open_button)
        self.list_busy = QProgressBar()
        self.list_busy.setRange(0, 0)
        self.list_busy.setTextVisible(False)
        self.list_busy.setVisible(False)
        ready = QWidget()
        rl = QVBoxLayout(ready)
        rl.setContentsMargins(16, 12, 16, 16)
        rl.setSpacing(10)
        rl.addLayout(top)
        rl.addWidget(self.list_busy)
        rl.addWidget(self.form)
        rl.addWidget(self.list, 1)
        rl.addWidget(self.empty_label, 1)
        rl.addLayout(actions)
        self.list_panel = ready

        self.page = PatientPage(self.runner, self.palette_)
        self.page.back_requested.connect(self.show_list)
        self.page.new_session_requested.connect(self.new_session_requested.emit)
        self.page.loaded.connect(self.patient_opened.emit)

        self.stack = QStackedWidget()
        for panel in (self.unlock_panel, self.opening_panel, self.list_panel, self.page):
            self.stack.addWidget(panel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.runner.busy_changed.connect(self.list_busy.setVisible)
        for field in (self.passphrase, self.passphrase_again, self.search):
            field.setMinimumHeight(m.touch)
        self.apply_palette(self.palette_)
        self._selection_changed()

        env_key = key if key is not None else os.environ.get(ENV_KEY) or None
        if env_key:
            self.open_store(env_key)
        else:
            self.show_unlock()

    @staticmethod
    def _centred(inner: QWidget) -> QWidget:
        outer = QWidget()
        lay = QVBoxLayout(outer)
        lay.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(inner, 3)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addStretch(2)
        return outer

    # -- appearance -------------------------------------------------------------------------------------------
    def apply_palette(self, palette: Palette) -> None:
        """Restyle for ``palette`` (theme switch), the patient page included."""
        self.palette_ = palette
        self.setStyleSheet(screen_stylesheet(palette, current_metrics()))
        self.page.apply_palette(palette)

    # -- the store --------------------------------------------------------------------------------------------
    def is_new_database(self) -> bool:
        """True when the data directory holds no database yet (the passphrase chosen now will create it)."""
        from clinic import db, paths

        return db.database_salt(paths.db_path(self.data_dir)) is None

    def show_unlock(self, message: str = "") -> None:
        """The passphrase field (with a repeat field for a new database) and ``message`` under it."""
        self.state = "locked"
        new = self.is_new_database()
        if new:
            self.unlock_title.setText("Create the clinic records")
            self.unlock_text.setText(f"Choose a passphrase for the new, encrypted records in {self.data_dir}. "
                                     "It cannot be recovered: keep it where the clinic keeps its other secrets.")
            self.unlock_button.setText("Create")
        else:
            self.unlock_title.setText("Clinic records are locked")
            self.unlock_text.setText(f"Type the passphrase of the records in {self.data_dir}.")
            self.unlock_button.setText("Unlock")
        self.passphrase_again.setVisible(new)
        self.passphrase.clear()
        self.passphrase_again.clear()
        self.unlock_error.setText(message)
        self.unlock_error.setVisible(bool(message))
        self.stack.setCurrentWidget(self.unlock_panel)
        self.passphrase.setFocus()

    def unlock(self) -> None:
        """Check the typed passphrase (twice for a new database) and open the store with it."""
        key = self.passphrase.text()
        if not key:
            self._unlock_message("Type the passphrase.")
            return
        if self.passphrase_again.isVisible() and key != self.passphrase_again.text():
            self._unlock_message("The two passphrases differ; type the same passphrase twice.")
            return
        self.open_store(key)

    def _unlock_message(self, text: str) -> None:
        self.unlock_error.setText(text)
        self.unlock_error.setVisible(True)

    def open_store(self, key: str) -> None:
        """Open the store with ``key`` on the worker thread; the page shows the busy indicator meanwhile."""
        self._closing = False
        self.state = "opening"
        self.stack.setCurrentWidget(self.opening_panel)
        data_dir = self.data_dir

        def work() -> tuple[ClinicStore, list[PatientInfo]]:
            store = ClinicStore.open(data_dir, key=key, interactive=False)
            try:
                return store, store.list_patients()
            except BaseException:
                store.close()
                raise

        self.runner.submit(work, on_done=self._store_opened, on_error=self._open_failed)

    def _store_opened(self, result: tuple[ClinicStore, list[PatientInfo]]) -> None:
        store, patients = result
        if self._closing:  # the app quit while the store was opening
            store.close()
            return
        self.store = store
        self.state = "ready"
        self.stack.setCurrentWidget(self.list_panel)
        self._set_patients(patients)
        self.store_ready.emit(store)

    def _open_failed(self, err: BaseException) -> None:
        from clinic.errors import ClinicError

        if isinstance(err, ClinicError):
            self.show_unlock(str(err))
            return
        self.show_unlock(f"Could not open the clinic records: {err}")
        raise err  # unexpected: reported by Qt's exception hook too

    def close_store(self) -> None:
        """Wait for the worker, then close the store (at exit; a store still opening is closed when it arrives)."""
        self._closing = True
        self.runner.wait()
        if self.store is not None:
            self.store.close()
            self.store = None
            self.state = "locked"

    def _call(self, fn: Callable[[ClinicStore], Any], on_done: Callable[[Any], None],
              on_error: Callable[[BaseException], None] | None = None) -> None:
        store = self.store
        if store is None:
            raise RuntimeError("the clinic records are not open yet; unlock them first")
        self.runner.submit(lambda: fn(store), on_done=on_done, on_error=on_error)

    # -- the list ---------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the patient list from the store."""
        self._call(lambda s: s.list_patients(), self._set_patients)

    def _set_patients(self, patients: Sequence[PatientInfo], select: str | None = None) -> None:
        keep = select or self.selected_id()
        self.patients = sorted(patients, key=lambda p: ((p.name or "~").casefold(), p.id))
        self.list.clear()
        size = touch_row(current_metrics())
        for p in self.patients:
            item = QTreeWidgetItem([p.name or "(name not on this tablet)", p.id, last_session_text(p),
                                    str(p.sessions)])
            item.setData(0, Qt.ItemDataRole.UserRole, p.id)
            item.setSizeHint(0, size)
            self.list.addTopLevelItem(item)
        self.apply_filter()
        if keep:
            self.select(keep)
        self.patients_changed.emit()

    def apply_filter(self, _text: str | None = None) -> None:
        """Show only the rows matching the search field."""
        query = self.search.text()
        shown = 0
        for item, info in zip(self._items(), self.patients, strict=True):
            hide = not patient_matches(info, query)
            item.setHidden(hide)
            shown += not hide
            if hide and item.isSelected():
                item.setSelected(False)
        total = len(self.patients)
        self.count_label.setText(f"{shown} of {total} patients" if query.strip() else
                                 f"{total} patient{'s' if total != 1 else ''}")
        if total == 0:
            self.empty_label.setText("No patients yet. Press Add patient to register the first one.")
        elif shown == 0:
            self.empty_label.setText(f"No patient matches “{query.strip()}”.")
        self.list.setVisible(shown > 0)
        self.empty_label.setVisible(shown == 0)
        self._selection_changed()

    def visible_ids(self) -> list[str]:
        """Ids of the rows shown, in order."""
        return [self._item_id(item) for item in self._items() if not item.isHidden()]

    def _items(self) -> list[QTreeWidgetItem]:
        items = [self.list.topLevelItem(i) for i in range(self.list.topLevelItemCount())]
        return [item for item in items if item is not None]

    @staticmethod
    def _item_id(item: QTreeWidgetItem) -> str:
        return str(item.data(0, Qt.ItemDataRole.UserRole))

    def select(self, patient_id: str) -> bool:
        """Select the row of ``patient_id`` if it is shown."""
        for item in self._items():
            if self._item_id(item) == patient_id and not item.isHidden():
                self.list.setCurrentItem(item)
                item.setSelected(True)
                return True
        return False

    def selected_id(self) -> str | None:
        items = [i for i in self.list.selectedItems() if not i.isHidden()]
        return self._item_id(items[0]) if items else None

    def _selection_changed(self) -> None:
        chosen = self.selected_id() is not None
        self.edit_button.setEnabled(chosen)
        self.open_button.setEnabled(chosen)

    def _info(self, patient_id: str) -> PatientInfo:
        for p in self.patients:
            if p.id == patient_id:
                return p
        raise KeyError(f"patient {patient_id} is not in the list")

    # -- add / edit -------------------------------------------------------------------------------------------
    def start_add(self) -> None:
        self.form.start_add()
        self.form.setVisible(True)

    def start_edit(self) -> None:
        pid = self.selected_id()
        if pid is None:
            return
        self.form.start_edit(self._info(pid))
        self.form.setVisible(True)

    def hide_form(self) -> None:
        self.form.setVisible(False)
        self.form.clear_errors()

    def _save_form(self, form: PatientForm) -> None:
        born = form.birth_date.isoformat() if form.birth_date else ""
        pid = self.form.patient_id

        def save(store: ClinicStore) -> tuple[str, list[PatientInfo]]:
            if pid is None:
                new_id = store.add_patient(form.name, born or None, form.sex, involved_side=form.involved_side)
            else:
                new_id = store.update_patient(pid, name=form.name, birth_date=born, sex=form.sex,
                                              involved_side=form.involved_side).id
            return new_id, store.list_patients()

        self._call(save, self._saved, self._save_failed)

    def _saved(self, result: tuple[str, list[PatientInfo]]) -> None:
        new_id, patients = result
        self.hide_form()
        if not patient_matches(next(p for p in patients if p.id == new_id), self.search.text()):
            self.search.clear()  # show the patient just saved
        self._set_patients(patients, select=new_id)
        current = self.list.currentItem()
        if current is not None:
            self.list.scrollToItem(current)

    def _save_failed(self, err: BaseException) -> None:
        from clinic.errors import ClinicError

        if isinstance(err, ClinicError):
            self.form.show_form_error(str(err))
            return
        self.form.show_form_error(f"Could not save: {err}")
        raise err

    # -- open -------------------------------------------------------------------------------------------------
    def open_selected(self) -> None:
        pid = self.selected_id()
        if pid is not None:
            self.open_patient(pid)

    def open_patient(self, patient_id: str) -> None:
        """Show ``patient_id``'s page (its data load on the worker thread)."""
        if self.store is None:
            raise RuntimeError("the clinic records are not open yet; unlock them first")
        self.hide_form()
        self.page.show_patient(self.store, patient_id)
        self.stack.setCurrentWidget(self.page)

    def show_list(self) -> None:
        """Back to the list (reloaded: last-session dates may have changed)."""
        self.stack.setCurrentWidget(self.list_panel)
        if self.store is not None:
            self.refresh()

    def showing(self) -> str:
        """Which panel is shown: ``unlock``, ``opening``, ``list`` or ``patient``."""
        current = self.stack.currentWidget()
        return {id(self.unlock_panel): "unlock", id(self.opening_panel): "opening", id(self.list_panel): "list",
                id(self.page): "patient"}[id(current)]

