"""Progress charts: the pure data preparation (gui.plotting.progress) against values worked out by hand, and the
pyqtgraph chart drawn from a real encrypted store's history — points, MDC bands, real-change markers, symmetry,
and the pixels of its grab()."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from clinic.progress import (
    MDC95_FACTOR,
    PatientProgress,
    SessionValues,
    metric_progress,
    patient_progress,
    symmetry_history,
)
from clinic.store import ClinicStore
from gui.plotting.progress import (
    chart_data,
    date_axis_label,
    date_range,
    date_ticks,
    display_unit,
    format_value,
    metric_choices,
    metric_label,
    to_epoch,
    value_range,
)
from gui.theme import DARK, LIGHT, Palette, apply_theme
from gui.widgets.progress_chart import WORSE, ProgressChart, band_fill, side_colour
from kinetics.io import ResultRow
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Trial, TrialMeta

D0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
GRIP_SEM = 1.8 * 9.80665  # Bai et al. 2019, N
GRIP_MDC = MDC95_FACTOR * GRIP_SEM  # 48.93 N
#: Grip (ASHT: mean of three trials) per weekly session and side.
LEFT_TRIALS = ([180.0, 190.0, 200.0], [205.0, 215.0, 225.0], [230.0, 240.0, 250.0], [250.0, 260.0, 270.0])
RIGHT_TRIALS = ([290.0, 300.0, 310.0], [300.0, 302.0, 304.0], [298.0, 298.0, 298.0], [230.0, 240.0, 250.0])
LEFT_MEANS = [190.0, 215.0, 240.0, 260.0]
RIGHT_MEANS = [300.0, 302.0, 298.0, 240.0]


# -- helpers ----------------------------------------------------------------------------------------------------
def rgb_array(image: QImage) -> np.ndarray:
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    data = np.frombuffer(img.constBits(), dtype=np.uint8, count=h * bpl).reshape(h, bpl)
    return data[:, : w * 3].reshape(h, w, 3).copy()


def colour_mask(pixels: np.ndarray, colour: str | QColor, tol: int = 0) -> np.ndarray:
    c = QColor(colour)
    target = np.array([c.red(), c.green(), c.blue()], dtype=np.int16)
    return np.all(np.abs(pixels.astype(np.int16) - target) <= tol, axis=2)


def blend(fill: str, under: str) -> QColor:
    """``fill`` (#aarrggbb) over opaque ``under``."""
    f, u = QColor(fill), QColor(under)
    a = f.alphaF()
    return QColor(round(a * f.red() + (1 - a) * u.red()), round(a * f.green() + (1 - a) * u.green()),
                  round(a * f.blue() + (1 - a) * u.blue()))


def chart_xy(chart: ProgressChart, plot_name: str, x: float, y: float) -> tuple[int, int]:
    """Data coordinates of ``chart.value_plot``/``sym_plot`` → pixel of the chart's grab()."""
    plot = getattr(chart, plot_name)
    vb = plot.getPlotItem().getViewBox()
    p = plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
    q = plot.mapTo(chart, QPoint(round(p.x()), round(p.y())))
    return q.x(), q.y()


def grip_trial(tid: str, side: str, when: datetime) -> Trial:
    dev = DeviceInfo("grip", "grip", 50.0, (Channel("force", "N"),))
    rec = DeviceRecording(dev, np.arange(8) / 50.0, np.arange(8), np.zeros((1, 8), np.float32))
    return Trial.from_recordings(TrialMeta(tid, "grip-asht", side, when), [rec])


def save_grip_history(store: ClinicStore, pid: str) -> None:
    """Four weekly grip sessions, three trials per hand, as the protocol runner saves them."""
    for week, (left, right) in enumerate(zip(LEFT_TRIALS, RIGHT_TRIALS, strict=True)):
        when = D0 + timedelta(weeks=week)
        trials, rows = [], []
        for side, values in (("left", left), ("right", right)):
            for k, v in enumerate(values):
                tid = f"{side[0]}{k}"
                trials.append(grip_trial(tid, side, when + timedelta(minutes=k)))
                rows.append(ResultRow(tid, "peak_force", v, "N", side, "grip-asht", "isometric"))
        store.save_session(pid, "grip-asht", trials, rows, started=when)


@pytest.fixture(scope="module")
def grip_progress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PatientProgress]:
    """A real encrypted store with the grip history; the progress as clinic.progress computes it."""
    mp = pytest.MonkeyPatch()
    mp.setenv("KINETICS_DB_KEY", "chart-tests")
    try:
        with ClinicStore.open(tmp_path_factory.mktemp("chart") / "data", interactive=False) as store:
            pid = store.add_patient("Chart Patient", "1970-01-01", "female", involved_side="left")
            save_grip_history(store, pid)
            yield patient_progress(store, pid)
    finally:
        mp.undo()


