"""``kinetics-app [--simulated] [--data-dir DIR]``: the tablet app's entry point.

One QApplication, one asyncio event loop for the app's whole life (``qasync.QEventLoop``: bleak's BlueZ
backend needs ``add_reader``, which PySide6's QtAsyncio lacks), and an orderly exit: when the window closes,
every top-level window is closed and deleted (``deleteLater`` + delivery of the deferred deletes) while the
loop still runs, then the loop stops, then the QApplication is shut down — leaving windows for the
interpreter's teardown can abort the process.

Without a Bluetooth adapter (or with ``--simulated``) the app runs on simulated sensors over the embedded
virtual radio, and says so in a banner.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.ble.transport import resolve_spec

if TYPE_CHECKING:
    from gui.main_window import MainWindow
    from gui.screens.patients import PatientsScreen
    from gui.screens.protocols import ProtocolsScreen
    from gui.screens.results import ResultsScreen
    from gui.screens.run import RunScreen

#: How often Python gets control while Qt idles, so Ctrl-C is noticed (ms).
SIGNAL_POLL_MS = 200


@dataclass(frozen=True)
class StartMode:
    """How the app talks to sensors: the transport spec for ``drivers.ble.transport.open_transport`` and the
    banner to show (None when real sensors are used)."""

    transport: str
    simulated: bool
    banner: str | None


def start_mode(simulated: bool, *, adapter_present: bool | None = None) -> StartMode:
    """Choose real or simulated sensors: ``--simulated`` forces the virtual radio; otherwise the OS stack when a
    Bluetooth adapter is present (``drivers.ble.transport.resolve_spec("auto")``), the virtual radio when not."""
    if simulated:
        return StartMode("virtual", True, "Simulated sensors (started with --simulated): no real device is used.")
    kind, spec = resolve_spec("auto", adapter_present=adapter_present)
    if kind == "virtual":
        return StartMode(spec, True, "No Bluetooth adapter found — running on simulated sensors.")
    return StartMode(spec, False, None)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kinetics-app", description="Kinetics tablet app.")
    parser.add_argument("--simulated", action="store_true", help="use simulated sensors even if an adapter exists")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="clinic data directory (default: $KINETICS_DATA_DIR or the user data directory)")
    parser.add_argument("--theme", choices=("light", "dark"), default="light", help="colour theme")
    parser.add_argument("--quit-after", type=float, default=None, metavar="SECONDS",
                        help="close the window after SECONDS (smoke tests, kiosk demos)")
    args = parser.parse_args(argv)
    if args.quit_after is not None and not args.quit_after >= 0:
        parser.error("--quit-after must be a number of seconds ≥ 0")
    return args


def _configure_high_dpi() -> None:
    """Before the QApplication exists: exact (non-rounded) scale factors, so 150 % tablets are not drawn at 200 %."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)


def close_and_delete_windows() -> int:
    """Close and delete the app's windows now (deferred deletes delivered); returns how many were deleted.

    The app's windows are the main windows and any window still shown. Hidden parentless widgets belong to the
    libraries that made them (pyqtgraph's plot-options form, popup menus) and are left to them: deleting
    pyqtgraph's from here crashes the process (SIGSEGV, pyqtgraph 0.14 + PySide6 6.11).
    """
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication, QMainWindow

    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow) or w.isVisible()]
    for window in windows:
        window.close()
        window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    return len(windows)


def build_window(args: argparse.Namespace, mode: StartMode, *,
                 session_options: Mapping[str, Any] | None = None) -> MainWindow:
    """The main window with its pages: Patients, Sensors, Protocols, Run and Results, wired into one flow.

    ``session_options`` go to the :class:`~gui.device_session.DeviceSession` (tests pass ``speed`` and
    ``fleet_kinds`` for an accelerated simulated fleet).
    """
    from clinic.paths import resolve_data_dir
    from gui.device_session import DeviceSession
    from gui.main_window import MainWindow
    from gui.screens.patients import PatientsScreen
    from gui.screens.protocols import ProtocolsScreen
    from gui.screens.results import ResultsScreen
    from gui.screens.run import RunScreen
    from gui.screens.sensors import SensorsScreen

    window = MainWindow(theme=args.theme, banner=mode.banner, data_dir=resolve_data_dir(args.data_dir),
                        transport=mode.transport)
    data_dir = window.data_dir or resolve_data_dir(None)
    patients = PatientsScreen(data_dir)  # opens the store off the GUI thread
    window.register_page("patients", "Patients", patients)
    window.closed.connect(patients.close_store)
    session = DeviceSession(mode.transport, simulated=mode.simulated, parent=window,
                            **dict(session_options or {}))  # opened by _run_until_closed
    window.register_page("sensors", "Sensors", SensorsScreen(session))
    protocols = ProtocolsScreen.for_data_dir(window.data_dir)
    window.register_page("protocols", "Protocols", protocols)
    run = RunScreen(session, data_dir=data_dir)
    window.register_page("run", "Run", run)
    results = ResultsScreen(data_dir)
    window.register_page("results", "Results", results)
    wire_flow(window, patients, protocols, run, results)
    return window


