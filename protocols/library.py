"""The built-in protocol library: the TOML files of ``protocols/library/``, loaded once and searchable.

``builtin_protocols()`` lists them (sorted by category, then id), ``get_protocol(id)`` finds one, and
``find_protocols(category=..., region=..., sensor=..., text=...)`` filters them the way the app's library
screen and ``kinetics protocols list`` do.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from protocols.loader import parse_protocol
from protocols.schema import CATEGORIES, REGIONS, SENSOR_KINDS, Protocol, ProtocolError

__all__ = ["UnknownProtocolError", "builtin_protocols", "find_protocols", "get_protocol"]


class UnknownProtocolError(LookupError):
    """No protocol has the id asked for; the message lists the closest ids."""

    def __init__(self, protocol_id: str, known: Iterable[str]) -> None:
        self.protocol_id = protocol_id
        close = difflib.get_close_matches(protocol_id, list(known), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "run `kinetics protocols list` to see them"
        super().__init__(f"unknown protocol {protocol_id!r}; {hint}")

    def __str__(self) -> str:
        return str(self.args[0])


@lru_cache(maxsize=1)
def _load_all() -> tuple[Protocol, ...]:
    folder = resources.files("protocols").joinpath("library")
    loaded: dict[str, Protocol] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        source = f"protocols/library/{entry.name}"
        protocol = parse_protocol(entry.read_text(encoding="utf-8"), source=source)
        if entry.name != f"{protocol.id}.toml":
            raise ProtocolError("id", f"{protocol.id!r} does not match the file name; rename one", source)
        loaded[protocol.id] = protocol
    order = {c: i for i, c in enumerate(CATEGORIES)}
    return tuple(sorted(loaded.values(), key=lambda p: (order[p.category], p.id)))


def builtin_protocols() -> list[Protocol]:
    """Every built-in protocol, sorted by category (strength, rom, balance, jump, training), then id."""
    return list(_load_all())


def get_protocol(protocol_id: str) -> Protocol:
    """The built-in protocol with this id, or :class:`UnknownProtocolError` naming the closest ids."""
    for protocol in _load_all():
        if protocol.id == protocol_id:
            return protocol
    raise UnknownProtocolError(protocol_id, (p.id for p in _load_all()))


def find_protocols(
    *,
    category: str | None = None,
    region: str | None = None,
    sensor: str | None = None,
    text: str | None = None,
    protocols: Iterable[Protocol] | None = None,
) -> list[Protocol]:
    """Protocols matching every filter given (default: the built-in ones).

    ``category``, ``region`` and ``sensor`` (a sensor kind) must be allowed values (else ``ValueError``
    listing them); ``text`` matches, case-insensitively and word by word, the id, name, summary, tags and
    region.
    """
    for name, value, allowed in (
        ("category", category, CATEGORIES),
        ("region", region, REGIONS),
        ("sensor", sensor, SENSOR_KINDS),
    ):
        if value is not None and value not in allowed:
            raise ValueError(f"unknown {name} {value!r}; expected one of: {', '.join(allowed)}")
    words = text.lower().split() if text else []
    out = []
    for p in _load_all() if protocols is None else protocols:
        if category is not None and p.category != category:
            continue
        if region is not None and p.region != region:
            continue
        if sensor is not None and all(s.kind != sensor for s in p.sensors):
            continue
        haystack = " ".join((p.id, p.name, p.summary, p.region, *p.tags)).lower().replace("_", " ")
        if any(w not in haystack for w in words):
            continue
        out.append(p)
    return out
