"""The clinic store: patients, sessions, trial files and results in the encrypted database, with an audit trail.

>>> store = ClinicStore.open("/path/to/data")           # key from $KINETICS_DB_KEY or a hidden prompt
>>> pid = store.add_patient("Ada Lovelace", "1815-12-10", sex="female")
>>> sid = store.save_session(pid, "grip-asht", trials, results)   # Trial objects or trial-file paths

``save_session`` is what the protocol runner calls at the end of a run. It is crash-safe: trial files are written
first (each atomically, fsync'd), then every row (session, trials with their SHA-256, results, the audit entry)
is inserted in one transaction. A process killed at any moment leaves either the whole session or none of it;
at worst trial files without rows remain in the session's folder (:meth:`ClinicStore.check` lists them; erasing
the patient removes them).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import secrets
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from clinic import audit as audit_log
from clinic import paths
from clinic.errors import ClinicError, NotFoundError, StoreIntegrityError
from clinic.models import Patient, PatientIdentity, Result, SessionRow, TrialRecord
from kinetics.io import fsync_dir

if TYPE_CHECKING:
    from kinetics.io import ResultRow
    from kinetics.results import Metrics
    from kinetics.trial import Trial
    from protocols.schema import Protocol

SIDES = ("none", "left", "right", "both", "alternating")
#: Accepted values of ``sex`` (with the one-letter aliases f, m, o).
SEXES = ("", "female", "male", "other")
_SEX_ALIASES = {"f": "female", "m": "male", "o": "other"}
_PATIENT_ID = re.compile(r"^P-[0-9A-F]{6}$")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def new_patient_id() -> str:
    """A random pseudonymous id ``P-XXXXXX`` (24 random bits, upper-case hex); it encodes nothing about the person."""
    return f"P-{secrets.token_hex(3).upper()}"


def check_patient_id(patient_id: str) -> str:
    if not isinstance(patient_id, str) or not _PATIENT_ID.match(patient_id):
        raise NotFoundError(
            f"{patient_id!r} is not a patient id; ids look like P-7F3A2C (see `kinetics patients list`)"
        )
    return patient_id


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_durably(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` so that ``dest`` appears complete or not at all."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)


def _as_date(value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        result = value
    else:
        try:
            result = date.fromisoformat(str(value))
        except ValueError:
            raise ClinicError(f"birth date {value!r} is not a date; write it as YYYY-MM-DD") from None
    if result > datetime.now(UTC).date():
        raise ClinicError(f"birth date {result.isoformat()} is in the future; check the year")
    return result


def _as_sex(value: str | None) -> str:
    s = (value or "").strip().lower()
    s = _SEX_ALIASES.get(s, s)
    if s not in SEXES:
        raise ClinicError(f"sex {value!r} is not one of female, male, other; leave it out when unknown")
    return s


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ClinicError(f"{name} is a naive datetime; pass an aware time such as datetime.now(UTC)")
    return value.astimezone(UTC)


# ---------------------------------------------------------------------------------------------------------------
# plain records returned to callers (detached from the database session)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientInfo:
    """A patient: pseudonymous id, and the identity (name, birth date, sex) when it was asked for."""

    id: str
    created_at: datetime
    involved_side: str
    origin: str
    sessions: int
    last_session: datetime | None
    name: str | None = None
    birth_date: date | None = None
    sex: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "involved_side": self.involved_side,
            "origin": self.origin,
            "sessions": self.sessions,
            "last_session": self.last_session.isoformat() if self.last_session else None,
        }
        if self.name is not None:
            data.update(
                name=self.name,
                birth_date=self.birth_date.isoformat() if self.birth_date else None,
                sex=self.sex or "",
            )
        return data


@dataclass(frozen=True)
class TrialInfo:
    """A stored trial file: ``path`` relative to the data directory, its SHA-256 and what it holds."""

    trial_id: str
    position: int
    path: str
    sha256: str
    size_bytes: int
    protocol: str
    side: str
    started_at: datetime
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "position": self.position,
            "path": self.path,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "protocol": self.protocol,
            "side": self.side,
            "started_at": self.started_at.isoformat(),
            "complete": self.complete,
        }


@dataclass(frozen=True)
class ResultInfo:
    """A stored metric value (``trial_id`` is ``""`` for a session-level result; NaN when stored as NULL)."""

    session_id: str
    trial_id: str
    key: str
    value: float
    unit: str
    side: str
    protocol: str
    method: str
    measured_at: datetime

    def to_dict(self) -> dict[str, Any]:
        v = self.value
        return {
            "session_id": self.session_id,
            "trial_id": self.trial_id,
            "key": self.key,
            "value": v if math.isfinite(v) else None if math.isnan(v) else ("inf" if v > 0 else "-inf"),
            "unit": self.unit,
            "side": self.side,
            "protocol": self.protocol,
            "method": self.method,
            "measured_at": self.measured_at.isoformat(),
        }


@dataclass(frozen=True)
class SessionInfo:
    """A stored session with its trials and results in their saved order.

    ``completed`` is False for a run that stopped before its end (Ctrl-C, an error, a sensor lost): its results
    cover only the trials it finished, so progress leaves it out of baselines and real-change flags by default.
    """

    id: str
    patient_id: str
    protocol_id: str
    started_at: datetime
    ended_at: datetime | None
    notes: str
    origin: str
    protocol_toml: str = ""
    trials: tuple[TrialInfo, ...] = ()
    results: tuple[ResultInfo, ...] = ()
    completed: bool = True

    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "patient_id": self.patient_id,
            "protocol": self.protocol_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "notes": self.notes,
            "origin": self.origin,
            "completed": self.completed,
            "trials": len(self.trials),
            "results": len(self.results),
        }
        if full:
            data["trials"] = [t.to_dict() for t in self.trials]
            data["results"] = [r.to_dict() for r in self.results]
        return data


@dataclass(frozen=True)
class NewResult:
    """A result row to insert, with its measurement time (the trial's start, or the session's)."""

    trial_id: str
    key: str
    value: float
    unit: str
    side: str
    protocol: str
    method: str
    measured_at: datetime


@dataclass
class _PreparedTrial:
    trial_id: str
    path: Path
    relative: str
    protocol: str
    side: str
    started_at: datetime
    complete: bool
    sha256: str = ""
    size_bytes: int = 0


@dataclass(frozen=True)
class CheckReport:
    """What :meth:`ClinicStore.check` found: database integrity, missing or altered trial files, orphan files."""

    integrity: str
    missing: tuple[str, ...] = ()
    altered: tuple[str, ...] = ()
    orphans: tuple[str, ...] = ()
    sessions: int = 0
    trials: int = 0

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and not self.missing and not self.altered

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "integrity": self.integrity,
            "missing": list(self.missing),
            "altered": list(self.altered),
            "orphans": list(self.orphans),
            "sessions": self.sessions,
            "trials": self.trials,
        }


def rows_from_metrics(trial_id: str, metrics: Metrics, *, side: str = "none", protocol: str = "") -> list[ResultRow]:
    """Result rows of one trial's :class:`~kinetics.Metrics` (scalar values only), ready for ``save_session``."""
    from kinetics.io import ResultRow

    return [
        ResultRow(trial_id, r["key"], float(r["value"]), r["unit"], side, protocol, r.get("method", metrics.method))
        for r in metrics.to_records()
    ]


