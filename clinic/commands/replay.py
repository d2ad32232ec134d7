"""``kinetics replay LOGDIR --out FILE [--speed X] [--overwrite] [--json]``.

Rebuilds the trials of a recorded session from its raw packet logs (``kinetics record --packet-log DIR``):
every notification goes again through the same codecs, supervisors (gaps, clock mapping) and recorder, without a
radio, so the trial file comes out bit for bit as it was recorded — or as a fixed decoder now makes it. A log
holding several recordings writes ``FILE`` numbered ``<stem>-1``, ``<stem>-2``...
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    """Add the ``replay`` command to ``app``."""
    app.command("replay")(replay)


def replay(
    log_dir: Annotated[Path, typer.Argument(help="The packet-log directory (kinetics record --packet-log DIR).")],
    out: Annotated[Path, typer.Option("--out", help="The trial file to write (*.h5).")],
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Replay pace: 1 as recorded, 10 ten times faster (default: as fast as possible)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing trial files.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a plain JSON summary.")] = False,
) -> None:
    """Replay a raw packet log through the drivers and write the trial(s) it recorded."""
    from rich.console import Console

    from drivers.replay import load_session_log, numbered_paths
    from kinetics._checks import KineticsInputError

    err = Console(stderr=True, highlight=False, soft_wrap=True)

    def fail(message: str, code: int = 2) -> typer.Exit:
        err.print(f"error: {message}", markup=False)
        return typer.Exit(code=code)

    if speed is not None and not speed > 0:
        raise fail(f"--speed {speed} is not a positive factor; pass e.g. --speed 1, or leave it out")
    if not out.parent.is_dir():
        raise fail(f"the folder {out.parent} does not exist; create it first")
    try:
        log = load_session_log(log_dir)
    except KineticsInputError as error:
        raise fail(str(error)) from None
    if log.recordings == 0:
        raise fail(f"{log_dir} holds no recording (the session streamed without recording); nothing to replay", 1)
    paths = numbered_paths(out, log.recordings)
    taken = [p for p in paths if p.exists()]
    if taken and not overwrite:
        raise fail(f"{taken[0]} exists; choose a new file or pass --overwrite")
    try:
        summary = asyncio.run(_replay(log, list(paths), speed, overwrite, quiet=as_json, err=err))
    except KineticsInputError as error:
        raise fail(str(error)) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(summary)


async def _replay(
    log: Any, paths: list[Path], speed: float | None, overwrite: bool, *, quiet: bool, err: Any
) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn

    from drivers.replay import ReplayAcquisition
    from drivers.supervisor import describe

    total = sum(len(s) for s in log.streams)
    acq = ReplayAcquisition(log, speed=speed, trial_path=lambda i: paths[i - 1], overwrite=overwrite)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} records"),
        console=err,
        transient=True,
        disable=quiet,
    )
    with progress:
        task = progress.add_task("replaying", total=total)
        await acq.start()
        try:
            while not acq.finished:
                progress.update(task, completed=acq.records_replayed)
                await asyncio.sleep(0.1)
            await acq.wait_finished()
        finally:
            await acq.stop()
    found = {d.role: d for d in log.devices}
    devices = []
    for name in acq.supervisors:
        status = describe(acq.status(name))
        logged = found.get(name)
        status["records"] = logged.records if logged else 0
        status["skipped_bytes"] = logged.skipped_bytes if logged else 0
        status["torn_tail_bytes"] = logged.torn_tail_bytes if logged else 0
        devices.append(status)
    return {
        "log_dir": str(log.directory),
        "session": log.session,
        "trials": [str(p) for p in acq.trial_paths],
        "records": acq.records_replayed,
        "speed": speed,
        "devices": devices,
    }


def _print_summary(summary: dict[str, Any]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    console.print(Text(f"Replayed {summary['records']} records of {summary['log_dir']}"))
    for path in summary["trials"]:
        console.print(Text(f"  → {path}"))
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("device", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    for col in ("samples", "gaps", "missing", "decode errors", "reconnects", "torn"):
        table.add_column(col)
    for d in summary["devices"]:
        cells = (
            d["name"],
            d["kind"],
            d["samples"],
            d["gaps"],
            d["missing_samples"],
            d["decode_errors"],
            d["reconnects"],
            f"{d['torn_tail_bytes']} B" if d["torn_tail_bytes"] else "-",
        )
        table.add_row(*(Text(str(x)) for x in cells))
    console.print(table)
