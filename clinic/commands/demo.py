"""``kinetics demo``: a simulated patient on simulated sensors runs a few protocols end to end.

- ``kinetics demo [--protocol ID ...] [--out DIR] [--speed X] [--inprocess] [--json]``

Simulated sensors (real GATT servers) start on the virtual radio, the acquisition reads them through bleak like
real ones, the protocol runner walks each protocol with a simulated patient reacting to its cues, every trial
is recorded to its own file and the session to a bundle (``DIR/<protocol>/``, ``DIR/<protocol>.session.h5``),
and the results are shown as a table. By default: grip strength (ASHT), weight-bearing symmetry and sway on
two plates, knee ROM with two goniometers, and the countermovement jump, at 20 × real time (force-plate
protocols at most ``PLATE_SPEED_CAP`` = 2 ×: two 1000 Hz plates are what the virtual radio carries slowest).
``--inprocess`` runs them without the radio, on a virtual clock (seconds in all).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clinic.commands._protocol_run import CueReporter, results_table
from clinic.running import DEFAULT_SPEED, PLATE_SPEED_CAP, simulated_speed

if TYPE_CHECKING:
    from protocols.session import SessionResult

#: The protocols the demo runs when none is named.
DEFAULT_PROTOCOLS = ("grip-asht", "balance-weight-bearing", "rom-knee-flexion", "jump-cmj")
EXIT_USAGE = 2
__all__ = ["DEFAULT_PROTOCOLS", "DEFAULT_SPEED", "PLATE_SPEED_CAP", "demo", "register"]


def demo(
    protocol: Annotated[
        list[str] | None, typer.Option("--protocol", "-p", help="Protocol id to run (repeat for several).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the trial and session files.")] = Path(
        "kinetics-demo"
    ),
    speed: Annotated[float, typer.Option("--speed", help="Simulated time per real second (> 0).")] = DEFAULT_SPEED,
    inprocess: Annotated[
        bool, typer.Option("--inprocess", help="No radio: in-process sensors on a virtual clock.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as plain JSON.")] = False,
) -> None:
    """Run protocols end to end with a simulated patient on simulated sensors; print and save the results."""
    import asyncio
    import logging

    from rich.console import Console
    from rich.markup import escape

    from protocols.library import UnknownProtocolError, get_protocol
    from protocols.simpatient import SimulatedPatient, simulate_session

    logging.getLogger("bumble").setLevel(logging.ERROR)  # the virtual radio's controller chatter
    err = Console(stderr=True)
    if not (math.isfinite(speed) and speed > 0):
        err.print(f"[bold red]error:[/] --speed must be a positive number, got {speed}")
        raise typer.Exit(EXIT_USAGE)
    try:
        protocols = [get_protocol(pid) for pid in (protocol or DEFAULT_PROTOCOLS)]
    except UnknownProtocolError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None
    out.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=as_json)
    results: list[SessionResult] = []
    sessions: dict[str, str] = {}
    t0 = time.monotonic()

    async def run_all() -> None:
        for p in protocols:
            with console.status(f"[bold]{escape(p.name)}[/]: starting the sensors…") as status:

                def update(text: str, _done: int, status: Any = status) -> None:
                    status.update(text)

                reporter = CueReporter(p, console, update)
                res = await simulate_session(
                    p,
                    out / p.id,
                    source="inprocess" if inprocess else "radio",
                    speed=simulated_speed(p, speed, radio=not inprocess),
                    patient=SimulatedPatient(),
                    listeners=(reporter,),
                )
            path = res.save(out / f"{p.id}.session.h5", overwrite=True)
            sessions[p.id] = str(path)
            results.append(res)

    asyncio.run(run_all())
    elapsed = time.monotonic() - t0
    if as_json:
        payload = {"results": [r.to_dict() for r in results], "sessions": sessions, "seconds": elapsed}
        print(json.dumps(payload, indent=2))
        return
    console.print(results_table(results, "Kinetics demo — simulated patient"))
    for pid, path in sessions.items():
        console.print(f"  session {escape(pid)}: {escape(path)}")
    console.print(f"Done in {elapsed:.1f} s; trial files in {escape(str(out))}/<protocol>/")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
