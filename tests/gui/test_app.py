"""The app shell: start mode, main window in both themes, navigation, a clean start/quit of ``main()`` in a
subprocess, and pytest-qt failing a test when a Qt slot raises."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from gui.app import parse_args, start_mode
from gui.live_view import LiveView
from gui.main_window import MainWindow
from gui.theme import FALLBACK_DPI, apply_theme, current_metrics, metrics_for

ROOT = Path(__file__).resolve().parents[2]


def test_start_mode_follows_the_adapter() -> None:
    no_adapter = start_mode(False, adapter_present=False)
    assert no_adapter.simulated and no_adapter.transport == "virtual"
    assert no_adapter.banner is not None and "simulated sensors" in no_adapter.banner
    assert "No Bluetooth adapter" in no_adapter.banner
    with_adapter = start_mode(False, adapter_present=True)
    assert (with_adapter.simulated, with_adapter.transport, with_adapter.banner) == (False, "os", None)
    forced = start_mode(True, adapter_present=True)
    assert forced.simulated and forced.transport == "virtual" and "--simulated" in (forced.banner or "")


def test_arguments() -> None:
    args = parse_args(["--simulated", "--data-dir", "/tmp/x", "--theme", "dark"])
    assert args.simulated and args.data_dir == Path("/tmp/x") and args.theme == "dark" and args.quit_after is None
    with pytest.raises(SystemExit):
        parse_args(["--quit-after", "-1"])


def test_touch_targets_and_text_sizes_from_density() -> None:
    tablet_10in = metrics_for(1509.0 / (10 * 25.4))  # 1280×800 on a 10.1" panel: 5.94 px/mm
    assert tablet_10in.touch == 54  # ceil(9 mm × 5.94)
    assert tablet_10in.body_px == 17
    desktop = metrics_for(FALLBACK_DPI / 25.4)  # 3.78 px/mm → 34 px, below the 48 px floor
    assert desktop.touch == 48 and desktop.body_px == 16
    with pytest.raises(ValueError):
        metrics_for(0.0)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_main_window_builds_and_navigates(qtbot: QtBot, qapp: QApplication, theme: str) -> None:
    apply_theme(qapp, theme)  # type: ignore[arg-type]
    window = MainWindow(theme=theme, banner="No Bluetooth adapter found — running on simulated sensors.")  # type: ignore[arg-type]
    qtbot.addWidget(window)
    live = LiveView()
    window.register_page("sensors", "Sensors", live)
    results = QLabel("results page")
    patients = QLabel("patients page")
    window.register_page("results", "Results", results)
    window.register_page("patients", "Patients", patients)
    assert window.page_names() == ["patients", "sensors", "results"]  # rail order, not registration order
    rail = window.rail.layout()
    assert rail is not None
    in_layout = [rail.itemAt(i) for i in range(rail.count())]
    widgets = [item.widget() for item in in_layout if item is not None]
    nav_in_layout = [w.text() for w in widgets if isinstance(w, QPushButton) and w.objectName().startswith("nav_")]
    assert nav_in_layout == ["Patients", "Sensors", "Results"]
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    assert window.current_page() == "sensors"  # the first page registered
    assert window.banner.isVisible()
    seen: list[str] = []
    window.page_changed.connect(seen.append)
    qtbot.mouseClick(window.nav_button("results"), Qt.MouseButton.LeftButton)
    assert window.current_page() == "results" and window.stack.currentWidget() is results
    assert window.nav_button("results").isChecked() and not window.nav_button("sensors").isChecked()
    qtbot.mouseClick(window.nav_button("sensors"), Qt.MouseButton.LeftButton)
    assert window.current_page() == "sensors" and live.isVisible() and live.timer.isActive()
    assert seen == ["results", "sensors"]
    touch = current_metrics().touch
    for name in window.page_names():
        button = window.nav_button(name)
        assert button.height() >= touch and button.width() >= touch
    image = window.grab().toImage()
    assert image.width() == 1280 and image.height() == 800
    assert image.pixelColor(5, 400).name() != image.pixelColor(700, 400).name()  # the rail stands out
    with pytest.raises(KeyError):
        window.show_page("protocols")
    with pytest.raises(ValueError):
        window.register_page("sensors", "Sensors", QWidget())
    window.set_banner(None)
    assert not window.banner.isVisible()


def test_theme_toggle_restyles_pages(qtbot: QtBot, qapp: QApplication) -> None:
    apply_theme(qapp, "light")
    window = MainWindow(theme="light")
    qtbot.addWidget(window)
    live = LiveView()
    window.register_page("sensors", "Sensors", live)
    window.resize(1280, 800)
    window.show()
    light_bg = window.grab().toImage().pixelColor(1000, 150).lightness()
    qtbot.mouseClick(window.theme_button, Qt.MouseButton.LeftButton)
    assert window.theme == "dark" and live.palette_.name == "dark"
    assert window.theme_button.text() == "Light theme"
    dark_bg = window.grab().toImage().pixelColor(1000, 150).lightness()
    assert light_bg > 200 and dark_bg < 60
    window.set_theme("light")


def test_app_main_starts_and_quits_cleanly(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from gui.app import main
        status = main(["--simulated", "--quit-after", "0.5", "--data-dir", {str(tmp_path / "data")!r}])
        from PySide6.QtWidgets import QApplication
        assert QApplication.instance() is None, "QApplication survived main()"
        print("main returned", status)
        sys.exit(status)
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONFAULTHANDLER": "1"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "main returned 0" in result.stdout
    assert "Traceback" not in result.stderr and "Fatal Python error" not in result.stderr


def test_an_exception_in_a_qt_slot_fails_the_test(tmp_path: Path, pytestconfig: pytest.Config) -> None:
    assert not pytestconfig.getini("qt_no_exception_capture")  # our configuration keeps capture on
    (tmp_path / "test_slot.py").write_text(textwrap.dedent(
        """
        from PySide6.QtCore import QTimer

        def test_slot_raises(qtbot):
            def slot():
                raise RuntimeError("boom in a slot")
            QTimer.singleShot(0, slot)
            qtbot.wait(50)
        """
    ))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout
    assert "boom in a slot" in result.stdout and "1 failed" in result.stdout
