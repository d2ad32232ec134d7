"""The live widgets offscreen (pytest-qt): each builds, takes data, and its grab() shows the expected pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from drivers.devices import all_kinds, device_kind
from drivers.ringbuffer import RingBuffer
from gui.live_view import LiveView
from gui.plotting import TargetZone
from gui.theme import DARK, LIGHT, Palette, apply_theme
from gui.widgets import AnglePlot, BigValue, ForceTimePlot, StabilogramPlot, WeightBars
from kinetics.simulate.sway import cell_forces

CELLS = device_kind("plate").geometry["cell_positions"]


@pytest.fixture(params=["light", "dark"])
def palette(request: pytest.FixtureRequest, qapp: QApplication) -> Palette:
    return apply_theme(qapp, request.param)


def rgb_array(image: QImage) -> np.ndarray:
    """(h, w, 3) uint8 array of a grabbed image."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    data = np.frombuffer(img.constBits(), dtype=np.uint8, count=h * bpl).reshape(h, bpl)
    return data[:, : w * 3].reshape(h, w, 3).copy()


def colour_mask(pixels: np.ndarray, colour: str | QColor, tol: int = 0) -> np.ndarray:
    c = QColor(colour)
    target = np.array([c.red(), c.green(), c.blue()], dtype=np.int16)
    return np.all(np.abs(pixels.astype(np.int16) - target) <= tol, axis=2)


def blend(fill: str, under: str) -> QColor:
    """``fill`` (#aarrggbb) painted over opaque ``under``."""
    f, u = QColor(fill), QColor(under)
    a = f.alphaF()
    fr, fg, fb = f.red(), f.green(), f.blue()
    ur, ug, ub = u.red(), u.green(), u.blue()
    return QColor(round(a * fr + (1 - a) * ur), round(a * fg + (1 - a) * ug), round(a * fb + (1 - a) * ub))


def grab(widget: object) -> np.ndarray:
    QApplication.processEvents()
    return rgb_array(widget.grab().toImage())  # type: ignore[attr-defined]


def view_to_widget(plot: object, x: float, y: float) -> tuple[float, float]:
    vb = plot.getPlotItem().getViewBox()  # type: ignore[attr-defined]
    p = plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))  # type: ignore[attr-defined]
    return p.x(), p.y()


def test_force_plot_draws_curve_on_its_value_and_the_band(qtbot: QtBot, palette: Palette) -> None:
    plot = ForceTimePlot(window=10.0, y_range=(0.0, 200.0), palette=palette)
    qtbot.addWidget(plot)
    plot.resize(640, 320)
    plot.show()
    plot.set_target(100.0, 150.0)
    t = np.arange(10_000) / 1000.0
    plot.set_data(t, np.full(t.size, 120.0))
    px = grab(plot)
    curve = colour_mask(px, palette.curve(0))
    assert curve.sum() > 300  # a 10 s line across ~500 px
    rows = np.flatnonzero(curve.any(axis=1))
    _, y120 = view_to_widget(plot, -5.0, 120.0)
    assert np.all(np.abs(rows - y120) <= 1.5)
    band = colour_mask(px, blend(palette.band, palette.surface), tol=3)
    band_rows = np.flatnonzero(band.sum(axis=1) > 100)
    _, top = view_to_widget(plot, 0.0, 150.0)
    _, bottom = view_to_widget(plot, 0.0, 100.0)
    assert abs(band_rows.min() - top) <= 2 and abs(band_rows.max() - bottom) <= 2
    assert plot.drawn_points() <= 2 * plot.plot_pixels()
    plot.set_target(None)
    assert colour_mask(grab(plot), blend(palette.band, palette.surface), tol=3).sum() < 50


def test_force_plot_range_grows_only_when_data_leave_it(qtbot: QtBot) -> None:
    plot = ForceTimePlot(y_range=(0.0, 200.0))
    qtbot.addWidget(plot)
    plot.resize(400, 200)
    t = np.arange(100) / 100.0
    plot.set_data(t, np.linspace(0, 180, 100))
    assert plot.y_range == (0.0, 200.0)
    plot.set_data(t, np.linspace(0, 260, 100))
    assert plot.y_range == (0.0, 500.0)
    vb_range = plot.getPlotItem().getViewBox().viewRange()
    assert vb_range[1] == pytest.approx([0.0, 500.0]) and vb_range[0] == pytest.approx([-10.0, 0.0])


def test_force_plot_update_from_ring_buffer_decimates(qtbot: QtBot) -> None:
    plot = ForceTimePlot(window=10.0)
    qtbot.addWidget(plot)
    plot.resize(500, 250)
    plot.show()
    QApplication.processEvents()
    buf = RingBuffer(1, 20_000)
    t = np.arange(15_000) / 1000.0
    y = 50.0 + 40.0 * np.sin(t)
    y[14_000] = 190.0  # a peak inside the window
    buf.extend(t, y[None, :])
    series = plot.update_from(buf)
    assert series.times.size in (10_000, 10_001)  # 10 s at 1 kHz (the edge sample depends on rounding)
    assert 0 < plot.drawn_points() <= 2 * plot.plot_pixels() < 10_000
    assert plot.curve.yData.max() == 190.0


