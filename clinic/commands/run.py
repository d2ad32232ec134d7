"""``kinetics run PROTOCOL --patient ID [--simulated] [--speed X] [--transport SPEC] [--data-dir DIR] [--json]``.

Runs a protocol headless for a stored patient and saves the session in the encrypted store:

- the protocol is a built-in id (``grip-asht``) or a protocol file (``my-test.toml``);
- the trials are recorded straight into the data directory (``trials/<patient>/<session>/``), where the store
  takes them in place; the session row, every trial with its SHA-256, the result rows (every metric of every
  trial, best/mean per side, the headline, the side comparison, the ratios) and the protocol as run are then
  saved in one transaction;
- the patient's involved side (``kinetics patients add --involved``) is the involved side of the limb symmetry
  index; a ``percent_max`` target takes the patient's maximum from their latest stored session of the
  reference protocol;
- ``--simulated``: a simulated patient on simulated sensors on the virtual radio (``--speed`` × real time,
  force plates at most ``PLATE_SPEED_CAP``); otherwise the real sensors through ``--transport`` (default:
  the operating system's Bluetooth), after telling the clinician which sensors to switch on. With no adapter
  the command stops at once (exit 2) instead of waiting for sensors that cannot come.

Ctrl-C stops the session at once: the sensors are stopped, every trial file already recorded is kept, and the
finished trials are saved with their results as a session marked not completed (``completed`` false, notes
beginning with ``interrupted``); a trial cut short is kept unscored in the same session, its file marked
incomplete. The exit code is then 130. A run stopped by a failure, or ended early by the runner (a sensor lost),
is saved the same way, not completed. Errors in the command line, an unknown
protocol or patient exit with 2 and save nothing; sensors that do not stream exit with 1.
"""

from __future__ import annotations

import asyncio
import math
import signal
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clinic.commands._clinic import AsJson, DataDir, clinic_errors, echo_json, fail, open_store
from clinic.commands._protocol_run import CueReporter, results_table
from clinic.running import DEFAULT_SPEED, check_maxima, simulated_speed, stored_maxima

if TYPE_CHECKING:
    from clinic.store import ClinicStore
    from protocols.schema import Protocol
    from protocols.session import SessionResult

#: Exit code of a session interrupted with Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: Exit code when the sensors or the radio fail during the run.
EXIT_FAILED = 1
#: Host seconds to wait for real sensors to stream before giving up.
CONNECT_TIMEOUT = 60.0


class RunFailed(RuntimeError):
    """The session could not start or go on (sensors not streaming, the radio failed)."""


@dataclass
class RunOutcome:
    """What a run left behind: the result (None when the runner did not return one), how it ended, and the
    trial files recorded in the session folder that no scored trial owns (a trial cut short)."""

    result: SessionResult | None
    interrupted: bool = False
    error: str = ""
    stray_files: list[Path] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        """True when the run reached the protocol's end: not interrupted, no error, not ended early."""
        return self.result is not None and self.result.completed and not self.interrupted and not self.error


# -------------------------------------------------------------------------------------------------------------
# protocol, maxima, sensors
# -------------------------------------------------------------------------------------------------------------


def load_run_protocol(name: str) -> Protocol:
    """A built-in protocol by id, or a protocol file (``*.toml``); errors name what to do."""
    from clinic.errors import ClinicError
    from protocols.library import UnknownProtocolError, get_protocol
    from protocols.loader import load_protocol
    from protocols.schema import ProtocolError

    path = Path(name)
    if name.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise ClinicError(f"protocol file {name} does not exist; give a built-in id or an existing .toml file")
        try:
            return load_protocol(path)
        except ProtocolError as err:
            raise ClinicError(f"{err}; fix the file (`kinetics protocols validate {name}`)") from None
    try:
        return get_protocol(name)
    except UnknownProtocolError as err:
        raise ClinicError(str(err)) from None


