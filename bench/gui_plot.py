"""Live drawing benchmark: the live view offscreen at 1280×720 with four 1 kHz curves and a two-plate COP trail.

A writer thread fills ring buffers at real time (blocks every 10 ms, session-clock timestamps from the sample
index, as the acquisition will). The live view (gui.live_view, measured pyqtgraph settings: width-1 pens, no
antialias, fixed ranges, major-only grid, min/max decimation, thinned trail) is driven at 60 Hz for a few
seconds; then, in the same run, a baseline built with pyqtgraph defaults (antialias, full grid, auto-range,
every sample drawn) on the same buffers. Frame time = pulling new samples + preparing arrays + Qt processing
the queued updates and painting. Prints p50/p95 frame time, fps, and the ratio baseline/live; the last line
is key=value figures.

    .venv/bin/python bench/gui_plot.py [--seconds 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication, QGridLayout, QWidget

from drivers.devices import device_kind
from drivers.ringbuffer import RingBuffer
from gui.live_view import LiveView
from gui.plotting import LiveBalance, LiveSeries
from gui.theme import apply_theme
from kinetics.simulate.sway import cell_forces, random_walk_sway

RATE = 1000.0
WINDOW = 10.0
SIZE = (1280, 720)


class SyntheticWriter(threading.Thread):
    """Writes precomputed signals into ring buffers at real time, in 10 ms blocks, looping over the signal."""

    def __init__(self, feeds: dict[str, tuple[RingBuffer, np.ndarray]], rate: float = RATE, block_s: float = 0.01
                 ) -> None:
        super().__init__(daemon=True)
        self.feeds, self.rate, self.block_s = feeds, rate, block_s
        self.stop_event = threading.Event()
        self.written = 0

    def run(self) -> None:
        start = time.perf_counter()
        while not self.stop_event.wait(self.block_s):
            due = int((time.perf_counter() - start) * self.rate)
            if due <= self.written:
                continue
            k = np.arange(self.written, due)
            t = k / self.rate
            for buffer, signal in self.feeds.values():
                buffer.extend(t, signal[:, k % signal.shape[1]])
            self.written = due

    def stop(self) -> None:
        self.stop_event.set()
        self.join()


def synthetic_feeds(seconds: float = 30.0) -> dict[str, tuple[RingBuffer, np.ndarray]]:
    """Four 1 kHz single-channel signals (grip, push, pull force in N; a tilt-like angle in deg) and two 4-cell
    plates (N) whose COP sways like quiet standing with 55/45 % of 700 N left/right."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(1)
    efforts = np.clip(np.sin(2 * np.pi * t / 6.0), 0, None) ** 2
    signals = {
        "grip": 250.0 * efforts + rng.normal(0, 1.5, n),
        "push": 150.0 * np.clip(np.sin(2 * np.pi * t / 5.0 + 1.0), 0, None) + rng.normal(0, 1.0, n),
        "pull": 300.0 * efforts[::-1] + rng.normal(0, 2.0, n),
        "angle": 60.0 + 50.0 * np.sin(2 * np.pi * t / 4.0) + rng.normal(0, 0.3, n),
    }
    feeds = {name: (RingBuffer(1, int(2 * WINDOW * RATE)), y[None, :]) for name, y in signals.items()}
    cells = device_kind("plate").geometry["cell_positions"]
    sway = random_walk_sway(RATE, seconds, sd=(0.006, 0.010), time_constant=1.0, batch=(2,), seed=3)
    for i, (side, share) in enumerate((("left", 0.55), ("right", 0.45))):
        forces = cell_forces(sway[i], 700.0 * share, cells)
        feeds[f"plate_{side}"] = (RingBuffer(4, int(2 * WINDOW * RATE)), forces)
    return feeds


def build_live(feeds: dict[str, tuple[RingBuffer, np.ndarray]]) -> LiveView:
    view = LiveView(window=WINDOW)
    for name in ("grip", "push", "pull"):
        view.add_force(name, feeds[name][0], title=f"{name} dynamometer", y_range=(0.0, 400.0))
    view.add_angle("angle", feeds["angle"][0], title="goniometer")
    view.add_balance("plates", feeds["plate_left"][0], device_kind("plate").geometry["cell_positions"],
                     right=feeds["plate_right"][0], left_origin=(-0.12, 0.0), right_origin=(0.12, 0.0),
                     title="force plates")
    return view


