"""``kinetics sessions``: list sessions and show one (trials with their SHA-256, results).

- ``kinetics sessions list [--patient ID] [--json]`` (items carry ``id`` and ``completed``)
- ``kinetics sessions show ID [--json]``

A session that stopped before its end (Ctrl-C, an error, a sensor lost) shows ``completed`` as ``no``.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from clinic.commands._clinic import AsJson, DataDir, console, echo_json, open_store, table


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "NO"


def list_command(
    patient: Annotated[str | None, typer.Option("--patient", help="Only this patient's sessions.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """List sessions, oldest first."""
    with open_store(data_dir) as store:
        sessions = store.list_sessions(patient)
    if as_json:
        echo_json([s.to_dict(full=False) for s in sessions])
        return
    rows = [
        (s.id, s.patient_id, s.protocol_id, s.started_at.isoformat(timespec="seconds"), str(len(s.trials)),
         _yes_no(s.completed), s.origin)
        for s in sessions
    ]  # fmt: skip
    columns = ("id", "patient", "protocol", "started (UTC)", "trials", "completed", "origin")
    console().print(table(f"Sessions ({len(sessions)})", columns, rows))


def show_command(session_id: Annotated[str, typer.Argument(metavar="ID")], as_json: AsJson = False,
                 data_dir: DataDir = None) -> None:  # fmt: skip
    """Show one session: whether it completed, its notes, its trials (file, SHA-256) and results."""
    from rich.markup import escape

    with open_store(data_dir) as store:
        info = store.get_session(session_id)
    if as_json:
        echo_json(info.to_dict())
        return
    out = console()
    out.print(f"Session {info.id}: patient {info.patient_id}, protocol {info.protocol_id}, "
              f"started {info.started_at.isoformat(timespec='seconds')}, "
              f"{'completed' if info.completed else 'NOT completed (stopped before its end)'}")  # fmt: skip
    if info.notes:
        out.print(f"notes: {escape(info.notes)}")
    trows = [(t.trial_id, t.side, t.path, t.sha256[:16] + "…", _yes_no(t.complete)) for t in info.trials]
    out.print(table("Trials", ("trial", "side", "file", "SHA-256", "complete"), trows))
    rrows = [
        (r.trial_id or "(session)", r.key, f"{r.value:.6g}" if not math.isnan(r.value) else "NaN", r.unit, r.side)
        for r in info.results
    ]
    out.print(table("Results", ("trial", "metric", "value", "unit", "side"), rrows))


def register(app: typer.Typer) -> None:
    """Add the ``sessions`` command group."""
    group = typer.Typer(name="sessions", help="Recorded sessions: list, show.", no_args_is_help=True)
    group.command("list")(list_command)
    group.command("show")(show_command)
    app.add_typer(group, name="sessions")
