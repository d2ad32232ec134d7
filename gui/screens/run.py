"""The Run screen: a protocol for a patient, from the sensors' placement to the last trial.

Left, what the patient and the clinician need to read from across the room: before the session the protocol's
instructions and, per sensor, where it goes and whether it streams (with "Connect sensors", which finds and
connects one sensor per role); during it the cue in large letters ("Squeeze as hard as you can!"), the countdown,
the phase, the trial, repetition and side, the automatic start on effort ("Starts when the effort begins" until the
runner detects it), and after each trial its score with Accept, Redo and Discard. Right, the live plots of the
protocol's sensors with the phase's target: force–time with the target band, joint angle with the target range,
the COP stabilogram with the target zone and the left/right weight bars (:class:`gui.live_view.LiveView`, fed by
the acquisition's ring buffers at 60 frames per second).

The session itself is :class:`protocols.runner.ProtocolRunner`, run as a task on the app's qasync loop; nothing
here waits on it. A device lost mid-trial shows "Reconnecting…" across the cue and the countdown stops; the runner
pauses the phase and resumes it when the device is back (the trial keeps every sample that arrived). In simulated
mode a :class:`protocols.simpatient.SimulatedPatient` acts the cues out on the simulated sensors.

When the session ends, :attr:`RunScreen.finished` carries a :class:`RunRecord` for the Results screen.
"""

from __future__ import annotations

import asyncio
import logging
import math
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from drivers.devices import device_kind
from drivers.supervisor import LinkState
from gui.device_session import DeviceSession
from gui.live_view import LiveCard, LiveView
from gui.plotting import TargetZone
from gui.theme import Palette, current_metrics, current_palette
from protocols.runner import Cue, ProtocolRunner, RealTimeClock, RunnerError, _Slot, _TrialState
from protocols.schema import Phase, Protocol, Target
from protocols.scoring import PLATE_HALF_SPACING
from protocols.session import SessionResult, TrialResult

logger = logging.getLogger(__name__)

#: Host seconds a lost device may stay away before the runner gives the trial up (scaled to session time).
DISCONNECT_TIMEOUT_S = 30.0
#: Host seconds to wait for every sensor to stream and its clock to settle before the first trial.
READY_TIMEOUT_S = 60.0
#: How often the countdown and the phase text are redrawn (Hz).
TICK_HZ = 10.0
#: A time-varying target band is moved when its level changes by more than this fraction.
BAND_STEP = 0.01
#: Seconds of scanning when "Connect sensors" looks for the protocol's sensors.
CONNECT_SCAN_S = 2.0

#: What a cue kind is called on screen (the phase line).
PHASE_TITLES = {
    "prepare": "Get ready",
    "countdown": "Countdown",
    "go": "Effort",
    "hold": "Hold",
    "rest": "Rest",
    "switch_side": "Switch side",
    "stop": "Relax",
    "trial_done": "Trial done",
    "paused": "Paused",
    "resumed": "Go on",
    "done": "Session complete",
}
#: Plain explanations of the trial flags (shown under a trial's score here and on the Results screen).
FLAG_TEXT = {
    "inconsistent_effort": "Inconsistent effort: the repetitions differ more than the protocol allows "
                           "(coefficient of variation above its limit); the effort may not have been maximal.",
    "bad_quiet_phase": "The quiet phase was not quiet: the patient moved while the baseline was measured.",
    "quiet_phase_not_quiet": "The quiet phase was not quiet: the weighing before the jump moved too much.",
    "quiet_phase_too_short": "The quiet phase was too short to weigh the patient before the jump.",
    "no_flight": "No flight was detected: the patient did not leave the plates.",
    "out_of_range": "The result lies outside the range the protocol accepts.",
    "data_gap": "Samples are missing: the sensor's link dropped for longer than the protocol allows.",
    "disconnected": "A sensor disconnected during the trial; the phase paused until it was back.",
    "device_lost": "A sensor did not come back in time; the trial could not be finished.",
    "no_onset": "No effort was detected after the cue (asked twice).",
    "not_scored": "The trial could not be scored (see the notes).",
}
#: Cue kinds during which the patient makes the recorded effort.
ACTIVE_CUES = ("go", "hold")


def flag_text(flag: str) -> str:
    """A flag in plain words (the flag itself, made readable, when unknown)."""
    return FLAG_TEXT.get(flag, flag.replace("_", " ").capitalize() + ".")


def side_label(side: str) -> str:
    return {"left": "Left", "right": "Right", "both": "Both sides"}.get(side, "")


def format_metric(value: float, unit: str) -> str:
    """A metric value for display (cm, cm², kPa at the edges); "—" when not finite."""
    from clinic.running import fmt_value

    return fmt_value(value, unit)


def headline_text(protocol: Protocol, trial: TrialResult) -> str:
    """``"peak force 382 N"`` for a trial."""
    head = protocol.scoring.headline
    value = trial.values.get(head, math.nan)
    return f"{head.replace('_', ' ')} {format_metric(value, trial.units.get(head, ''))}"


