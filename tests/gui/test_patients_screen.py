"""The Patients screen offscreen (pytest-qt) on a real encrypted store in tmp_path: unlock, add through the inline
form, validation in place, search, edit, open the patient page with its sessions and progress chart, New session,
the app registering the page — checked through the widgets, the store and the pixels of grab()."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QTreeWidget, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from clinic.store import ClinicStore, PatientInfo
from gui.screens.patient_page import change_summary, session_rows
from gui.screens.patients import PatientsScreen, patient_matches, validate_patient_form
from gui.theme import apply_theme, current_metrics, current_palette
from gui.workers import TaskRunner
from kinetics.io import ResultRow
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Trial, TrialMeta

KEY = "screen-tests"
D0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WAIT_MS = 15_000


def rgb_array(image: QImage) -> np.ndarray:
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    data = np.frombuffer(img.constBits(), dtype=np.uint8, count=h * bpl).reshape(h, bpl)
    return data[:, : w * 3].reshape(h, w, 3).copy()


def has_colour(px: np.ndarray, colour: str, tol: int = 2) -> int:
    from PySide6.QtGui import QColor

    c = QColor(colour)
    target = np.array([c.red(), c.green(), c.blue()], dtype=np.int16)
    return int(np.all(np.abs(px.astype(np.int16) - target) <= tol, axis=2).sum())


def row(tree: QTreeWidget, i: int) -> QTreeWidgetItem:
    item = tree.topLevelItem(i)
    assert item is not None, f"no row {i}"
    return item


def grip_trial(tid: str, side: str, when: datetime) -> Trial:
    dev = DeviceInfo("grip", "grip", 50.0, (Channel("force", "N"),))
    rec = DeviceRecording(dev, np.arange(8) / 50.0, np.arange(8), np.zeros((1, 8), np.float32))
    return Trial.from_recordings(TrialMeta(tid, "grip-asht", side, when), [rec])


def populate(data_dir: Path) -> str:
    """Two patients; the first with three weekly grip sessions (3 trials a hand) and one jump session."""
    with ClinicStore.open(data_dir, key=KEY) as store:
        pid = store.add_patient("Ada Lovelace", "1962-04-30", "female", involved_side="left")
        store.add_patient("Bruno Marchetti", "1985-11-02", "male")
        for week, (left, right) in enumerate([(190.0, 300.0), (215.0, 302.0), (260.0, 240.0)]):
            when = D0 + timedelta(weeks=week)
            trials, rows = [], []
            for side, mean in (("left", left), ("right", right)):
                for k, dv in enumerate((-10.0, 0.0, 10.0)):
                    tid = f"{side[0]}{k}"
                    trials.append(grip_trial(tid, side, when))
                    rows.append(ResultRow(tid, "peak_force", mean + dv, "N", side, "grip-asht", "isometric"))
            store.save_session(pid, "grip-asht", trials, rows, started=when)
        store.save_session(pid, "jump-cmj", [], [ResultRow("", "jump_height", 0.31, "m", "both", "jump-cmj", "")],
                           started=D0 + timedelta(days=10))
        return pid


@pytest.fixture
def theme(qapp: QApplication) -> Iterator[None]:
    apply_theme(qapp, "light")
    yield


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINETICS_DB_KEY", KEY)
    monkeypatch.setenv("KINETICS_ACTOR", "screen-test")


def make_screen(qtbot: QtBot, data_dir: Path, **kwargs: object) -> PatientsScreen:
    screen = PatientsScreen(data_dir, **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(screen)
    screen.resize(1080, 760)
    screen.show()
    return screen


def wait_ready(qtbot: QtBot, screen: PatientsScreen) -> None:
    qtbot.waitUntil(lambda: screen.state == "ready" and not screen.runner.busy, timeout=WAIT_MS)


# -- pure helpers -----------------------------------------------------------------------------------------------
def test_form_validation_messages() -> None:
    today = date(2026, 6, 1)
    form, errors = validate_patient_form("  Ada  ", "1962-04-30", "female", "left", today=today)
    assert errors == {} and form is not None
    assert (form.name, form.birth_date, form.sex, form.involved_side) == ("Ada", date(1962, 4, 30), "female", "left")
    assert validate_patient_form("Ada", "", "", "none", today=today)[0] is not None  # birth date optional
    cases = {
        ("", "1962-04-30"): ("name", "Type the patient's name."),
        ("x" * 201, ""): ("name", "over 200 characters"),
        ("Ada", "30/04/1962"): ("birth_date", "YYYY-MM-DD"),
        ("Ada", "1962-4-30"): ("birth_date", "YYYY-MM-DD"),
        ("Ada", "1962-02-30"): ("birth_date", "YYYY-MM-DD"),
        ("Ada", "2026-06-02"): ("birth_date", "in the future"),
        ("Ada", "1889-01-01"): ("birth_date", "before 1900"),
    }
    for (name, born), (field, message) in cases.items():
        form, errors = validate_patient_form(name, born, "", "none", today=today)
        assert form is None and message in errors[field], (name, born, errors)
    assert "sex" in validate_patient_form("Ada", "", "unknown", "none")[1]
    assert "involved_side" in validate_patient_form("Ada", "", "", "both")[1]


def test_search_matches_name_words_and_id_fragments() -> None:
    info = PatientInfo("P-7F3A2C", D0, "none", "local", 0, None, name="Ada Lovelace")
    assert patient_matches(info, "") and patient_matches(info, "ada") and patient_matches(info, "LOVE ada")
    assert patient_matches(info, "7f3a") and patient_matches(info, "p-7F3A2C")
    assert not patient_matches(info, "bruno") and not patient_matches(info, "ada 99")
    anonymous = PatientInfo("P-000001", D0, "none", "import", 0, None)
    assert patient_matches(anonymous, "0000") and not patient_matches(anonymous, "ada")


def test_runner_delivers_on_the_gui_thread_and_reports_errors(qtbot: QtBot) -> None:
    runner = TaskRunner()
    busy: list[bool] = []
    runner.busy_changed.connect(busy.append)
    got: list[tuple[object, bool]] = []
    gui = threading.get_ident()
    runner.submit(lambda: threading.get_ident(), on_done=lambda tid: got.append((tid, threading.get_ident() == gui)))
    errors: list[BaseException] = []
    runner.submit(lambda: 1 / 0, on_error=errors.append)
    qtbot.waitUntil(lambda: not runner.busy, timeout=WAIT_MS)
    assert got and got[0][0] != gui and got[0][1]  # ran on the worker, delivered on the GUI thread
    assert isinstance(errors[0], ZeroDivisionError)
    assert busy == [True, False]
    runner.deleteLater()


# -- the screen -------------------------------------------------------------------------------------------------
def test_add_search_edit_open(qtbot: QtBot, tmp_path: Path, theme: None, keyed: None) -> None:
    data_dir = tmp_path / "data"
    pid = populate(data_dir)
    screen = make_screen(qtbot, data_dir)
    assert screen.showing() == "opening" and screen.opening_bar.isVisible()  # the store opens off the GUI thread
    wait_ready(qtbot, screen)
    assert screen.showing() == "list"
    assert [row(screen.list, i).text(0) for i in range(2)] == ["Ada Lovelace", "Bruno Marchetti"]
    ada = row(screen.list, 0)
    assert ada.text(1) == pid and ada.text(3) == "4"
    assert ada.text(2) == (D0 + timedelta(weeks=2)).astimezone().date().isoformat()  # last session (local date)
    touch = current_metrics().touch
    assert screen.list.visualItemRect(ada).height() >= touch
    assert not screen.open_button.isEnabled()  # nothing selected yet

    # add: a wrong form shows messages in place and stores nothing
    qtbot.mouseClick(screen.add_button, Qt.MouseButton.LeftButton)
    assert screen.form.isVisible() and screen.form.title.text() == "New patient"
    qtbot.keyClicks(screen.form.birth_date, "1990-13-01")
    qtbot.mouseClick(screen.form.save_button, Qt.MouseButton.LeftButton)
    assert screen.form.errors["name"].isVisible() and "name" in screen.form.errors["name"].text()
    assert screen.form.errors["birth_date"].isVisible() and "YYYY-MM-DD" in screen.form.errors["birth_date"].text()
    assert not screen.runner.busy and len(screen.patients) == 2
    screen.form.birth_date.clear()
    qtbot.keyClicks(screen.form.name, "Chen Wei")
    qtbot.keyClicks(screen.form.birth_date, "1990-07-15")
    screen.form.side.setCurrentIndex(screen.form.side.findData("right"))
    screen.form.sex.setCurrentIndex(screen.form.sex.findData("other"))
    qtbot.mouseClick(screen.form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(screen.patients) == 3 and not screen.runner.busy, timeout=WAIT_MS)
    assert not screen.form.isVisible()
    chen = next(p for p in screen.patients if p.name == "Chen Wei")
    assert screen.selected_id() == chen.id and chen.id in screen.visible_ids()
    assert screen.store is not None
    stored = screen.store.get_patient(chen.id)
    assert (stored.name, stored.birth_date, stored.sex, stored.involved_side) == (
        "Chen Wei", date(1990, 7, 15), "other", "right")

    # search narrows as one types, by name or by id
    qtbot.keyClicks(screen.search, "mar")
    assert screen.visible_ids() == [p.id for p in screen.patients if p.name == "Bruno Marchetti"]
    assert screen.count_label.text() == "1 of 3 patients"
    screen.search.clear()
    qtbot.keyClicks(screen.search, pid[2:6].lower())
    assert screen.visible_ids() == [pid]
    qtbot.keyClicks(screen.search, "zzz")
    assert screen.visible_ids() == [] and screen.empty_label.isVisible() and not screen.open_button.isEnabled()
    screen.search.clear()
    assert len(screen.visible_ids()) == 3

    # edit: the form comes filled; a correction reaches the store
    assert screen.select(chen.id)
    qtbot.mouseClick(screen.edit_button, Qt.MouseButton.LeftButton)
    assert screen.form.title.text() == f"Edit patient {chen.id}"
    assert screen.form.name.text() == "Chen Wei" and screen.form.birth_date.text() == "1990-07-15"
    assert screen.form.side.currentData() == "right" and screen.form.sex.currentData() == "other"
    screen.form.name.setText("Chen Wei-Ling")
    qtbot.mouseClick(screen.form.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not screen.runner.busy and not screen.form.isVisible(), timeout=WAIT_MS)
    assert screen.store.get_patient(chen.id).name == "Chen Wei-Ling"
    assert any(e["action"] == "update" for e in screen.store.audit_entries(chen.id))
    assert [p.name for p in screen.patients if p.id == chen.id] == ["Chen Wei-Ling"]

    # the list's look: touch-sized rows, the primary button in the accent colour
    QApplication.processEvents()
    px = rgb_array(screen.grab().toImage())
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 10
    assert has_colour(px, current_palette().accent) > 500  # Add patient / Open

    # open → the patient page
    assert screen.select(pid)
    opened: list[str] = []
    screen.patient_opened.connect(opened.append)
    qtbot.mouseClick(screen.open_button, Qt.MouseButton.LeftButton)
    assert screen.showing() == "patient"
    qtbot.waitUntil(lambda: opened == [pid], timeout=WAIT_MS)
    page = screen.page
    assert page.name_label.text() == "Ada Lovelace" and pid in page.details_label.text()
    assert "involved side: left" in page.details_label.text()
    assert page.sessions.topLevelItemCount() == 4
    first = row(page.sessions, 0)  # newest first: the week-2 grip session
    assert first.text(0) == (D0 + timedelta(weeks=2)).astimezone().date().isoformat()
    assert first.text(1) == "Grip strength (ASHT)\nPeak force: L 260 N · R 240 N"
    jump = row(page.sessions, 1)
    assert jump.text(1) == "Countermovement jump\nJump height: 31.0 cm"
    assert page.metric_keys()[0] == ("grip-asht", "peak_force")  # the newest session's headline first
    assert page.metric_combo.currentText() == "Peak force — Grip strength (ASHT)"
    assert page.chart.plotted_points("left")[1].tolist() == [190.0, 215.0, 260.0]
    assert page.chart.plotted_points("right")[1].tolist() == [300.0, 302.0, 240.0]
    assert page.chart.real_change_points("left")[1].tolist() == [260.0]  # +70 N > MDC95 48.9 N
    assert page.chart.real_change_points("right")[1].tolist() == [240.0]  # −60 N: worse
    assert "Left: 260 N, +70.0 N from baseline — real change, better" in page.summary.text()
    assert "Right: 240 N, −60.0 N from baseline — real change, worse" in page.summary.text()
    QApplication.processEvents()
    px = rgb_array(screen.grab().toImage())
    assert has_colour(px, current_palette().left) > 20 and has_colour(px, current_palette().right) > 20
    assert has_colour(px, current_palette().in_target) > 20  # the real-change triangle
    assert has_colour(px, current_palette().accent) > 500  # New session
    # tapping the jump session charts its headline
    qtbot.mouseClick(page.sessions.viewport(), Qt.MouseButton.LeftButton,
                     pos=page.sessions.visualItemRect(jump).center())
    assert page.metric_combo.currentText() == "Jump height — Countermovement jump"
    assert page.chart.data is not None and page.chart.data.unit == "cm"
    assert page.chart.plotted_points("both")[1] == pytest.approx([31.0])

    # New session → the signal for the run screen
    with qtbot.waitSignal(screen.new_session_requested, timeout=1000) as signal:
        qtbot.mouseClick(page.new_session_button, Qt.MouseButton.LeftButton)
    assert signal.args == [pid]

    # back to the list
    qtbot.mouseClick(page.back_button, Qt.MouseButton.LeftButton)
    assert screen.showing() == "list"
    qtbot.waitUntil(lambda: not screen.runner.busy, timeout=WAIT_MS)
    screen.close_store()
    assert screen.store is None


def test_unlock_field_when_no_key(qtbot: QtBot, tmp_path: Path, theme: None,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KINETICS_DB_KEY", raising=False)
    data_dir = tmp_path / "data"
    # a new data directory: choose a passphrase, typed twice
    screen = make_screen(qtbot, data_dir)
    assert screen.showing() == "unlock" and screen.passphrase_again.isVisible()
    assert screen.unlock_button.text() == "Create"
    qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
    assert screen.unlock_error.isVisible() and "Type the passphrase" in screen.unlock_error.text()
    qtbot.keyClicks(screen.passphrase, KEY)
    qtbot.keyClicks(screen.passphrase_again, KEY + "x")
    qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
    assert "differ" in screen.unlock_error.text() and screen.showing() == "unlock"
    screen.passphrase_again.setText(KEY)
    qtbot.mouseClick(screen.unlock_button, Qt.MouseButton.LeftButton)
    wait_ready(qtbot, screen)
    assert screen.patients == [] and screen.empty_label.isVisible() and "No patients yet" in screen.empty_label.text()
    screen.close_store()

    # the database exists now: one field; a wrong passphrase is said in place, the right one opens
    again = make_screen(qtbot, data_dir)
    assert again.showing() == "unlock" and not again.passphrase_again.isVisible()
    assert again.unlock_button.text() == "Unlock"
    qtbot.keyClicks(again.passphrase, "not the key")
    qtbot.keyClick(again.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: again.showing() == "unlock" and again.unlock_error.isVisible(), timeout=WAIT_MS)
    assert "wrong key" in again.unlock_error.text() and again.store is None
    QApplication.processEvents()
    px = rgb_array(again.grab().toImage())
    assert has_colour(px, current_palette().accent) > 300  # the Unlock button
    qtbot.keyClicks(again.passphrase, KEY)
    qtbot.keyClick(again.passphrase, Qt.Key.Key_Return)
    wait_ready(qtbot, again)
    assert again.store is not None
    again.close_store()


def test_app_registers_the_patients_page_first(qtbot: QtBot, tmp_path: Path, theme: None, keyed: None) -> None:
    from gui.app import build_window, parse_args, start_mode

    pid = populate(tmp_path / "data")
    window = build_window(parse_args(["--simulated", "--data-dir", str(tmp_path / "data")]), start_mode(True))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    assert window.page_names()[0] == "patients" and window.current_page() == "patients"
    screen = window.page("patients")
    assert isinstance(screen, PatientsScreen)
    wait_ready(qtbot, screen)
    assert pid in screen.visible_ids()
    window.set_theme("dark")
    assert screen.page.chart.palette_.name == "dark"
    window.set_theme("light")
    window.close()  # closes the store (window.closed → close_store)
    assert screen.store is None


def test_page_data_helpers(tmp_path: Path, keyed: None) -> None:
    from gui.plotting.progress import chart_data
    from gui.screens.patient_page import load_patient_page

    pid = populate(tmp_path / "data")
    with ClinicStore.open(tmp_path / "data") as store:
        data = load_patient_page(store, pid)
        views = [e for e in store.audit_entries(pid) if e["action"] == "view"]
    assert len(views) == 2  # the identity and the progress, audited like the command line
    rows = session_rows(data)
    assert [r.protocol for r in rows] == ["Grip strength (ASHT)", "Countermovement jump", "Grip strength (ASHT)",
                                          "Grip strength (ASHT)"]
    assert rows[-1].headline == "Peak force: L 190 N · R 300 N"
    summary = change_summary(chart_data(data.progress, "grip-asht", "peak_force"))
    assert summary.splitlines()[1] == "Right: 240 N, −60.0 N from baseline — real change, worse"
    one = chart_data(data.progress, "jump-cmj", "jump_height")
    assert change_summary(one) == "Both: 31.0 cm (baseline)"
