"""The append-only, hash-chained audit log: who created, viewed, updated, exported, imported or erased what, and when.

Each entry holds its number ``seq`` (1, 2, 3 … without gaps), the UTC time, the actor (``$KINETICS_ACTOR`` or
the OS user), the action, the subject (a pseudonymous patient id, never a name), details (JSON) and
``prev_hash`` = the previous entry's hash (64 zeros for the first). Its ``hash`` is the SHA-256 of the canonical
JSON (sorted keys, no spaces, UTF-8) of all those fields. Editing an entry breaks its hash; deleting or
reordering entries breaks the chain of ``prev_hash``; deleting the newest entries (which leaves a valid chain)
is caught by the head anchor, a small file next to the database holding the newest entry's number and hash.

Entries are appended inside the transaction of the change they record, so a change and its entry are committed
together or not at all.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.models import AuditEntry

ACTIONS = ("create", "view", "update", "export", "erase", "import")
GENESIS_HASH = "0" * 64
ENV_ACTOR = "KINETICS_ACTOR"


def default_actor() -> str:
    """``$KINETICS_ACTOR`` or the operating-system user name."""
    actor = os.environ.get(ENV_ACTOR, "")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN: the bytes that get hashed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def entry_hash(seq: int, at: str, actor: str, action: str, subject: str, details: str, prev_hash: str) -> str:
    """SHA-256 (hex) of an entry's canonical JSON."""
    body = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def append(
    session: Session, actor: str, action: str, subject: str, details: Mapping[str, Any] | None = None
) -> AuditEntry:
    """Add the next entry to the chain inside ``session``'s open transaction (committed with the change)."""
    if action not in ACTIONS:
        raise ValueError(f"audit action {action!r} is not one of {ACTIONS}")
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS_HASH if last is None else last.hash
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    text = canonical_json(dict(details or {})).decode()
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=text,
        prev_hash=prev,
        hash=entry_hash(seq, at, actor, action, subject, text, prev),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditHead:
    """The newest entry's number and hash, kept outside the database."""

    seq: int
    hash: str


def read_head(path: Path) -> AuditHead | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return AuditHead(int(data["seq"]), str(data["hash"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return AuditHead(-1, "unreadable")


def write_head(path: Path, head: AuditHead) -> None:
    """Atomically record the head, never moving it backwards (two processes may race to write it)."""
    old = read_head(path)
    if old is not None and old.seq >= head.seq:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"seq": head.seq, "hash": head.hash}) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass(frozen=True)
class AuditReport:
    """Outcome of :func:`verify`: ``ok``, the number of entries checked, and the first bad entry."""

    ok: bool
    entries: int
    bad_seq: int | None = None
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "bad_seq": self.bad_seq, "problem": self.problem}


def _describe(e: AuditEntry) -> str:
    return f"entry #{e.seq} ({e.at}, {e.action} {e.subject or '-'} by {e.actor})"


def verify(session: Session, head: AuditHead | None = None) -> AuditReport:
    """Walk the chain in ``seq`` order and report the first entry that was edited, deleted or moved."""
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    prev_hash = GENESIS_HASH
    for index, e in enumerate(entries):
        expected_seq = index + 1
        if e.seq != expected_seq:
            return AuditReport(
                False, len(entries), e.seq,
                f"{_describe(e)}: numbering jumps from #{expected_seq - 1} to #{e.seq}; "
                f"entry #{expected_seq} was deleted",
            )  # fmt: skip
        recomputed = entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash)
        if recomputed != e.hash:
            return AuditReport(False, len(entries), e.seq, f"{_describe(e)} was edited: its hash does not match")
        if e.prev_hash != prev_hash:
            return AuditReport(
                False, len(entries), e.seq,
                f"{_describe(e)} does not follow entry #{e.seq - 1}: entries were deleted, inserted or reordered",
            )  # fmt: skip
        prev_hash = e.hash
    if head is not None:
        last = entries[-1] if entries else None
        if head.seq < 0:
            return AuditReport(False, len(entries), None, "the audit head file is unreadable; it was tampered with")
        if last is None or head.seq > last.seq:
            end = last.seq if last else 0
            return AuditReport(
                False, len(entries), end + 1,
                f"entries #{end + 1}…#{head.seq} are missing: the log ends at #{end} but the head anchor "
                f"records #{head.seq}",
            )  # fmt: skip
        anchored = entries[head.seq - 1] if head.seq > 0 else None
        if anchored is not None and anchored.hash != head.hash:
            return AuditReport(
                False, len(entries), anchored.seq, f"{_describe(anchored)} differs from the head anchor's hash"
            )
    return AuditReport(True, len(entries))
