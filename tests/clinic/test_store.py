"""The encrypted store: patients, sessions, trial files with SHA-256, results, keys, migrations."""

from __future__ import annotations

import math
import sqlite3
import struct
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from clinic import db, paths
from clinic.errors import ClinicError, NotFoundError, StoreKeyError
from clinic.store import ClinicStore, rows_from_metrics, sha256_file
from kinetics.io import ResultRow, read_trial, write_trial
from kinetics.results import Metrics
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Event, Trial, TrialMeta

KEY = "correct horse battery staple"
NAME = "Zebulon Quixotic-Marchbanks"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def make_trial(trial_id: str, side: str = "left", seed: int = 0, n: int = 400, patient_id: str = "") -> Trial:
    rng = np.random.default_rng(seed)
    dev = DeviceInfo("grip", "grip", 100.0, (Channel("force", "N"),), model="sim")
    values = rng.normal(200.0, 5.0, (1, n)).astype(np.float32)
    rec = DeviceRecording(dev, np.arange(n) / 100.0, np.arange(n), values)
    meta = TrialMeta(trial_id, "grip-asht", side, T0 + timedelta(seconds=seed), patient_id)
    return Trial.from_recordings(meta, [rec], [Event(0.5, "cue", "squeeze")])


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ClinicStore:
    monkeypatch.setenv(db.ENV_KEY, KEY)
    monkeypatch.setenv("KINETICS_ACTOR", "tester")
    s = ClinicStore.open(tmp_path / "data")
    yield s
    s.close()


def test_patient_gets_a_pseudonymous_id_and_identity_lives_apart(store: ClinicStore) -> None:
    pid = store.add_patient(NAME, "1971-05-06", "f")
    assert len(pid) == 8 and pid.startswith("P-") and int(pid[2:], 16) >= 0 and pid[2:] == pid[2:].upper()
    info = store.get_patient(pid)
    assert (info.name, info.birth_date, info.sex) == (NAME, date(1971, 5, 6), "female")
    anonymous = store.get_patient(pid, identified=False)
    assert anonymous.name is None and "name" not in anonymous.to_dict()
    with store.engine.connect() as conn:
        from sqlalchemy import text

        cols = {r[1] for r in conn.execute(text("PRAGMA table_info(patients)"))}
    assert cols == {"id", "created_at", "involved_side", "origin"}  # no identifying column
    assert [p.id for p in store.list_patients()] == [pid]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "1970-01-01"), "name is empty"),
        ((NAME, "1970-13-01"), "write it as YYYY-MM-DD"),
        ((NAME, "2999-01-01"), "in the future"),
        ((NAME, "1970-01-01", "robot"), "not one of female, male, other"),
    ],
)
def test_bad_patient_input_is_refused(store: ClinicStore, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ClinicError, match=message):
        store.add_patient(*args)


def test_unknown_ids(store: ClinicStore) -> None:
    with pytest.raises(NotFoundError, match="no patient P-000000"):
        store.get_patient("P-000000")
    with pytest.raises(NotFoundError, match="is not a patient id"):
        store.get_patient("Alice")
    with pytest.raises(NotFoundError, match="no session"):
        store.get_session("nope")


def test_save_session_stores_files_hashes_and_results(store: ClinicStore, tmp_path: Path) -> None:
    pid = store.add_patient(NAME, "1971-05-06")
    outside = tmp_path / "recorded.h5"
    write_trial(outside, make_trial("t3", "right", seed=3))
    metrics = Metrics({"peak_force": 301.25, "time_to_peak": 0.75}, {"peak_force": "N", "time_to_peak": "s"}, "m1")
    rows = [
        *rows_from_metrics("t1", metrics, side="left", protocol="grip-asht"),
        ResultRow("t2", "peak_force", math.nan, "N", "right", "grip-asht", "m1"),
        ResultRow("t3", "peak_force", math.inf, "N", "right", "grip-asht", "m1"),
        ResultRow("", "peak_force_mean", 0.1 + 0.2, "N", "both", "grip-asht", "mean"),
    ]
    sid = store.save_session(
        pid,
        "grip-asht",
        [make_trial("t1"), make_trial("t2", "right", seed=2), outside],
        rows,
        started=T0,
        ended=T0 + timedelta(minutes=5),
        notes="felt fine",
    )
    info = store.get_session(sid)
    assert [t.trial_id for t in info.trials] == ["t1", "t2", "t3"] and outside.exists()
    for t in info.trials:
        path = store.trial_path(t)
        assert path.is_relative_to(store.data_dir / "trials" / pid / sid)
        assert t.path == path.relative_to(store.data_dir).as_posix()
        assert sha256_file(path) == t.sha256 and path.stat().st_size == t.size_bytes
        assert read_trial(path).meta.patient_id == pid  # written with the pseudonymous id
    assert read_trial(store.trial_path(info.trials[0])).devices["grip"].equals(make_trial("t1").devices["grip"])
    got = [(r.trial_id, r.key, r.unit, r.side, r.method) for r in info.results]
    assert got == [(r.trial_id, r.key, r.unit, r.side, r.method) for r in rows]
    values = [r.value for r in info.results]
    assert values[:2] == [301.25, 0.75] and math.isnan(values[2]) and values[3] == math.inf
    assert struct.pack("<d", values[4]) == struct.pack("<d", 0.1 + 0.2)
    assert info.results[0].measured_at == T0 and info.results[4].measured_at == T0  # trial start / session start
    assert info.results[1].measured_at == make_trial("t1").meta.start_utc
    assert (info.started_at, info.ended_at, info.notes) == (T0, T0 + timedelta(minutes=5), "felt fine")
    assert 'id = "grip-asht"' in info.protocol_toml
    assert [s.id for s in store.list_sessions(pid)] == [sid] and store.check().ok


