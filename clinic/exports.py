"""Session exports (one HDF5 bundle, or CSV files) and the import of a bundle exported by another tablet.

Bundle = a ``kinetics-session`` file (:func:`kinetics.io.write_session`) holding the session's trials, its
results table, and two documents: ``protocol.toml`` (the definition as run) and ``clinic.json`` (the manifest:
format ``kinetics-clinic-session`` v1, session and patient ids, times, whether the session completed, each trial's
content digest, each result's measurement time and a digest of the results table). The session metadata's
``extra`` carries ``protocol``, ``ended_utc``, ``identified`` and ``completed`` (bool; a bundle without it, from
before the flag existed, imports as completed). Pseudonymised by default: the patient appears only as the
pseudonymous id, and the clinician's free-text notes are left out (they may name people); ``identified=True``
adds the name, birth date, sex and the notes.

Import verifies everything before touching the store (HDF5 checksums through :func:`kinetics.io.read_session`,
then the manifest's digests), refuses a file that is not a clinic export, is corrupted, was altered or holds a
session already present, then writes the trial files and inserts every row in one transaction; on any failure
the files it wrote are removed, so nothing is half-imported.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinic import paths
from clinic.errors import BundleError, ClinicError
from clinic.store import ClinicStore, NewResult, SessionInfo, _PreparedTrial, check_patient_id, sha256_file

if TYPE_CHECKING:
    from kinetics.io import ResultRow, Session
    from kinetics.trial import Trial

BUNDLE_FORMAT = "kinetics-clinic-session"
BUNDLE_VERSION = 1
MANIFEST = "clinic.json"
PROTOCOL_DOC = "protocol.toml"
FORMATS = ("hdf5", "csv")


# ---------------------------------------------------------------------------------------------------------------
# content digests (independent of how HDF5 lays the bytes out)
# ---------------------------------------------------------------------------------------------------------------


def _feed_text(h: Any, value: str) -> None:
    data = value.encode("utf-8")
    h.update(struct.pack("<Q", len(data)))
    h.update(data)


def trial_digest(trial: Trial) -> str:
    """SHA-256 over a trial's content: metadata, every device's info, time, counter, values, gaps, events."""
    h = hashlib.sha256()
    m = trial.meta
    meta = {
        "trial_id": m.trial_id,
        "protocol": m.protocol,
        "side": m.side,
        "start_utc": m.start_utc.isoformat(),
        "patient_id": m.patient_id,
        "extra": {k: [type(v).__name__, repr(v)] for k, v in sorted(m.extra.items())},
        "complete": trial.complete,
    }
    _feed_text(h, json.dumps(meta, sort_keys=True))
    for name, rec in trial.devices.items():
        info = rec.info
        _feed_text(
            h,
            json.dumps(
                {
                    "name": name,
                    "kind": info.kind,
                    "rate": repr(info.rate),
                    "channels": [[c.name, c.unit] for c in info.channels],
                    "model": info.model,
                    "address": info.address,
                    "firmware": info.firmware,
                    "calibration": {k: repr(v) for k, v in sorted(info.calibration.items())},
                    "value_dtype": info.value_dtype,
                    "gaps": [[g.first_missing, g.last_missing, repr(g.start), repr(g.end)] for g in rec.gaps],
                },
                sort_keys=True,
            ),
        )
        for gname, arr in sorted(info.geometry.items()):
            _feed_text(h, f"{gname}{arr.shape}")
            h.update(arr.astype("<f8").tobytes())
        arrays: tuple[tuple[Any, str], ...] = (
            (rec.time, "<f8"),
            (rec.counter, "<i8"),
            (rec.values, "<" + rec.values.dtype.str[1:]),
        )
        for arr, dtype in arrays:
            _feed_text(h, f"{arr.shape}{dtype}")
            h.update(arr.astype(dtype).tobytes())
    for e in trial.events:
        _feed_text(h, json.dumps([repr(e.time), e.kind, e.label, e.device]))
    return h.hexdigest()


def results_digest(rows: list[ResultRow], measured_at: list[str]) -> str:
    """SHA-256 over the results table, values by their IEEE-754 bits, with each row's measurement time."""
    h = hashlib.sha256()
    for r, at in zip(rows, measured_at, strict=True):
        for value in (r.trial_id, r.key, r.unit, r.side, r.protocol, r.method, at):
            _feed_text(h, value)
        h.update(struct.pack("<d", r.value))
    return h.hexdigest()