# -- pure data --------------------------------------------------------------------------------------------------
def test_display_units_follow_the_magnitude() -> None:
    assert display_unit("N", [190.0]) == ("N", 1.0)
    assert display_unit("m", [0.22, 0.31]) == ("cm", 100.0)
    assert display_unit("m", [0.004]) == ("mm", 1000.0)
    assert display_unit("m", [1.2]) == ("m", 1.0)
    assert display_unit("m/s", [0.012]) == ("mm/s", 1000.0)
    assert display_unit("m/s", [2.6]) == ("m/s", 1.0)
    assert display_unit("m^2", [3e-4]) == ("cm²", 1e4)
    assert display_unit("m^2", [3e-5]) == ("mm²", 1e6)
    assert display_unit("Pa", [25e3]) == ("kPa", 1e-3)
    assert display_unit("1", [0.8]) == ("", 1.0)
    assert display_unit("m", [math.nan]) == ("mm", 1000.0)  # nothing finite: the smallest unit, no crash
    assert format_value(273.4, "N") == "273 N" and format_value(29.51, "cm") == "29.5 cm"
    assert format_value(0.874, "") == "0.87" and format_value(math.nan, "N") == "—"
    assert metric_label("peak_force") == "Peak force"


def test_date_ticks_fall_on_local_days_weeks_months() -> None:
    x0 = to_epoch(D0) - 2.5 * 86400
    x1 = to_epoch(D0 + timedelta(weeks=3)) + 2.5 * 86400
    ticks = date_ticks(x0, x1, target=5)
    days = [datetime.fromtimestamp(v) for v, _ in ticks]
    assert all(d.hour == 0 and d.minute == 0 for d in days)  # local midnights
    assert all(d.weekday() == 0 for d in days) and len(ticks) == 4  # every Monday over ~3.7 weeks
    assert [label for _, label in ticks] == ["2 Mar", "9 Mar", "16 Mar", "23 Mar"]
    assert all(x0 <= v <= x1 for v, _ in ticks)
    short = date_ticks(to_epoch(D0), to_epoch(D0) + 3.5 * 86400)
    assert [label for _, label in short] == ["3 Mar", "4 Mar", "5 Mar"]  # daily
    year = date_ticks(to_epoch(D0), to_epoch(D0 + timedelta(days=365)), target=5)
    labels = [label for _, label in year]
    assert 3 <= len(labels) <= 6 and "Jan 2027" in labels  # months, the year where it changes
    assert all(datetime.fromtimestamp(v).day == 1 for v, _ in year)
    assert date_axis_label(to_epoch(D0), to_epoch(D0 + timedelta(days=365))) == "2026–2027"
    decade = date_ticks(to_epoch(D0), to_epoch(D0 + timedelta(days=3650)), target=5)
    assert [label for _, label in decade] == ["2028", "2030", "2032", "2034", "2036"]  # to 28 Feb 2036
    with pytest.raises(ValueError):
        date_ticks(5.0, 5.0)
    lo, hi = date_range([to_epoch(D0)])
    assert hi - lo == pytest.approx(5 * 86400.0)  # one session: mid-range


def test_value_range_is_fixed_round_and_covers_the_data() -> None:
    lo, hi, ticks = value_range([100.0, 200.0], target=5)
    assert (lo, hi) == pytest.approx((92.0, 208.0))  # 8 % of the span each side
    assert ticks == [100.0, 120.0, 140.0, 160.0, 180.0, 200.0]  # step 20: the smallest nice step ≤ 6 ticks
    flat = value_range([50.0, 50.0])
    assert flat[0] < 50.0 < flat[1]
    assert value_range([math.nan])[:2] == (0.0, 1.0)


def _hand_progress() -> PatientProgress:
    """Left/right knee extension (no published SEM: the patient's repeated trials give it)."""
    left = [SessionValues(f"s{i}", D0 + timedelta(weeks=i), tuple(v))
            for i, v in enumerate([[300, 310, 320], [330, 340, 350], [345, 350, 355]])]
    right = [SessionValues(f"s{i}", D0 + timedelta(weeks=i), tuple(v))
             for i, v in enumerate([[400, 400, 400], [400, 400, 400], [400, 400, 400]])]
    lp = metric_progress(left, protocol="knee-extension-hhd", key="peak_force", side="left", unit="N")
    rp = metric_progress(right, protocol="knee-extension-hhd", key="peak_force", side="right", unit="N")
    return PatientProgress("P-000001", (lp, rp), (symmetry_history(lp, rp, "none"),))