@dataclass(frozen=True)
class RunRecord:
    """A finished (or stopped) session, for the Results screen and the store.

    ``out_dir`` holds the trial files (inside the data directory's ``trials/`` tree, where the store takes them
    in place); ``session_id`` is the id the session will be saved under.
    """

    patient_id: str
    protocol: Protocol
    result: SessionResult
    out_dir: Path
    session_id: str
    started: datetime
    ended: datetime
    simulated: bool = False
    notes: str = ""
    error: str = ""
    flags: tuple[str, ...] = field(default=())

    def trial_files(self) -> list[Path]:
        """Every trial file the session recorded (all statuses: the store keeps the redone and discarded too)."""
        return [t.path for t in self.result.trials if t.path is not None]


def percent_target(protocol: Protocol) -> bool:
    return any(ph.target is not None and ph.target.kind == "percent_max" for ph in protocol.phases)


class ReviewingRunner(ProtocolRunner):
    """A :class:`~protocols.runner.ProtocolRunner` that waits for the clinician's review of each scored trial
    before going on (``review(trial)`` is awaited between the end of its recording and ``trial_done``, so a redo
    asked for then runs next, even after the last trial), and reports the detected onset of an effort
    (``on_onset(session_time)``)."""

    def __init__(self, protocol: Protocol, acquisition: Any, *,
                 review: Callable[[TrialResult], Awaitable[None]] | None = None,
                 on_onset: Callable[[float], None] | None = None, **options: Any) -> None:
        super().__init__(protocol, acquisition, **options)
        self.review = review
        self.on_onset = on_onset

    async def _score(self, slot: _Slot, state: _TrialState, t_start: float) -> TrialResult:
        trial = await super()._score(slot, state, t_start)
        if self.review is not None:
            await self.review(trial)
        return trial

    async def _wait_onset(self, phase: Phase, slot: _Slot, cue_time: float) -> float | None:
        onset = await super()._wait_onset(phase, slot, cue_time)
        if onset is not None and self.on_onset is not None:
            self.on_onset(onset)
        return onset


class SensorRow(QFrame):
    """One sensor of the protocol in the setup panel: role, kind, placement and its link state."""

    def __init__(self, role: str, kind_label: str, placement: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.role = role
        self.title = QLabel(f"{kind_label} · {role}")
        self.title.setWordWrap(True)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.placement = QLabel(placement.strip())
        self.placement.setWordWrap(True)
        self.placement.setObjectName("muted")
        self.state = QLabel()
        self.state.setObjectName("stateChip")
        self.state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QGridLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.title, 0, 0)
        layout.addWidget(self.state, 0, 1, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.placement, 1, 0, 1, 2)
        layout.setColumnStretch(0, 1)

    def set_state(self, text: str, colour: str, on_colour: str) -> None:
        self.state.setText(text)
        self.state.setStyleSheet(f"background: {colour}; color: {on_colour}; border-radius: 6px; padding: 2px 10px;"
                                 " font-weight: 600;")


