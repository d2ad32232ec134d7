"""``kinetics export`` and ``kinetics import``: sessions to an HDF5 bundle or CSV files, a patient's whole
record (portability), and the import of a bundle from another tablet.

- ``kinetics export session ID --format hdf5|csv --out F [--identified]``
- ``kinetics export patient ID --out DIR``
- ``kinetics import FILE [--json]``
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clinic.commands._clinic import AsJson, DataDir, clinic_errors, console, echo_json, fail, open_store


def export_session_command(
    session_id: Annotated[str, typer.Argument(metavar="ID", help="Session id (see `kinetics sessions list`).")],
    out: Annotated[Path, typer.Option("--out", help="Bundle file (hdf5) or new folder (csv).")],
    fmt: Annotated[str, typer.Option("--format", help="hdf5 (one bundle file) or csv (a folder of files).")] = "hdf5",
    identified: Annotated[
        bool, typer.Option("--identified", help="Include name, birth date, sex and notes (default: pseudonymised).")
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Export one session, pseudonymised unless --identified."""
    from clinic.exports import FORMATS, export_session

    if fmt not in FORMATS:
        raise fail(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    with open_store(data_dir) as store, clinic_errors():
        written = export_session(store, session_id, out, fmt, identified=identified)
    if as_json:
        echo_json({"session_id": session_id, "format": fmt, "identified": identified,
                   "files": [str(p) for p in written]})  # fmt: skip
        return
    kind = "identified" if identified else "pseudonymised"
    console().print(f"exported session {session_id} ({kind}, {fmt}) to {out} ({len(written)} file(s))")


def export_patient_command(
    patient_id: Annotated[str, typer.Argument(metavar="ID")],
    out: Annotated[Path, typer.Option("--out", help="New folder for patient.json and the session bundles.")],
    data_dir: DataDir = None,
) -> None:
    """Export everything stored about a patient (identified: it is the patient's own data)."""
    from clinic.privacy import export_patient

    with open_store(data_dir) as store, clinic_errors():
        folder = export_patient(store, patient_id, out)
    console().print(f"exported {patient_id} to {folder}")


def import_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A session bundle from `kinetics export session`.")],
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Import a session bundle exported by another tablet (verified; all or nothing)."""
    from clinic.exports import import_bundle

    with open_store(data_dir) as store, clinic_errors():
        report = import_bundle(store, file)
    if as_json:
        echo_json(report.to_dict())
        return
    new = " (new patient)" if report.patient_created else ""
    console().print(
        f"imported session {report.session_id} of {report.patient_id}{new}: "
        f"{report.trials} trial(s), {report.results} result(s)"
    )


def register(app: typer.Typer) -> None:
    """Add the ``export`` group and the ``import`` command."""
    group = typer.Typer(name="export", help="Export a session or a patient's whole record.", no_args_is_help=True)
    group.command("session")(export_session_command)
    group.command("patient")(export_patient_command)
    app.add_typer(group, name="export")
    app.command("import")(import_command)
