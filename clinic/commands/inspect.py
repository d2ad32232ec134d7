"""``kinetics inspect FILE [--json]``: what a trial file or session bundle holds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    """Add the ``inspect`` command to ``app``."""
    app.command("inspect")(inspect)


def inspect(
    file: Annotated[Path, typer.Argument(help="A trial file or session bundle (*.h5).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print plain JSON instead of tables.")] = False,
) -> None:
    """Show the devices, channels with units, rates, sample counts, duration, gaps and events of a file."""
    from rich.console import Console

    from kinetics.io import TrialFileError, summarize_file

    try:
        summary = summarize_file(file)
    except TrialFileError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {exc}", markup=False)
        raise typer.Exit(code=2) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False))
        return
    console = Console(highlight=False)
    if summary["format"] == "kinetics-session":
        _print_session(console, summary)
    else:
        _print_trial(console, summary, title=f"Trial file {summary['path']}")


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s"


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], *, header: bool = True) -> Any:
    """A rich table whose cells are plain text (a unit like ``[deg]`` must not be read as markup)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # No vertical rules: the device table then fits an 80-column terminal.
    table = Table(
        title=title,
        title_justify="left",
        show_header=header,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in columns:
        table.add_column(col, style="bold" if not header and col == columns[0] else None)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def _print_session(console: Any, s: dict[str, Any]) -> None:
    info = s["session"]
    rows = [("format", f"{s['format']} v{s['format_version']}")]
    rows += [(key, str(info[key])) for key in ("session_id", "patient_id", "start_utc", "notes")]
    rows += [(key, str(value)) for key, value in info["extra"].items()]
    rows += [
        ("trials", str(len(s["trials"]))),
        ("duration", _fmt_s(s["duration"])),
        ("results", f"{s['results']} rows"),
        ("documents", ", ".join(s["documents"]) or "none"),
    ]
    console.print(_table(f"Session bundle {s['path']}", ("field", "value"), rows, header=False))
    for i, trial in enumerate(s["trials"]):
        _print_trial(console, trial, title=f"Trial {i + 1} of {len(s['trials'])}")


def _print_trial(console: Any, t: dict[str, Any], *, title: str) -> None:
    rows = [("format", f"{t['format']} v{t['format_version']}")] if "format" in t else []
    rows += [(key, str(t[key])) for key in ("trial_id", "protocol", "side", "start_utc", "patient_id")]
    rows += [(key, str(value)) for key, value in t["extra"].items()]
    rows.append(("complete", "yes" if t["complete"] else "NO: recording interrupted, kept up to its last checkpoint"))
    rows.append(("duration", _fmt_s(t["duration"])))
    console.print(_table(title, ("field", "value"), rows, header=False))

    devices = []
    for d in t["devices"]:
        missing = sum(g["missing_samples"] for g in d["gaps"])
        rate = f"{d['rate']:g} Hz"
        devices.append(
            (d["name"], d["kind"], d["model"], rate, str(d["samples"]), _fmt_s(d["duration"]), str(len(d["gaps"])),
             str(missing))
        )  # fmt: skip
    columns = ("device", "kind", "model", "rate", "samples", "duration", "gaps", "missing")
    console.print(_table("Devices", columns, devices))
    channels = [(d["name"], c["name"], c["unit"]) for d in t["devices"] for c in d["channels"]]
    console.print(_table("Channels", ("device", "channel", "unit"), channels))

    gaps_rows = [
        (d["name"], _fmt_s(g["start"]), _fmt_s(g["end"]), str(g["missing_samples"]),
         f"{g['first_missing']}…{g['last_missing']}")
        for d in t["devices"]
        for g in d["gaps"]
    ]  # fmt: skip
    if gaps_rows:
        gap_columns = ("device", "start", "end", "missing samples", "counters")
        console.print(_table("Gaps (samples that never arrived)", gap_columns, gaps_rows))
    if t["events"]:
        events = [(_fmt_s(e["time"]), e["kind"], e["label"], e["device"]) for e in t["events"]]
        console.print(_table("Events", ("time", "kind", "label", "device"), events))
