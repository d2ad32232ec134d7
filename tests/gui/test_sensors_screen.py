"""The Sensors screen and the app's device session, on simulated sensors over the virtual radio (real bleak API).

How these tests drive Qt and asyncio together: one qasync loop per test (fixture), and each test body runs ONE
coroutine with ``loop.run_until_complete`` — the session is opened, used and closed inside it. Waiting is done by
polling a condition with ``asyncio.sleep`` (:func:`until`): Qt events are processed meanwhile because the qasync
loop runs ``QApplication.exec``. ``qtbot.waitUntil``/``qtbot.wait`` are not used while the session lives: they spin
Qt outside the running asyncio loop, and a task (a sensor, a supervisor, bumble) stepped there dies with "no
running event loop" — measured with qasync 0.28. Clicks (``qtbot.mouseClick``) are sent inside the coroutine.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qasync
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from drivers.devices import all_kinds, device_kind
from drivers.sim.signals import efforts
from gui.device_session import DeviceSession, role_for, simulated_kinds
from gui.main_window import MainWindow
from gui.screens.sensors import (
    DeviceCard,
    SensorsScreen,
    can_identify,
    can_tare,
    live_value_spec,
    signal_bars,
    state_text,
)
from gui.theme import current_palette
from tests.gui.asyncqt import run, until

G = 9.80665
BODY_MASS = 70.0  # the simulated fleet's person on the plates (kg)


# -- helpers ------------------------------------------------------------------------------------------------------
@asynccontextmanager
async def sensors_screen(qtbot: QtBot, errors: list[str]) -> AsyncIterator[tuple[DeviceSession, SensorsScreen]]:
    """An open simulated session and its screen shown at 1280×800; closed (and checked closed) on exit."""
    session = DeviceSession("virtual", simulated=True)
    session.error.connect(errors.append)
    screen = SensorsScreen(session, auto_scan=False, scan_seconds=1.0)
    qtbot.addWidget(screen)
    screen.resize(1080, 760)
    screen.show()
    try:
        session.start()
        await until(lambda: session.is_open, "the session to open")
        assert screen.scan_button.isEnabled()
        yield session, screen
    finally:
        await session.close()
        assert session.is_closed and session.fleet is not None
        assert not any(s.peripheral.is_connected for s in session.fleet.sensors)


async def scan(qtbot: QtBot, screen: SensorsScreen) -> None:
    finished: list[list[Any]] = []
    screen.session.scan_finished.connect(finished.append)
    qtbot.mouseClick(screen.scan_button, Qt.MouseButton.LeftButton)
    assert not screen.scan_button.isEnabled() and screen.scan_button.text() == "Scanning…"
    await until(lambda: screen.scan_progress.isVisible() and screen.scan_progress.value() > 0, "scan progress")
    await until(lambda: bool(finished), "the scan to finish")
    assert screen.scan_button.isEnabled() and not screen.scan_progress.isVisible()


def card_named(screen: SensorsScreen, prefix: str) -> DeviceCard:
    matches = [c for c in screen.listed() if c.found.name.startswith(prefix)]
    assert len(matches) == 1, [c.found.name for c in screen.listed()]
    return matches[0]


def region_colours(image: QImage, widget: QWidget, screen: QWidget, step: int = 2) -> dict[str, int]:
    """Colour → pixel count (every ``step``-th pixel) of ``widget``'s rectangle inside ``screen``'s grab."""
    origin = widget.mapTo(screen, QPoint(0, 0))
    ratio = image.devicePixelRatio()
    counts: dict[str, int] = {}
    top, left = int(origin.y() * ratio), int(origin.x() * ratio)
    bottom = min(image.height(), int((origin.y() + widget.height()) * ratio))
    right = min(image.width(), int((origin.x() + widget.width()) * ratio))
    assert 0 <= top < bottom and 0 <= left < right, f"{widget.objectName() or widget} is outside the screenshot"
    for y in range(top, bottom, step):
        for x in range(left, right, step):
            name = image.pixelColor(x, y).name()
            counts[name] = counts.get(name, 0) + 1
    return counts


def dominant(image: QImage, widget: QWidget, screen: QWidget) -> str:
    counts = region_colours(image, widget, screen)
    return max(counts, key=lambda c: counts[c])


def distinct_colours(image: QImage) -> int:
    step = 7
    return len({image.pixelColor(x, y).rgb() for y in range(0, image.height(), step)
                for x in range(0, image.width(), step)})


# -- pure rules -----------------------------------------------------------------------------------------------------
def test_roles_labels_and_capabilities() -> None:
    plate, grip = device_kind("plate"), device_kind("grip")
    assert role_for(grip, "KN-Grip-0002", []) == "grip"
    assert role_for(grip, "KN-Grip-0009", ["grip"]) == "grip_2"
    assert role_for(grip, "KN-Grip-0010", ["grip", "grip_2"]) == "grip_3"
    assert role_for(plate, "KN-Plate-0008-R", []) == "plate_right"  # the label on the plate wins
    assert role_for(plate, "KN-Plate-0006-L", ["plate_right"]) == "plate_left"
    assert role_for(plate, "KN-Plate-0001", []) == "plate_left"
    assert role_for(plate, "KN-Plate-0002", ["plate_left"]) == "plate_right"
    assert role_for(plate, "KN-Plate-0003-L", ["plate_left", "plate_right"]) == "plate_3"

    kinds = simulated_kinds()
    assert sorted(set(kinds)) == sorted(k.key for k in all_kinds()) and kinds.count("plate") == 2

    assert [signal_bars(r) for r in (None, -95, -85, -75, -65, -50)] == [0, 0, 1, 2, 3, 4]
    assert state_text(None, False) == "Not connected"
    assert state_text("searching", False) == "Searching…" and state_text("connecting", False) == "Connecting…"
    assert state_text("streaming", True) == "Streaming"
    # once a device has streamed, finding and connecting it again is one state for the clinician
    assert {state_text(s, True) for s in ("reconnecting", "searching", "connecting")} == {"Reconnecting…"}

    assert live_value_spec(grip).unit == "N" and live_value_spec(grip).channel == 0
    pneumatic = live_value_spec(device_kind("pneumatic"))
    assert (pneumatic.unit, pneumatic.scale) == ("kPa", 1e-3)
    total = live_value_spec(plate)
    assert total.derive is not None and total.label == "total force"
    assert total.derive(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])).tolist() == [16.0, 20.0]
    imu = live_value_spec(device_kind("witmotion-bwt901"))
    assert imu.unit == "°" and imu.channel == device_kind("witmotion-bwt901").channel_names.index("angle_x")
    tilt = live_value_spec(device_kind("goniometer"))
    assert tilt.derive is not None
    kind = device_kind("goniometer")
    upright = np.zeros((kind.n_channels, 1))
    upright[kind.channel_names.index("acc_z"), 0] = G
    assert tilt.derive(upright)[0] == pytest.approx(0.0, abs=1e-9)
    assert live_value_spec(device_kind("ble-weight-scale")).unit == "kg"

    assert can_tare(grip) and can_tare(plate) and can_tare(device_kind("tindeq-progressor"))
    assert not can_tare(device_kind("goniometer")) and not can_tare(device_kind("ble-force"))
    assert can_identify(grip) and not can_identify(device_kind("witmotion-bwt901"))


def test_session_refuses_simulated_sensors_on_a_real_stack() -> None:
    with pytest.raises(Exception, match="virtual radio"):
        DeviceSession("os", simulated=True)


# -- the screen on the simulated fleet ------------------------------------------------------------------------------
def test_scan_lists_every_simulated_kind(qtbot: QtBot, loop: qasync.QEventLoop, tmp_path: Path) -> None:
    errors: list[str] = []

    async def scenario() -> None:
        async with sensors_screen(qtbot, errors) as (_session, screen):
            assert screen.empty.isVisible() and not screen.listed()
            await scan(qtbot, screen)
            cards = screen.listed()
            assert not screen.empty.isVisible()
            assert sorted(c.kind.key for c in cards if c.kind is not None) == sorted(simulated_kinds())
            assert len(cards) == len(simulated_kinds())
            order = [k.key for k in all_kinds()]
            listed_kinds = [order.index(c.kind.key) for c in cards if c.kind is not None]
            assert listed_kinds == sorted(listed_kinds)  # device-table order
            for card in cards:
                assert card.state_chip.text() == "Not connected"
                assert card.signal_label.text() == "-50 dBm" and card.bars.bars == 4  # the virtual radio's RSSI
                assert card.battery_label.text() == "Battery —"  # read once connected
                assert card.connect_button.text() == "Connect" and card.connect_button.isEnabled()
                assert not card.controls.isVisible()  # no value, Identify or Tare before connecting
                assert card.kind is not None and card.kind_label.text() == card.kind.label
                assert card.icon.glyph and card.icon.toolTip() == card.kind.label
            assert "11 sensors found" in screen.status_label.text()
            assert "virtual radio" in screen.status_label.text()

            image = screen.grab().toImage()
            image.save(str(tmp_path / "sensors-scanned.png"))
            assert distinct_colours(image) > 20
            grip = card_named(screen, "KN-Grip")
            assert dominant(image, grip.icon, screen) == QColor(current_palette().curve(0)).name()
            for plate in (c for c in cards if c.kind is not None and c.kind.key == "plate"):
                screen.scroll_area.ensureWidgetVisible(plate)
                await asyncio.sleep(0.05)
                scrolled = screen.grab().toImage()
                assert dominant(scrolled, plate.icon, screen) == QColor(current_palette().curve(1)).name()
            assert screen.live.empty.isVisible()  # nothing streams yet
        assert errors == []

    run(loop, scenario)


def test_connect_tare_identify_reconnect_and_disconnect(qtbot: QtBot, loop: qasync.QEventLoop, tmp_path: Path
                                                         ) -> None:
    errors: list[str] = []
    palette = current_palette()

    async def scenario() -> None:
        async with sensors_screen(qtbot, errors) as (session, screen):
            assert session.fleet is not None
            await scan(qtbot, screen)
            grip = card_named(screen, "KN-Grip")
            plates = [c for c in screen.listed() if c.kind is not None and c.kind.key == "plate"]
            assert len(plates) == 2
            for card in (grip, *plates):
                qtbot.mouseClick(card.connect_button, Qt.MouseButton.LeftButton)
            mine = (grip, *plates)
            await until(lambda: all(c.state_chip.text() == "Streaming" for c in mine), "three sensors streaming")
            assert sorted(session.roles()) == ["grip", "plate_left", "plate_right"]
            assert {c.role for c in plates} == {"plate_left", "plate_right"}
            assert sorted(screen.live.names()) == ["grip", "plate_left", "plate_right"]
            before = screen.listed()
            for card in mine:
                assert card.connect_button.text() == "Disconnect" and card.controls.isVisible()
                assert card.identify_button.isEnabled() and card.tare_button.isEnabled()
                assert card.battery_label.text() == "Battery 87 %"  # the simulated sensors' battery
                assert card.kind_label.text().endswith(f"· {card.role}")

            # live values move, and the plates carry the standing person's weight (half each)
            seen: dict[str, set[float]] = {c.role or "": set() for c in mine}

            def sample() -> bool:
                for card in mine:
                    if card.value.value is not None:
                        seen[card.role or ""].add(round(card.value.value, 6))
                return all(len(v) >= 3 for v in seen.values())

            await until(sample, "every live value to change")
            for card in plates:
                assert card.value.value is not None
                assert card.value.value == pytest.approx(BODY_MASS * G / 2, rel=0.15)
            total = sum(c.value.value or 0.0 for c in plates)
            assert total == pytest.approx(BODY_MASS * G, rel=0.1)

            screen.scroll_area.ensureWidgetVisible(grip)
            await asyncio.sleep(0.05)
            image = screen.grab().toImage()
            image.save(str(tmp_path / "sensors-streaming.png"))
            assert distinct_colours(image) > 40
            assert dominant(image, grip.state_chip, screen) == QColor(palette.in_target).name()

            # tare: the grip is held at 40 N, then zeroed
            sensor = session.fleet.sensor("grip")
            sensor.set_script(efforts(sensor.rate, fmax=(300.0,), lead=600.0, zero_offset=40.0, noise_sd=0.0))
            await until(lambda: grip.value.value is not None and abs(grip.value.value - 40.0) < 0.05,
                        "the grip to read 40 N")
            series = screen.live.card("grip").series
            assert series is not None
            await until(lambda: series.values.size > 0 and bool(np.all(np.abs(
                series.values[series.times > series.times[-1] - 2.0] - 40.0) < 0.05)), "2 s at 40 N on the plot")
            grip_plot = screen.live.card("grip").widgets[0]
            curve = region_colours(screen.grab().toImage(), grip_plot, screen, step=1)
            assert curve.get(QColor(palette.curve(0)).name(), 0) > 40  # 2 s of a 10 s window: ~55 px of curve
            qtbot.mouseClick(grip.tare_button, Qt.MouseButton.LeftButton)
            await until(lambda: grip.value.value is not None and abs(grip.value.value) < 0.05, "the tare to zero it")
            assert sensor.tare_offset[0] == pytest.approx(40.0, abs=0.01)
            assert grip.value.text() == "0"

            qtbot.mouseClick(grip.identify_button, Qt.MouseButton.LeftButton)
            await until(lambda: sensor.identifying, "the grip to blink")

            sensor.set_battery(42)
            session.refresh_batteries()  # what the session's timer does every minute
            await until(lambda: grip.battery_label.text() == "Battery 42 %", "the new battery level")
            with pytest.raises(Exception, match="already connected as 'grip'"):
                await session.connect_device(grip.address)

            # the link drops: the card says so plainly, then streams again by itself
            peripheral = sensor.peripheral
            peripheral.faults = dataclasses.replace(peripheral.faults, readvertise_after=1.5)
            assert await peripheral.drop_link() == 1
            await until(lambda: grip.state_chip.text() == "Reconnecting…", "the card to show reconnecting")
            assert screen.live.card("grip").title.text().endswith("— reconnecting…")
            assert grip.value.text() == "—"  # no stale number while the link is down
            assert not grip.tare_button.isEnabled()
            screen.scroll_area.ensureWidgetVisible(grip)
            await asyncio.sleep(0.05)
            image = screen.grab().toImage()
            image.save(str(tmp_path / "sensors-reconnecting.png"))
            assert dominant(image, grip.state_chip, screen) == QColor(palette.banner).name()
            await until(lambda: grip.state_chip.text() == "Streaming", "the grip to stream again")
            assert session.status("grip").reconnects == 1
            assert screen.live.card("grip").title.text() == f"grip · {grip.found.name}"
            await until(lambda: grip.value.value is not None, "the grip's value to come back")

            # disconnect
            qtbot.mouseClick(grip.connect_button, Qt.MouseButton.LeftButton)
            await until(lambda: grip.role is None, "the grip to disconnect")
            assert grip.state_chip.text() == "Not connected" and grip.connect_button.text() == "Connect"
            assert not grip.controls.isVisible()
            assert sorted(screen.live.names()) == ["plate_left", "plate_right"]
            assert sorted(session.roles()) == ["plate_left", "plate_right"]
            await until(lambda: not peripheral.is_connected, "the grip's link to close")
            assert all(c.state_chip.text() == "Streaming" for c in plates)
            assert screen.listed() == before  # no card moved under the clinician's finger
            await scan(qtbot, screen)  # a new scan puts the connected sensors first
            assert screen.listed()[:2] == sorted(plates, key=lambda c: session.roles().index(c.role or ""))
            assert grip in screen.listed()  # still advertising, listed again
            qtbot.mouseClick(grip.connect_button, Qt.MouseButton.LeftButton)  # the same role and address again
            await until(lambda: grip.state_chip.text() == "Streaming", "the grip to stream after reconnecting")
            assert grip.role == "grip" and "grip" in screen.live.names()
        assert errors == []

    run(loop, scenario, timeout=90.0)


def test_a_failed_request_is_shown_not_raised(qtbot: QtBot, loop: qasync.QEventLoop) -> None:
    errors: list[str] = []

    async def scenario() -> None:
        async with sensors_screen(qtbot, errors) as (session, screen):
            session.request_connect("00:11:22:33:44:55")  # never seen by a scan
            await until(lambda: bool(errors), "an error message")
            assert "was not seen by a scan" in errors[0] and "scan again" in errors[0]
            assert screen.message_label.isVisible() and "not seen by a scan" in screen.message_label.text()
            with pytest.raises(Exception, match="no device plays"):
                await session.tare("grip")

    run(loop, scenario)


def test_app_starts_the_fleet_and_closes_it_before_deleting_the_window(
    qtbot: QtBot, qapp: QApplication, loop: qasync.QEventLoop
) -> None:
    from gui.app import _run_until_closed

    window = MainWindow(banner="Simulated sensors")
    session = DeviceSession("virtual", simulated=True, parent=window)
    screen = SensorsScreen(session, scan_seconds=0.5)  # auto-scan on, as in the app
    window.register_page("sensors", "Sensors", screen)
    window.resize(1280, 800)
    window.show()
    events: list[str] = []
    session.opened.connect(lambda: events.append("opened"))
    session.scan_finished.connect(lambda rows: events.append(f"scanned {len(rows)}"))
    session.closed.connect(lambda: events.append("closed"))
    session.open_failed.connect(lambda why: events.append(f"open failed: {why}"))
    session.error.connect(lambda why: events.append(f"error: {why}"))

    async def scenario() -> None:
        async def quit_when_scanned() -> None:
            await until(lambda: any(e.startswith("scanned") for e in events), f"the first automatic scan {events}")
            window.close()

        closer = asyncio.ensure_future(quit_when_scanned())
        await _run_until_closed(window, quit_after=None)
        await closer

    quits = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)  # as in main(): the loop, not the last window closing, ends the app
    try:
        run(loop, scenario)
    finally:
        qapp.setQuitOnLastWindowClosed(quits)
    assert events == ["opened", f"scanned {len(simulated_kinds())}", "closed"]
    assert session.fleet is not None and not any(s.peripheral.is_connected for s in session.fleet.sensors)