def wire_flow(window: MainWindow, patients: PatientsScreen, protocols: ProtocolsScreen, run: RunScreen,
              results: ResultsScreen) -> None:
    """Connect the pages into the session flow: New session (patient) + Use this protocol → Run; the session's
    end → Results; Saved → the patient's page reloads (its progress chart includes the new session); Show
    progress → the patient's page. Patient details (involved side, stored maxima) are read on the store's
    worker thread."""
    from clinic.store import ClinicStore

    def patient_details(store: ClinicStore, patient_id: str) -> tuple[str, str, dict[str, float]]:
        info = store.get_patient(patient_id, identified=True)
        maxima: dict[str, float] = {}
        if run.protocol is not None:
            from clinic.running import stored_maxima

            maxima = stored_maxima(run.protocol, store.patient_sessions(patient_id))
        return info.name or "", info.involved_side, maxima

    def load_patient(patient_id: str) -> None:
        store = patients.store
        if store is None:
            return
        patients.runner.submit(
            lambda: patient_details(store, patient_id),
            on_done=lambda d: run.set_patient(patient_id, name=d[0], involved_side=d[1], maxima=d[2])
            if not run.running else None,
        )

    def new_session(patient_id: str) -> None:
        if run.running:
            window.show_page("run")
            return
        run.set_patient(patient_id)
        load_patient(patient_id)
        window.show_page("run" if run.protocol is not None else "protocols")

    def protocol_chosen(protocol_id: str) -> None:
        if run.running:
            window.show_page("run")
            return
        run.set_protocol(protocols.protocol(protocol_id))
        if run.patient_id:
            load_patient(run.patient_id)  # the maxima depend on the protocol
        window.show_page("run")

    def session_done(record: object) -> None:
        from gui.screens.run import RunRecord

        assert isinstance(record, RunRecord)
        results.show_result(record)
        window.show_page("results")

    def saved(patient_id: str, _session_id: str) -> None:
        if patients.store is not None:
            patients.open_patient(patient_id)  # reloads the page: sessions and progress include the new one

    def show_progress(patient_id: str) -> None:
        if patients.store is not None:
            patients.open_patient(patient_id)
        window.show_page("patients")

    patients.new_session_requested.connect(new_session)
    patients.store_ready.connect(lambda store: results.set_store(store, patients.runner))
    if patients.store is not None:
        results.set_store(patients.store, patients.runner)
    protocols.protocol_chosen.connect(protocol_chosen)
    run.finished.connect(session_done)
    results.saved.connect(saved)
    results.progress_requested.connect(show_progress)
    window.closed.connect(run.cancel)


async def _run_until_closed(window: MainWindow, quit_after: float | None) -> None:
    from PySide6.QtCore import QTimer

    from gui.device_session import DeviceSession

    sessions = window.findChildren(DeviceSession)
    for session in sessions:  # the sensors (and the simulated ones) live on this loop for the app's life
        session.start()
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    await closed.wait()
    for session in sessions:  # disconnect and close the radio before the windows go
        await session.close()
    close_and_delete_windows()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app; returns the process exit status."""
    args = parse_args(argv)
    mode = start_mode(args.simulated)
    _configure_high_dpi()

    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.theme import apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Kinetics")
    app.setQuitOnLastWindowClosed(False)  # we stop the loop ourselves, after deleting the windows
    apply_theme(app, args.theme)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = build_window(args, mode)
    window.resize(1280, 800)
    window.show()

    previous = signal.signal(signal.SIGINT, lambda *_: QTimer.singleShot(0, window.close))
    wake = QTimer()  # lets the interpreter run its signal handlers while Qt idles
    wake.start(SIGNAL_POLL_MS)
    wake.timeout.connect(lambda: None)
    try:
        with loop:
            loop.run_until_complete(_run_until_closed(window, args.quit_after))
    finally:
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        asyncio.set_event_loop(None)
    app.shutdown()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
