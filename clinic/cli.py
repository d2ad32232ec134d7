"""The ``kinetics`` command line (typer + rich).

Each command group lives in its own module under :mod:`clinic.commands` and exposes ``register(app)``; heavy
imports (BLE stack, database) happen inside the commands so that ``kinetics --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

#: Modules of :mod:`clinic.commands`, in the order their commands appear in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "inspect",
    "protocols",
    "patients",
    "sessions",
    "progress",
    "export",
    "audit",
    "devices",
    "record",
    "replay",
    "demo",
    "run",
)

app = typer.Typer(
    name="kinetics",
    help="Kinetics: connected rehabilitation sensors — record, score, store and export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Kinetics: connected rehabilitation sensors — record, score, store and export."""


for _module in COMMAND_MODULES:
    importlib.import_module(f"clinic.commands.{_module}").register(app)


def main() -> None:
    """Entry point of the ``kinetics`` console script."""
    app()
