"""``kinetics protocols``: list, show and validate exercise protocols.

- ``kinetics protocols list [--category C] [--region R] [--sensor K] [--search TEXT] [--json]``
- ``kinetics protocols show ID|FILE.toml [--json]`` (unknown id or invalid file: exit code 2)
- ``kinetics protocols validate FILE [--json]`` (valid: exit 0; invalid: exit 2 with the field named)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from protocols.schema import Protocol

#: Exit code of a usage error (unknown id, invalid file), as for typer's own usage errors.
EXIT_USAGE = 2


def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    return Console(), Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    from rich.markup import escape

    _, err = _consoles()
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=EXIT_USAGE)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _sensors_text(p: Protocol) -> str:
    return ", ".join(f"{s.count}× {s.kind}" if s.count > 1 else s.kind for s in p.sensors)


def summary_record(p: Protocol) -> dict[str, Any]:
    """The one-line description of a protocol used by ``list --json`` and ``validate --json``."""
    return {
        "id": p.id,
        "name": p.name,
        "category": p.category,
        "region": p.region,
        "sides": p.sides,
        "repetitions": p.repetitions,
        "trials": len(p.trial_plan()),
        "sensors": [{"kind": s.kind, "count": s.count, "roles": list(s.role_names)} for s in p.sensors],
        "headline": p.scoring.headline,
        "estimated_duration": p.estimated_duration(),
        "summary": p.summary,
    }


def list_command(
    category: Annotated[
        str | None, typer.Option("--category", "-c", help="strength, rom, balance, jump or training.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", "-r", help="Body region, e.g. knee, hand.")] = None,
    sensor: Annotated[str | None, typer.Option("--sensor", "-s", help="Sensor kind: push, grip, plate...")] = None,
    search: Annotated[str | None, typer.Option("--search", help="Words to find in id, name, summary, tags.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print plain JSON to stdout.")] = False,
) -> None:
    """List the built-in protocols."""
    from protocols.library import find_protocols

    try:
        found = find_protocols(category=category, region=region, sensor=sensor, text=search)
    except ValueError as err:
        raise _fail(str(err)) from None
    if as_json:
        typer.echo(json.dumps([summary_record(p) for p in found], indent=2, ensure_ascii=False))
        return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    out, _ = _consoles()
    table = Table(
        title=f"Kinetics protocols ({len(found)}); min: about how many minutes",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    for column in ("id", "name", "sensors", "min"):
        table.add_column(column, no_wrap=column in ("id", "min"), min_width=16 if column == "name" else None)
    category = ""
    for p in found:
        if p.category != category:
            category = p.category
            table.add_row(f"[bold cyan]{category}[/]", "", "", "", end_section=False)
        table.add_row(p.id, escape(p.name), _sensors_text(p), f"{p.estimated_duration() / 60:.0f}")
    out.print(table)


def _render(p: Protocol, out: Console) -> None:
    from rich.markup import escape as e
    from rich.panel import Panel
    from rich.table import Table

    out.print(
        Panel(
            f"[bold]{e(p.name)}[/]\n{e(p.summary)}\n\n"
            f"category [cyan]{p.category}[/] · region [cyan]{p.region}[/] · sides [cyan]{p.sides}[/]"
            + (f" (first {p.first_side})" if p.sides in ("both", "alternating") else "")
            + f" · {p.repetitions} repetition(s) · {len(p.trial_plan())} trial(s) · about "
            f"{_minutes(p.estimated_duration())}",
            title=p.id,
            title_align="left",
        )
    )
    out.print("[bold]Instructions[/]")
    out.print(e(p.instructions.strip()), highlight=False)
    sensors = Table(title="Sensors", title_justify="left")
    for column in ("kind", "roles", "placement"):
        sensors.add_column(column)
    for s in p.sensors:
        sensors.add_row(s.kind, ", ".join(s.role_names), e(s.placement))
    out.print(sensors)
    if p.conditions:
        conds = Table(title="Conditions (run in this order)", title_justify="left")
        for column in ("id", "name", "instruction"):
            conds.add_column(column)
        for c in p.conditions:
            conds.add_row(c.id, e(c.name), e(c.instruction))
        out.print(conds)
    phases = Table(title="Phases of one repetition", title_justify="left")
    for column in ("#", "kind", "duration", "recorded", "cue", "details"):
        phases.add_column(column)
    for i, ph in enumerate(p.phases):
        details = []
        if ph.start == "onset":
            details.append(f"starts on effort onset (waits ≤ {ph.onset_timeout:g} s)")
        if ph.repeat > 1:
            details.append(f"{ph.repeat} × {ph.duration:g} s, {ph.rest_between:g} s apart")
        if ph.stop == "balance_loss":
            details.append("ends early on loss of balance")
        if ph.target is not None:
            details.append("target: " + _target_text(ph.target))
        if ph.instruction:
            details.append(ph.instruction)
        phases.add_row(
            str(i),
            ph.kind,
            f"{ph.total_duration:g} s",
            "yes" if ph.recorded else "",
            e(ph.cue_text),
            e("; ".join(details)),
        )
    out.print(phases)
    sc = p.scoring
    scoring = Table(title="Scoring", title_justify="left")
    for column in ("scorer", "metrics", "params"):
        scoring.add_column(column)
    for use in sc.scorers:
        metrics = ", ".join(f"[bold]{k}[/]" if k == sc.headline else k for k in use.metrics)
        scoring.add_row(use.name, metrics, e(", ".join(f"{k}={v}" for k, v in use.params.items())))
    out.print(scoring)
    side = p.scoring.side_comparison
    out.print(
        f"headline [bold]{sc.headline}[/] ({sc.aggregate} of the repetitions, {sc.better} is better)"
        + (f"; sides compared by {side}" if side not in ("auto", "none") else "")
    )
    for ratio in sc.ratios:
        out.print(f"{ratio.key} = {ratio.metric} ({ratio.numerator}) / {ratio.metric} ({ratio.denominator})")
    if p.acceptance:
        out.print("[bold]Acceptance rules[/]")
        for rule in p.acceptance:
            out.print(f"  • {e(_rule_text(rule))}", highlight=False)
    if p.normative is not None:
        out.print("[bold]Normative reference[/]")
        out.print(f"  {e(p.normative.source)}", highlight=False)
        if p.normative.population:
            out.print(f"  population: {e(p.normative.population)}", highlight=False)
        if p.normative.notes:
            out.print(f"  {e(p.normative.notes)}", highlight=False)
    if p.references:
        out.print("[bold]References[/]")
        for ref in p.references:
            out.print(f"  • {e(ref)}", highlight=False)


def _target_text(t: Any) -> str:
    if t.kind == "absolute":
        text = f"{t.value:g} ± {t.tolerance:g} {t.unit}"
    elif t.kind == "percent_max":
        ref = f" of {t.reference_protocol}" if t.reference_protocol else ""
        text = f"{t.percent:g} ± {t.tolerance:g} % of maximum {t.reference_metric}{ref}"
    elif t.kind == "angle_range":
        return f"{t.low:g} to {t.high:g} deg"
    else:
        if t.path:
            return f"circle r = {t.radius * 100:g} cm visiting {len(t.path)} points, {t.dwell:g} s each"
        return f"circle r = {t.radius * 100:g} cm at ({t.x * 100:g}, {t.y * 100:g}) cm"
    if t.profile == "ramp":
        text += f", ramp over {t.ramp_time:g} s from {t.start_level:g}"
    elif t.profile == "sine":
        text += f", sine ±{t.amplitude * 100:g} % every {t.period:g} s"
    elif t.profile == "steps":
        text += f", steps {', '.join(f'{v:.2g}' for v in t.levels)} every {t.step_time:g} s"
    return text


def _rule_text(r: Any) -> str:
    if r.rule == "effort_cv":
        what = f"CV of {r.metric or 'the headline'} across a side's repetitions > {r.max_cv:g} % → inconsistent_effort"
    elif r.rule == "quiet_phase":
        extra = f" or shorter than {r.min_duration:g} s" if r.min_duration is not None else ""
        what = f"signal SD in the quiet (hold) phase > {r.max_sd:g}{extra} → bad_quiet_phase"
    elif r.rule == "metric_range":
        what = f"{r.metric} outside [{r.minimum if r.minimum is not None else '-∞'}, "
        what += f"{r.maximum if r.maximum is not None else '∞'}] → out_of_range"
    else:
        what = f"more than {r.max_missing:g} s of data missing → data_gap"
    return f"{what} ({r.action})"


def show_command(
    protocol_id: Annotated[
        str, typer.Argument(metavar="ID", help="Protocol id, e.g. grip-asht, or the path of a .toml file.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full definition as JSON.")] = False,
) -> None:
    """Show one protocol: instructions, sensors, phases, targets, scoring, rules and sources."""
    from protocols.library import UnknownProtocolError, get_protocol
    from protocols.loader import load_protocol
    from protocols.schema import ProtocolError

    try:
        if protocol_id.endswith(".toml"):
            p = load_protocol(protocol_id)
        else:
            p = get_protocol(protocol_id)
    except UnknownProtocolError as err:
        raise _fail(str(err)) from None
    except ProtocolError as err:
        raise _fail(f"invalid protocol: {err}") from None
    if as_json:
        typer.echo(json.dumps(p.to_dict(), indent=2, ensure_ascii=False))
        return
    out, _ = _consoles()
    _render(p, out)


def validate_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A protocol file (TOML).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check a protocol file; exit 0 when valid, 2 with the field named when not."""
    from protocols.loader import load_protocol
    from protocols.schema import ProtocolError

    try:
        p = load_protocol(file)
    except ProtocolError as err:
        if as_json:
            typer.echo(json.dumps({"valid": False, "file": str(file), "path": err.path, "error": str(err)}, indent=2))
            raise typer.Exit(code=EXIT_USAGE) from None
        raise _fail(f"invalid protocol: {err}") from None
    if as_json:
        typer.echo(json.dumps({"valid": True, "file": str(file), **summary_record(p)}, indent=2, ensure_ascii=False))
        return
    from rich.markup import escape

    out, _ = _consoles()
    out.print(
        f"[bold green]valid[/]: {p.id} — {escape(p.name)} ({p.category}, {len(p.trial_plan())} trial(s), "
        f"{len(p.phases)} phase(s), about {_minutes(p.estimated_duration())})",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``protocols`` command group to the ``kinetics`` application."""
    group = typer.Typer(
        name="protocols", help="Exercise protocols: the built-in library and your own files.", no_args_is_help=True
    )
    group.command("list")(list_command)
    group.command("show")(show_command)
    group.command("validate")(validate_command)
    app.add_typer(group, name="protocols")