def check_real_transport(spec: str | None) -> None:
    """Fail fast (:class:`~clinic.errors.ClinicError`) when real sensors cannot be reached: no Bluetooth adapter
    for ``auto``/``os``, or the virtual radio, which only carries simulated sensors."""
    from clinic.errors import ClinicError
    from drivers.ble import transport as ble_transport
    from drivers.ble.errors import BleTransportError

    try:
        kind, _ = ble_transport.resolve_spec(spec)
    except BleTransportError as err:
        raise ClinicError(str(err)) from None
    advice = (
        "plug in a Bluetooth adapter (or give a Bumble HCI dongle with --transport usb:0), "
        "or add --simulated to run a simulated patient on simulated sensors"
    )
    if kind == "virtual":
        if (spec or "auto").strip().lower() in ("virtual", "simulated"):
            raise ClinicError(f"--transport {spec} carries simulated sensors only; add --simulated")
        raise ClinicError(f"no Bluetooth adapter found, so the real sensors cannot be reached; {advice}")
    if kind == "os" and not ble_transport.has_os_adapter():
        raise ClinicError(f"no Bluetooth adapter found, so the real sensors cannot be reached; {advice}")


def sensor_instructions(protocol: Protocol) -> list[str]:
    """One line per sensor: what to switch on and where to put it (``"switch on the grip dynamometer…"``)."""
    from drivers.devices import device_kind

    lines = []
    for role in protocol.sensor_roles:
        req = protocol.sensor_for_role(role)
        label = device_kind(req.kind).label
        lines.append(f"switch on the {label[:1].lower() + label[1:]} (role {role}) — {req.placement.strip()}")
    return lines


async def run_on_sensors(
    protocol: Protocol,
    out_dir: Path,
    *,
    transport: str | None,
    listeners: Sequence[Any],
    connect_timeout: float | None = None,
    **runner_options: Any,
) -> SessionResult:
    """Run ``protocol`` on the real sensors (one per role, the first unclaimed device of each kind) through the
    transport ``transport``, waiting ``connect_timeout`` host seconds (default :data:`CONNECT_TIMEOUT`) for them
    to stream (else :class:`RunFailed`); a cancelled run closes the trial being recorded as incomplete."""
    from drivers.acquisition import Acquisition, DeviceSpec
    from drivers.ble.transport import open_transport
    from drivers.session_clock import SessionClock
    from protocols.runner import ProtocolRunner, RealTimeClock

    roles = protocol.sensor_roles
    connect_timeout = CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
    async with await open_transport(transport) as ble:
        clock = SessionClock()
        specs = [DeviceSpec(r, protocol.sensor_for_role(r).kind) for r in roles]
        acq = Acquisition(ble, specs, clock=clock)
        await acq.start()
        try:
            if not await acq.wait_streaming(timeout=connect_timeout):
                missing = [r for r in roles if acq.status(r).state.value != "streaming"]
                raise RunFailed(
                    f"no stream from {', '.join(missing)} within {connect_timeout:g} s over {ble.description}; "
                    "check that the sensors are on, charged and in range"
                )
            runner = ProtocolRunner(protocol, acq, clock=RealTimeClock(clock), out_dir=out_dir, **runner_options)
            for listener in listeners:
                runner.add_listener(listener)
            try:
                return await runner.run()
            except asyncio.CancelledError:
                acq.abort_recording()  # the trial cut short is closed at once, marked incomplete
                raise
        finally:
            await acq.stop()


# -------------------------------------------------------------------------------------------------------------
# running and saving
# -------------------------------------------------------------------------------------------------------------