def test_chart_data_from_a_hand_worked_history() -> None:
    data = chart_data(_hand_progress(), "knee-extension-hhd", "peak_force")
    assert [s.side for s in data.series] == ["left", "right"]
    left, right = data.side("left"), data.side("right")
    assert left.y.tolist() == [320.0, 350.0, 355.0]  # best of three
    # SEM from the left's repeated trials √75 (SDs 10, 10, 5); the right's trials are identical: SD 0 → 0 N
    assert left.mdc == pytest.approx(MDC95_FACTOR * math.sqrt(75.0), rel=1e-13)
    assert left.band == pytest.approx((320.0 - 24.005, 320.0 + 24.005), abs=1e-3)
    assert left.real_x.tolist() == left.x[1:].tolist() and left.real_up.all() and left.real_better.all()
    assert right.band == (400.0, 400.0) and right.real_x.size == 0
    sym = data.symmetry
    assert sym is not None and sym.kind == "si" and sym.reference == 0.0  # no involved side: symmetry index
    assert sym.y == pytest.approx([(400 - 320) / 360 * 100, (400 - 350) / 375 * 100, (400 - 355) / 377.5 * 100])
    assert data.y_range[0] < 320.0 - 24.005 and data.y_range[1] > 400.0
    assert data.x_range[0] < left.x[0] and data.x_range[1] > left.x[-1]
    assert "repeated trials" in data.sem_note
    with pytest.raises(KeyError):
        chart_data(_hand_progress(), "knee-extension-hhd", "rfd")


def test_chart_data_matches_the_store_history(grip_progress: PatientProgress) -> None:
    choices = metric_choices(grip_progress, {"grip-asht": "peak_force"})
    assert [(c.protocol, c.key, c.sides, c.headline) for c in choices] == [
        ("grip-asht", "peak_force", ("left", "right"), True)]
    data = chart_data(grip_progress, "grip-asht", "peak_force")
    left, right = data.side("left"), data.side("right")
    by_side = {m.side: m for m in grip_progress.metrics}
    assert left.y.tolist() == [p.value for p in by_side["left"].points] == LEFT_MEANS
    assert right.y.tolist() == [p.value for p in by_side["right"].points] == RIGHT_MEANS
    assert left.x.tolist() == [to_epoch(D0 + timedelta(weeks=w)) for w in range(4)]
    assert left.mdc == pytest.approx(GRIP_MDC, rel=1e-14) and right.mdc == pytest.approx(GRIP_MDC, rel=1e-14)
    assert left.band == pytest.approx((190.0 - GRIP_MDC, 190.0 + GRIP_MDC), rel=1e-14)
    # +25 (no), +50, +70 N (real, better); right −60 N (real, worse)
    assert left.real_x.tolist() == left.x[2:].tolist() and left.real_better.all() and left.real_up.all()
    assert right.real_x.tolist() == [right.x[3]] and not right.real_better[0] and not right.real_up[0]
    sym = data.symmetry
    assert sym is not None and sym.kind == "lsi" and sym.reference == 100.0 and sym.involved_side == "left"
    assert sym.y == pytest.approx([lv / rv * 100.0 for lv, rv in zip(LEFT_MEANS, RIGHT_MEANS, strict=True)],
                                  rel=1e-14)
    assert "Bai" in data.sem_note