def test_pressure_is_converted_for_display_only(qtbot: QtBot) -> None:
    plot = ForceTimePlot(unit="kPa", display_scale=1e-3, y_range=(0.0, 50e3))
    qtbot.addWidget(plot)
    plot.resize(400, 200)
    plot.set_data(np.arange(3.0), np.array([10e3, 20e3, 30e3]))
    np.testing.assert_allclose(plot.curve.yData, [10.0, 20.0, 30.0])
    assert plot.getPlotItem().getViewBox().viewRange()[1] == pytest.approx([0.0, 50.0])


def test_angle_plot_shows_target_range(qtbot: QtBot, palette: Palette) -> None:
    plot = AnglePlot(palette=palette, colour_index=1)
    qtbot.addWidget(plot)
    plot.resize(600, 300)
    plot.show()
    plot.set_target(80.0, 100.0)
    t = np.arange(2000) / 200.0
    plot.set_data(t, 60.0 + 50.0 * np.sin(t))
    px = grab(plot)
    assert colour_mask(px, palette.curve(1)).sum() > 300
    band = colour_mask(px, blend(palette.band, palette.surface), tol=3)
    _, top = view_to_widget(plot, 0.0, 100.0)
    _, bottom = view_to_widget(plot, 0.0, 80.0)
    band_rows = np.flatnonzero(band.sum(axis=1) > 50)
    assert abs(band_rows.min() - top) <= 2 and abs(band_rows.max() - bottom) <= 2
    assert "°" in plot.getPlotItem().getAxis("left").labelText


def test_stabilogram_trail_zone_marker_and_square_aspect(qtbot: QtBot, palette: Palette) -> None:
    plot = StabilogramPlot(half_range=0.05, palette=palette)
    qtbot.addWidget(plot)
    plot.resize(480, 400)
    plot.show()
    plot.set_target(TargetZone(0.0, 0.0, 0.01))
    a = np.linspace(0, 4 * np.pi, 4000)
    x, y = 0.03 * np.cos(a), 0.03 * np.sin(a)
    x[-1], y[-1] = 0.002, 0.001  # the current COP: inside the zone
    plot.set_data(x, y)
    assert plot.drawn_points() <= plot.max_points
    assert plot.in_zone is True
    px = grab(plot)
    assert colour_mask(px, palette.curve(0)).sum() > 200
    zone = colour_mask(px, blend(palette.band, palette.surface), tol=3)
    assert zone.sum() > 100
    assert colour_mask(px, palette.in_target).sum() > 10  # the marker turns "in target"
    # a 30 mm circle is round on screen: same pixel radius along x and y
    x0, y0 = view_to_widget(plot, 0.0, 0.0)
    x30, _ = view_to_widget(plot, 30.0, 0.0)
    _, y30 = view_to_widget(plot, 0.0, 30.0)
    assert abs(x30 - x0) == pytest.approx(abs(y30 - y0), rel=0.02)
    # the zone's fill spans 2 × 10 mm on both axes
    cols = np.flatnonzero(zone.any(axis=0))
    rows = np.flatnonzero(zone.any(axis=1))
    x10, _ = view_to_widget(plot, 10.0, 0.0)
    assert cols.max() - cols.min() == pytest.approx(2 * (x10 - x0), abs=3)
    assert rows.max() - rows.min() == pytest.approx(2 * (x10 - x0), abs=3)
    plot.set_data(np.array([0.04]), np.array([0.0]))
    assert plot.in_zone is False


def test_stabilogram_rect_zone_and_units(qtbot: QtBot) -> None:
    plot = StabilogramPlot(half_range=0.05)
    qtbot.addWidget(plot)
    plot.resize(400, 400)
    plot.set_target(TargetZone(0.0, 0.02, 0.05, 0.04, shape="rect"))
    assert plot.view_range == (-0.1, 0.1)  # 1.5 × (0.02 + 0.04) = 0.09 → 0.1 m
    plot.set_data(np.array([0.01, 0.02]), np.array([0.0, 0.03]))
    np.testing.assert_allclose(plot.trail.xData, [10.0, 20.0])  # drawn in mm
    assert plot.in_zone is True


def test_weight_bars_proportions_in_pixels(qtbot: QtBot, palette: Palette) -> None:
    bars = WeightBars(palette=palette)
    qtbot.addWidget(bars)
    bars.resize(240, 400)
    bars.show()
    bars.set_data(0.7)
    px = grab(bars)
    left = colour_mask(px, palette.left)
    right = colour_mask(px, palette.right)
    h_left = np.flatnonzero(left.any(axis=1)).size
    h_right = np.flatnonzero(right.any(axis=1)).size
    frame = bars.bar_rects()[0].height()
    assert h_left == pytest.approx(0.7 * frame, abs=2)
    assert h_right == pytest.approx(0.3 * frame, abs=2)
    # left bar left of the right bar
    assert np.flatnonzero(left.any(axis=0)).max() < np.flatnonzero(right.any(axis=0)).min()
    bars.set_data(None)
    px = grab(bars)
    assert not colour_mask(px, palette.left).any() and bars.right_share is None
    bars.set_data(0.5)
    bars.set_target(0.45, 0.55)
    assert colour_mask(grab(bars), blend(palette.band, palette.surface), tol=3).sum() > 50


