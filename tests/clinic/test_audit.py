"""The hash-chained audit log: verify passes on an intact log and names the first edited, deleted, reordered or
truncated entry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from clinic import audit
from clinic.store import ClinicStore


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ClinicStore:
    monkeypatch.setenv("KINETICS_DB_KEY", "audit key")
    monkeypatch.setenv("KINETICS_ACTOR", "dr-audit")
    s = ClinicStore.open(tmp_path / "data")
    for name in ("Ann One", "Ben Two", "Cy Three"):
        pid = s.add_patient(name, "1980-01-01")
        s.get_patient(pid)
    yield s
    s.close()


def _sql(store: ClinicStore, statement: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_intact_log_verifies_and_hashes_are_canonical_json(store: ClinicStore) -> None:
    entries = store.audit_entries()
    assert [e["action"] for e in entries] == ["create", "view"] * 3 and store.verify_audit().ok
    first = entries[0]
    body = {k: first[k] for k in ("seq", "at", "actor", "action", "subject", "details", "prev_hash")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert first["hash"] == hashlib.sha256(canonical).hexdigest()
    assert first["prev_hash"] == "0" * 64 and entries[1]["prev_hash"] == first["hash"]
    assert first["actor"] == "dr-audit" and first["subject"].startswith("P-")
    head = audit.read_head(store.data_dir / "audit-head.json")
    assert head == audit.AuditHead(6, entries[-1]["hash"])


def test_edited_entry_is_detected(store: ClinicStore) -> None:
    _sql(store, "UPDATE audit_entries SET action = 'create' WHERE seq = 4")
    report = store.verify_audit()
    assert not report.ok and report.bad_seq == 4 and "entry #4" in report.problem and "was edited" in report.problem


def test_edit_with_recomputed_hash_still_breaks_the_chain(store: ClinicStore) -> None:
    e = store.audit_entries()[2]
    forged = audit.entry_hash(
        e["seq"], e["at"], "someone-else", e["action"], e["subject"], e["details"], e["prev_hash"]
    )
    _sql(store, "UPDATE audit_entries SET actor = 'someone-else', hash = :h WHERE seq = 3", h=forged)
    report = store.verify_audit()
    assert not report.ok and report.bad_seq == 4 and "does not follow entry #3" in report.problem


def test_deleted_entry_is_detected(store: ClinicStore) -> None:
    _sql(store, "DELETE FROM audit_entries WHERE seq = 2")
    report = store.verify_audit()
    assert not report.ok and report.bad_seq == 3 and "entry #2 was deleted" in report.problem


def test_reordered_entries_are_detected(store: ClinicStore) -> None:
    _sql(store, "UPDATE audit_entries SET seq = 100 WHERE seq = 2")
    _sql(store, "UPDATE audit_entries SET seq = 2 WHERE seq = 3")
    _sql(store, "UPDATE audit_entries SET seq = 3 WHERE seq = 100")
    report = store.verify_audit()
    assert not report.ok and report.bad_seq == 2


def test_truncated_tail_is_caught_by_the_head_anchor(store: ClinicStore) -> None:
    _sql(store, "DELETE FROM audit_entries WHERE seq >= 5")
    report = store.verify_audit()
    assert not report.ok and report.bad_seq == 5 and "#5…#6 are missing" in report.problem


def test_head_anchor_lagging_behind_is_fine(store: ClinicStore) -> None:
    """A crash between the commit and the anchor update leaves the anchor one entry behind: still valid."""
    head_file = store.data_dir / "audit-head.json"
    entries = store.audit_entries()
    head_file.write_text(json.dumps({"seq": 5, "hash": entries[4]["hash"]}))
    assert store.verify_audit().ok
    head_file.write_text(json.dumps({"seq": 5, "hash": "0" * 64}))
    assert not store.verify_audit().ok
