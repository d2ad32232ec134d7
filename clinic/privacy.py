"""Privacy: a patient's data handed over whole (portability), a patient erased for good, and the audit log check.

- :func:`export_patient` writes a folder: ``patient.json`` (identity, sessions, trials, results, the audit entries
  about the patient) and ``sessions/<session id>.h5`` (one identified bundle per session). It is the patient's
  own data, so it is identified. Audited as ``export``.
- :func:`erase_patient` deletes the patient's rows (identity, patient, sessions, trials, results) in one
  transaction together with an ``erase`` audit entry, removes every trial file and the patient's folder, then
  VACUUMs the database and truncates its WAL so the deleted rows leave the file's bytes too (with
  ``secure_delete`` on, freed pages were already zeroed), and verifies that nothing is left. The audit log keeps
  its entries about the pseudonymous id (a record that the erasure happened, GDPR art. 5(2) accountability); with
  the identity gone that id no longer points to anyone.
- :func:`verify_audit` checks the hash chain and the head anchor (:mod:`clinic.audit`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

from clinic import paths
from clinic.audit import AuditReport
from clinic.errors import ClinicError, NotFoundError
from clinic.models import Patient, PatientIdentity, Result, SessionRow, TrialRecord
from clinic.store import ClinicStore, check_patient_id


def verify_audit(store: ClinicStore) -> AuditReport:
    """Check the audit log: edited, deleted, inserted or reordered entries, and a truncated tail."""
    return store.verify_audit()


def export_patient(store: ClinicStore, patient_id: str, out_dir: str | os.PathLike[str]) -> Path:
    """Everything stored about a patient, in the new or empty folder ``out_dir`` (see the module docstring)."""
    from clinic.exports import export_session_hdf5

    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ClinicError(f"{out} exists and is not an empty folder; choose a new folder")
    patient = store.get_patient(patient_id, identified=True)
    sessions = store.patient_sessions(patient_id)
    (out / "sessions").mkdir(parents=True, exist_ok=True)
    for info in sessions:
        export_session_hdf5(store, info.id, out / "sessions" / f"{info.id}.h5", identified=True)
    data = {
        "format": "kinetics-patient-export",
        "format_version": 1,
        "exported_at": datetime.now(UTC).isoformat(),
        "patient": patient.to_dict(),
        "sessions": [{**info.to_dict(), "bundle": f"sessions/{info.id}.h5"} for info in sessions],
        "audit": store.audit_entries(subject=patient_id),
    }
    (out / "patient.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    with store.transaction() as s:
        store.audit(s, "export", patient_id, {"what": "patient", "sessions": len(sessions)})
    return out


@dataclass(frozen=True)
class ErasureReport:
    """What :func:`erase_patient` removed, and whether the check afterwards found anything left."""

    patient_id: str
    sessions: int
    trials: int
    results: int
    files_removed: int
    verified: bool
    problems: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "sessions": self.sessions,
            "trials": self.trials,
            "results": self.results,
            "files_removed": self.files_removed,
            "verified": self.verified,
            "problems": list(self.problems),
        }


def _leftovers(store: ClinicStore, patient_id: str, files: list[Path]) -> list[str]:
    problems = []
    with store.transaction() as s:
        checks = {
            "patients": select(func.count()).select_from(Patient).where(Patient.id == patient_id),
            "patient_identities": select(func.count())
            .select_from(PatientIdentity)
            .where(PatientIdentity.patient_id == patient_id),
            "sessions": select(func.count()).select_from(SessionRow).where(SessionRow.patient_id == patient_id),
            "trials": select(func.count()).select_from(TrialRecord).where(TrialRecord.path.contains(patient_id)),
        }
        for table, q in checks.items():
            n = int(s.scalar(q) or 0)
            if n:
                problems.append(f"{n} row(s) of {table} remain")
    for f in files:
        if f.exists():
            problems.append(f"file {f} remains")
    folder = paths.patient_dir(store.data_dir, patient_id)
    if folder.exists():
        problems.append(f"folder {folder} remains")
    return problems


def erase_patient(store: ClinicStore, patient_id: str) -> ErasureReport:
    """Erase a patient for good (rows, trial files, folder, freed database pages); see the module docstring.

    Safe to run again after an interruption: an unknown id whose folder still exists gets the folder removed.
    """
    from clinic import db

    check_patient_id(patient_id)
    folder = paths.patient_dir(store.data_dir, patient_id)
    with store.transaction() as s:
        patient = s.get(Patient, patient_id)
        if patient is None and not folder.exists():
            raise NotFoundError(f"no patient {patient_id}; see `kinetics patients list`")
        session_ids = list(s.scalars(select(SessionRow.id).where(SessionRow.patient_id == patient_id)))
        records = list(s.scalars(select(TrialRecord).where(TrialRecord.session_id.in_(session_ids))))
        files = [paths.absolute(store.data_dir, r.path) for r in records]
        n_results = int(
            s.scalar(select(func.count()).select_from(Result).where(Result.session_id.in_(session_ids))) or 0
        )
        s.execute(delete(Result).where(Result.session_id.in_(session_ids)))
        s.execute(delete(TrialRecord).where(TrialRecord.session_id.in_(session_ids)))
        s.execute(delete(SessionRow).where(SessionRow.patient_id == patient_id))
        s.execute(delete(PatientIdentity).where(PatientIdentity.patient_id == patient_id))
        s.execute(delete(Patient).where(Patient.id == patient_id))
        store.audit(
            s, "erase", patient_id, {"sessions": len(session_ids), "trials": len(records), "results": n_results}
        )
    removed = 0
    for f in files:
        if f.exists():
            f.unlink()
            removed += 1
    if folder.exists():
        removed += sum(1 for f in folder.rglob("*") if f.is_file())
        shutil.rmtree(folder)
    db.compact(store.engine, store.db_path, store._passphrase)
    problems = _leftovers(store, patient_id, files)
    return ErasureReport(patient_id, len(session_ids), len(records), n_results, removed, not problems, tuple(problems))
