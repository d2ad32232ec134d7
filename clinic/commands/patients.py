"""``kinetics patients``: add, list, show and erase patients.

- ``kinetics patients add --name NAME --birth-date YYYY-MM-DD [--sex S] [--involved left|right]`` prints the id
- ``kinetics patients list [--json]`` (items carry ``id``)
- ``kinetics patients show ID [--json]``
- ``kinetics patients erase ID [--yes]``
"""

from __future__ import annotations

from typing import Annotated

import typer

from clinic.commands._clinic import AsJson, DataDir, clinic_errors, console, echo_json, fail, open_store, table


def add_command(
    name: Annotated[str, typer.Option("--name", help="The patient's name (kept encrypted, never exported).")],
    birth_date: Annotated[str, typer.Option("--birth-date", help="YYYY-MM-DD.")],
    sex: Annotated[str, typer.Option("--sex", help="female, male or other (f, m, o).")] = "",
    involved: Annotated[
        str, typer.Option("--involved", help="Involved (injured) side for limb symmetry: none, left, right.")
    ] = "none",
    data_dir: DataDir = None,
) -> None:
    """Add a patient; prints the new pseudonymous id (e.g. P-7F3A2C)."""
    with open_store(data_dir) as store:
        pid = store.add_patient(name, birth_date, sex, involved_side=involved)
    typer.echo(pid)


def list_command(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """List the patients (newest first)."""
    with open_store(data_dir) as store:
        patients = store.list_patients()
    if as_json:
        echo_json([p.to_dict() for p in patients])
        return
    rows = [
        (
            p.id,
            p.name or "",
            p.birth_date.isoformat() if p.birth_date else "",
            p.sex or "",
            str(p.sessions),
            p.last_session.date().isoformat() if p.last_session else "",
        )
        for p in patients
    ]
    columns = ("id", "name", "birth date", "sex", "sessions", "last session")
    console().print(table(f"Patients ({len(patients)})", columns, rows))


def show_command(patient_id: Annotated[str, typer.Argument(metavar="ID")], as_json: AsJson = False,
                 data_dir: DataDir = None) -> None:  # fmt: skip
    """Show a patient and their sessions."""
    with open_store(data_dir) as store:
        patient = store.get_patient(patient_id)
        sessions = store.list_sessions(patient_id)
    if as_json:
        echo_json({**patient.to_dict(), "sessions": [s.to_dict(full=False) for s in sessions]})
        return
    out = console()
    rows = [
        ("id", patient.id),
        ("name", patient.name or ""),
        ("birth date", patient.birth_date.isoformat() if patient.birth_date else ""),
        ("sex", patient.sex or ""),
        ("involved side", patient.involved_side),
        ("created", patient.created_at.isoformat(timespec="seconds")),
        ("origin", patient.origin),
    ]
    out.print(table(f"Patient {patient.id}", ("field", "value"), rows))
    srows = [
        (s.id, s.protocol_id, s.started_at.isoformat(timespec="seconds"), str(len(s.trials)), s.origin)
        for s in sessions
    ]
    out.print(table(f"Sessions ({len(sessions)})", ("session", "protocol", "started (UTC)", "trials", "origin"), srows))


def erase_command(
    patient_id: Annotated[str, typer.Argument(metavar="ID")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Erase a patient for good: identity, sessions, results and trial files (the audit log records it)."""
    from clinic.privacy import erase_patient

    with open_store(data_dir) as store:
        if not yes:
            import sys

            if not sys.stdin.isatty():
                raise fail(f"erasing {patient_id} cannot be undone; add --yes to confirm")
            if not typer.confirm(f"Erase {patient_id} and all their data for good?", default=False):
                raise typer.Exit(code=1)
        with clinic_errors():
            report = erase_patient(store, patient_id)
    if as_json:
        echo_json(report.to_dict())
    elif report.verified:
        console().print(
            f"erased {report.patient_id}: {report.sessions} session(s), {report.trials} trial(s), "
            f"{report.results} result(s), {report.files_removed} file(s); verified gone"
        )
    if not report.verified:
        raise fail(f"erase of {patient_id} left data behind: {'; '.join(report.problems)}")


def register(app: typer.Typer) -> None:
    """Add the ``patients`` command group."""
    group = typer.Typer(name="patients", help="Patients: add, list, show, erase.", no_args_is_help=True)
    group.command("add")(add_command)
    group.command("list")(list_command)
    group.command("show")(show_command)
    group.command("erase")(erase_command)
    app.add_typer(group, name="patients")
