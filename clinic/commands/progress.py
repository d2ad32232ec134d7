"""``kinetics progress PATIENT [--metric KEY] [--json]``: each metric's history, changes and real-change flags."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from clinic.commands._clinic import AsJson, DataDir, console, echo_json, fail, open_store, table


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else ""


def _delta(x: float) -> str:
    return f"{x:+.4g}" if math.isfinite(x) else ""


def progress_command(
    patient: Annotated[str, typer.Argument(metavar="PATIENT", help="Pseudonymous patient id.")],
    metric: Annotated[str | None, typer.Option("--metric", help="Only this metric key (e.g. peak_force).")] = None,
    sem_source: Annotated[
        str, typer.Option("--sem", help="SEM from: auto (published, else own trials), published, trials.")
    ] = "auto",
    include_incomplete: Annotated[
        bool,
        typer.Option(
            "--include-incomplete",
            help="Count interrupted sessions like the others (by default they are shown but are never the baseline, "
            "the previous session or a real change).",
        ),
    ] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Show a patient's progress per metric: values, changes, real-change flags.

    Per session: the value, the change against the baseline and the previous session, and '*' where the change
    exceeds the minimal detectable change (MDC95 = 1.96·√2·SEM).
    """
    from clinic.progress import patient_progress

    if sem_source not in ("auto", "published", "trials"):
        raise fail(f"--sem {sem_source!r} is not auto, published or trials")
    with open_store(data_dir) as store:
        try:
            result = patient_progress(
                store, patient, metric=metric, sem_source=sem_source, include_incomplete=include_incomplete
            )
        except ValueError as err:
            raise fail(str(err)) from None
    if as_json:
        echo_json(result.to_dict())
        return
    out = console()
    if not result.metrics:
        out.print(f"no results for {patient}" + (f" and metric {metric}" if metric else ""))
        return
    for m in result.metrics:
        sem = "no SEM (fewer than two trials in every session)"
        if m.sem_source == "published" and m.reliability is not None:
            r = m.reliability
            sem = f"SEM {r.sem:.4g} {m.unit}" if r.sem is not None else f"SEM {r.sem_percent:g} %"
            sem += f" (published: {r.source.split('.')[0]})"
        elif m.sem_source == "trials":
            sem = f"SEM {m.sem:.4g} {m.unit} (within-session SD of this patient's repeated trials)"
        rows = [
            (
                p.started_at.date().isoformat() + ("" if p.counted else " (incomplete)"),
                _fmt(p.value),
                str(p.n_trials),
                _delta(p.change_from_baseline) + (" *" if p.real_change_from_baseline else ""),
                _delta(p.change_from_previous) + (" *" if p.real_change_from_previous else ""),
                _fmt(p.mdc95_baseline),
                p.direction_from_baseline if p.real_change_from_baseline else "",
            )
            for p in m.points
        ]
        title = f"{m.key} [{m.unit}] — {m.protocol}, side {m.side}, {m.aggregate} of trials; {sem}"
        cols = ("date", "value", "trials", "Δ baseline", "Δ previous", "MDC95", "real change")
        out.print(table(title, cols, rows))
    for sym in result.symmetry:
        sym_rows = [
            (p.started_at.date().isoformat(), _fmt(p.left), _fmt(p.right), _fmt(p.symmetry_index), _fmt(p.lsi))
            for p in sym.points
        ]
        sym_cols = ("date", "left", "right", "symmetry index %", f"LSI % (involved: {sym.involved_side})")
        out.print(table(f"Limb symmetry of {sym.key} [{sym.unit}] — {sym.protocol}", sym_cols, sym_rows))


def register(app: typer.Typer) -> None:
    """Add the ``progress`` command."""
    app.command("progress")(progress_command)
