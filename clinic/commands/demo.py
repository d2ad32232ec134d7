"""``kinetics demo``: a simulated patient on simulated sensors runs a few protocols end to end.

- ``kinetics demo [--protocol ID ...] [--out DIR] [--speed X] [--inprocess] [--json]``

Simulated sensors (real GATT servers) start on the virtual radio, the acquisition reads them through bleak like
real ones, the protocol runner walks each protocol with a simulated patient reacting to its cues, every trial
is recorded to its own file and the session to a bundle (``DIR/<protocol>/``, ``DIR/<protocol>.session.h5``),
and the results are shown as a table. By default: grip strength (ASHT), weight-bearing symmetry and sway on
two plates, knee ROM with two goniometers, and the countermovement jump, at 20 × real time (force-plate
protocols at most 5 ×: two 1000 Hz plates are what the virtual radio carries slowest). ``--inprocess`` runs them without
the radio, on a virtual clock (seconds in all).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from protocols.session import SessionResult

#: The protocols the demo runs when none is named.
DEFAULT_PROTOCOLS = ("grip-asht", "balance-weight-bearing", "rom-knee-flexion", "jump-cmj")
#: Highest speed for protocols with force plates. Two 1000 Hz plates over the in-process virtual radio carry
#: about 5-6x real time on an idle 2-core machine and less under load; past that, notifications queue up, arrival
#: delays grow steadily and the clock fit cannot tell that from drift, so jump timings go wrong. At 2x the
#: simulated CMJ scores within 1 cm of the simulated patient's jump on every trial.
PLATE_SPEED_CAP = 2.0
DEFAULT_SPEED = 20.0
EXIT_USAGE = 2


def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "—"
    if unit in ("m^2",):
        return f"{value * 1e4:.2f} cm²"
    if unit == "m" and abs(value) < 1:
        return f"{value * 100:.1f} cm"
    if unit == "Pa":
        return f"{value / 1000:.1f} kPa"
    return f"{value:.3g} {unit}".strip()


def _table(results: list[SessionResult]) -> Any:
    from rich.table import Table

    table = Table(title="Kinetics demo — simulated patient", show_lines=False)
    for col in ("protocol", "condition", "side", "trials", "headline", "best", "mean", "comparison", "flags"):
        table.add_column(col, overflow="fold")
    for res in results:
        units = res.units()
        head = res.protocol.scoring.headline
        sym = res.symmetry()
        ratios = res.ratios()
        for s in res.summaries():
            flags = sorted({f for t in res.trials if t.condition == s.condition and t.side == s.side for f in t.flags})
            comp = ""
            if s.condition in sym:
                comp = f"{sym[s.condition]['method']} {sym[s.condition]['value']:.1f} %"
            table.add_row(
                res.protocol.id,
                "" if s.condition == "default" else s.condition,
                s.side,
                str(s.n_trials),
                f"{head} ({res.protocol.scoring.aggregate})",
                _fmt(s.best[head], units.get(head, "")),
                _fmt(s.mean[head], units.get(head, "")),
                comp,
                ", ".join(flags),
            )
        for key, value in ratios.items():
            table.add_row(res.protocol.id, "", "", "", key, f"{value:.2f}", "", "", "")
    return table


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
            total = len(p.trial_plan())
            with console.status(f"[bold]{escape(p.name)}[/]: starting the sensors…") as status:

                def on_cue(cue: Any, p: Any = p, status: Any = status, total: int = total) -> None:
                    trial = "" if cue.trial is None else f" — trial {cue.trial + 1}/{total}"
                    side = "" if cue.side == "none" else f" ({cue.side})"
                    status.update(f"[bold]{escape(p.name)}[/]{trial}{side}: {escape(cue.kind)} · {escape(cue.text)}")
                    if cue.kind == "trial_done" and cue.result is not None:
                        r = cue.result
                        head = p.scoring.headline
                        unit = r.units.get(head, "")
                        flags = f" [yellow]{', '.join(r.flags)}[/]" if r.flags else ""
                        console.print(
                            f"  {escape(p.id)} trial {r.index + 1}{side}: {head} = "
                            f"{_fmt(r.values.get(head, math.nan), unit)} [{r.status}]{flags}"
                        )

                patient = SimulatedPatient()
                plates = any(sr.kind == "plate" for sr in p.sensors)
                run_speed = min(speed, PLATE_SPEED_CAP) if plates and not inprocess else speed
                res = await simulate_session(
                    p,
                    out / p.id,
                    source="inprocess" if inprocess else "radio",
                    speed=run_speed,
                    patient=patient,
                    listeners=(on_cue,),
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
    console.print(_table(results))
    for pid, path in sessions.items():
        console.print(f"  session {escape(pid)}: {escape(path)}")
    console.print(f"Done in {elapsed:.1f} s; trial files in {escape(str(out))}/<protocol>/")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