@contextmanager
def sigint_deferred() -> Iterator[list[int]]:
    """Hold Ctrl-C while the session is being saved (the list yielded collects the signals that came)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


def _stray_files(out_dir: Path, result_paths: Sequence[Path]) -> list[Path]:
    known = {p.resolve() for p in result_paths}
    return sorted(p for p in out_dir.glob("*.h5") if p.resolve() not in known)


def execute(
    protocol: Protocol,
    out_dir: Path,
    reporter: CueReporter,
    *,
    simulated: bool,
    speed: float,
    transport: str | None,
    runner_options: Mapping[str, Any],
) -> RunOutcome:
    """Run the session (blocking, its own event loop); Ctrl-C and failures end it with what was recorded."""
    from protocols.runner import RunnerError
    from protocols.session import SessionResult

    async def session() -> SessionResult:
        if simulated:
            from protocols.simpatient import SimulatedPatient, simulate_session

            result: SessionResult = await simulate_session(
                protocol,
                out_dir,
                source="radio",
                speed=speed,
                patient=SimulatedPatient(),
                listeners=(reporter,),
                **runner_options,
            )
            return result
        return await run_on_sensors(protocol, out_dir, transport=transport, listeners=(reporter,), **runner_options)

    outcome = RunOutcome(None)
    try:
        outcome.result = asyncio.run(session())
    except KeyboardInterrupt:
        outcome.interrupted = True
    except (RunFailed, RunnerError) as err:
        outcome.error = str(err)
    except Exception as err:  # the radio or the BLE stack: report plainly, keep what was recorded
        outcome.error = f"{type(err).__name__}: {err}"
    if outcome.result is None:
        partial = SessionResult(
            protocol,
            trials=list(reporter.trials),
            patient_id=str(runner_options.get("patient_id", "")),
            involved_side=runner_options.get("involved_side"),
        )
        partial.effort_cv_flags()
        outcome.result = partial
    outcome.stray_files = _stray_files(out_dir, [t.path for t in outcome.result.trials if t.path is not None])
    return outcome


def session_notes(outcome: RunOutcome, reporter: CueReporter, *, simulated: bool, kept: Sequence[Path]) -> str:
    """The session's notes: how it ended (``interrupted``/``incomplete``/``stopped by an error``), the trial cut
    short, and whether the patient was simulated."""
    parts: list[str] = []
    result = outcome.result
    assert result is not None
    if outcome.interrupted or outcome.error:
        done = len(result.trials)
        head = "interrupted (Ctrl-C)" if outcome.interrupted else f"stopped by an error: {outcome.error}"
        cue = reporter.current
        where = ""
        if cue is not None and cue.trial is not None and cue.kind != "trial_done":
            side = "" if cue.side == "none" else f" ({cue.side})"
            where = f" during trial {cue.trial + 1}{side}, {cue.kind}"
        parts.append(f"{head}{where}; {done} trial(s) finished")
        if kept:
            parts.append(f"unscored partial recording kept: {', '.join(p.name for p in kept)}")
    elif not result.completed:
        last = reporter.current.text if reporter.current is not None else ""
        parts.append(f"incomplete: {last}" if last else "incomplete")
    if simulated:
        parts.append("simulated patient on simulated sensors (virtual radio)")
    return "; ".join(parts)


def save_outcome(
    store: ClinicStore,
    patient_id: str,
    protocol: Protocol,
    outcome: RunOutcome,
    notes: str,
    readable_strays: Sequence[Path],
    *,
    session_id: str,
    started: datetime,
) -> str:
    """Save the session (trial files in place, result rows, protocol, whether it completed); returns its id."""
    result = outcome.result
    assert result is not None
    files: list[Path] = [t.path for t in result.trials if t.path is not None]
    files += list(readable_strays)
    return store.save_session(
        patient_id,
        protocol,
        files,
        result.result_rows(),
        started=started,
        ended=datetime.now(UTC),
        notes=notes,
        session_id=session_id,
        completed=outcome.completed,
    )


def readable(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """Split trial files into those that read back as trials and those that do not."""
    from kinetics.io import TrialFileError, read_trial

    good, bad = [], []
    for p in paths:
        try:
            read_trial(p)
        except (TrialFileError, OSError):
            bad.append(p)
        else:
            good.append(p)
    return good, bad


# -------------------------------------------------------------------------------------------------------------
# the command
# -------------------------------------------------------------------------------------------------------------


def run_command(
    protocol: Annotated[str, typer.Argument(metavar="PROTOCOL", help="Built-in protocol id, or a .toml file.")],
    patient: Annotated[str, typer.Option("--patient", help="Pseudonymous patient id (P-XXXXXX).")],
    simulated: Annotated[
        bool, typer.Option("--simulated", help="A simulated patient on simulated sensors over the virtual radio.")
    ] = False,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help=f"Simulated: simulated seconds per real second (default {DEFAULT_SPEED:g})."),
    ] = None,
    transport: Annotated[
        str | None, typer.Option("--transport", help="Real sensors: auto, os, or a Bumble HCI spec (usb:0...).")
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Run a protocol headless for a stored patient and save the session (trials, results, protocol)."""
    import logging

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from clinic import paths

    if speed is not None and not simulated:
        raise fail("--speed acts on simulated sensors (real ones run in real time); add --simulated or drop --speed")
    if speed is not None and not (math.isfinite(speed) and speed > 0):
        raise fail(f"--speed {speed} is not a positive factor; pass e.g. --speed 10")
    if simulated and transport not in (None, "virtual", "simulated"):
        raise fail("--simulated runs on the virtual radio; drop --transport or pass --transport virtual")
    with clinic_errors():
        proto = load_run_protocol(protocol)
        if not simulated:
            check_real_transport(transport)
            sensor_lines = sensor_instructions(proto)
    out = Console(stderr=as_json, highlight=False)
    with open_store(data_dir) as store:
        info = store.get_patient(patient, identified=False)
        involved = info.involved_side if info.involved_side in ("left", "right") else None
        maxima = stored_maxima(proto, store.patient_sessions(patient)) if _has_percent_target(proto) else {}
        if not simulated:
            with clinic_errors():
                check_maxima(proto, maxima, patient)
        run_speed = simulated_speed(proto, DEFAULT_SPEED if speed is None else speed) if simulated else 1.0
        session_id = uuid.uuid4().hex
        out_dir = store.data_dir.joinpath(*paths.session_dir_relative(patient, session_id).parts)
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

        where = f"simulated sensors on the virtual radio at {run_speed:g}× real time" if simulated else "the sensors"
        out.print(f"[bold]{escape(proto.name)}[/] ({escape(proto.id)}) for {escape(patient)} on {escape(where)}")
        if simulated and speed is not None and run_speed < speed:
            out.print(f"  (force plates over the virtual radio run at most {run_speed:g}× real time)")
        if proto.instructions.strip():
            out.print(escape(proto.instructions.strip()))
        if not simulated:
            for line in sensor_lines:
                out.print(f"  • {escape(line)}")
            out.print(f"Waiting up to {CONNECT_TIMEOUT:g} s for the sensors to stream… (Ctrl-C stops)")

        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
            transient=True,
        )
        task = progress.add_task(f"{escape(proto.name)}: starting the sensors…", total=len(proto.trial_plan()))

        def update(text: str, done: int) -> None:
            progress.update(task, description=text, completed=done, total=max(done, reporter.total))

        reporter = CueReporter(proto, out, update, show_cues=True)
        options: dict[str, Any] = {"patient_id": patient, "involved_side": involved}
        if maxima:
            options["maxima"] = maxima
        logging.getLogger("bumble").setLevel(logging.ERROR)  # the virtual radio's controller chatter
        started = datetime.now(UTC)
        with progress:
            outcome = execute(
                proto,
                out_dir,
                reporter,
                simulated=simulated,
                speed=run_speed,
                transport=transport,
                runner_options=options,
            )
        result = outcome.result
        assert result is not None
        strays, unreadable = readable(outcome.stray_files)
        if not result.trials and not strays:
            _remove_if_empty(out_dir)
            if outcome.interrupted:
                out.print("interrupted before the first trial was recorded; nothing saved")
                raise typer.Exit(EXIT_INTERRUPTED)
            reason = outcome.error or "the session ended before its first trial"
            raise fail(f"{reason}; nothing was recorded or saved", EXIT_FAILED)
        notes = session_notes(outcome, reporter, simulated=simulated, kept=strays)
        with sigint_deferred(), clinic_errors():
            try:
                sid = save_outcome(
                    store, patient, proto, outcome, notes, strays, session_id=session_id, started=started
                )
            except BaseException:
                out.print(f"the trial files are kept in {escape(str(out_dir))}")
                raise
    _report(out, result, sid, notes, outcome, unreadable, as_json=as_json)
    if outcome.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if outcome.error:
        raise fail(f"{outcome.error}; the {len(result.trials)} finished trial(s) are saved in session {sid}",
                   EXIT_FAILED)  # fmt: skip


def _has_percent_target(protocol: Protocol) -> bool:
    return any(ph.target is not None and ph.target.kind == "percent_max" for ph in protocol.phases)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _report(
    out: Any,
    result: SessionResult,
    session_id: str,
    notes: str,
    outcome: RunOutcome,
    unreadable: Sequence[Path],
    *,
    as_json: bool,
) -> None:
    from rich.markup import escape

    if as_json:
        payload = {
            "session_id": session_id,
            "completed": outcome.completed,
            "interrupted": outcome.interrupted,
            "notes": notes,
            "unreadable_files": [str(p) for p in unreadable],
            **result.to_dict(),
        }
        echo_json(payload)
        return
    state = "complete" if outcome.completed else "incomplete"
    out.print(results_table([result], f"{result.protocol.name} — {result.patient_id} ({state})"))
    if notes:
        out.print(f"notes: {escape(notes)}")
    for p in unreadable:
        out.print(f"[yellow]kept but unreadable (not in the session):[/] {escape(str(p))}")
    out.print(f"session {escape(session_id)} saved")


def register(app: typer.Typer) -> None:
    """Add the ``run`` command."""
    app.command("run")(run_command)