def test_big_value_text_target_colour(qtbot: QtBot, palette: Palette) -> None:
    big = BigValue("force", "N", palette=palette)
    qtbot.addWidget(big)
    big.resize(300, 110)
    big.show()
    assert big.text() == "—"
    big.set_value(123.4)
    assert big.text() == "123"
    assert colour_mask(grab(big), palette.text).sum() > 100
    big.set_target(100.0, 150.0)
    assert big.in_target is True
    assert colour_mask(grab(big), palette.in_target).sum() > 100
    big.set_value(180.0)
    assert big.in_target is False and colour_mask(grab(big), palette.in_target).sum() == 0
    big.set_value(-0.2)
    assert big.text() == "0"
    angle = BigValue("knee", "°", decimals=1)
    angle.set_value(float("nan"))
    assert angle.text() == "—"


def test_big_value_from_buffer(qtbot: QtBot) -> None:
    big = BigValue("force", "N", decimals=1)
    qtbot.addWidget(big)
    buf = RingBuffer(1, 1000)
    t = np.arange(500) / 1000.0
    buf.extend(t, np.where(t >= 0.4, 80.0, 10.0)[None, :])
    big.update_from(buf, seconds=0.05)
    assert big.value == pytest.approx(80.0)


def _fill(buffers: dict[str, RingBuffer], seconds: float = 3.0) -> None:
    for name, buf in buffers.items():
        kind = device_kind(name)
        n = int(seconds * min(kind.rate, 1000.0))
        t = np.arange(n) / min(kind.rate, 1000.0)
        values = np.zeros((buf.n_channels, n))
        if kind.trial_kind == "plate":
            values = cell_forces(np.vstack([0.01 * np.sin(t), 0.01 * np.cos(t)]), 600.0, CELLS)
        elif kind.trial_kind == "goniometer" and "acc_z" in kind.channel_names:
            values[kind.channel_names.index("acc_z")] = 9.81
            values[kind.channel_names.index("acc_x")] = 9.81 * np.sin(t)
        elif kind.trial_kind == "pneumatic":
            values[0] = 20e3 + 5e3 * np.sin(t)  # Pa
        else:
            values[0] = 50.0 + 40.0 * np.sin(t)
        buf.extend(t, values)


def test_live_view_shows_every_device_kind(qtbot: QtBot, palette: Palette) -> None:
    view = LiveView(palette=palette)
    qtbot.addWidget(view)
    view.resize(1280, 1400)
    px = grab(view)
    assert view.empty.isVisible() is False or not view.names()
    buffers = {k.key: RingBuffer(k.n_channels, 4000) for k in all_kinds()}
    for key, buf in buffers.items():
        view.add_device(key, device_kind(key), buf)
    view.show()
    assert view.names() == list(buffers)
    assert not view.empty.isVisible()
    _fill(buffers)
    view.refresh()
    px = grab(view)
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 20  # not blank
    for i in range(4):
        assert colour_mask(px, palette.curve(i)).sum() > 50
    gonio = view.card("goniometer").series
    assert gonio is not None and gonio.latest == pytest.approx(np.degrees(np.arctan2(9.81 * abs(np.sin(2.995)),
                                                                                     9.81)), abs=1e-6)
    plate = view.card("plate").source
    assert plate is not None and plate.total_force[-1] == pytest.approx(600.0)
    view.card("grip").set_target(60.0, 80.0)
    view.card("plate").set_target(TargetZone(0.0, 0.0, 0.02))
    view.apply_palette(DARK if palette is LIGHT else LIGHT)
    view.remove("grip")
    assert "grip" not in view.names()
    with pytest.raises(ValueError, match="exists already"):
        view.add_device("push", device_kind("push"), buffers["push"])


def test_live_view_two_plates_card_and_timer(qtbot: QtBot) -> None:
    view = LiveView()
    qtbot.addWidget(view)
    view.resize(900, 500)
    left, right = RingBuffer(4, 5000), RingBuffer(4, 5000)
    card = view.add_balance("plates", left, CELLS, right=right, left_origin=(-0.1, 0.0), right_origin=(0.1, 0.0))
    t = np.arange(1000) / 1000.0
    cop = np.zeros((2, 1000))
    left.extend(t, cell_forces(cop, 450.0, CELLS))
    right.extend(t, cell_forces(cop, 150.0, CELLS))
    assert not view.timer.isActive()
    view.show()
    assert view.timer.isActive() and view.timer.interval() == 16
    qtbot.waitUntil(lambda: view.frames >= 3, timeout=2000)
    bars = next(w for w in card.widgets if isinstance(w, WeightBars))
    assert bars.left_share == pytest.approx(0.75)
    view.hide()
    assert not view.timer.isActive()