def documents_digest(protocol_toml: str, notes: str) -> str:
    """SHA-256 over the protocol definition and the notes carried by a bundle."""
    h = hashlib.sha256()
    _feed_text(h, protocol_toml)
    _feed_text(h, notes)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------------------------


def _load_trials(store: ClinicStore, info: SessionInfo) -> list[Trial]:
    from kinetics.io import TrialFileError, read_trial

    trials = []
    for t in info.trials:
        path = store.verified_trial_path(t)
        try:
            trials.append(read_trial(path))
        except TrialFileError as err:
            raise ClinicError(f"cannot export session {info.id}: {err}") from None
    return trials


def _result_rows(info: SessionInfo) -> list[ResultRow]:
    from kinetics.io import ResultRow

    return [ResultRow(r.trial_id, r.key, r.value, r.unit, r.side, r.protocol, r.method) for r in info.results]


def _identity(store: ClinicStore, patient_id: str) -> dict[str, Any]:
    p = store.get_patient(patient_id, identified=True)
    return {"name": p.name, "birth_date": p.birth_date.isoformat() if p.birth_date else None, "sex": p.sex or ""}


def build_bundle(store: ClinicStore, session_id: str, *, identified: bool = False) -> Session:
    """The :class:`kinetics.io.Session` a session exports to (pseudonymised unless ``identified``)."""
    from kinetics.io import Session, SessionMeta

    info = store.get_session(session_id)
    trials = _load_trials(store, info)
    rows = _result_rows(info)
    times = [r.measured_at.isoformat() for r in info.results]
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "session_id": info.id,
        "patient_id": info.patient_id,
        "protocol": info.protocol_id,
        "started_at": info.started_at.isoformat(),
        "ended_at": info.ended_at.isoformat() if info.ended_at else None,
        "completed": info.completed,
        "identified": identified,
        "notes_included": identified,
        "trials": [{"trial_id": t.meta.trial_id, "digest": trial_digest(t)} for t in trials],
        "results_measured_at": times,
        "results_digest": results_digest(rows, times),
        "documents_digest": documents_digest(info.protocol_toml, info.notes if identified else ""),
        "exported_at": datetime.now(UTC).isoformat(),
    }
    if identified:
        manifest["patient"] = _identity(store, info.patient_id)
    meta = SessionMeta(
        session_id=info.id,
        patient_id=info.patient_id,
        start_utc=info.started_at,
        notes=info.notes if identified else "",
        extra={
            "protocol": info.protocol_id,
            "ended_utc": manifest["ended_at"] or "",
            "identified": identified,
            "completed": info.completed,
        },
    )
    documents = {PROTOCOL_DOC: info.protocol_toml, MANIFEST: json.dumps(manifest, indent=1, ensure_ascii=False)}
    return Session(meta, trials, rows, documents)