class RunScreen(QWidget):
    """The Run page; see the module docstring.

    Parameters
    ----------
    session : DeviceSession
        The app's sensors (open, or opening).
    data_dir : Path, optional
        The clinic data directory: trials are recorded into ``trials/<patient>/<session>/`` there (a temporary
        folder when None).
    review : bool
        Wait for Accept, Redo or Discard after every trial (False: every trial is accepted as the runner scored
        it — unattended runs, benchmarks).

    Signals
    -------
    finished(object) : the :class:`RunRecord` of a session that ended (completed, stopped, or cut by an error
        after at least one trial)
    state_changed(str) : ``setup``, ``running``, ``review`` or ``done``
    paused_changed(bool) : a sensor of the protocol was lost during the session (True) or is back (False)
    cue_shown(object) : every :class:`~protocols.runner.Cue` as it is shown
    """

    finished = Signal(object)
    state_changed = Signal(str)
    paused_changed = Signal(bool)
    cue_shown = Signal(object)

    def __init__(self, session: DeviceSession, *, data_dir: Path | None = None, review: bool = True,
                 palette: Palette | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self.session = session
        self.data_dir = data_dir
        self.review_trials = review
        self.palette_ = palette or current_palette()
        self.protocol: Protocol | None = None
        self.patient_id = ""
        self.patient_name = ""
        self.involved_side: str | None = None
        self.maxima: dict[str, float] = {}
        self.state = "setup"
        self.runner: ReviewingRunner | None = None
        self.task: asyncio.Task[Any] | None = None
        self.cue: Cue | None = None
        self.cues: list[Cue] = []
        self.paused = False
        self.onset_time: float | None = None
        self.pending_review: TrialResult | None = None
        self.decisions: dict[int, str] = {}  # trial slot → the clinician's decision on its latest attempt
        self._review_future: asyncio.Future[str] | None = None
        self._pause_started: float | None = None
        self._paused_total = 0.0
        self._band: tuple[str, float, float] | None = None
        self._rows: dict[str, SensorRow] = {}
        self._connecting = False
        m = current_metrics()

        # -- header: who, what, where we are ------------------------------------------------------------------
        self.title = QLabel("Run")
        self.title.setObjectName("cardTitle")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("muted")
        self.trial_label = QLabel()
        self.trial_label.setObjectName("trialLabel")
        self.trial_label.setWordWrap(True)
        self.trial_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.left_chip = QLabel("L")
        self.right_chip = QLabel("R")
        for chip in (self.left_chip, self.right_chip):
            chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
            chip.setFixedSize(m.touch, m.touch)
        header = QHBoxLayout()
        who = QVBoxLayout()
        who.setSpacing(0)
        who.addWidget(self.title)
        who.addWidget(self.subtitle)
        header.addLayout(who, 1)
        header.addWidget(self.trial_label, 1)
        header.addSpacing(8)
        header.addWidget(self.left_chip)
        header.addWidget(self.right_chip)

        # -- setup panel ------------------------------------------------------------------------------------------
        self.instructions = QLabel()
        self.instructions.setWordWrap(True)
        self.instructions.setTextFormat(Qt.TextFormat.PlainText)
        self.sensor_list = QVBoxLayout()
        self.sensor_list.setSpacing(6)
        self.setup_message = QLabel()
        self.setup_message.setObjectName("runMessage")
        self.setup_message.setWordWrap(True)
        self.connect_button = QPushButton("Connect sensors")
        self.connect_button.setObjectName("connectSensors")
        self.connect_button.clicked.connect(self.connect_sensors)
        self.start_button = QPushButton("Start session")
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self.start)
        setup_inner = QWidget()
        setup_inner.setObjectName("page")
        si = QVBoxLayout(setup_inner)
        si.setContentsMargins(0, 0, 4, 0)
        heading = QLabel("Instructions")
        heading.setObjectName("cardTitle")
        si.addWidget(heading)
        si.addWidget(self.instructions)
        sensors_heading = QLabel("Sensors and placement")
        sensors_heading.setObjectName("cardTitle")
        si.addWidget(sensors_heading)
        si.addLayout(self.sensor_list)
        si.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(setup_inner)
        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        self.setup_panel = QWidget()
        sp = QVBoxLayout(self.setup_panel)
        sp.setContentsMargins(0, 0, 0, 0)
        sp.addWidget(scroll, 1)
        sp.addWidget(self.setup_message)
        sp.addLayout(buttons)

        # -- running panel: cue, countdown, phase, pause, review --------------------------------------------------
        self.pause_banner = QLabel()
        self.pause_banner.setObjectName("pauseBanner")
        self.pause_banner.setWordWrap(True)
        self.pause_banner.setVisible(False)
        self.phase_label = QLabel()
        self.phase_label.setObjectName("phaseLabel")
        self.cue_label = QLabel()
        self.cue_label.setObjectName("cueLabel")
        self.cue_label.setWordWrap(True)
        self.cue_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.countdown = QLabel()
        self.countdown.setObjectName("countdown")
        self.countdown.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.onset_label = QLabel()
        self.onset_label.setObjectName("muted")
        self.onset_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.onset_label.setWordWrap(True)
        self.review_box = QFrame()
        self.review_box.setObjectName("card")
        self.review_title = QLabel()
        self.review_title.setObjectName("cardTitle")
        self.review_title.setWordWrap(True)
        self.review_flags = QLabel()
        self.review_flags.setWordWrap(True)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setObjectName("primary")
        self.redo_button = QPushButton("Redo")
        self.discard_button = QPushButton("Discard")
        self.accept_button.clicked.connect(lambda: self.decide("accept"))
        self.redo_button.clicked.connect(lambda: self.decide("redo"))
        self.discard_button.clicked.connect(lambda: self.decide("discard"))
        rb = QVBoxLayout(self.review_box)
        rb.addWidget(self.review_title)
        rb.addWidget(self.review_flags)
        row = QHBoxLayout()
        row.addWidget(self.discard_button)
        row.addWidget(self.redo_button)
        row.addStretch(1)
        row.addWidget(self.accept_button)
        rb.addLayout(row)
        self.review_box.setVisible(False)
        self.stop_button = QPushButton("End session after this trial")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.clicked.connect(self.request_stop)
        self.run_message = QLabel()
        self.run_message.setObjectName("runMessage")
        self.run_message.setWordWrap(True)
        self.running_panel = QWidget()
        rp = QVBoxLayout(self.running_panel)
        rp.setContentsMargins(0, 0, 0, 0)
        rp.addWidget(self.pause_banner)
        rp.addWidget(self.phase_label)
        rp.addStretch(1)
        rp.addWidget(self.cue_label)
        rp.addWidget(self.countdown)
        rp.addWidget(self.onset_label)
        rp.addStretch(1)
        rp.addWidget(self.review_box)
        rp.addWidget(self.run_message)
        rp.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignLeft)

        self.empty = QLabel("Choose a patient (New session on the patient's page) and a protocol "
                            "(Use this protocol on the Protocols page) to run a session.")
        self.empty.setObjectName("emptyState")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.panels = QStackedWidget()
        self.panels.setObjectName("runPanels")
        self.panels.setStyleSheet("QStackedWidget#runPanels { background: transparent; }")
        self.panels.addWidget(self.empty)
        self.panels.addWidget(self.setup_panel)
        self.panels.addWidget(self.running_panel)
        left = QFrame()
        left.setObjectName("card")
        lp = QVBoxLayout(left)
        lp.setContentsMargins(12, 10, 12, 12)
        lp.addWidget(self.panels)
        left.setMinimumWidth(380)

        self.live = LiveView(palette=self.palette_)
        self.live.heading.setText("Live signals")
        self.live.layout().setContentsMargins(0, 0, 0, 0)  # type: ignore[union-attr]
        self.live.empty.setText("The live signals of the protocol's sensors appear here once they are connected.")
        self.live.empty.setWordWrap(True)
        self.live.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        body = QHBoxLayout()
        body.setSpacing(12)
        body.addWidget(left, 4)
        body.addWidget(self.live, 6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 16)
        layout.setSpacing(10)
        layout.addLayout(header)
        layout.addLayout(body, 1)

        self.tick_timer = QTimer(self)
        self.tick_timer.setInterval(int(1000 / TICK_HZ))
        self.tick_timer.timeout.connect(self.tick)

        session.opened.connect(self._sensors_changed)
        session.device_added.connect(self._sensors_changed)
        session.device_removed.connect(self._sensors_changed)
        session.state_changed.connect(self._on_state_changed)
        self.apply_palette(self.palette_)
        self._refresh()

    # -- appearance -------------------------------------------------------------------------------------------------
    def apply_palette(self, palette: Palette) -> None:
        """Restyle for ``palette`` (theme switch)."""
        self.palette_ = palette
        m = current_metrics()
        p = palette
        self.setStyleSheet(f"""
#cueLabel {{ font-size: {int(m.big_px * 0.75)}px; font-weight: 700; }}
#countdown {{ font-size: {int(m.big_px * 1.6)}px; font-weight: 700; color: {p.accent}; }}
#phaseLabel {{ font-size: {m.title_px}px; font-weight: 600; color: {p.muted}; }}
#trialLabel {{ font-size: {m.title_px}px; font-weight: 600; }}
#pauseBanner {{ background: {p.banner}; color: {p.on_banner}; font-size: {m.title_px}px; font-weight: 700;
    padding: 10px; border-radius: 8px; }}
#runMessage {{ color: {p.off_target}; }}
""")
        self.live.apply_palette(palette)
        self._style_chips()
        self._refresh_rows()

    def _style_chips(self) -> None:
        p = self.palette_
        side = self.cue.side if self.cue is not None else "none"
        for chip, name, colour in ((self.left_chip, "left", p.left), (self.right_chip, "right", p.right)):
            on = side in (name, "both")
            chip.setStyleSheet(
                f"border-radius: 8px; font-weight: 700; border: 2px solid {colour if on else p.border};"
                f"background: {colour if on else p.surface}; color: {p.on_accent if on else p.muted};")

    # -- what to run ------------------------------------------------------------------------------------------------
    def set_patient(self, patient_id: str, *, name: str = "", involved_side: str | None = None,
                    maxima: Mapping[str, float] | None = None) -> None:
        """Run the next session for ``patient_id`` (``maxima``: their maximum per side for percent targets)."""
        if self.running:
            raise RuntimeError("a session is running; end it before choosing another patient")
        self.patient_id = patient_id
        self.patient_name = name
        self.involved_side = involved_side if involved_side in ("left", "right") else None
        self.maxima = dict(maxima or {})
        self._refresh()

    def set_protocol(self, protocol: Protocol) -> None:
        """Prepare ``protocol``: its instructions, its sensors and their live plots."""
        if self.running:
            raise RuntimeError("a session is running; end it before choosing another protocol")
        self.protocol = protocol
        self.state = "setup"
        self._band = None
        self.instructions.setText(protocol.instructions.strip() or protocol.summary)
        while self.sensor_list.count():
            item = self.sensor_list.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self._rows = {}
        for role in protocol.sensor_roles:
            req = protocol.sensor_for_role(role)
            row = SensorRow(role, device_kind(req.kind).label, req.placement)
            self._rows[role] = row
            self.sensor_list.addWidget(row)
        self._sensors_changed()
        self.state_changed.emit(self.state)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def missing_roles(self) -> list[str]:
        """Roles of the protocol with no connected device."""
        if self.protocol is None:
            return []
        connected = set(self.session.roles())
        return [r for r in self.protocol.sensor_roles if r not in connected]

    def ready(self) -> tuple[bool, str]:
        """Whether Start can be pressed, and if not, why (a sentence)."""
        if self.protocol is None:
            return False, "Choose a protocol on the Protocols page."
        if not self.patient_id:
            return False, "Choose a patient: open the patient's page and press New session."
        if not self.session.is_open:
            return False, "Bluetooth is starting…"
        missing = self.missing_roles()
        if missing:
            return False, f"Connect the sensor(s) for {', '.join(missing)} (press Connect sensors)."
        down = [r for r in self.protocol.sensor_roles if self.session.state(r) is not LinkState.STREAMING]
        if down:
            return False, f"Waiting for {', '.join(down)} to stream…"
        cap = _plate_speed_cap()
        if any(s.kind == "plate" for s in self.protocol.sensors) and self.session.speed > cap:
            return False, (f"Force plates over the virtual radio run at most {cap:g}× real time; "
                           f"these sensors run at {self.session.speed:g}×.")
        return True, ""

    # -- sensors ----------------------------------------------------------------------------------------------------
    def connect_sensors(self) -> None:
        """Find and connect one sensor for every role of the protocol that has none (in the background)."""
        if self.protocol is None or self._connecting or not self.session.is_open:
            return
        self._connecting = True
        self._refresh()
        task = asyncio.get_event_loop().create_task(self._connect_missing())
        task.add_done_callback(self._connect_done)

    def _connect_done(self, task: asyncio.Task[Any]) -> None:
        self._connecting = False
        if not task.cancelled() and task.exception() is not None:
            self.setup_message.setText(f"Could not connect the sensors: {task.exception()}")
        self._refresh()

    async def _connect_missing(self) -> None:
        """Connect the missing roles: a device of the right kind already connected under a role the protocol does
        not use is reconnected under the protocol's role; the others are found by a scan."""
        protocol = self.protocol
        assert protocol is not None
        session = self.session
        missing = self.missing_roles()
        if not missing:
            return
        needed_kinds = {protocol.sensor_for_role(r).kind for r in missing}
        spare = [r for r in session.roles()
                 if r not in protocol.sensor_roles and session.kind_of(r).key in needed_kinds]
        for role in spare:
            await session.disconnect_device(role)
        self.setup_message.setText("Looking for the sensors…")
        while session.scanning:  # a scan started elsewhere (the Sensors page) finishes first
            await asyncio.sleep(0.05)
        found = await session.scan(CONNECT_SCAN_S)
        used: set[str] = set()
        for role in missing:
            kind = protocol.sensor_for_role(role).kind
            candidates = [f for f in found if f.kind is not None and f.kind.key == kind and f.address not in used]
            suffix = {"plate_left": "-L", "plate_right": "-R"}.get(role)
            candidates.sort(key=lambda f: (not (suffix and f.name.upper().endswith(suffix)), f.name))
            if not candidates:
                continue
            used.add(candidates[0].address)
            await session.connect_device(candidates[0].address, role=role)
        left = self.missing_roles()
        self.setup_message.setText(f"No sensor found for {', '.join(left)}; switch it on and try again."
                                   if left else "")

    def _sensors_changed(self, *_args: object) -> None:
        """Rebuild the live plots for the protocol's connected sensors."""
        self.live.clear()
        protocol = self.protocol
        if protocol is None or not self.session.is_open:
            self._refresh()
            return
        roles = [r for r in protocol.sensor_roles if r in self.session.roles()]
        plates = [r for r in roles if protocol.sensor_for_role(r).kind == "plate"]
        if plates:
            kind = self.session.kind_of(plates[0])
            cells = kind.geometry["cell_positions"]
            right = self.session.buffer(plates[1]) if len(plates) > 1 else None
            title = "Balance · both plates" if right is not None else f"Balance · {plates[0]}"
            self.live.add_balance("balance", self.session.buffer(plates[0]), cells, right=right,
                                  left_origin=(-PLATE_HALF_SPACING, 0.0) if right is not None else (0.0, 0.0),
                                  right_origin=(PLATE_HALF_SPACING, 0.0), title=title)
        for role in roles:
            if role in plates:
                continue
            kind = self.session.kind_of(role)
            self.live.add_device(role, kind, self.session.buffer(role), title=f"{kind.label} · {role}")
        self._band = None
        if self.cue is not None:
            self._apply_targets(self.cue)
        self._refresh()

    def _on_state_changed(self, role: str, state: str) -> None:
        if self.protocol is not None and role in self.protocol.sensor_roles and self.running:
            if state == LinkState.STREAMING.value:
                if self.paused and not self._down():
                    self._set_paused(False)
            elif state != LinkState.STOPPED.value:
                self._set_paused(True)
        self._refresh()

    def _down(self) -> list[str]:
        if self.protocol is None:
            return []
        return [r for r in self.protocol.sensor_roles if self.session.state(r) is not LinkState.STREAMING]

    def _refresh_rows(self) -> None:
        p = self.palette_
        for role, row in self._rows.items():
            state = self.session.state(role) if role in self.session.roles() else None
            if state is None:
                row.set_state("Not connected", p.border, p.text)
            elif state is LinkState.STREAMING:
                row.set_state("Streaming", p.in_target, p.on_accent)
            elif state is LinkState.RECONNECTING or (state in (LinkState.SEARCHING, LinkState.CONNECTING)
                                                     and self.running):
                row.set_state("Reconnecting…", p.banner, p.on_banner)
            else:
                row.set_state({LinkState.SEARCHING: "Searching…", LinkState.CONNECTING: "Connecting…"}.get(
                    state, "Not connected"), p.border, p.text)

    # -- the session ------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the session (the Start button): the runner becomes a task on the event loop."""
        ok, why = self.ready()
        if not ok or self.running:
            self.setup_message.setText(why)
            return
        assert self.protocol is not None
        self.cues = []
        self.decisions = {}
        self.cue = None
        self.onset_time = None
        self._band = None
        self._paused_total = 0.0
        self.run_message.setText("")
        self.phase_label.setText("Starting")
        self.cue_label.setText("Waiting for the sensors…")
        self.countdown.setText("")
        self.onset_label.setText("")
        self.state = "running"
        self.task = asyncio.get_event_loop().create_task(self._run(self.protocol))
        self.task.add_done_callback(self._run_done)
        self.tick_timer.start()
        self._refresh()
        self.state_changed.emit(self.state)

    def request_stop(self) -> None:
        """End the session after the current trial (what has been recorded is kept)."""
        if self.runner is not None:
            self.runner.request_stop()
            self.stop_button.setEnabled(False)
            self.stop_button.setText("Ending after this trial…")
            if self._review_future is not None and not self._review_future.done():
                self.decide("accept")

    def cancel(self) -> None:
        """Cancel a running session at once (the app is closing); the trial being recorded is closed incomplete."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _out_dir(self, session_id: str) -> Path:
        if self.data_dir is None:
            return Path(tempfile.mkdtemp(prefix="kinetics-run-")) / session_id
        from clinic.paths import session_dir_relative

        return self.data_dir.joinpath(*session_dir_relative(self.patient_id, session_id).parts)

    async def _run(self, protocol: Protocol) -> RunRecord | None:
        session = self.session
        acq = session.acquisition
        if acq is None:
            raise RunnerError("the sensors are not open")
        session_id = uuid.uuid4().hex
        out_dir = self._out_dir(session_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        speed = max(1.0, session.speed)
        maxima = dict(self.maxima)
        simulated = session.fleet is not None
        patient = None
        if simulated:
            from protocols.simpatient import SimulatedPatient

            patient = SimulatedPatient()
            by_address = {s.address.upper(): s for s in session.fleet.sensors}  # type: ignore[union-attr]
            patient.attach(protocol, {r: by_address[session.address_of(r).upper()] for r in protocol.sensor_roles})
            if percent_target(protocol):
                maxima = {**patient.maxima(protocol), **maxima}
        runner = ReviewingRunner(
            protocol, acq, clock=RealTimeClock(session.clock), out_dir=out_dir, patient_id=self.patient_id,
            maxima=maxima or None, involved_side=self.involved_side,
            disconnect_timeout=DISCONNECT_TIMEOUT_S * speed, ready_timeout=READY_TIMEOUT_S * speed,
            review=self._review if self.review_trials else None, on_onset=self._onset,
        )
        self.runner = runner
        if patient is not None:
            runner.add_listener(patient.on_cue)
        runner.add_listener(self.show_cue)
        started = datetime.now(UTC)
        error = ""
        try:
            result = await runner.run()
        except asyncio.CancelledError:
            acq.abort_recording()
            raise
        except RunnerError as err:
            error = str(err)
            result = runner.result
            result.effort_cv_flags()
        ended = datetime.now(UTC)
        notes: list[str] = []
        if error:
            notes.append(f"stopped by an error: {error}")
        elif not result.completed:
            notes.append(f"ended early by the clinician after {len({t.index for t in result.trials})} trial(s)")
        if simulated:
            notes.append("simulated patient on simulated sensors (virtual radio)")
        if error and not result.trials:
            self.run_message.setText(error)
            return None
        return RunRecord(self.patient_id, protocol, result, out_dir, session_id, started, ended,
                         simulated=simulated, notes="; ".join(notes), error=error)

    def _run_done(self, task: asyncio.Task[Any]) -> None:
        self.tick_timer.stop()
        self.runner = None
        self._set_paused(False)
        self.stop_button.setEnabled(True)
        self.stop_button.setText("End session after this trial")
        if task.cancelled():
            self.state = "setup"
            self._refresh()
            return
        error = task.exception()
        if error is not None:
            logger.warning("the session failed: %r", error)
            self.state = "setup"
            self.setup_message.setText(f"The session stopped: {error}")
            self._refresh()
            self.state_changed.emit(self.state)
            return
        record = task.result()
        if record is None:
            self.state = "setup"
            self.setup_message.setText(self.run_message.text())
            self._refresh()
            self.state_changed.emit(self.state)
            return
        self.state = "done"
        self.phase_label.setText(PHASE_TITLES["done"])
        self.cue_label.setText("Session complete" if not record.error else "Session stopped")
        self.countdown.setText("")
        self._refresh()
        self.state_changed.emit(self.state)
        self.finished.emit(record)

    # -- cues -------------------------------------------------------------------------------------------------------
    def show_cue(self, cue: Cue) -> None:
        """Runner listener (on the event loop, which is the GUI thread): show ``cue``."""
        self.cues.append(cue)
        if cue.kind == "paused":
            self._set_paused(True, cue.text)
        elif cue.kind == "resumed":
            self._set_paused(False)
        elif cue.kind == "trial_done":
            self._apply_decision(cue)
        else:
            self.cue = cue
            if cue.kind != "stop":  # a new phase: its onset is still to come
                self.onset_time = None
            self._show_phase(cue)
            self._apply_targets(cue)
        self._style_chips()
        self._update_trial_label()
        self.cue_shown.emit(cue)

    def _show_phase(self, cue: Cue) -> None:
        title = PHASE_TITLES.get(cue.kind, cue.kind)
        self.phase_label.setText(title)
        text = cue.text
        if cue.kind in ("prepare", "switch_side") and cue.phase is not None and cue.phase.instruction:
            text = f"{cue.text}\n{cue.phase.instruction.strip()}"
        self.cue_label.setText(text)
        p = self.palette_
        colour = p.in_target if cue.kind in ACTIVE_CUES else p.text
        self.cue_label.setStyleSheet(f"color: {colour};")
        waits = cue.kind in ACTIVE_CUES and cue.phase is not None and cue.phase.start == "onset"
        self.onset_label.setText("Starts by itself when the effort begins" if waits else "")
        self.tick()

    def _onset(self, time: float) -> None:
        self.onset_time = time
        self.onset_label.setText("Effort detected — keep going!")

    def _update_trial_label(self) -> None:
        cue = self.cue
        protocol = self.protocol
        if cue is None or protocol is None or cue.trial is None:
            self.trial_label.setText("")
            return
        total = len(protocol.trial_plan())
        parts = [f"Trial {cue.trial + 1} of {total}"]
        reps = protocol.repetitions
        if reps > 1:
            parts.append(f"repetition {cue.repetition} of {reps}")
        if cue.side not in ("none", ""):
            parts.append(side_label(cue.side))
        if cue.condition != "default":
            parts.append(cue.condition.replace("_", " "))
        self.trial_label.setText(" · ".join(parts))

    def remaining(self) -> float | None:
        """Session seconds left in the phase shown (None when it has no fixed end: waiting for an onset)."""
        cue = self.cue
        if cue is None or cue.duration <= 0 or cue.kind in ("stop", "done"):
            return None
        start = cue.time
        if cue.kind in ACTIVE_CUES and cue.phase is not None and cue.phase.start == "onset":
            if self.onset_time is None:
                return None
            start = self.onset_time
        now = self._pause_started if self._pause_started is not None else self.session.clock.now()
        return max(0.0, start + cue.duration + self._paused_total - now)

    def tick(self) -> None:
        """Redraw the countdown (and a time-varying target)."""
        cue = self.cue
        left = self.remaining()
        if cue is None or left is None:
            self.countdown.setText("")
        elif cue.kind == "countdown":
            self.countdown.setText(f"{max(1, math.ceil(left - 1e-9))}" if left > 0 else "")
        else:
            self.countdown.setText(f"{left:.0f} s" if left >= 10 else f"{left:.1f} s")
        if cue is not None and cue.target is not None and cue.target.profile != "constant":
            self._apply_targets(cue)

    def _set_paused(self, paused: bool, text: str = "") -> None:
        if paused == self.paused:
            return
        self.paused = paused
        now = self.session.clock.now()
        if paused:
            self._pause_started = now
            names = self._down() or [text]
            labels = [device_kind(self.session.kind_of(r).key).label if r in self.session.roles() else r
                      for r in names]
            self.pause_banner.setText(f"Reconnecting to {', '.join(labels)}… The trial is paused and goes on "
                                      "when the sensor is back.")
        else:
            if self._pause_started is not None:
                self._paused_total += now - self._pause_started
            self._pause_started = None
        self.pause_banner.setVisible(paused)
        self._refresh_rows()
        self.paused_changed.emit(paused)

    # -- targets ----------------------------------------------------------------------------------------------------
    def _card_for(self, role: str) -> LiveCard | None:
        if self.protocol is not None and self.protocol.sensor_for_role(role).kind == "plate":
            role = "balance"
        return self.live.card(role) if role in self.live.names() else None

    def _apply_targets(self, cue: Cue) -> None:
        target = cue.target if cue.kind in ACTIVE_CUES or cue.kind == "countdown" else None
        if cue.kind == "countdown" and self.protocol is not None:  # show the coming effort's target already
            target = next((ph.target for ph in self.protocol.phases[(cue.phase_index or 0):]
                           if ph.target is not None and ph.kind in ("effort", "hold")), None)
        if target is None:
            if self._band is not None:
                for name in self.live.names():
                    self._clear_target(name)
                self._band = None
            return
        role = target.sensor or (self.protocol.sensor_roles[0] if self.protocol else "")
        card = self._card_for(role)
        if card is None:
            return
        t = self.session.clock.now() - cue.time if cue.kind in ACTIVE_CUES else 0.0
        if target.kind == "cop_zone":
            x, y, r = target.zone_at(t)
            key = ("zone", x * 1000 + y, r)
            if key != self._band:
                card.set_target(TargetZone(x, y, r))
                self._band = key
            return
        low, high = self._band_of(target, cue, t)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            return
        if self._band is not None and self._band[0] == card.name:
            _, old_low, old_high = self._band
            scale = max(abs(old_high), 1e-9)
            if abs(low - old_low) < BAND_STEP * scale and abs(high - old_high) < BAND_STEP * scale:
                return
        card.set_target(low, high)
        self._band = (card.name, low, high)

    def _band_of(self, target: Target, cue: Cue, t: float) -> tuple[float, float]:
        maximum = cue.maximum
        if target.kind == "percent_max" and maximum is None and self.runner is not None:
            maximum = self.runner.maximum_for(cue.side)
        try:
            low, high = target.band_at(t, maximum)
        except ValueError:
            return (math.nan, math.nan)
        if high - low < 1e-9:  # a tolerance of 0: a thin band of ±1 % of the level to see
            half = max(abs(high) * 0.01, 1e-3)
            low, high = low - half, high + half
        return (low, high)

    def _clear_target(self, name: str) -> None:
        card = self.live.card(name)
        if name == "balance":
            card.set_target(None)
        else:
            card.set_target(None, None)

    # -- review -----------------------------------------------------------------------------------------------------
    async def _review(self, trial: TrialResult) -> None:
        """Show ``trial``'s score and wait for Accept, Redo or Discard (the runner waits meanwhile)."""
        if self.runner is not None and self.runner._stop:
            self.decisions[trial.index] = "accept"
            return
        assert self.protocol is not None
        self.pending_review = trial
        side = side_label(trial.side)
        where = f"Trial {trial.index + 1}" + (f" ({side.lower()})" if side else "")
        status = {"accepted": "", "rejected": " — rejected, it will be redone",
                  "aborted": " — could not be finished"}.get(trial.status, f" — {trial.status}")
        self.review_title.setText(f"{where}: {headline_text(self.protocol, trial)}{status}")
        self.review_flags.setText("\n".join(f"• {flag_text(f)}" for f in trial.flags))
        self.review_flags.setVisible(bool(trial.flags))
        self.review_box.setVisible(True)
        self.phase_label.setText("Review")
        self.cue_label.setText("Accept, redo or discard this trial")
        self.cue_label.setStyleSheet(f"color: {self.palette_.text};")
        self.onset_label.setText("")
        self.countdown.setText("")
        self.state = "review"
        self.state_changed.emit(self.state)
        self._review_future = asyncio.get_event_loop().create_future()
        try:
            decision = await self._review_future
        finally:
            self._review_future = None
            self.pending_review = None
            self.review_box.setVisible(False)
        self.decisions[trial.index] = decision
        self.state = "running"
        self.state_changed.emit(self.state)

    def decide(self, decision: str) -> None:
        """The clinician's decision on the trial under review: ``accept``, ``redo`` or ``discard``."""
        if decision not in ("accept", "redo", "discard"):
            raise ValueError(f"decision {decision!r} is not accept, redo or discard")
        future = self._review_future
        if future is not None and not future.done():
            future.set_result(decision)

    def _apply_decision(self, cue: Cue) -> None:
        """At ``trial_done`` (between trials): tell the runner to redo or discard the trial as decided."""
        runner = self.runner
        if runner is None or cue.trial is None:
            return
        decision = self.decisions.pop(cue.trial, "accept")
        if decision == "redo":
            runner.redo(cue.trial)
        elif decision == "discard":
            runner.discard(cue.trial)

    # -- state ------------------------------------------------------------------------------------------------------
    def _refresh(self) -> None:
        protocol = self.protocol
        who = self.patient_name or self.patient_id or "no patient chosen"
        self.title.setText(protocol.name if protocol is not None else "Run")
        self.subtitle.setText(f"{who}" + (f" · {protocol.id}" if protocol is not None else ""))
        if protocol is None or (not self.patient_id and self.state == "setup"):
            self.panels.setCurrentWidget(self.empty if protocol is None else self.setup_panel)
        elif self.state in ("running", "review", "done"):
            self.panels.setCurrentWidget(self.running_panel)
        else:
            self.panels.setCurrentWidget(self.setup_panel)
        ok, why = self.ready()
        self.start_button.setEnabled(ok and not self.running)
        if not self.running and not self._connecting and self.state == "setup":
            current = self.setup_message.text()
            if not current.startswith(("The session stopped", "Could not", "No sensor found")) or ok:
                self.setup_message.setText(why)
        self.connect_button.setEnabled(protocol is not None and bool(self.missing_roles()) and not self._connecting
                                       and self.session.is_open and not self.running)
        self.connect_button.setText("Connecting…" if self._connecting else "Connect sensors")
        self.stop_button.setVisible(self.running)
        self._refresh_rows()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._refresh()


def _plate_speed_cap() -> float:
    from clinic.running import PLATE_SPEED_CAP

    return PLATE_SPEED_CAP


__all__ = ["FLAG_TEXT", "ReviewingRunner", "RunRecord", "RunScreen", "flag_text", "headline_text"]