def _result_fields(row: ResultRow | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(row, Mapping):
        data = dict(row)
    else:
        data = {k: getattr(row, k) for k in ("trial_id", "key", "value", "unit", "side", "protocol", "method")}
    missing = [k for k in ("key", "value", "unit") if k not in data]
    if missing:
        raise ClinicError(f"result row {data!r} lacks {', '.join(missing)}; give key, value and unit")
    try:
        data["value"] = float(data["value"])
    except (TypeError, ValueError):
        raise ClinicError(f"result {data.get('key')!r}: value {data['value']!r} is not a number") from None
    data.setdefault("trial_id", "")
    data.setdefault("side", "none")
    data.setdefault("protocol", "")
    data.setdefault("method", "")
    if data["side"] not in SIDES:
        raise ClinicError(f"result {data['key']!r}: side {data['side']!r} is not one of {', '.join(SIDES)}")
    return data


# ---------------------------------------------------------------------------------------------------------------


class ClinicStore:
    """Patients, sessions, trial files and results in one data directory (see :mod:`clinic.paths`).

    Open it with :meth:`open`; close it with :meth:`close` or a ``with`` block. Every change and every read of
    identifying data appends an audit entry (actor: ``actor``, default ``$KINETICS_ACTOR`` or the OS user).
    """

    def __init__(self, data_dir: Path, engine: Engine, passphrase: str, actor: str) -> None:
        self.data_dir = data_dir
        self.engine = engine
        self._passphrase = passphrase
        self.actor = actor

    @classmethod
    def open(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        key: str | None = None,
        actor: str | None = None,
        interactive: bool | None = None,
    ) -> ClinicStore:
        """Open (or create) the store in ``data_dir`` (see :func:`clinic.paths.resolve_data_dir`).

        ``key``: the passphrase; default ``$KINETICS_DB_KEY``, else a hidden prompt when ``interactive``.
        Runs pending schema migrations. Raises :class:`~clinic.errors.StoreKeyError` on a wrong or missing key.
        """
        from clinic import db

        directory = paths.resolve_data_dir(data_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as err:
            raise ClinicError(
                f"cannot create the data directory {directory}: {err.strerror}; choose --data-dir"
            ) from None
        db_file = paths.db_path(directory)
        passphrase = key if key is not None else db.passphrase_from_env_or_prompt(db_file, interactive=interactive)
        engine = db.create_db_engine(db_file, passphrase)
        try:
            db.upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(directory, engine, passphrase, actor or audit_log.default_actor())

    @property
    def db_path(self) -> Path:
        return paths.db_path(self.data_dir)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ClinicStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions and audit ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A database session in one transaction (committed on normal exit); audit entries added with
        :meth:`audit` in it are committed together with the change, then the head anchor is moved."""
        with Session(self.engine, expire_on_commit=False) as s:
            with s.begin():
                yield s
            head = s.info.get("audit_head")
        if head is not None:
            audit_log.write_head(paths.audit_head_path(self.data_dir), head)

    def audit(self, s: Session, action: str, subject: str, details: Mapping[str, Any] | None = None) -> None:
        """Append an audit entry in ``s``'s transaction."""
        entry = audit_log.append(s, self.actor, action, subject, details)
        s.info["audit_head"] = audit_log.AuditHead(entry.seq, entry.hash)

    def verify_audit(self) -> audit_log.AuditReport:
        """Check the whole audit chain and the head anchor (see :func:`clinic.audit_log.verify`)."""
        with Session(self.engine) as s:
            return audit_log.verify(s, audit_log.read_head(paths.audit_head_path(self.data_dir)))

    def audit_entries(self, subject: str | None = None) -> list[dict[str, Any]]:
        """The audit log (oldest first), optionally only the entries about ``subject``."""
        from clinic.models import AuditEntry

        with Session(self.engine) as s:
            q = select(AuditEntry).order_by(AuditEntry.seq)
            if subject is not None:
                q = q.where(AuditEntry.subject == subject)
            return [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                    "details": e.details,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in s.scalars(q)
            ]

    # -- patients --------------------------------------------------------------------------------------------

    def add_patient(
        self, name: str, birth_date: date | str | None = None, sex: str | None = None, *, involved_side: str = "none"
    ) -> str:
        """Create a patient; returns the new pseudonymous id (``P-7F3A2C``). Audited as ``create``."""
        name = (name or "").strip()
        if not name:
            raise ClinicError("the patient's name is empty; give the name used in the clinic")
        if len(name) > 200:
            raise ClinicError("the patient's name is over 200 characters; shorten it")
        born = _as_date(birth_date)
        sex_value = _as_sex(sex)
        if involved_side not in ("none", "left", "right"):
            raise ClinicError(f"involved side {involved_side!r} is not one of none, left, right")
        with self.transaction() as s:
            pid = new_patient_id()
            while s.get(Patient, pid) is not None:
                pid = new_patient_id()
            patient = Patient(id=pid, created_at=datetime.now(UTC), involved_side=involved_side, origin="local")
            s.add(patient)
            s.add(PatientIdentity(patient_id=pid, name=name, birth_date=born, sex=sex_value))
            self.audit(s, "create", pid, {"what": "patient"})
        return pid

    def update_patient(
        self,
        patient_id: str,
        *,
        name: str | None = None,
        birth_date: date | str | None = None,
        sex: str | None = None,
        involved_side: str | None = None,
    ) -> PatientInfo:
        """Correct a patient's identity or involved side; returns the patient as now stored (identified).

        ``None`` leaves a field as it is; ``birth_date=""`` and ``sex=""`` clear them. The same rules as
        :meth:`add_patient` apply. Audited as ``update`` with the names of the changed fields (never their values);
        nothing is written when nothing changes. A patient imported without identity gets one (``name`` needed).
        """
        check_patient_id(patient_id)
        new: dict[str, Any] = {}
        if name is not None:
            new["name"] = name.strip()
            if not new["name"]:
                raise ClinicError("the patient's name is empty; give the name used in the clinic")
            if len(new["name"]) > 200:
                raise ClinicError("the patient's name is over 200 characters; shorten it")
        if birth_date is not None:
            new["birth_date"] = _as_date(birth_date)
        if sex is not None:
            new["sex"] = _as_sex(sex)
        if involved_side is not None and involved_side not in ("none", "left", "right"):
            raise ClinicError(f"involved side {involved_side!r} is not one of none, left, right")
        with self.transaction() as s:
            p = s.get(Patient, patient_id)
            if p is None:
                raise NotFoundError(f"no patient {patient_id}; see `kinetics patients list`")
            changed: list[str] = []
            if involved_side is not None and p.involved_side != involved_side:
                p.involved_side = involved_side
                changed.append("involved_side")
            ident = p.identity
            if ident is None and new:
                if "name" not in new:
                    raise ClinicError(f"patient {patient_id} has no identity on record; give the name first")
                ident = PatientIdentity(patient_id=patient_id, name=new["name"], birth_date=None, sex="")
                s.add(ident)
                p.identity = ident
                changed.append("name")
            if ident is not None:
                for field, value in new.items():
                    if getattr(ident, field) != value:
                        setattr(ident, field, value)
                        if field not in changed:
                            changed.append(field)
            if changed:
                s.flush()
                self.audit(s, "update", patient_id, {"what": "patient", "fields": sorted(changed)})
            info = self._patient_info(s, p, True)
        return info

    def _patient_info(self, s: Session, p: Patient, identified: bool) -> PatientInfo:
        count, last = s.execute(
            select(func.count(SessionRow.id), func.max(SessionRow.started_at)).where(SessionRow.patient_id == p.id)
        ).one()
        last_dt = None
        if last is not None:
            last_dt = last.replace(tzinfo=UTC) if isinstance(last, datetime) else datetime.fromisoformat(str(last))
            last_dt = last_dt if last_dt.tzinfo else last_dt.replace(tzinfo=UTC)
        ident = p.identity if identified else None
        return PatientInfo(
            id=p.id,
            created_at=p.created_at,
            involved_side=p.involved_side,
            origin=p.origin,
            sessions=int(count),
            last_session=last_dt,
            name=ident.name if ident else None,
            birth_date=ident.birth_date if ident else None,
            sex=ident.sex if ident else None,
        )

    def has_patient(self, patient_id: str) -> bool:
        with Session(self.engine) as s:
            return s.get(Patient, patient_id) is not None

    def get_patient(self, patient_id: str, *, identified: bool = True) -> PatientInfo:
        """One patient; with ``identified`` (default) the identity is read too, which is audited as ``view``."""
        check_patient_id(patient_id)
        with self.transaction() as s:
            p = s.get(Patient, patient_id)
            if p is None:
                raise NotFoundError(f"no patient {patient_id}; see `kinetics patients list`")
            info = self._patient_info(s, p, identified)
            if identified:
                self.audit(s, "view", patient_id, {"what": "patient"})
        return info

    def list_patients(self, *, identified: bool = True) -> list[PatientInfo]:
        """Every patient (newest first); reading the identities is audited as one ``view`` of subject ``*``."""
        with self.transaction() as s:
            patients = list(s.scalars(select(Patient).order_by(Patient.created_at.desc(), Patient.id)))
            infos = [self._patient_info(s, p, identified) for p in patients]
            if identified and infos:
                self.audit(s, "view", "*", {"what": "patient list", "count": len(infos)})
        return infos

    # -- sessions --------------------------------------------------------------------------------------------

    def _prepare_trials(
        self, patient_id: str, session_id: str, trials: Sequence[Trial | str | os.PathLike[str]], created: list[Path]
    ) -> list[_PreparedTrial]:
        from dataclasses import replace

        from kinetics.io import read_trial, write_trial
        from kinetics.trial import Trial

        rel_dir = paths.session_dir_relative(patient_id, session_id)
        abs_dir = self.data_dir.joinpath(*rel_dir.parts)
        abs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        prepared: list[_PreparedTrial] = []
        for i, item in enumerate(trials):
            if isinstance(item, Trial):
                trial = item
                if trial.meta.patient_id not in ("", patient_id):
                    raise ClinicError(
                        f"trial {trial.meta.trial_id!r} is of patient {trial.meta.patient_id!r}, not {patient_id}; "
                        "save it under its own patient"
                    )
                if trial.meta.patient_id != patient_id:
                    trial = Trial(
                        replace(trial.meta, patient_id=patient_id), trial.devices, trial.events, trial.complete
                    )
                name = f"{i + 1:03d}-{trial.meta.trial_id}.h5"
                dest = abs_dir / name
                write_trial(dest, trial)
                created.append(dest)
            else:
                src = Path(item)
                trial = read_trial(src)  # validates the file before it enters the records
                if trial.meta.patient_id not in ("", patient_id):
                    raise ClinicError(
                        f"trial file {src} belongs to patient {trial.meta.patient_id!r}, not {patient_id}; "
                        "save it under its own patient"
                    )
                if paths.relative_to_data_dir(self.data_dir, src) is not None:
                    dest = src
                else:
                    dest = abs_dir / f"{i + 1:03d}-{trial.meta.trial_id}.h5"
                    if dest.exists():
                        raise ClinicError(f"{dest} already exists; give the session a new id")
                    if trial.meta.patient_id == patient_id:
                        _copy_durably(src, dest)
                    else:  # stamp the pseudonymous id into the stored copy
                        meta = replace(trial.meta, patient_id=patient_id)
                        write_trial(dest, Trial(meta, trial.devices, trial.events, trial.complete))
                    created.append(dest)
            relative = paths.relative_to_data_dir(self.data_dir, dest)
            assert relative is not None
            prepared.append(
                _PreparedTrial(
                    trial.meta.trial_id,
                    dest,
                    relative,
                    trial.meta.protocol,
                    trial.meta.side,
                    trial.meta.start_utc,
                    trial.complete,
                    sha256_file(dest),
                    dest.stat().st_size,
                )
            )
        ids = [t.trial_id for t in prepared]
        if len(set(ids)) != len(ids):
            raise ClinicError(f"duplicate trial ids {ids}; give each trial of a session its own id")
        return prepared

    def save_session(
        self,
        patient_id: str,
        protocol: Protocol | str,
        trials: Sequence[Trial | str | os.PathLike[str]] = (),
        results: Sequence[ResultRow | Mapping[str, Any]] = (),
        *,
        started: datetime | None = None,
        ended: datetime | None = None,
        notes: str = "",
        session_id: str | None = None,
        completed: bool = True,
    ) -> str:
        """Store one protocol run; returns the session id. Audited as ``create``.

        Parameters
        ----------
        patient_id : str
            An existing patient (``P-XXXXXX``).
        protocol : Protocol or str
            The protocol run, or a built-in protocol's id; its definition is stored as TOML with the session.
        trials : sequence of Trial or path
            Trial objects (written to ``trials/<patient>/<session>/``) or trial files (validated; used in place
            when already under the data directory's ``trials/`` folder, copied in otherwise). A trial's
            ``patient_id`` must be empty or this patient.
        results : sequence of ResultRow or mapping
            Rows with ``trial_id`` (``""`` for a session-level result), ``key``, ``value`` (SI ``unit``), ``unit``,
            ``side``, ``protocol``, ``method``. A trial row is timed at its trial's start, a session row at
            ``started``. :func:`rows_from_metrics` turns a trial's Metrics into rows.
        started, ended : aware datetime
            Default: the first trial's start (else now) and now.
        notes : str
            The clinician's free text; left out of pseudonymised exports.
        session_id : str, optional
            The session's id (letters, digits, ``_ . -``); default a new random one.
        completed : bool
            False for a run that stopped before its end (Ctrl-C, an error, a sensor lost); such a session is kept
            with what it recorded but left out of progress baselines and real-change flags by default.
        """
        from kinetics.io import TrialFileError

        check_patient_id(patient_id)
        if not self.has_patient(patient_id):
            raise NotFoundError(f"no patient {patient_id}; add the patient first (`kinetics patients add`)")
        proto, toml_text = self._protocol(protocol)
        if not isinstance(completed, bool):
            raise ClinicError(f"completed={completed!r} is not True or False; say whether the run reached its end")
        sid = session_id or uuid.uuid4().hex
        if not _SESSION_ID.match(sid):
            raise ClinicError(f"session id {sid!r} is not a short identifier; use letters, digits, _ . -")
        with Session(self.engine) as s:
            if s.get(SessionRow, sid) is not None:
                raise ClinicError(f"session {sid} already exists; give the new session its own id")
        rows = [_result_fields(r) for r in results]
        created: list[Path] = []
        session_dir = self.data_dir.joinpath(*paths.session_dir_relative(patient_id, sid).parts)
        dir_existed = session_dir.exists()
        try:
            try:
                prepared = self._prepare_trials(patient_id, sid, trials, created)
            except TrialFileError as err:
                raise ClinicError(f"cannot save the session: {err}") from None
            start = _aware(started, "started") if started else (
                min(t.started_at for t in prepared) if prepared else datetime.now(UTC)
            )  # fmt: skip
            end = _aware(ended, "ended") if ended else datetime.now(UTC)
            starts = {t.trial_id: t.started_at for t in prepared}
            new_rows = []
            for r in rows:
                if r["trial_id"] and r["trial_id"] not in starts:
                    raise ClinicError(
                        f"result {r['key']!r} names trial {r['trial_id']!r}, which is not in this session; "
                        f"use one of {sorted(starts)} or '' for a session result"
                    )
                new_rows.append(
                    NewResult(
                        r["trial_id"], r["key"], r["value"], r["unit"], r["side"], r["protocol"] or proto,
                        r["method"], starts.get(r["trial_id"], start),
                    )
                )  # fmt: skip
            with self.transaction() as s:
                self.insert_session(
                    s, patient_id, sid, proto, toml_text, start, end, notes, prepared, new_rows, origin="local",
                    completed=completed,
                )  # fmt: skip
                details: dict[str, Any] = {"what": "session", "session": sid, "protocol": proto}
                if not completed:
                    details["completed"] = False
                self.audit(s, "create", patient_id, details)
        except BaseException:
            for f in created:
                f.unlink(missing_ok=True)
            if not dir_existed:
                shutil.rmtree(session_dir, ignore_errors=True)
            raise
        return sid

    @staticmethod
    def _protocol(protocol: Protocol | str) -> tuple[str, str]:
        from protocols.library import UnknownProtocolError, get_protocol
        from protocols.loader import dump_protocol
        from protocols.schema import Protocol

        if isinstance(protocol, Protocol):
            return protocol.id, dump_protocol(protocol)
        try:
            p = get_protocol(str(protocol))
        except UnknownProtocolError as err:
            raise ClinicError(str(err)) from None
        return p.id, dump_protocol(p)

    def insert_session(
        self,
        s: Session,
        patient_id: str,
        session_id: str,
        protocol_id: str,
        protocol_toml: str,
        started: datetime,
        ended: datetime | None,
        notes: str,
        trials: Sequence[_PreparedTrial],
        results: Sequence[NewResult],
        *,
        origin: str,
        completed: bool = True,
    ) -> None:
        """Insert a session's rows in ``s``'s transaction (used by :meth:`save_session` and the bundle import)."""
        if s.get(Patient, patient_id) is None:
            raise NotFoundError(f"no patient {patient_id}; add the patient first")
        if s.get(SessionRow, session_id) is not None:
            raise ClinicError(f"session {session_id} already exists; it was saved or imported before")
        s.add(
            SessionRow(
                id=session_id,
                patient_id=patient_id,
                protocol_id=protocol_id,
                protocol_toml=protocol_toml,
                started_at=started,
                ended_at=ended,
                notes=notes,
                created_at=datetime.now(UTC),
                origin=origin,
                completed=completed,
            )
        )
        records: dict[str, TrialRecord] = {}
        for i, t in enumerate(trials):
            rec = TrialRecord(
                session_id=session_id,
                trial_id=t.trial_id,
                position=i,
                path=t.relative,
                sha256=t.sha256,
                size_bytes=t.size_bytes,
                protocol=t.protocol,
                side=t.side,
                started_at=t.started_at,
                complete=t.complete,
            )
            s.add(rec)
            records[t.trial_id] = rec
        s.flush()
        for i, r in enumerate(results):
            value = None if math.isnan(r.value) else r.value
            trial = records[r.trial_id] if r.trial_id else None
            s.add(
                Result(
                    session_id=session_id,
                    trial_pk=trial.id if trial else None,
                    position=i,
                    key=r.key,
                    value=value,
                    unit=r.unit,
                    side=r.side,
                    protocol=r.protocol,
                    method=r.method,
                    measured_at=r.measured_at,
                )
            )
        s.flush()

    @staticmethod
    def _session_info(row: SessionRow, *, full: bool) -> SessionInfo:
        trials = tuple(
            TrialInfo(
                t.trial_id, t.position, t.path, t.sha256, t.size_bytes, t.protocol, t.side, t.started_at, t.complete
            )
            for t in row.trials
        )
        results: tuple[ResultInfo, ...] = ()
        if full:
            results = tuple(
                ResultInfo(
                    row.id,
                    r.trial.trial_id if r.trial is not None else "",
                    r.key,
                    math.nan if r.value is None else float(r.value),
                    r.unit,
                    r.side,
                    r.protocol,
                    r.method,
                    r.measured_at,
                )
                for r in row.results
            )
        return SessionInfo(
            row.id, row.patient_id, row.protocol_id, row.started_at, row.ended_at, row.notes, row.origin,
            row.protocol_toml if full else "", trials, results, bool(row.completed),
        )  # fmt: skip

    def list_sessions(self, patient_id: str | None = None) -> list[SessionInfo]:
        """Sessions (oldest first), of one patient or all; trials listed, results left out (see get_session)."""
        with Session(self.engine) as s:
            q = select(SessionRow).order_by(SessionRow.started_at, SessionRow.id)
            if patient_id is not None:
                check_patient_id(patient_id)
                if s.get(Patient, patient_id) is None:
                    raise NotFoundError(f"no patient {patient_id}; see `kinetics patients list`")
                q = q.where(SessionRow.patient_id == patient_id)
            return [self._session_info(row, full=False) for row in s.scalars(q)]

    def get_session(self, session_id: str) -> SessionInfo:
        """One session with its trials, results and the protocol definition as run."""
        with Session(self.engine) as s:
            row = s.get(SessionRow, session_id)
            if row is None:
                raise NotFoundError(f"no session {session_id!r}; see `kinetics sessions list`")
            return self._session_info(row, full=True)

    def patient_sessions(self, patient_id: str) -> list[SessionInfo]:
        """Every session of a patient with trials and results (oldest first), for progress and exports."""
        check_patient_id(patient_id)
        with Session(self.engine) as s:
            if s.get(Patient, patient_id) is None:
                raise NotFoundError(f"no patient {patient_id}; see `kinetics patients list`")
            q = select(SessionRow).where(SessionRow.patient_id == patient_id)
            q = q.order_by(SessionRow.started_at, SessionRow.id)
            return [self._session_info(row, full=True) for row in s.scalars(q)]

    # -- trial files -----------------------------------------------------------------------------------------

    def trial_path(self, trial: TrialInfo) -> Path:
        """Where a stored trial file lives on this machine."""
        return paths.absolute(self.data_dir, trial.path)

    def verified_trial_path(self, trial: TrialInfo) -> Path:
        """The trial file's path after checking its SHA-256; :class:`StoreIntegrityError` if missing or altered."""
        path = self.trial_path(trial)
        if not path.is_file():
            raise StoreIntegrityError(f"trial file {trial.path} is missing; restore it from a backup")
        if sha256_file(path) != trial.sha256:
            raise StoreIntegrityError(
                f"trial file {trial.path} was altered since it was saved (SHA-256 differs); restore it from a backup"
            )
        return path

    def check(self) -> CheckReport:
        """Database ``integrity_check``, every trial file against its SHA-256, and files no row refers to."""
        with self.engine.connect() as conn:
            integrity = "; ".join(str(r[0]) for r in conn.execute(text("PRAGMA integrity_check")))
        with Session(self.engine) as s:
            records = list(s.scalars(select(TrialRecord)))
            sessions = int(s.scalar(select(func.count(SessionRow.id))) or 0)
        missing, altered = [], []
        known = set()
        for r in records:
            known.add(r.path)
            p = paths.absolute(self.data_dir, r.path)
            if not p.is_file():
                missing.append(r.path)
            elif sha256_file(p) != r.sha256:
                altered.append(r.path)
        orphans = []
        root = self.data_dir / paths.TRIALS_DIR
        if root.is_dir():
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    rel = paths.relative_to_data_dir(self.data_dir, f)
                    if rel not in known:
                        orphans.append(rel or str(f))
        return CheckReport(integrity, tuple(missing), tuple(altered), tuple(orphans), sessions, len(records))


__all__ = [
    "CheckReport",
    "ClinicStore",
    "NewResult",
    "PatientInfo",
    "ResultInfo",
    "SessionInfo",
    "TrialInfo",
    "new_patient_id",
    "rows_from_metrics",
    "sha256_file",
]
