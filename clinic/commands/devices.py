"""``kinetics devices scan [--simulated] [--transport SPEC] [--json] [--seconds S]``: sensors in range."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

devices_app = typer.Typer(help="Find and inspect sensors.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``devices`` command group to ``app``."""
    app.add_typer(devices_app, name="devices")


@devices_app.command("scan")
def scan(
    simulated: Annotated[
        bool, typer.Option("--simulated", help="Start one simulated sensor of every kind on the virtual radio.")
    ] = False,
    transport: Annotated[
        str | None,
        typer.Option("--transport", help="auto, os, virtual, or a Bumble HCI spec (usb:0, tcp-client:HOST:PORT)."),
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", help="How long to listen for advertisements.")] = 3.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print plain JSON instead of a table.")] = False,
) -> None:
    """List the sensors advertising nearby, with the device kind each one is recognised as."""
    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if not seconds > 0:
        err.print(f"error: --seconds {seconds} is not a positive duration; pass e.g. --seconds 3", markup=False)
        raise typer.Exit(code=2)
    if simulated and transport not in (None, "virtual", "simulated"):
        err.print("error: --simulated runs on the virtual radio; drop --transport or pass --transport virtual")
        raise typer.Exit(code=2)
    try:
        found = asyncio.run(_scan("virtual" if simulated else transport, seconds, simulated))
    except Exception as error:  # BLE stack errors: report them plainly
        err.print(f"error: {error}", markup=False)
        raise typer.Exit(code=1) from None
    if as_json:
        typer.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{len(found)} device(s) found", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("name", "address", "kind", "rssi"):
        table.add_column(col)
    for row in found:
        table.add_row(Text(row["name"]), Text(row["address"]), Text(row["kind"] or "-"), Text(str(row["rssi"])))
    Console(highlight=False).print(table)


async def _scan(spec: str | None, seconds: float, simulated: bool) -> list[dict[str, Any]]:
    from drivers.ble.scanning import SharedScanner
    from drivers.ble.transport import open_transport
    from drivers.devices import all_kinds
    from drivers.discovery import describe_sightings

    kinds = all_kinds()
    async with await open_transport(spec) as ble:
        fleet = None
        if simulated:
            from drivers.sim.fleet import SimulatedFleet

            assert ble.radio is not None
            fleet = SimulatedFleet(ble.radio, [k.key for k in kinds])
            await fleet.start()
        try:
            async with SharedScanner(ble) as scanner:
                await asyncio.sleep(seconds)
                seen = scanner.seen
        finally:
            if fleet is not None:
                await fleet.stop()
    return [row.as_dict() for row in describe_sightings(seen, kinds)]