class BaselineView(QWidget):
    """The same plots with pyqtgraph's defaults: antialias, full grid, auto-range, every sample drawn."""

    def __init__(self, feeds: dict[str, tuple[RingBuffer, np.ndarray]]) -> None:
        super().__init__()
        pg.setConfigOptions(antialias=True)
        grid = QGridLayout(self)
        self.series: list[tuple[LiveSeries, pg.PlotDataItem]] = []
        for i, name in enumerate(("grip", "push", "pull", "angle")):
            plot = pg.PlotWidget()
            plot.showGrid(x=True, y=True)
            curve = plot.plot(pen=pg.mkPen(pg.intColor(i), width=1))
            self.series.append((LiveSeries(feeds[name][0], window=WINDOW), curve))
            grid.addWidget(plot, i // 3, i % 3)
        cop_plot = pg.PlotWidget()
        cop_plot.showGrid(x=True, y=True)
        cop_plot.setAspectLocked(True)
        self.trail = cop_plot.plot(pen=pg.mkPen("c", width=1))
        self.balance = LiveBalance(feeds["plate_left"][0], device_kind("plate").geometry["cell_positions"],
                                   right=feeds["plate_right"][0], left_origin=(-0.12, 0.0), right_origin=(0.12, 0.0))
        grid.addWidget(cop_plot, 1, 1, 1, 2)

    def refresh(self) -> None:
        for series, curve in self.series:
            series.poll()
            t = series.times
            curve.setData(t - t[-1] if t.size else t, series.values)
        self.balance.poll()
        cop = self.balance.cop * 1000.0
        self.trail.setData(cop[0], cop[1])


def drive(app: QApplication, widget: QWidget, refresh: Callable[[], None], seconds: float) -> tuple[list[float], float]:
    """Draw frames on a 60 Hz schedule for ``seconds``: each frame pulls new samples (``refresh``) and lets Qt
    process everything it queued (scene updates, range changes, the paint itself). A frame that overruns its
    slot delays the next one, so fps drops below 60 when frames take longer than 16.7 ms. Returns the frame
    times (ms) and the frames per second."""
    widget.resize(*SIZE)
    widget.show()
    period = 1.0 / 60.0
    warmup_end = time.perf_counter() + 1.0
    while time.perf_counter() < warmup_end:  # let the buffers fill a little and caches warm up
        refresh()
        app.processEvents()
        time.sleep(period)
    times: list[float] = []
    start = time.perf_counter()
    deadline = start
    while time.perf_counter() - start < seconds:
        now = time.perf_counter()
        if now < deadline:
            time.sleep(deadline - now)
        t0 = time.perf_counter()
        refresh()
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000.0)
        deadline = max(deadline + period, t0)
    elapsed = time.perf_counter() - start
    widget.hide()
    app.processEvents()
    return times, len(times) / elapsed


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per configuration")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    apply_theme(app, "light")
    feeds = synthetic_feeds()
    writer = SyntheticWriter(feeds)
    writer.start()
    try:
        live = build_live(feeds)
        live.stop()
        live.showEvent = lambda event: None  # type: ignore[method-assign]  # we drive the frames ourselves
        live_times, live_fps = drive(app, live, live.refresh, args.seconds)
        points = sum(c.widgets[0].drawn_points() for c in (live.card(n) for n in live.names()))  # type: ignore[attr-defined]
        baseline = BaselineView(feeds)
        base_times, base_fps = drive(app, baseline, baseline.refresh, args.seconds)
    finally:
        writer.stop()
    p50, p95 = percentile(live_times, 50), percentile(live_times, 95)
    b50, b95 = percentile(base_times, 50), percentile(base_times, 95)
    print(f"machine: {os.cpu_count()} cores, offscreen {SIZE[0]}x{SIZE[1]}, 4 curves at 1 kHz + 2 plates, "
          f"{WINDOW:.0f} s window, {args.seconds:.0f} s per configuration")
    print(f"live view : frame p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  mean {statistics.fmean(live_times):6.2f} ms  "
          f"{live_fps:5.1f} fps  ({len(live_times)} frames, {points} points drawn in the last frame)")
    print(f"baseline  : frame p50 {b50:6.2f} ms  p95 {b95:6.2f} ms  mean {statistics.fmean(base_times):6.2f} ms  "
          f"{base_fps:5.1f} fps  (pyqtgraph defaults, every sample drawn)")
    print(f"ratio baseline/live: p50 {b50 / p50:.1f}x  p95 {b95 / p95:.1f}x")
    for w in (live, baseline):
        w.close()
        w.deleteLater()
    app.processEvents()
    print(f"frame_p50_ms={p50:.2f} frame_p95_ms={p95:.2f} fps={live_fps:.1f} baseline_p50_ms={b50:.2f} "
          f"baseline_p95_ms={b95:.2f} baseline_fps={base_fps:.1f} speedup_p50={b50 / p50:.2f} "
          f"speedup_p95={b95 / p95:.2f}")


if __name__ == "__main__":
    main()
