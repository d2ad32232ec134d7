"""``kinetics record --device KIND [--device KIND ...] --seconds S --out FILE [--simulated] ...``.

Records one trial from one or more sensors through the real bleak API: the operating system's stack, a Bumble
HCI transport, or — with ``--simulated`` — simulated sensors on the in-process virtual radio (with optional
faults: ``--drop-link-at``, ``--drift-ppm``, ``--mtu``, and ``--speed`` to run device time faster than wall
time). Ctrl-C or SIGTERM stops the recording early and still closes a valid trial file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    """Add the ``record`` command to ``app``."""
    app.command("record")(record)


def record(
    device: Annotated[
        list[str],
        typer.Option("--device", help="Device kind (push, grip, pull, pneumatic, goniometer, plate...); repeat it."),
    ],
    seconds: Annotated[float, typer.Option("--seconds", help="Recording length (s of device time).")],
    out: Annotated[Path, typer.Option("--out", help="The new trial file (*.h5).")],
    simulated: Annotated[
        bool, typer.Option("--simulated", help="Record simulated sensors on the virtual radio (through bleak).")
    ] = False,
    transport: Annotated[
        str | None, typer.Option("--transport", help="auto, os, virtual, or a Bumble HCI spec (usb:0...).")
    ] = None,
    drop_link_at: Annotated[
        float | None, typer.Option("--drop-link-at", help="Simulated: lose every link at this device time (s).")
    ] = None,
    drift_ppm: Annotated[float, typer.Option("--drift-ppm", help="Simulated: device clock drift (ppm).")] = 0.0,
    mtu: Annotated[int | None, typer.Option("--mtu", help="Simulated: largest ATT MTU the sensors accept.")] = None,
    speed: Annotated[float, typer.Option("--speed", help="Simulated: device seconds per wall second.")] = 1.0,
    packet_log: Annotated[
        Path | None, typer.Option("--packet-log", help="Directory for raw packet logs (one per device).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a plain JSON summary.")] = False,
) -> None:
    """Record a trial: connect every device, record S seconds on one session clock, write a trial file."""
    from rich.console import Console

    from drivers.acquisition import role_names
    from drivers.devices import device_kind
    from kinetics._checks import KineticsInputError

    err = Console(stderr=True, highlight=False, soft_wrap=True)

    def fail(message: str, code: int = 2) -> typer.Exit:
        err.print(f"error: {message}", markup=False)
        return typer.Exit(code=code)

    try:
        kinds = [device_kind(k) for k in device]
    except KineticsInputError as error:
        raise fail(str(error)) from None
    if not seconds > 0:
        raise fail(f"--seconds {seconds} is not a positive duration; pass e.g. --seconds 30")
    if not simulated and (drop_link_at is not None or drift_ppm or mtu is not None or speed != 1.0):
        raise fail("--drop-link-at, --drift-ppm, --mtu and --speed act on simulated sensors; add --simulated")
    if simulated and transport not in (None, "virtual", "simulated"):
        raise fail("--simulated runs on the virtual radio; drop --transport or pass --transport virtual")
    if not speed > 0:
        raise fail(f"--speed {speed} is not a positive factor; pass e.g. --speed 1")
    if out.exists() and not overwrite:
        raise fail(f"{out} exists; choose a new file or pass --overwrite")
    if not out.parent.is_dir():
        raise fail(f"the folder {out.parent} does not exist; create it first")
    options = _Options(
        kinds=[k.key for k in kinds],
        names=role_names([k.key for k in kinds]),
        seconds=seconds,
        out=out,
        simulated=simulated,
        transport="virtual" if simulated else transport,
        drop_link_at=drop_link_at,
        drift_ppm=drift_ppm,
        mtu=mtu,
        speed=speed,
        packet_log=packet_log,
        overwrite=overwrite,
        quiet=as_json,
    )
    try:
        summary = asyncio.run(_record(options, err))
    except KineticsInputError as error:
        raise fail(str(error)) from None
    except _NotStreaming as error:
        raise fail(str(error), code=1) from None
    except Exception as error:  # BLE stack errors: report them plainly
        raise fail(f"{type(error).__name__}: {error}", code=1) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(summary)


class _NotStreaming(RuntimeError):
    pass


class _Options:
    def __init__(self, **values: Any) -> None:
        self.kinds: list[str] = values["kinds"]
        self.names: list[str] = values["names"]
        self.seconds: float = values["seconds"]
        self.out: Path = values["out"]
        self.simulated: bool = values["simulated"]
        self.transport: str | None = values["transport"]
        self.drop_link_at: float | None = values["drop_link_at"]
        self.drift_ppm: float = values["drift_ppm"]
        self.mtu: int | None = values["mtu"]
        self.speed: float = values["speed"]
        self.packet_log: Path | None = values["packet_log"]
        self.overwrite: bool = values["overwrite"]
        self.quiet: bool = values["quiet"]


async def _record(o: _Options, err: Any) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from drivers.acquisition import Acquisition, DeviceSpec
    from drivers.ble.transport import open_transport
    from drivers.session_clock import SessionClock
    from drivers.supervisor import describe
    from kinetics.trial import Event, TrialMeta

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    interrupted = False
    async with await open_transport(o.transport) as ble:
        fleet: Any = None
        addresses: list[str | None] = [None] * len(o.kinds)
        if o.simulated:
            from drivers.sim.fleet import SimulatedFleet
            from drivers.sim.sensor import SensorFaults

            assert ble.radio is not None
            faults = SensorFaults(drop_link_at=o.drop_link_at, mtu=o.mtu, drift_ppm=o.drift_ppm)
            fleet = SimulatedFleet(ble.radio, o.kinds, speed=o.speed, faults=faults)
            await fleet.start()
            addresses = [s.address for s in fleet.sensors]
        clock = SessionClock(speed=o.speed)
        specs = [DeviceSpec(n, k, a) for n, k, a in zip(o.names, o.kinds, addresses, strict=True)]
        acq = Acquisition(ble, specs, clock=clock, packet_log_dir=o.packet_log)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:.1f}/{task.total:.1f} s"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=o.quiet,
        )
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await acq.start()
            with progress:
                task = progress.add_task("connecting", total=o.seconds)
                waiting = asyncio.ensure_future(acq.wait_streaming(timeout=30.0))
                await asyncio.wait({waiting, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not waiting.done():
                    waiting.cancel()
                    interrupted = True
                    raise _NotStreaming("interrupted before every device was streaming; nothing recorded")
                if not waiting.result():
                    missing = [n for n in o.names if acq.status(n).state.value != "streaming"]
                    raise _NotStreaming(f"no stream from {', '.join(missing)} within 30 s; check the sensors")
                meta = TrialMeta(protocol="record", extra={"devices": ",".join(o.kinds), "speed": o.speed})
                acq.start_recording(o.out, meta, overwrite=o.overwrite, duration=o.seconds)
                assert acq.recorder is not None
                start = acq.recorder.start
                progress.update(task, description="recording")
                while (elapsed := clock.now() - start) < o.seconds and not stop.is_set():
                    progress.update(task, completed=min(elapsed, o.seconds))
                    remaining = clock.host_seconds(o.seconds - elapsed)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stopper), min(0.1, max(remaining, 0.0)))
                end: float | None = start + o.seconds
                if stop.is_set():
                    interrupted, end = True, None
                    acq.add_event(Event(clock.now(), "trial", "recording interrupted"))
                progress.update(task, completed=min(clock.now() - start, o.seconds), description="closing")
                path = await acq.stop_recording(at=end)
                recorded = dict(acq.last_recorded)
            statuses = [describe(acq.status(n)) for n in o.names]
        finally:
            stopper.cancel()
            await acq.stop()
            if fleet is not None:
                await fleet.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    for status in statuses:
        status["recorded_samples"] = recorded.get(status["name"], 0)
    return {
        "path": str(path),
        "seconds": o.seconds,
        "interrupted": interrupted,
        "transport": o.transport or "auto",
        "devices": statuses,
    }


def _print_summary(summary: dict[str, Any]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    state = "interrupted, file closed cleanly" if summary["interrupted"] else "complete"
    table = Table(title=f"Recorded {summary['path']} ({state})", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("device", "kind", "address", "samples", "gaps", "missing", "decode errors", "reconnects", "battery"):
        table.add_column(col)
    for d in summary["devices"]:
        table.add_row(
            *(
                Text(str(x))
                for x in (
                    d["name"],
                    d["kind"],
                    d["address"],
                    d["recorded_samples"],
                    d["gaps"],
                    d["missing_samples"],
                    d["decode_errors"],
                    d["reconnects"],
                    "-" if d["battery"] is None else f"{d['battery']} %",
                )
            )
        )
    Console(highlight=False).print(table)