def test_in_place_trial_file_is_referenced_not_copied(store: ClinicStore) -> None:
    pid = store.add_patient(NAME)
    folder = store.data_dir / "trials" / pid / "live"
    folder.mkdir(parents=True)
    write_trial(folder / "rec.h5", make_trial("t1", patient_id=pid))
    sid = store.save_session(pid, "grip-asht", [folder / "rec.h5"])
    assert store.get_session(sid).trials[0].path == f"trials/{pid}/live/rec.h5"
    assert sorted(p.name for p in (store.data_dir / "trials" / pid).rglob("*.h5")) == ["rec.h5"]


def test_failed_save_leaves_no_file_and_no_row(store: ClinicStore) -> None:
    pid = store.add_patient(NAME)
    other = store.add_patient("Someone Else")
    bad_rows = [ResultRow("t9", "peak_force", 1.0, "N")]
    with pytest.raises(ClinicError, match="names trial 't9', which is not in this session"):
        store.save_session(pid, "grip-asht", [make_trial("t1")], bad_rows)
    with pytest.raises(ClinicError, match="not P-"):
        store.save_session(pid, "grip-asht", [make_trial("t1"), make_trial("t2", patient_id=other)])
    with pytest.raises(ClinicError, match="duplicate trial ids"):
        store.save_session(pid, "grip-asht", [make_trial("t1"), make_trial("t1", seed=1)])
    with pytest.raises(ClinicError, match="unknown protocol 'grip-ashtt'; did you mean grip-asht"):
        store.save_session(pid, "grip-ashtt", [make_trial("t1")])
    assert store.list_sessions() == []
    assert not any(p.is_file() for p in (store.data_dir / "trials").rglob("*"))
    with pytest.raises(NotFoundError, match="add the patient first"):
        store.save_session("P-000000", "grip-asht", [make_trial("t1")])


def test_database_and_wal_hold_no_plaintext(store: ClinicStore, tmp_path: Path) -> None:
    pid = store.add_patient(NAME, "1971-05-06")
    store.save_session(pid, "grip-asht", [make_trial("t1")], [ResultRow("t1", "peak_force", 1.0, "N")])
    wal = store.db_path.with_name(store.db_path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0  # the pool keeps the database open: rows are in the WAL
    for f in (store.db_path, wal):
        data = f.read_bytes()
        for needle in (NAME, "Zebulon", "1971-05-06", "peak_force", "SQLite format 3", "patient_identities"):
            assert needle.encode() not in data, (f.name, needle)
    # the same check does see plain SQLite (so the absence above means encryption, not a blind test)
    plain = sqlite3.connect(tmp_path / "plain.db")
    plain.execute("PRAGMA journal_mode=WAL")
    plain.execute("CREATE TABLE t(name TEXT)")
    plain.execute("INSERT INTO t VALUES (?)", (NAME,))
    plain.commit()
    assert NAME.encode() in (tmp_path / "plain.db-wal").read_bytes()
    plain.close()


def test_wrong_key_is_refused_clearly(
    store: ClinicStore, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    store.add_patient(NAME)
    store.close()
    monkeypatch.setenv(db.ENV_KEY, "not the key")
    with pytest.raises(StoreKeyError) as err:
        ClinicStore.open(store.data_dir)
    assert str(err.value).startswith(f"wrong key for {store.db_path}: ")
    assert "KINETICS_DB_KEY" in str(err.value)
    assert capfd.readouterr().err == ""  # SQLCipher logs nothing to stderr
    monkeypatch.delenv(db.ENV_KEY)
    with pytest.raises(StoreKeyError, match=r"no key for .*set KINETICS_DB_KEY"):
        ClinicStore.open(store.data_dir, interactive=False)
    monkeypatch.setenv(db.ENV_KEY, KEY)
    with ClinicStore.open(store.data_dir) as again:
        assert [p.name for p in again.list_patients()] == [NAME]


def test_file_opens_with_the_passphrase_in_stock_sqlcipher(store: ClinicStore) -> None:
    """Our raw key is exactly SQLCipher's own PBKDF2 of the passphrase: `sqlcipher` tools open the file."""
    from sqlcipher3 import dbapi2

    store.add_patient(NAME)
    store.close()
    conn = dbapi2.connect(str(store.db_path))
    conn.execute("PRAGMA key = 'correct horse battery staple'")
    assert conn.execute("SELECT name FROM patient_identities").fetchall() == [(NAME,)]
    conn.close()


def test_schema_matches_the_models_and_is_at_head(store: ClinicStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from clinic.models import Base

    assert db.current_revision(store.engine) == db.head_revision() == "0002"
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migration_sql_renders_for_postgresql() -> None:
    """The same migration runs on PostgreSQL: render it offline (no SQLite-only SQL)."""
    import io

    from alembic import command

    from clinic.migrations import alembic_config

    config = alembic_config()
    buffer = io.StringIO()
    config.output_buffer = buffer
    config.set_main_option("sqlalchemy.url", "postgresql://")
    command.upgrade(config, "head", sql=True)
    sql = buffer.getvalue()
    assert "CREATE TABLE patient_identities" in sql and "DOUBLE PRECISION" in sql
    assert "AUTOINCREMENT" not in sql and "PRAGMA" not in sql


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.ENV_DATA_DIR, str(tmp_path / "env"))
    assert paths.resolve_data_dir(None) == tmp_path / "env"
    assert paths.resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv(paths.ENV_DATA_DIR)
    assert paths.resolve_data_dir(None).name == "kinetics"
    with pytest.raises(ValueError, match="not inside"):
        paths.absolute(tmp_path, "trials/../../etc/passwd")
