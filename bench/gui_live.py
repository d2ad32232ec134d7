"""Live run-screen benchmark: the Run screen offscreen with four simulated sensors streaming over the virtual radio.

Two force plates (1 kHz each), a push dynamometer and a goniometer are simulated as real GATT servers on the
embedded virtual radio, connected through bleak, supervised and mapped to the session clock by the app's
:class:`gui.device_session.DeviceSession` — all on the GUI thread's qasync loop, in real time — and the Run screen
(:class:`gui.screens.run.RunScreen`, 1080×760: the page area of a 1280×800 window) shows them live: a stabilogram
with a target zone and weight bars, a force–time plot and a joint-angle plot, redrawn by the live view's 60 Hz
timer.

Per frame (the live view's timer slot): pulling the new samples + preparing the arrays + painting the live area
(the events the refresh posted — the scenes' dirty-item processing, layout and update requests — are
delivered inside the slot, so the frame ends when its pixels are painted). Reported:

- frame time p50/p95 (ms) and frames per second;
- GUI-thread CPU per frame: all the GUI thread's CPU (drawing *and* the radio, the BLE stack and the codecs, which
  share the thread) over the run divided by the frames; ``draw_cpu_ms`` is the frame slot's own CPU;
- notification-to-paint latency p95: for every notification, host time from the notification callback
  (``host_arrival`` of its block) to the end of the first frame whose data include it.

Then, in the same process, a baseline: the same screen for ``--baseline-seconds`` with pyqtgraph's defaults
(antialiasing, auto-range, the full tick/grid levels, every sample handed to Qt) — ``ratio_p95`` is baseline p95
over ours.

    .venv/bin/python bench/gui_live.py [--seconds 30] [--baseline-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import logging

import numpy as np
import pyqtgraph as pg
import qasync
from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from drivers.supervisor import LinkState
from gui.device_session import DeviceSession
from gui.plotting import TargetZone
from gui.screens.run import RunScreen
from gui.theme import apply_theme
from gui.widgets import StabilogramPlot, TimePlot
from protocols.loader import parse_protocol

SIZE = (1080, 760)
KINDS = ["plate", "plate", "push", "goniometer"]
PROTOCOL = """
id = "bench-live-display"
name = "Live display check"
category = "training"
region = "whole_body"
summary = "Two plates, a push dynamometer and a goniometer streaming together."
instructions = "Stand on the plates, hold the dynamometer, goniometer on the thigh."
sides = "none"
repetitions = 1
[[sensors]]
kind = "plate"
placement = "Side by side, one foot on each."
count = 2
roles = ["plate_left", "plate_right"]
[[sensors]]
kind = "push"
placement = "In the hand."
[[sensors]]
kind = "goniometer"
placement = "On the lateral thigh."
[[phases]]
kind = "hold"
duration = 30.0
[phases.target]
kind = "cop_zone"
radius = 0.03
[scoring]
headline = "mean_velocity"
[[scoring.scorers]]
name = "balance.sway_metrics"
metrics = ["mean_velocity"]
"""


class Probe:
    """Times the live view's frames and each notification's way to the screen."""

    def __init__(self, screen: RunScreen, session: DeviceSession) -> None:
        self.screen = screen
        self.session = session
        self.frame_ms: list[float] = []
        self.draw_cpu_ms: list[float] = []
        self.latency_ms: list[float] = []
        self.pending: dict[str, list[tuple[int, float]]] = {}
        self.recording = False
        acq = session.acquisition
        assert acq is not None
        for role, sup in acq.supervisors.items():
            self.pending[role] = []
            sup.on_live = self._wrap(role, sup.on_live)
        live = screen.live
        live.timer.timeout.disconnect(live.refresh)
        live.timer.timeout.connect(self.frame)

    def _wrap(self, role: str, inner: Callable[[Any], None] | None) -> Callable[[Any], None]:
        buffer = self.session.buffer(role)

        def on_live(block: Any) -> None:
            if inner is not None:
                inner(block)
            if self.recording:  # the block's samples are in the buffer up to this total
                self.pending[role].append((buffer.total, float(block.host_arrival)))

        return on_live

    def frame(self) -> None:
        totals = {role: self.session.buffer(role).total for role in self.pending}
        t0, c0 = time.perf_counter(), time.thread_time()
        self.screen.live.refresh()
        # Deliver what the refresh queued — the scenes' dirty-item processing, layout and update requests — so
        # that the frame's painting happens here, timed, and not later outside the slot.
        QCoreApplication.sendPostedEvents()
        t1, c1 = time.perf_counter(), time.thread_time()
        painted = time.monotonic()  # the session clock's host clock (host_arrival is read from it)
        if not self.recording:
            return
        self.frame_ms.append((t1 - t0) * 1000.0)
        self.draw_cpu_ms.append((c1 - c0) * 1000.0)
        for role, blocks in self.pending.items():
            done = 0
            for total, arrival in blocks:
                if total > totals[role]:
                    break
                self.latency_ms.append((painted - arrival) * 1000.0)
                done += 1
            del blocks[:done]

    def reset(self) -> None:
        self.frame_ms, self.draw_cpu_ms, self.latency_ms = [], [], []
        for blocks in self.pending.values():
            blocks.clear()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def measure(probe: Probe, seconds: float) -> dict[str, float]:
    probe.reset()
    probe.recording = True
    c0, t0 = time.thread_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, elapsed = time.thread_time() - c0, time.perf_counter() - t0
    probe.recording = False
    frames = len(probe.frame_ms)
    return {
        "frame_p50_ms": pct(probe.frame_ms, 50),
        "frame_p95_ms": pct(probe.frame_ms, 95),
        "fps": frames / elapsed,
        "cpu_ms_per_frame": cpu * 1000.0 / max(frames, 1),
        "draw_cpu_ms": statistics.fmean(probe.draw_cpu_ms) if probe.draw_cpu_ms else float("nan"),
        "latency_p50_ms": pct(probe.latency_ms, 50),
        "latency_p95_ms": pct(probe.latency_ms, 95),
        "notifications": float(len(probe.latency_ms)),
    }


def pyqtgraph_defaults(screen: RunScreen) -> None:
    """Turn the live plots into pyqtgraph's defaults: antialiasing, auto-range, every tick and grid level, and
    every sample drawn (no min/max decimation, no trail thinning)."""
    import gui.plotting.live as live_mod
    import gui.widgets.time_plot as time_plot_mod

    def keep_all(t: Any, y: Any, _n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(t, dtype=np.float64), np.asarray(y, dtype=np.float64)

    live_mod.minmax_decimate = keep_all  # type: ignore[assignment]
    time_plot_mod.minmax_decimate = keep_all  # type: ignore[assignment]
    pg.setConfigOptions(antialias=True)
    for plot in screen.live.findChildren(pg.PlotWidget):
        item = plot.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setTicks(None)
            axis.setStyle(maxTickLevel=2, maxTextLevel=2)
        item.showGrid(x=True, y=True)
        item.enableAutoRange()
        for curve in item.listDataItems():
            curve.opts["antialias"] = True
        if isinstance(plot, StabilogramPlot):
            plot.max_points = 1_000_000
        if isinstance(plot, TimePlot):
            plot.curve.opts["antialias"] = True


async def scenario(app: QApplication, seconds: float, baseline_seconds: float) -> dict[str, float]:
    session = DeviceSession("virtual", simulated=True, fleet_kinds=KINDS, speed=1.0)
    screen = RunScreen(session, data_dir=Path(tempfile.mkdtemp(prefix="kinetics-bench-")), review=False)
    screen.resize(*SIZE)
    screen.show()
    session.start()
    try:
        await session.wait_open(30.0)
        screen.set_protocol(parse_protocol(PROTOCOL))
        screen.set_patient("P-BE4C11")
        screen.connect_sensors()
        deadline = time.monotonic() + 60.0
        while not all(session.state(r) is LinkState.STREAMING for r in ("plate_left", "plate_right", "push",
                                                                         "goniometer")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"sensors not streaming: {[(r, session.state(r)) for r in session.roles()]}")
            await asyncio.sleep(0.1)
        print(f"streaming: {', '.join(session.roles())} over {session.description}")
        assert screen.live.names() == ["balance", "push", "goniometer"], screen.live.names()
        screen.live.card("balance").set_target(TargetZone(0.0, 0.0, 0.03))
        screen.live.card("push").set_target(80.0, 120.0)
        screen.live.card("goniometer").set_target(20.0, 60.0)
        probe = Probe(screen, session)
        await asyncio.sleep(3.0)  # the windows fill, caches warm up
        ours = await measure(probe, seconds)
        print(f"live ({seconds:g} s): frame p50 {ours['frame_p50_ms']:.2f} ms, p95 {ours['frame_p95_ms']:.2f} ms, "
              f"{ours['fps']:.1f} fps, GUI-thread CPU {ours['cpu_ms_per_frame']:.2f} ms/frame "
              f"(drawing {ours['draw_cpu_ms']:.2f} ms), latency p50 {ours['latency_p50_ms']:.1f} ms "
              f"p95 {ours['latency_p95_ms']:.1f} ms over {ours['notifications']:.0f} notifications")
        pyqtgraph_defaults(screen)
        await asyncio.sleep(1.0)
        base = await measure(probe, baseline_seconds)
        print(f"baseline, pyqtgraph defaults ({baseline_seconds:g} s): frame p50 {base['frame_p50_ms']:.2f} ms, "
              f"p95 {base['frame_p95_ms']:.2f} ms, {base['fps']:.1f} fps, GUI-thread CPU "
              f"{base['cpu_ms_per_frame']:.2f} ms/frame, latency p95 {base['latency_p95_ms']:.1f} ms")
        ours["ratio_p95"] = base["frame_p95_ms"] / ours["frame_p95_ms"]
        ours["baseline_frame_p95_ms"] = base["frame_p95_ms"]
        ours["baseline_fps"] = base["fps"]
        return ours
    finally:
        screen.live.stop()
        await session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    args = parser.parse_args()
    logging.getLogger("bumble").setLevel(logging.ERROR)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    apply_theme(app, "light")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        figures = loop.run_until_complete(scenario(app, args.seconds, args.baseline_seconds))
    print(f"machine: {os.cpu_count()} cores; aim: frame p95 < 16 ms, latency p95 < 50 ms")
    print(f"frame_p95_ms={figures['frame_p95_ms']:.2f} fps={figures['fps']:.1f} "
          f"cpu_ms_per_frame={figures['cpu_ms_per_frame']:.2f} latency_p95_ms={figures['latency_p95_ms']:.1f} "
          f"frame_p50_ms={figures['frame_p50_ms']:.2f} draw_cpu_ms={figures['draw_cpu_ms']:.2f} "
          f"latency_p50_ms={figures['latency_p50_ms']:.1f} "
          f"baseline_frame_p95_ms={figures['baseline_frame_p95_ms']:.2f} "
          f"ratio_p95={figures['ratio_p95']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
