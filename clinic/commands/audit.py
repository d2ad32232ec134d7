"""``kinetics audit``: check and read the hash-chained audit log.

- ``kinetics audit verify [--json]``: exit 0 when intact; exit 1 naming the first bad entry
- ``kinetics audit list [--subject ID] [--json]``
"""

from __future__ import annotations

from typing import Annotated

import typer

from clinic.commands._clinic import AsJson, DataDir, console, echo_json, fail, open_store, table


def verify_command(as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """Check that no audit entry was edited, deleted, inserted or reordered."""
    with open_store(data_dir) as store:
        report = store.verify_audit()
    if as_json:
        echo_json(report.to_dict())
        if not report.ok:
            raise typer.Exit(code=1)
        return
    if not report.ok:
        raise fail(f"audit log check failed: {report.problem}", code=1)
    console().print(f"audit log intact: {report.entries} entries, hash chain and head anchor verified")


def list_command(
    subject: Annotated[str | None, typer.Option("--subject", help="Only entries about this patient id.")] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Show the audit log, oldest first."""
    with open_store(data_dir) as store:
        entries = store.audit_entries(subject)
    if as_json:
        echo_json(entries)
        return
    rows = [(str(e["seq"]), e["at"], e["actor"], e["action"], e["subject"], e["details"]) for e in entries]
    console().print(table(f"Audit log ({len(entries)})", ("#", "time (UTC)", "actor", "action", "subject", "details"),
                          rows))  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command group."""
    group = typer.Typer(name="audit", help="The audit log: verify, list.", no_args_is_help=True)
    group.command("verify")(verify_command)
    group.command("list")(list_command)
    app.add_typer(group, name="audit")