# -- the widget -------------------------------------------------------------------------------------------------
@pytest.fixture(params=["light", "dark"])
def palette(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[Palette]:
    yield apply_theme(qapp, request.param)
    apply_theme(qapp, "light")


def test_chart_draws_the_history_bands_markers_and_symmetry(qtbot: QtBot, palette: Palette,
                                                            grip_progress: PatientProgress) -> None:
    chart = ProgressChart(palette)
    qtbot.addWidget(chart)
    chart.resize(760, 560)
    chart.show()
    qtbot.waitExposed(chart)
    data = chart_data(grip_progress, "grip-asht", "peak_force")
    chart.set_data(data)
    assert chart.sides() == ["left", "right"]
    for side, means in (("left", LEFT_MEANS), ("right", RIGHT_MEANS)):
        x, y = chart.plotted_points(side)
        assert y.tolist() == means  # N: display = SI
        assert x.tolist() == [to_epoch(D0 + timedelta(weeks=w)) for w in range(4)]
        x0, x1, low, high = chart.band_rect(side) or (0, 0, 0, 0)
        assert (x0, x1) == pytest.approx(data.x_range)
        assert (low, high) == pytest.approx((means[0] - GRIP_MDC, means[0] + GRIP_MDC), rel=1e-12)
    rx, ry = chart.real_change_points("left")
    assert ry.tolist() == [240.0, 260.0] and rx.tolist() == x[2:].tolist()
    assert chart.real_change_points("right")[1].tolist() == [240.0]
    sx, sy = chart.symmetry_points()
    assert sy == pytest.approx([lv / rv * 100.0 for lv, rv in zip(LEFT_MEANS, RIGHT_MEANS, strict=True)])
    assert chart.sym_plot.isVisible()
    (xr, yr) = chart.view_ranges()
    assert xr == pytest.approx(list(data.x_range)) and yr == pytest.approx(list(data.y_range))

    QApplication.processEvents()
    px = rgb_array(chart.grab().toImage())
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 10  # not blank
    # the left band's fill, between the band edges, left of the first session
    left_fill = blend(band_fill(side_colour(palette, "left")), palette.surface)
    bx, by = chart_xy(chart, "value_plot", data.x_range[0] + 86400.0, 165.0)  # off the grid lines
    assert colour_mask(px[by - 2:by + 3, bx - 2:bx + 3], left_fill, tol=4).all()
    fill_rows = np.flatnonzero(colour_mask(px[:, bx:bx + 1], left_fill, tol=4)[:, 0])
    _, top = chart_xy(chart, "value_plot", data.x_range[0], 190.0 + GRIP_MDC)
    _, bottom = chart_xy(chart, "value_plot", data.x_range[0], 190.0 - GRIP_MDC)
    assert abs(fill_rows.min() - top) <= 2 and abs(fill_rows.max() - bottom) <= 2
    # session points in the side colours, real-change triangles (better/worse) around flagged sessions
    for side, means in (("left", LEFT_MEANS), ("right", RIGHT_MEANS)):
        cx, cy = chart_xy(chart, "value_plot", float(x[0]), means[0])
        assert colour_mask(px[cy - 2:cy + 3, cx - 2:cx + 3], side_colour(palette, side), tol=2).sum() >= 9
    for week, colour in ((2, palette.in_target), (3, palette.in_target)):
        cx, cy = chart_xy(chart, "value_plot", float(x[week]), LEFT_MEANS[week])
        assert colour_mask(px[cy - 12:cy + 13, cx - 12:cx + 13], colour, tol=2).sum() > 20
    cx, cy = chart_xy(chart, "value_plot", float(x[3]), RIGHT_MEANS[3])
    assert colour_mask(px[cy - 12:cy + 13, cx - 12:cx + 13], WORSE[palette.name], tol=2).sum() > 20
    cx, cy = chart_xy(chart, "value_plot", float(x[1]), LEFT_MEANS[1])  # +25 N: inside the band, no marker
    assert colour_mask(px[cy - 12:cy + 13, cx - 12:cx + 13], palette.in_target, tol=2).sum() == 0
    # symmetry points in curve colour 3 on the lower plot
    cx, cy = chart_xy(chart, "sym_plot", float(sx[0]), float(sy[0]))
    assert colour_mask(px[cy - 2:cy + 3, cx - 2:cx + 3], palette.curve(3), tol=2).sum() >= 9
    assert "LSI" in chart.legend.text() and "MDC95" in chart.legend.text()


def test_single_series_without_symmetry_and_the_empty_state(qtbot: QtBot, qapp: QApplication) -> None:
    apply_theme(qapp, "light")
    cmj = metric_progress(
        [SessionValues("a", D0, (), 0.30), SessionValues("b", D0 + timedelta(days=7), (), 0.36)],
        protocol="jump-cmj", key="jump_height", side="both", unit="m",
        reliability=None, sem_source="auto",
    )
    progress = PatientProgress("P-000002", (cmj,), ())
    chart = ProgressChart(LIGHT)
    qtbot.addWidget(chart)
    chart.resize(600, 400)
    chart.show()
    data = chart_data(progress, "jump-cmj", "jump_height")
    chart.set_data(data)
    assert data.unit == "cm" and chart.plotted_points("both")[1] == pytest.approx([30.0, 36.0])
    assert chart.band_rect("both") is None  # no published SEM given, no repeated trials: no band, no flag
    assert not chart.sym_plot.isVisible() and chart.real_change_points("both")[0].size == 0
    assert "No MDC" in chart.legend.text()
    chart.set_data(None)
    assert chart.stack.currentWidget() is chart.empty and chart.sides() == []
    chart.apply_palette(DARK)  # restyles with no data: still the empty state
    QApplication.processEvents()
    assert chart.empty.isVisible() and "No results" in chart.empty.text()
    px = rgb_array(chart.grab().toImage())
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 2  # the message is drawn
