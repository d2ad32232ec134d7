"""Erase leaves no trace (decrypted database pages, WAL, data directory); a patient's data exported whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from clinic import db
from clinic.errors import NotFoundError
from clinic.privacy import erase_patient, export_patient
from clinic.store import ClinicStore
from kinetics.io import ResultRow, read_session
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Trial, TrialMeta

KEY = "privacy passphrase"
NAME = "Hieronymus Blennerhassett"
BORN = "1944-07-19"
PAGE = 4096
RESERVE = 80  # SQLCipher 4: 16-byte IV + 64-byte HMAC-SHA512 at the end of each page


def _decrypt_page(page: bytes, key: bytes, first: bool) -> bytes:
    start = 16 if first else 0  # page 1 begins with the 16-byte salt
    iv = page[PAGE - RESERVE : PAGE - RESERVE + 16]
    d = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return d.update(page[start : PAGE - RESERVE]) + d.finalize()


def plaintext_of(db_path: Path, passphrase: str) -> bytes:
    """Every page of the database file and every frame of its WAL, decrypted (SQLCipher 4 page format)."""
    salt = db_path.read_bytes()[:16]
    key = db.derive_key(passphrase, salt)
    data = db_path.read_bytes()
    out = [_decrypt_page(data[i : i + PAGE], key, i == 0) for i in range(0, len(data), PAGE)]
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.exists():
        w = wal.read_bytes()
        for off in range(32, len(w) - 24 - PAGE + 1, 24 + PAGE):
            pgno = int.from_bytes(w[off : off + 4], "big")
            out.append(_decrypt_page(w[off + 24 : off + 24 + PAGE], key, pgno == 1))
    return b"".join(out)


def _trial(tid: str) -> Trial:
    dev = DeviceInfo("grip", "grip", 100.0, (Channel("force", "N"),))
    rec = DeviceRecording(dev, np.arange(200) / 100.0, np.arange(200), np.full((1, 200), 321.0, np.float32))
    return Trial.from_recordings(TrialMeta(tid, "grip-asht", "left", datetime(2026, 4, 1, tzinfo=UTC)), [rec])


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ClinicStore:
    monkeypatch.setenv("KINETICS_DB_KEY", KEY)
    s = ClinicStore.open(tmp_path / "data")
    yield s
    s.close()


def test_decryption_helper_sees_rows(store: ClinicStore) -> None:
    """The check below can fail: decrypted pages do show a stored name."""
    store.add_patient(NAME, BORN)
    assert NAME.encode() in plaintext_of(store.db_path, KEY)
    assert NAME.encode() not in store.db_path.read_bytes()


def test_erase_leaves_no_trace(store: ClinicStore) -> None:
    keep = store.add_patient("Keep Me Around", "1990-01-01")
    pid = store.add_patient(NAME, BORN, "male")
    for k in range(2):
        store.save_session(
            pid,
            "grip-asht",
            [_trial(f"t{k}")],
            [ResultRow(f"t{k}", "peak_force", 321.0, "N")],
            notes=f"{NAME} session {k}",
        )
    store.save_session(keep, "grip-asht", [_trial("k1")])
    folder = store.data_dir / "trials" / pid
    assert folder.is_dir() and len(list(folder.rglob("*.h5"))) == 2
    before = plaintext_of(store.db_path, KEY)
    assert NAME.encode() in before and BORN.encode() in before

    report = erase_patient(store, pid)
    assert report.verified and report.problems == ()
    assert (report.sessions, report.trials, report.results, report.files_removed) == (2, 2, 2, 2)
    assert not folder.exists()
    for f in store.data_dir.rglob("*"):
        assert pid not in f.name
    wal = store.db_path.with_name(store.db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
    after = plaintext_of(store.db_path, KEY)
    for needle in (NAME, "Hieronymus", "Blennerhassett", BORN):
        assert needle.encode() not in after, needle
    with pytest.raises(NotFoundError):
        store.get_patient(pid)
    assert [p.id for p in store.list_patients()] == [keep] and store.check().ok
    erase = [e for e in store.audit_entries(pid) if e["action"] == "erase"]
    assert len(erase) == 1 and json.loads(erase[0]["details"]) == {"results": 2, "sessions": 2, "trials": 2}
    assert store.verify_audit().ok
    with pytest.raises(NotFoundError):
        erase_patient(store, pid)


def test_erase_finishes_an_interrupted_erase(store: ClinicStore) -> None:
    stray = store.data_dir / "trials" / "P-ABC123" / "s1"
    stray.mkdir(parents=True)
    (stray / "001-t1.h5").write_bytes(b"left over")
    report = erase_patient(store, "P-ABC123")
    assert report.verified and report.files_removed == 1 and not stray.parent.exists()


def test_export_everything_about_a_patient(store: ClinicStore, tmp_path: Path) -> None:
    pid = store.add_patient(NAME, BORN, "m")
    sid = store.save_session(pid, "grip-asht", [_trial("t1")], [ResultRow("t1", "peak_force", 321.0, "N")])
    out = export_patient(store, pid, tmp_path / "export")
    data = json.loads((out / "patient.json").read_text(encoding="utf-8"))
    assert data["patient"]["name"] == NAME and data["patient"]["birth_date"] == BORN
    assert [s["id"] for s in data["sessions"]] == [sid]
    assert data["sessions"][0]["results"][0]["value"] == 321.0
    assert [e["action"] for e in data["audit"]][:3] == ["create", "create", "view"]  # patient, session, export
    bundle = read_session(out / data["sessions"][0]["bundle"])
    assert bundle.meta.session_id == sid and json.loads(bundle.documents["clinic.json"])["patient"]["name"] == NAME
    assert store.audit_entries(pid)[-1]["action"] == "export"
