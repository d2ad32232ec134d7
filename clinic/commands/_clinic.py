"""Shared pieces of the clinic commands: the ``--data-dir`` option, opening the store, errors → exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from clinic.store import ClinicStore

#: Exit code of a usage or data error (as typer's own usage errors).
EXIT_ERROR = 2

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (database + trial files). Default: $KINETICS_DATA_DIR, else the user data folder.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print plain JSON to stdout.")]


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {message}", markup=False)
    return typer.Exit(code=code)


@contextmanager
def clinic_errors() -> Iterator[None]:
    """Turn the clinic's and the library's errors into a message on stderr and exit code 2 (no traceback)."""
    from clinic.errors import ClinicError
    from kinetics._checks import KineticsInputError

    try:
        yield
    except (ClinicError, KineticsInputError) as err:
        raise fail(str(err)) from None


@contextmanager
def open_store(data_dir: Path | None) -> Iterator[ClinicStore]:
    """The store of ``data_dir`` (key: $KINETICS_DB_KEY or a hidden prompt), closed afterwards; errors → exit 2."""
    from clinic.store import ClinicStore

    with clinic_errors():
        store = ClinicStore.open(data_dir)
        try:
            yield store
        finally:
            store.close()


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Any:
    """A rich table of plain-text cells."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*(Text(cell) for cell in row))
    return t


def console() -> Any:
    from rich.console import Console

    return Console(highlight=False)
