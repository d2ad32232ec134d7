"""Session bundles: several trials, the session's metadata, its results table and attached documents, one file.

The clinic exports a session as a bundle (``format = "kinetics-session"``). Each trial is stored in
``/trials/trial_NNNN`` with exactly the layout of a trial file's root group (same writer and reader code).
"""

from __future__ import annotations

import os
import re
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from kinetics._checks import input_error
from kinetics.io import _schema as S
from kinetics.io._files import write_atomically
from kinetics.io._layout import write_format_attrs, write_scalar_attrs, write_trial_group
from kinetics.io._load import (
    Invalid,
    Node,
    as_text,
    as_texts,
    open_kinetics_file,
    read_scalar_attrs,
    read_trial_group,
    reading,
)
from kinetics.io.errors import TrialFileError
from kinetics.trial import SIDES, Trial

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_DOC_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class SessionMeta:
    """What a session is: its id, the pseudonymous patient id (never a name), start time (aware, UTC), notes,
    and free key/values (str, int, float or bool)."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    patient_id: str = ""
    start_utc: datetime = field(default_factory=lambda: datetime.now(UTC))
    notes: str = ""
    extra: Mapping[str, str | int | float | bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _ID.match(self.session_id):
            raise input_error("session_id", f"{self.session_id!r} is not a short identifier", "use letters and digits")
        if self.start_utc.tzinfo is None:
            raise input_error("start_utc", "is a naive datetime", "pass datetime.now(UTC) or another aware time")
        object.__setattr__(self, "start_utc", self.start_utc.astimezone(UTC))
        object.__setattr__(self, "extra", dict(self.extra))


@dataclass(frozen=True)
class ResultRow:
    """One scored metric of a trial: ``value`` in ``unit`` (SI, as in :class:`~kinetics.Metrics`).

    ``trial_id`` names a trial of the session (``""`` for a session-level result); ``key`` is the stable
    snake_case metric key; ``method`` the named method that produced it.
    """

    trial_id: str
    key: str
    value: float
    unit: str
    side: str = "none"
    protocol: str = ""
    method: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            raise input_error("result key", "is empty", "give the metric's snake_case key")
        if self.side not in SIDES:
            raise input_error("result side", f"unknown side {self.side!r}", f"use one of {', '.join(SIDES)}")
        try:
            object.__setattr__(self, "value", float(self.value))
        except (TypeError, ValueError):
            raise input_error("result value", f"{self.value!r} is not a number", "store one float per row") from None

    def same_as(self, other: ResultRow) -> bool:
        """Equality that is bit-exact on ``value`` (NaN equals the same NaN)."""
        bits = struct.pack("<d", self.value) == struct.pack("<d", other.value)
        return bits and all(
            getattr(self, a) == getattr(other, a) for a in ("trial_id", "key", "unit", "side", "protocol", "method")
        )


@dataclass(eq=False)
class Session:
    """A session bundle's content.

    Attributes
    ----------
    meta : SessionMeta
    trials : list of Trial
        In recording order; trial ids are unique.
    results : list of ResultRow
        The session's results table.
    documents : dict of name → text
        Attached text documents, e.g. ``{"protocol.toml": ...}``; names are file-like (letters, digits, _ . -).
    """

    meta: SessionMeta
    trials: list[Trial] = field(default_factory=list)
    results: list[ResultRow] = field(default_factory=list)
    documents: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.trials = list(self.trials)
        self.results = list(self.results)
        self.documents = dict(self.documents)
        ids = [t.meta.trial_id for t in self.trials]
        if len(set(ids)) != len(ids):
            raise input_error("session trials", f"duplicate trial ids in {ids}", "give each trial its own id")
        for row in self.results:
            if row.trial_id and row.trial_id not in ids:
                raise input_error(
                    "session results", f"row {row.key!r} names trial {row.trial_id!r}, not in the session", "add it"
                )
        for name, text in self.documents.items():
            if not _DOC_NAME.match(name):
                raise input_error("document name", f"{name!r} is not a file-like name", "use e.g. 'protocol.toml'")
            if not isinstance(text, str) or "\x00" in text:
                raise input_error(f"document {name!r}", "is not text without NUL characters", "attach text only")

    def trial(self, trial_id: str) -> Trial:
        for t in self.trials:
            if t.meta.trial_id == trial_id:
                return t
        ids = [t.meta.trial_id for t in self.trials]
        raise input_error("trial_id", f"session has no trial {trial_id!r}", f"use one of {ids}")

    def equals(self, other: Session) -> bool:
        """Bit-exact equality of every field."""
        return (
            self.meta == other.meta
            and len(self.trials) == len(other.trials)
            and all(a.equals(b) for a, b in zip(self.trials, other.trials, strict=True))
            and len(self.results) == len(other.results)
            and all(a.same_as(b) for a, b in zip(self.results, other.results, strict=True))
            and self.documents == other.documents
        )


def write_session(path: str | os.PathLike[str], session: Session, *, overwrite: bool = False) -> None:
    """Write ``session`` as a bundle at ``path`` (atomically: a complete file or none)."""
    if not isinstance(session, Session):
        raise input_error("session", f"expected a Session, got {type(session).__name__}", "build one with Session(...)")

    def fill(f: h5py.File) -> None:
        write_format_attrs(f, S.SESSION_FORMAT)
        m = session.meta
        f.attrs["session_id"] = m.session_id
        f.attrs["patient_id"] = m.patient_id
        f.attrs["start_utc"] = m.start_utc.isoformat()
        f.attrs["notes"] = m.notes
        write_scalar_attrs(f.create_group(S.EXTRA), m.extra)
        trials = f.create_group(S.TRIALS)
        trials.attrs["trial_ids"] = [t.meta.trial_id for t in session.trials]
        trials.attrs["description"] = "trial_NNNN groups in order, each laid out like a trial file's root"
        for i, trial in enumerate(session.trials):
            write_trial_group(trials.create_group(S.trial_group_name(i)), trial)
        rows = np.array(
            [(r.trial_id, r.key, r.value, r.unit, r.side, r.protocol, r.method) for r in session.results],
            dtype=S.RESULT_DTYPE,
        )
        res = f.create_dataset(S.RESULTS, data=rows, maxshape=(None,), chunks=(256,), **S.COMPRESSION)
        res.attrs["description"] = "the session's results: one metric value (in 'unit') of one trial per row"
        docs = f.create_group(S.DOCUMENTS)
        docs.attrs["order"] = list(session.documents)
        docs.attrs["description"] = "attached text documents (UTF-8), e.g. the protocol definition"
        for name, text in session.documents.items():
            docs.create_dataset(name, data=text, dtype=h5py.string_dtype("utf-8"))

    write_atomically(Path(path), overwrite, fill)


def read_session(path: str | os.PathLike[str]) -> Session:
    """Read the session bundle at ``path``; raises :class:`TrialFileError` like :func:`read_trial`."""
    p = Path(path)
    size = p.stat().st_size if p.is_file() else 0
    with open_kinetics_file(p, S.SESSION_FORMAT) as f:
        root = Node(p, f, "/")
        with reading(p, "the session metadata"):
            meta = SessionMeta(
                session_id=as_text(root.attr("session_id")),
                patient_id=as_text(root.attr("patient_id")),
                start_utc=datetime.fromisoformat(as_text(root.attr("start_utc"))),
                notes=as_text(root.attr("notes")),
                extra=read_scalar_attrs(root.subgroup(S.EXTRA)),
            )
            trials_node = root.subgroup(S.TRIALS)
            ids = as_texts(trials_node.attr("trial_ids"))
        trials = []
        for i, trial_id in enumerate(ids):
            name = S.trial_group_name(i)
            group = trials_node.subgroup(name).group
            trial = read_trial_group(p, group, f"/{S.TRIALS}/{name}", size)
            if trial.meta.trial_id != trial_id:
                raise TrialFileError(
                    p, f"corrupted: {name} holds trial {trial.meta.trial_id!r}, listed as {trial_id!r}", "use a backup"
                )
            trials.append(trial)
        with reading(p, "the results table"):
            res = root.dataset(S.RESULTS)
            if res.dtype.names != S.RESULT_DTYPE.names:
                raise Invalid(f"results have fields {res.dtype.names}, expected {S.RESULT_DTYPE.names}")
            rows = res[()]
            results = [
                ResultRow(
                    as_text(r["trial_id"]),
                    as_text(r["key"]),
                    float(r["value"]),
                    as_text(r["unit"]),
                    as_text(r["side"]),
                    as_text(r["protocol"]),
                    as_text(r["method"]),
                )
                for r in rows
            ]
        with reading(p, "the documents"):
            docs_node = root.subgroup(S.DOCUMENTS)
            documents = {n: as_text(docs_node.dataset(n)[()]) for n in as_texts(docs_node.attr("order"))}
        with reading(p, "the session"):
            return Session(meta, trials, results, documents)