def export_session_hdf5(
    store: ClinicStore,
    session_id: str,
    out: str | os.PathLike[str],
    *,
    identified: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write one session as an HDF5 bundle at ``out`` (atomically); audited as ``export``."""
    from kinetics.io import write_session

    bundle = build_bundle(store, session_id, identified=identified)
    path = Path(out)
    try:
        write_session(path, bundle, overwrite=overwrite)
    except ValueError as err:
        raise ClinicError(f"cannot write {path}: {err}") from None
    with store.transaction() as s:
        store.audit(s, "export", bundle.meta.patient_id,
                    {"session": session_id, "format": "hdf5", "identified": identified})  # fmt: skip
    return path


def _num(v: float) -> str:
    """Shortest text that reads back to the same float64 (``nan``, ``inf``, ``-inf`` for the specials)."""
    return repr(float(v))


def export_session_csv(
    store: ClinicStore, session_id: str, out_dir: str | os.PathLike[str], *, identified: bool = False
) -> list[Path]:
    """Write ``results.csv``, ``session.json`` and one CSV per device of each trial (plus its events) into the
    new or empty folder ``out_dir``; values written exactly (shortest round-trip decimal). Audited as ``export``."""
    bundle = build_bundle(store, session_id, identified=identified)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ClinicError(f"{out} exists and is not an empty folder; choose a new folder for the CSV files")
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(bundle.documents[MANIFEST])
    written = []
    info_path = out / "session.json"
    info_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(info_path)
    if bundle.meta.notes:
        notes_path = out / "notes.txt"
        notes_path.write_text(bundle.meta.notes, encoding="utf-8")
        written.append(notes_path)
    results_path = out / "results.csv"
    with open(results_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["session_id", "trial_id", "key", "value", "unit", "side", "protocol", "method", "measured_at"])
        for r, at in zip(bundle.results, manifest["results_measured_at"], strict=True):
            w.writerow([session_id, r.trial_id, r.key, _num(r.value), r.unit, r.side, r.protocol, r.method, at])
    written.append(results_path)
    for i, trial in enumerate(bundle.trials):
        stem = f"trial_{i + 1:03d}_{trial.meta.trial_id}"
        for name, rec in trial.devices.items():
            path = out / f"{stem}_{name}.csv"
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["time [s]", "counter"] + [f"{c.name} [{c.unit}]" for c in rec.info.channels])
                values = rec.values.T.tolist()
                for t, c, row in zip(rec.time.tolist(), rec.counter.tolist(), values, strict=True):
                    w.writerow([_num(t), c, *(_num(v) for v in row)])
            written.append(path)
        if trial.events:
            path = out / f"{stem}_events.csv"
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["time [s]", "kind", "label", "device"])
                for e in trial.events:
                    w.writerow([_num(e.time), e.kind, e.label, e.device])
            written.append(path)
    with store.transaction() as s:
        store.audit(s, "export", bundle.meta.patient_id,
                    {"session": session_id, "format": "csv", "identified": identified})  # fmt: skip
    return written


def export_session(
    store: ClinicStore, session_id: str, out: str | os.PathLike[str], fmt: str = "hdf5", *, identified: bool = False
) -> list[Path]:
    """Export a session as ``hdf5`` (one bundle file) or ``csv`` (a folder of files); returns what was written."""
    if fmt == "hdf5":
        return [export_session_hdf5(store, session_id, out, identified=identified)]
    if fmt == "csv":
        return export_session_csv(store, session_id, out, identified=identified)
    raise ClinicError(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")


# ---------------------------------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    session_id: str
    patient_id: str
    trials: int
    results: int
    patient_created: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "patient_id": self.patient_id,
            "trials": self.trials,
            "results": self.results,
            "patient_created": self.patient_created,
        }


def _refuse(path: Path, problem: str, remedy: str) -> BundleError:
    return BundleError(f"cannot import {path}: {problem}; {remedy}. Nothing was imported")


def _aware(text: Any, path: Path, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(str(text))
    except ValueError:
        raise _refuse(path, f"{what} {text!r} is not a time", "the bundle was altered; export it again") from None
    if value.tzinfo is None:
        raise _refuse(path, f"{what} has no time zone", "the bundle was altered; export it again")
    return value.astimezone(UTC)


def bundle_completed(path: Path, bundle: Session, manifest: dict[str, Any]) -> bool:
    """Whether the bundled session ran to its end: ``completed`` of the session metadata's ``extra`` (True when a
    bundle from before the flag lacks it), which the manifest, when it says, must agree with; BundleError else."""
    value = bundle.meta.extra.get("completed", True)
    if not isinstance(value, bool):
        raise _refuse(path, f"its session 'completed' flag {value!r} is not true or false", "export it again")
    if "completed" in manifest and manifest["completed"] is not value:
        raise _refuse(
            path, "its session metadata and manifest disagree on whether the session completed",
            "the bundle was altered; export it again",
        )  # fmt: skip
    return value


def verify_bundle(path: str | os.PathLike[str]) -> tuple[Session, dict[str, Any]]:
    """Read a bundle and check it is a clinic export whose content matches its manifest; raises BundleError."""
    from kinetics.io import TrialFileError, read_session
    from protocols.loader import parse_protocol
    from protocols.schema import ProtocolError

    p = Path(path)
    try:
        bundle = read_session(p)
    except TrialFileError as err:
        raise _refuse(p, f"not a readable Kinetics session bundle ({err.problem})", err.remedy) from None
    if MANIFEST not in bundle.documents:
        raise _refuse(
            p, "it is a Kinetics session bundle but not a clinic export (no clinic.json manifest)",
            "import only bundles written by `kinetics export session ID --format hdf5`",
        )  # fmt: skip
    try:
        manifest = json.loads(bundle.documents[MANIFEST])
    except json.JSONDecodeError:
        raise _refuse(
            p, "its clinic.json manifest is not valid JSON", "the bundle was altered; export it again"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise _refuse(p, f"its manifest is not a {BUNDLE_FORMAT} manifest (foreign file)", "export it with Kinetics")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _refuse(p, f"manifest format_version {version!r} is invalid", "export it again")
    if version > BUNDLE_VERSION:
        raise _refuse(p, f"it is format version {version}, newer than this Kinetics reads", "update Kinetics")
    meta = bundle.meta
    if manifest.get("session_id") != meta.session_id or manifest.get("patient_id") != meta.patient_id:
        raise _refuse(p, "the manifest names another session or patient than the bundle holds", "export it again")
    try:
        check_patient_id(meta.patient_id)
    except ClinicError:
        raise _refuse(
            p, f"patient id {meta.patient_id!r} is not a pseudonymous id", "export it with Kinetics"
        ) from None
    listed = manifest.get("trials")
    ids = [t.meta.trial_id for t in bundle.trials]
    if not isinstance(listed, list) or [t.get("trial_id") for t in listed] != ids:
        raise _refuse(p, "its trials differ from those its manifest lists", "the bundle was altered; export it again")
    for entry, trial in zip(listed, bundle.trials, strict=True):
        if entry.get("digest") != trial_digest(trial):
            raise _refuse(
                p, f"trial {trial.meta.trial_id!r} does not match its digest (corrupted or altered)",
                "copy the file again from the other tablet, or export it again",
            )  # fmt: skip
        if trial.meta.patient_id not in ("", meta.patient_id):
            raise _refuse(p, f"trial {trial.meta.trial_id!r} belongs to another patient", "export it again")
    times = manifest.get("results_measured_at")
    if not isinstance(times, list) or len(times) != len(bundle.results):
        raise _refuse(p, "its results table and manifest disagree", "the bundle was altered; export it again")
    if manifest.get("results_digest") != results_digest(bundle.results, [str(t) for t in times]):
        raise _refuse(p, "its results table does not match its digest (corrupted or altered)", "export it again")
    bundle_completed(p, bundle, manifest)
    if manifest.get("documents_digest") != documents_digest(bundle.documents.get(PROTOCOL_DOC, ""), meta.notes):
        raise _refuse(p, "its protocol definition or notes do not match their digest (altered)", "export it again")
    try:
        parse_protocol(bundle.documents.get(PROTOCOL_DOC, ""), source=f"{p}:{PROTOCOL_DOC}")
    except ProtocolError as err:
        raise _refuse(p, f"its protocol definition is invalid ({err})", "export it again") from None
    return bundle, manifest


def import_bundle(store: ClinicStore, path: str | os.PathLike[str]) -> ImportReport:
    """Import a session bundle exported by another tablet (all or nothing); audited as ``import``.

    A patient unknown here is created under the same pseudonymous id (with the identity when the bundle is
    identified). Raises :class:`~clinic.errors.BundleError` naming what is wrong; nothing is imported then.
    """
    from kinetics.io import write_trial

    p = Path(path)
    bundle, manifest = verify_bundle(p)
    completed = bundle_completed(p, bundle, manifest)
    meta = bundle.meta
    sid, pid = meta.session_id, meta.patient_id
    try:
        store.get_session(sid)
    except ClinicError:
        pass
    else:
        raise _refuse(p, f"session {sid} is already in this store", "there is nothing to import")
    started = _aware(manifest.get("started_at"), p, "started_at")
    ended = _aware(manifest["ended_at"], p, "ended_at") if manifest.get("ended_at") else None
    times = [_aware(t, p, "a result's time") for t in manifest["results_measured_at"]]
    identity = manifest.get("patient") if manifest.get("identified") else None
    rel_dir = paths.session_dir_relative(pid, sid)
    abs_dir = store.data_dir.joinpath(*rel_dir.parts)
    patient_dir = paths.patient_dir(store.data_dir, pid)
    patient_dir_existed = patient_dir.exists()
    if abs_dir.exists():
        raise _refuse(p, f"folder {abs_dir} already exists", "remove it if no session uses it, then import again")
    written: list[Path] = []
    created_patient = False
    try:
        abs_dir.mkdir(parents=True, mode=0o700)
        prepared = []
        for i, trial in enumerate(bundle.trials):
            dest = abs_dir / f"{i + 1:03d}-{trial.meta.trial_id}.h5"
            write_trial(dest, trial)
            written.append(dest)
            prepared.append(
                _PreparedTrial(
                    trial.meta.trial_id, dest, f"{rel_dir}/{dest.name}", trial.meta.protocol, trial.meta.side,
                    trial.meta.start_utc, trial.complete, sha256_file(dest), dest.stat().st_size,
                )
            )  # fmt: skip
        rows = [
            NewResult(r.trial_id, r.key, r.value, r.unit, r.side, r.protocol, r.method, at)
            for r, at in zip(bundle.results, times, strict=True)
        ]
        with store.transaction() as s:
            from clinic.models import Patient, PatientIdentity

            if s.get(Patient, pid) is None:
                s.add(Patient(id=pid, created_at=datetime.now(UTC), involved_side="none", origin="import"))
                if isinstance(identity, dict) and identity.get("name"):
                    born = identity.get("birth_date")
                    s.add(
                        PatientIdentity(
                            patient_id=pid,
                            name=str(identity["name"]),
                            birth_date=date.fromisoformat(born) if born else None,
                            sex=str(identity.get("sex") or ""),
                        )
                    )
                s.flush()
                created_patient = True
            store.insert_session(
                s, pid, sid, str(manifest.get("protocol", "")), bundle.documents.get(PROTOCOL_DOC, ""),
                started, ended, meta.notes, prepared, rows, origin="import", completed=completed,
            )  # fmt: skip
            store.audit(s, "import", pid, {"session": sid, "file": p.name, "patient_created": created_patient})
    except BaseException:
        for f in written:
            f.unlink(missing_ok=True)
        shutil.rmtree(abs_dir, ignore_errors=True)
        if not patient_dir_existed:
            shutil.rmtree(patient_dir, ignore_errors=True)
        raise
    return ImportReport(sid, pid, len(prepared), len(rows), created_patient)
