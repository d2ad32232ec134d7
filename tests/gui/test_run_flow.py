"""The Run and Results screens and the whole session flow, on simulated sensors over the virtual radio.

The app's window is built as ``kinetics-app --simulated`` builds it (:func:`gui.app.build_window`), with the
simulated grip dynamometer and the session clock at 20× real time. How Qt and asyncio are driven: one qasync loop
per test, ONE coroutine per test body (``loop.run_until_complete``); waiting polls a condition with
``asyncio.sleep`` (Qt events are processed meanwhile) — ``qtbot.waitUntil`` would spin Qt outside the running
asyncio loop and the sensors' tasks would die (see tests/gui/test_sensors_screen.py). pytest-qt fails the test on
an exception raised in any Qt slot.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import qasync
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from drivers.supervisor import LinkState
from gui.app import build_window, parse_args, start_mode
from gui.device_session import DeviceSession
from gui.main_window import MainWindow
from gui.screens.patients import PatientsScreen
from gui.screens.protocols import ProtocolsScreen
from gui.screens.results import ResultsScreen, trial_curves
from gui.screens.run import RunRecord, RunScreen, flag_text
from gui.screens.sensors import SensorsScreen
from gui.theme import current_palette
from kinetics.io import read_session, read_trial
from protocols.library import get_protocol
from protocols.simpatient import PatientParams
from tests.gui.asyncqt import run, until

SPEED = 20.0  # the grip may run at 20× over the virtual radio (plates at most 2×)


def click(qtbot: QtBot, widget: QWidget) -> None:
    assert widget.isEnabled(), f"{widget.objectName() or widget} is disabled"
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def colours_in(image: QImage, widget: QWidget, screen: QWidget, step: int = 2) -> dict[str, int]:
    """Colour → pixel count of ``widget``'s rectangle inside ``screen``'s grab ``image``."""
    origin = widget.mapTo(screen, QPoint(0, 0))
    ratio = image.devicePixelRatio()
    counts: dict[str, int] = {}
    top, left = int(origin.y() * ratio), int(origin.x() * ratio)
    bottom = min(image.height(), int((origin.y() + widget.height()) * ratio))
    right = min(image.width(), int((origin.x() + widget.width()) * ratio))
    assert 0 <= top < bottom and 0 <= left < right, f"{widget} is outside the screenshot"
    for y in range(top, bottom, step):
        for x in range(left, right, step):
            name = image.pixelColor(x, y).name()
            counts[name] = counts.get(name, 0) + 1
    return counts


def distinct_colours(image: QImage) -> int:
    return len({image.pixelColor(x, y).rgb() for y in range(0, image.height(), 7) for x in range(0, image.width(), 7)})


def near(counts: dict[str, int], colour: str, tol: int = 40) -> int:
    """Pixels within ``tol`` (per channel) of ``colour``."""
    c = QColor(colour)
    total = 0
    for name, n in counts.items():
        q = QColor(name)
        if abs(q.red() - c.red()) <= tol and abs(q.green() - c.green()) <= tol and abs(q.blue() - c.blue()) <= tol:
            total += n
    return total


# -- the full flow ------------------------------------------------------------------------------------------------
def test_full_grip_session_flow(qtbot: QtBot, loop: qasync.QEventLoop, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINETICS_DB_KEY", "a test passphrase")
    args = parse_args(["--simulated", "--data-dir", str(tmp_path / "data")])
    window = build_window(args, start_mode(True), session_options={"speed": SPEED, "fleet_kinds": ["grip"]})
    assert isinstance(window, MainWindow)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    assert window.page_names() == ["patients", "sensors", "protocols", "run", "results"]
    patients = window.page("patients")
    sensors = window.page("sensors")
    protocols = window.page("protocols")
    run_screen = window.page("run")
    results = window.page("results")
    assert isinstance(patients, PatientsScreen) and isinstance(sensors, SensorsScreen)
    assert isinstance(protocols, ProtocolsScreen) and isinstance(run_screen, RunScreen)
    assert isinstance(results, ResultsScreen)
    (session,) = window.findChildren(DeviceSession)
    records: list[RunRecord] = []
    run_screen.finished.connect(records.append)
    shots: dict[str, QImage] = {}
    protocol = get_protocol("grip-asht")

    async def scenario() -> None:
        session.start()
        try:
            await until(lambda: patients.state == "ready" and session.is_open, "the store and the radio to open")
            # add a patient (involved side: left) and open the patient's page
            click(qtbot, patients.add_button)
            patients.form.name.setText("Ada Lovelace")
            patients.form.side.setCurrentIndex(patients.form.side.findData("left"))
            click(qtbot, patients.form.save_button)
            await until(lambda: len(patients.patients) == 1, "the new patient in the list")
            pid = patients.patients[0].id
            assert patients.select(pid)
            click(qtbot, patients.open_button)
            await until(lambda: patients.page.data is not None, "the patient's page")
            assert not patients.page.sessions.isVisible() and patients.page.chart.data is None

            # connect the simulated grip on the Sensors page
            click(qtbot, window.nav_button("sensors"))
            finished: list[object] = []
            session.scan_finished.connect(finished.append)
            await until(lambda: sensors.scan_button.isEnabled(), "the first scan (started by the page) to end")
            click(qtbot, sensors.scan_button)
            await until(lambda: bool(finished), "the scan")
            (grip_card,) = [c for c in sensors.listed() if c.kind is not None and c.kind.key == "grip"]
            click(qtbot, grip_card.connect_button)
            await until(lambda: session.state("grip") is LinkState.STREAMING, "the grip to stream")

            # New session → Protocols (no protocol yet) → Use this protocol → Run
            click(qtbot, window.nav_button("patients"))
            click(qtbot, patients.page.new_session_button)
            assert window.current_page() == "protocols"
            assert protocols.select("grip-asht")
            click(qtbot, protocols.use_button)
            assert window.current_page() == "run"
            assert run_screen.protocol is not None and run_screen.protocol.id == "grip-asht"
            await until(lambda: run_screen.involved_side == "left", "the patient's details on the run screen")
            assert run_screen.live.names() == ["grip"]
            assert "ASHT standard position" in run_screen.instructions.text()
            await until(lambda: run_screen.start_button.isEnabled(), "Start to be enabled")
            click(qtbot, run_screen.start_button)

            # the cues are shown big, the effort starts by itself; screenshot during the first effort
            await until(lambda: run_screen.cue is not None and run_screen.cue.kind == "go"
                        and run_screen.onset_time is not None, "the first effort's onset")
            assert run_screen.cue_label.text() == "Squeeze as hard as you can!"
            # alternating hands, the right first
            assert run_screen.trial_label.text() == "Trial 1 of 6 · repetition 1 of 3 · Right"
            shots["run"] = run_screen.grab().toImage()
            # review every trial: redo the first one, accept the others
            decisions: list[str] = []
            while True:
                await until(lambda: run_screen.state in ("review", "done"), "a trial to review", timeout=60)
                if run_screen.state == "done":
                    break
                assert run_screen.review_box.isVisible()
                assert "peak force" in run_screen.review_title.text()
                button = run_screen.redo_button if not decisions else run_screen.accept_button
                decisions.append(button.text())
                click(qtbot, button)
                await until(lambda: run_screen.state != "review", "the review to close")
            await until(lambda: window.current_page() == "results", "the results page")
            assert decisions == ["Redo"] + ["Accept"] * 6

            # the summary: per side, symmetry, trials, curves of the selected trial
            (record,) = records
            result = record.result
            statuses = [t.status for t in result.trials]
            assert statuses.count("accepted") == 6 and statuses.count("redone") == 1
            assert result.trials[0].status == "redone" and result.trials[1].index == 0  # the redo came next
            assert result.completed
            left, right = result.summary("left"), result.summary("right")
            assert 0.9 * 380 * 0.96 < left.headline < 1.02 * 380 * 1.03  # PatientParams: left 380 N, right 420 N
            assert 0.9 * 420 * 0.96 < right.headline < 1.02 * 420 * 1.03
            text = results.headlines.text()
            assert "Left" in text and "Right" in text and f"{left.headline:.3g} N" in text
            sym = result.symmetry()["default"]
            assert sym["involved"] == "left"
            assert math.isclose(sym["value"], 100 * left.headline / right.headline, rel_tol=1e-9)
            assert f"Limb symmetry index: {sym['value']:.1f} %" in results.symmetry_label.text()
            assert "(involved side: left)" in results.symmetry_label.text()
            rows = results.trial_rows()
            assert len(rows) == 7 and [r[3] for r in rows].count("Accepted") == 6 and rows[0][3] == "Redone"
            await until(lambda: results.drawn_curves() == 1, "the first trial's curve")
            assert results.curves[0].unit == "N" and results.curves[0].y.max() > 300
            bars = results.comparison.bar_rects()
            assert bars["left"].width() < bars["right"].width()  # left is weaker
            assert math.isclose(bars["left"].width() / bars["right"].width(), left.headline / right.headline,
                                rel_tol=1e-6)
            shots["results"] = results.grab().toImage()

            # save (worker thread), then the patient's page and its progress chart
            assert not results.export_hdf5_button.isEnabled()  # export needs the saved session
            click(qtbot, results.save_button)
            await until(lambda: results.saved_id is not None, "the session to be saved")
            assert results.saved_id == record.session_id
            store = patients.store
            assert store is not None
            stored = store.get_session(record.session_id)
            assert stored.patient_id == pid and stored.protocol_id == "grip-asht" and len(stored.trials) == 7
            heads = {r.side: r.value for r in stored.results if r.key == "headline_peak_force"}
            assert heads == pytest.approx({"left": left.headline, "right": right.headline}, rel=1e-12)
            assert any(r.key == "lsi" and r.value == pytest.approx(sym["value"]) for r in stored.results)
            click(qtbot, results.progress_button)
            assert window.current_page() == "patients"
            await until(lambda: patients.page.data is not None and len(patients.page.data.sessions) == 1,
                        "the patient's page with the new session")
            chart = patients.page.chart.data
            assert chart is not None and chart.key == "peak_force"
            points = {s.side: s for s in chart.series}
            assert set(points) == {"left", "right"}
            assert list(points["left"].y) == pytest.approx([left.headline * chart.scale])
            # the right side had the redone trial: only counted attempts are stored as result rows, so its
            # progress point is the headline too
            assert list(points["right"].y) == pytest.approx([right.headline * chart.scale])
            assert patients.page.chart.stack.currentIndex() == 1  # the chart, not the empty state

            # export: the HDF5 bundle (read back by kinetics.io) and the CSV folder, from the path field
            click(qtbot, window.nav_button("results"))
            bundle = tmp_path / "exports" / "grip.h5"
            results.export_path.setText(str(bundle))
            click(qtbot, results.export_hdf5_button)
            await until(lambda: results.export_status.text().startswith("Exported"), "the HDF5 export")
            assert bundle.is_file()
            exported = read_session(bundle)
            assert exported.meta.patient_id == pid and len(exported.trials) == 7
            assert {t.meta.side for t in exported.trials} == {"left", "right"}
            results.export_path.setText(str(tmp_path / "exports" / "grip-csv"))
            click(qtbot, results.export_csv_button)
            await until(lambda: results.export_status.text().startswith("Exported"), "the CSV export")
            assert (tmp_path / "exports" / "grip-csv" / "results.csv").is_file()
            assert len(list((tmp_path / "exports" / "grip-csv").glob("trial_*_grip.csv"))) == 7
        finally:
            await session.close()
            results.files.wait()
            patients.close_store()

    run(loop, scenario)

    # screenshots: not blank, with the expected elements in their colours
    palette = current_palette()
    run_img = shots["run"]
    assert not run_img.isNull() and distinct_colours(run_img) > 8
    plot = run_screen.live.card("grip").widgets[0]
    in_plot = colours_in(run_img, plot, run_screen)
    assert near(in_plot, palette.curve(0), 30) > 20, "the force curve is not drawn"
    cue = colours_in(run_img, run_screen.cue_label, run_screen)
    assert near(cue, palette.in_target, 40) > 20, "the Go cue is not shown in the in-target colour"
    res_img = shots["results"]
    assert distinct_colours(res_img) > 8
    bars = colours_in(res_img, results.comparison, results)
    assert near(bars, palette.left, 10) > 50 and near(bars, palette.right, 10) > 50
    curve_px = colours_in(res_img, results.plot, results)
    assert near(curve_px, palette.curve(0), 30) > 20
    assert trial_curves(read_trial(records[0].result.trials[1].path), protocol)[0].label == "force · grip"


# -- a lost device mid-trial --------------------------------------------------------------------------------------
def test_a_lost_grip_pauses_the_trial_and_keeps_its_data(qtbot: QtBot, loop: qasync.QEventLoop,
                                                        tmp_path: Path) -> None:
    session = DeviceSession("virtual", simulated=True, fleet_kinds=["grip"], speed=10.0)
    screen = RunScreen(session, data_dir=tmp_path)
    qtbot.addWidget(screen)
    screen.resize(1080, 760)
    screen.show()
    screen.set_protocol(get_protocol("grip-asht"))
    screen.set_patient("P-00C0DE", involved_side="right")
    paused: list[tuple[bool, bool, str]] = []
    screen.paused_changed.connect(
        lambda on: paused.append((on, screen.pause_banner.isVisibleTo(screen), screen.pause_banner.text())))
    records: list[RunRecord] = []
    screen.finished.connect(records.append)

    async def scenario() -> None:
        session.start()
        try:
            await until(lambda: session.is_open, "the radio to open")
            assert screen.missing_roles() == ["grip"] and not screen.start_button.isEnabled()
            click(qtbot, screen.connect_button)  # scans and connects a grip under the protocol's role
            await until(lambda: session.state("grip") is LinkState.STREAMING, "the grip to stream")
            await until(lambda: screen.start_button.isEnabled(), "Start to be enabled")
            click(qtbot, screen.start_button)
            await until(lambda: screen.onset_time is not None, "the effort's onset")
            assert session.fleet is not None
            sensor = session.fleet.sensor("grip")
            await sensor.peripheral.drop_link()  # the grip goes out of range mid-effort
            await until(lambda: any(p[0] for p in paused), "the paused state")
            await until(lambda: paused and not paused[-1][0], "the grip to come back")
            click(qtbot, screen.stop_button)  # end after this trial
            await until(lambda: screen.state in ("review", "done"), "the trial's review")
            if screen.state == "review":
                assert "disconnected" in screen.review_flags.text().lower()
                click(qtbot, screen.accept_button)
            await until(lambda: bool(records), "the session to end")
        finally:
            await session.close()

    run(loop, scenario, timeout=80)
    on, banner_shown, banner = paused[0]
    assert on and banner_shown and banner.startswith("Reconnecting to Grip")
    (record,) = records
    assert not record.result.completed and "ended early" in record.notes
    (trial,) = record.result.trials
    assert "disconnected" in trial.flags
    data = read_trial(trial.path)
    grip = data.device("grip")
    (gap,) = grip.gaps  # the samples lost while the link was down, and only those
    assert gap.missing_samples > 0
    before, after = grip.time < gap.start + 1e-9, grip.time > gap.end - 1e-9
    assert before.sum() > 0.5 * grip.info.rate and after.sum() > 0.5 * grip.info.rate  # data on both sides kept
    assert np.all(np.diff(grip.counter) >= 1) and int(np.diff(grip.counter).max()) == gap.missing_samples + 1
    effort = [e for e in data.events if e.kind == "phase" and e.label.startswith(("start effort", "end effort"))]
    assert len(effort) == 2 and effort[0].time < gap.start < effort[1].time  # lost mid-effort
    labels = [e.label for e in data.events if e.kind == "device" and e.device == "grip"]
    assert "link lost" in labels and "streaming" in labels
    # the phase was paused: the effort lasted its 5 s plus the pause
    assert effort[1].time - effort[0].time > 5.0 + 0.5 * (gap.end - gap.start)
    # the effort is in the file: more force than half the patient's strength
    assert float(np.max(grip.values[0])) > 0.5 * PatientParams().strength["right"]
    assert flag_text("disconnected").startswith("A sensor disconnected")


