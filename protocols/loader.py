"""Read and write protocol files (TOML).

``load_protocol(path)`` and ``parse_protocol(text, source=...)`` return a validated :class:`Protocol` or raise
:class:`ProtocolError` whose message names the file, the field path (``phases[2].duration``) and what is
expected. ``dump_protocol(protocol)`` writes the TOML back (only the fields that differ from their defaults), so
that a protocol made or edited in the app is saved in the same format: ``parse_protocol(dump_protocol(p)) == p``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from protocols.schema import Protocol, ProtocolError, protocol_from_dict

__all__ = ["ProtocolError", "dump_protocol", "load_protocol", "parse_protocol"]


def parse_protocol(text: str, source: str = "<text>") -> Protocol:
    """Parse TOML ``text`` into a validated :class:`Protocol`; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ProtocolError("", f"not valid TOML: {err}; check the quoting and brackets there", source) from None
    return protocol_from_dict(data, source)


def load_protocol(path: str | Path) -> Protocol:
    """Load and validate the protocol file at ``path`` (UTF-8 TOML)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolError("", "file not found; check the path", str(path)) from None
    except UnicodeDecodeError:
        raise ProtocolError("", "not a UTF-8 text file; protocol files are TOML text", str(path)) from None
    except OSError as err:
        raise ProtocolError("", f"cannot be read ({err.strerror}); check the path and permissions", str(path)) from None
    return parse_protocol(text, source=str(path))


# ---------------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------------


def _non_default(obj: Any) -> dict[str, Any]:
    """Fields of a dataclass that differ from their defaults (required fields always), as plain data."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        if f.default_factory is not dataclasses.MISSING and value == f.default_factory():
            continue
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _non_default(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


_WIDTH = 100


def _escape(text: str) -> str:
    out = []
    for i, c in enumerate(text):
        if c == "\\":
            out.append("\\\\")
        elif c == '"' and text[i + 1 : i + 2] in ('"', ""):  # never three quotes in a row, nor one at the end
            out.append('\\"')
        elif c == "\n":
            out.append(c)
        elif c < " " or c == "\x7f":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def _wrap(line: str) -> list[str]:
    """Cut an escaped line at spaces into pieces ending in a TOML line-ending backslash (joined on reading)."""
    pieces: list[str] = []
    while len(line) > _WIDTH:
        cut = line.rfind(" ", 0, _WIDTH)
        if cut <= 0 or line[cut + 1 : cut + 2].isspace():
            break  # a continuation would swallow the spaces that follow
        pieces.append(line[: cut + 1] + "\\")
        line = line[cut + 1 :]
    pieces.append(line)
    return pieces


def _string(text: str) -> str:
    """A short string as "..."; a long or multi-line one as a multi-line string, wrapped without changing it."""
    if "\n" not in text and len(text) <= 80:
        return json.dumps(text, ensure_ascii=False)
    lines: list[str] = []
    for line in _escape(text).split("\n"):
        lines.extend(_wrap(line) if line else [""])
    return '"""\n' + "\n".join(lines) + '"""'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to a protocol file; values must be finite")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        items = [json.dumps(v, ensure_ascii=False) if isinstance(v, str) else _value(v) for v in value]
        flat = "[" + ", ".join(items) + "]"
        if len(flat) <= _WIDTH:
            return flat
        return "[\n" + "".join(f"    {i},\n" for i in items) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


_INLINE_TABLES = ("params",)
#: Order of the top-level fields in a written file: identity, then the session's structure as it runs.
_TOP_ORDER = (
    "format_version",
    "id",
    "name",
    "category",
    "region",
    "summary",
    "instructions",
    "sides",
    "first_side",
    "repetitions",
    "tags",
    "references",
    "sensors",
    "conditions",
    "phases",
    "scoring",
    "acceptance",
    "normative",
)


def _emit(lines: list[str], prefix: str, table: dict[str, Any]) -> None:
    for name, value in table.items():
        if name in _INLINE_TABLES or not (_is_table(value) or _is_table_array(value)):
            lines.append(f"{_key(name)} = {_value(value)}")
    for name, value in table.items():
        if name in _INLINE_TABLES:
            continue
        full = f"{prefix}.{name}" if prefix else name
        if _is_table(value):
            lines.append("")
            lines.append(f"[{full}]")
            _emit(lines, full, value)
        elif _is_table_array(value):
            for item in value:
                lines.append("")
                lines.append(f"[[{full}]]")
                _emit(lines, full, item)


def dump_protocol(protocol: Protocol) -> str:
    """The protocol as TOML text, fields at their defaults left out."""
    lines = [f"# {protocol.name}", "# Kinetics exercise protocol; the format is described in docs/protocols.md", ""]
    table = _non_default(protocol)
    order = [k for k in _TOP_ORDER if k in table] + [k for k in table if k not in _TOP_ORDER]
    _emit(lines, "", {k: table[k] for k in order})
    return "\n".join(lines) + "\n"
