"""``sessions.completed``: migration 0002 from a 0001 database, the store, the commands, bundles and progress."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from clinic import db, paths
from clinic.cli import app
from clinic.errors import BundleError, ClinicError
from clinic.exports import MANIFEST, build_bundle, export_session, import_bundle
from clinic.progress import (
    MDC95_FACTOR,
    SessionValues,
    metric_progress,
    progress_from_sessions,
    published_reliability,
)
from clinic.store import ClinicStore, ResultInfo, SessionInfo
from kinetics.io import ResultRow, read_session, write_session
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Trial, TrialMeta

#: A raw 256-bit key: no PBKDF2 per database, so the tests stay fast.
KEY = "x'" + "5a" * 32 + "'"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
G0 = 9.80665


def grip_trial(trial_id: str, side: str, seconds: float) -> Trial:
    info = DeviceInfo("grip", "grip", 100.0, (Channel("force", "N"),))
    n = 50
    force = np.linspace(0.0, 300.0, n, dtype=np.float32)[None, :]
    rec = DeviceRecording(info, np.arange(n) / 100.0, np.arange(n), force)
    return Trial.from_recordings(TrialMeta(trial_id, "grip-asht", side, T0 + timedelta(seconds=seconds)), [rec])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClinicStore]:
    s = ClinicStore.open(tmp_path / "data", key=KEY)
    yield s
    s.close()


def save(store: ClinicStore, pid: str, *, completed: bool, day: int = 0) -> str:
    return store.save_session(
        pid,
        "grip-asht",
        [grip_trial("t1", "right", 0)],
        [ResultRow("t1", "peak_force", 300.0, "N", "right", "grip-asht", "max")],
        started=T0 + timedelta(days=day),
        ended=T0 + timedelta(days=day, minutes=5),
        notes="" if completed else "interrupted (Ctrl-C); 1 trial(s) finished",
        completed=completed,
    )


# ---------------------------------------------------------------------------------------------------------------
# migration
# ---------------------------------------------------------------------------------------------------------------


def test_upgrade_from_0001_keeps_every_row_and_reads_completed(tmp_path: Path) -> None:
    """A database made by the first release (schema 0001) with a session, its trial and its result: opening it
    runs 0002, which adds the column without copying the table (a copy would cascade-delete trials and results),
    and the old session reads back as completed."""
    from alembic import command

    from clinic.migrations import alembic_config

    data = tmp_path / "old"
    data.mkdir()
    engine = db.create_db_engine(paths.db_path(data), KEY)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    assert db.current_revision(engine) == "0001"
    with engine.begin() as conn:
        assert "completed" not in {row[1] for row in conn.execute(text("PRAGMA table_info(sessions)"))}
        at = "2026-01-05 09:00:00.000000"
        conn.execute(text("INSERT INTO patients VALUES ('P-0A0B0C', :at, 'left', 'local')"), {"at": at})
        conn.execute(text("INSERT INTO patient_identities VALUES ('P-0A0B0C', 'Old Patient', NULL, '')"))
        conn.execute(
            text(
                "INSERT INTO sessions (id, patient_id, protocol_id, protocol_toml, started_at, ended_at, notes, "
                "created_at, origin) VALUES ('s-old', 'P-0A0B0C', 'grip-asht', '', :at, NULL, 'before 0002', :at, "
                "'local')"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO trials (id, session_id, trial_id, position, path, sha256, size_bytes, protocol, side, "
                "started_at, complete) VALUES (1, 's-old', 't1', 0, 'trials/P-0A0B0C/s-old/001-t1.h5', :sha, 10, "
                "'grip-asht', 'right', :at, 1)"
            ),
            {"sha": "0" * 64, "at": at},
        )
        conn.execute(
            text(
                "INSERT INTO results (session_id, trial_pk, position, key, value, unit, side, protocol, method, "
                "measured_at) VALUES ('s-old', 1, 0, 'peak_force', 312.5, 'N', 'right', 'grip-asht', 'max', :at)"
            ),
            {"at": at},
        )
    engine.dispose()

    with ClinicStore.open(data, key=KEY) as store:  # runs the pending migration
        assert db.current_revision(store.engine) == db.head_revision() == "0002"
        info = store.get_session("s-old")
        assert info.completed is True and info.notes == "before 0002"
        assert [t.trial_id for t in info.trials] == ["t1"]
        assert [(r.key, r.value) for r in info.results] == [("peak_force", 312.5)]
        assert store.list_sessions("P-0A0B0C")[0].to_dict(full=False)["completed"] is True
        pid = store.add_patient("New Patient")
        sid = save(store, pid, completed=False)
        assert store.get_session(sid).completed is False

    # and back: 0002 → 0001 drops only the column
    engine = db.create_db_engine(paths.db_path(data), KEY)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    with engine.connect() as conn:
        assert "completed" not in {row[1] for row in conn.execute(text("PRAGMA table_info(sessions)"))}
        assert conn.execute(text("SELECT count(*) FROM results")).scalar() == 2
    engine.dispose()


def test_models_match_the_migrations_at_head(store: ClinicStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from clinic.models import Base

    assert db.current_revision(store.engine) == db.head_revision() == "0002"
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        cols = {row[1]: row for row in conn.execute(text("PRAGMA table_info(sessions)"))}
    assert cols["completed"][3] == 1  # NOT NULL


def test_migration_0002_renders_for_postgresql() -> None:
    from alembic import command

    from clinic.migrations import alembic_config

    config = alembic_config()
    buffer = io.StringIO()
    config.output_buffer = buffer
    config.set_main_option("sqlalchemy.url", "postgresql://")
    command.upgrade(config, "0001:0002", sql=True)
    assert "ALTER TABLE sessions ADD COLUMN completed BOOLEAN DEFAULT true NOT NULL" in buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# store and commands
# ---------------------------------------------------------------------------------------------------------------


def test_save_session_stores_the_flag_and_audits_an_incomplete_one(store: ClinicStore) -> None:
    pid = store.add_patient("Ada Lovelace", "1985-12-10")
    done = save(store, pid, completed=True, day=0)
    cut = save(store, pid, completed=False, day=7)
    assert [(s.id, s.completed) for s in store.list_sessions(pid)] == [(done, True), (cut, False)]
    assert store.get_session(cut).to_dict()["completed"] is False
    assert [s.completed for s in store.patient_sessions(pid)] == [True, False]
    created = [json.loads(e["details"]) for e in store.audit_entries(pid) if e["action"] == "create"]
    assert created[1:] == [
        {"what": "session", "session": done, "protocol": "grip-asht"},
        {"what": "session", "session": cut, "protocol": "grip-asht", "completed": False},
    ]
    with pytest.raises(ClinicError, match="is not True or False"):
        store.save_session(pid, "grip-asht", completed=1)  # type: ignore[arg-type]
    assert len(store.list_sessions(pid)) == 2


def test_sessions_list_and_show_say_whether_completed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ClinicStore.open(data, key=KEY) as store:
        pid = store.add_patient("Ada Lovelace")
        done = save(store, pid, completed=True, day=0)
        cut = save(store, pid, completed=False, day=7)
    cli = CliRunner()
    env = {"KINETICS_DB_KEY": KEY, "COLUMNS": "250"}

    res = cli.invoke(app, ["sessions", "list", "--json", "--data-dir", str(data)], env=env)
    assert res.exit_code == 0, res.output
    assert [(s["id"], s["completed"]) for s in json.loads(res.stdout)] == [(done, True), (cut, False)]

    res = cli.invoke(app, ["sessions", "list", "--data-dir", str(data)], env=env)
    assert res.exit_code == 0, res.output
    header = next(line for line in res.stdout.splitlines() if "protocol" in line)
    assert "completed" in header.split()
    rows = {line.split()[0]: line.split() for line in res.stdout.splitlines() if line.split()[:1] in ([done], [cut])}
    assert rows[done][5] == "yes" and rows[cut][5] == "NO"

    res = cli.invoke(app, ["sessions", "show", cut, "--data-dir", str(data)], env=env)
    assert res.exit_code == 0, res.output
    assert "NOT completed" in res.stdout and "notes: interrupted (Ctrl-C)" in res.stdout
    res = cli.invoke(app, ["sessions", "show", done, "--data-dir", str(data)], env=env)
    assert ", completed" in res.stdout and "NOT completed" not in res.stdout
    res = cli.invoke(app, ["sessions", "show", cut, "--json", "--data-dir", str(data)], env=env)
    assert json.loads(res.stdout)["completed"] is False


def test_progress_command_marks_incomplete_sessions_and_can_count_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ClinicStore.open(data, key=KEY) as store:
        pid = store.add_patient("Ada Lovelace")
        save(store, pid, completed=True, day=0)
        save(store, pid, completed=False, day=7)
    cli = CliRunner()
    env = {"KINETICS_DB_KEY": KEY, "COLUMNS": "250"}
    args = ["progress", pid, "--metric", "peak_force", "--data-dir", str(data)]

    res = cli.invoke(app, [*args, "--json"], env=env)
    assert res.exit_code == 0, res.output
    points = json.loads(res.stdout)["metrics"][0]["points"]
    assert [p["counted"] for p in points] == [True, False]
    res = cli.invoke(app, [*args, "--json", "--include-incomplete"], env=env)
    assert [p["counted"] for p in json.loads(res.stdout)["metrics"][0]["points"]] == [True, True]
    res = cli.invoke(app, args, env=env)
    assert res.exit_code == 0, res.output
    assert res.stdout.count("(incomplete)") == 1


# ---------------------------------------------------------------------------------------------------------------
# bundles
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[ClinicStore, ClinicStore, str, str, str]]:
    a = ClinicStore.open(tmp_path / "a", key=KEY)
    b = ClinicStore.open(tmp_path / "b", key=KEY)
    pid = a.add_patient("Ada Lovelace")
    done = save(a, pid, completed=True, day=0)
    cut = save(a, pid, completed=False, day=7)
    yield a, b, pid, done, cut
    a.close()
    b.close()


def test_bundles_carry_completed_and_import_keeps_it(
    two_stores: tuple[ClinicStore, ClinicStore, str, str, str], tmp_path: Path
) -> None:
    a, b, _, done, cut = two_stores
    for sid, flag in ((done, True), (cut, False)):
        (bundle_path,) = export_session(a, sid, tmp_path / f"{sid}.h5")
        meta = read_session(bundle_path).meta
        assert meta.extra["completed"] is flag  # a real bool after the HDF5 round trip
        report = import_bundle(b, bundle_path)
        assert report.session_id == sid and b.get_session(sid).completed is flag
        assert b.get_session(sid).origin == "import"
    written = export_session(a, cut, tmp_path / "csv", "csv")
    manifest = json.loads(next(p for p in written if p.name == "session.json").read_text(encoding="utf-8"))
    assert manifest["completed"] is False


def test_old_bundles_import_as_completed_and_disagreements_are_refused(
    two_stores: tuple[ClinicStore, ClinicStore, str, str, str], tmp_path: Path
) -> None:
    a, b, _, _, cut = two_stores
    bundle = build_bundle(a, cut)
    manifest = json.loads(bundle.documents[MANIFEST])

    def write(name: str, extra: dict[str, Any], man: dict[str, Any]) -> Path:
        path = tmp_path / name
        docs = {**bundle.documents, MANIFEST: json.dumps(man)}
        write_session(path, replace(bundle, meta=replace(bundle.meta, extra=extra), documents=docs))
        return path

    no_flag = {k: v for k, v in bundle.meta.extra.items() if k != "completed"}
    altered = write("altered.h5", {**no_flag, "completed": True}, manifest)
    with pytest.raises(BundleError, match=r"disagree on whether the session completed.*Nothing was imported"):
        import_bundle(b, altered)
    not_bool = write("not-bool.h5", {**no_flag, "completed": "no"}, manifest)
    with pytest.raises(BundleError, match="'completed' flag 'no' is not true or false"):
        import_bundle(b, not_bool)
    assert b.list_sessions() == [] and b.check().orphans == ()

    old = write("old.h5", no_flag, {k: v for k, v in manifest.items() if k != "completed"})
    import_bundle(b, old)  # a bundle from before the flag: completed
    assert b.get_session(cut).completed is True


# ---------------------------------------------------------------------------------------------------------------
# progress on a constructed history
# ---------------------------------------------------------------------------------------------------------------

# grip-asht peak force: published SEM 1.8 kgf → MDC95 = 1.96·√2·1.8·9.80665 N = 48.93 N
MDC = MDC95_FACTOR * 1.8 * G0


def grip_history() -> list[SessionValues]:
    week = timedelta(weeks=1)
    return [
        SessionValues("s0", T0, value=100.0, completed=False),  # stopped after one weak trial
        SessionValues("s1", T0 + week, value=300.0),
        SessionValues("s2", T0 + 2 * week, value=400.0, completed=False),
        SessionValues("s3", T0 + 3 * week, value=320.0),
        SessionValues("s4", T0 + 4 * week, value=380.0),
    ]


def grip(history: list[SessionValues], **kw: Any) -> dict[str, Any]:
    rel = published_reliability("grip-asht", "peak_force")
    m = metric_progress(history, protocol="grip-asht", key="peak_force", side="right", unit="N", reliability=rel,
                        **kw)  # fmt: skip
    return {p.session_id: p for p in m.points}


def test_incomplete_sessions_are_shown_but_not_counted_by_default() -> None:
    assert MDC == pytest.approx(48.93, abs=0.01)
    p = grip(grip_history())
    assert list(p) == ["s0", "s1", "s2", "s3", "s4"]
    assert [(p[s].completed, p[s].counted) for s in p] == [(False, False), (True, True), (False, False),
                                                           (True, True), (True, True)]  # fmt: skip
    # s0 is not the baseline: s1 is
    assert math.isnan(p["s0"].change_from_baseline) and math.isnan(p["s1"].change_from_baseline)
    # s2 is shown against the baseline (+100 N > MDC) but never flagged
    assert p["s2"].change_from_baseline == 100.0 and p["s2"].change_from_previous == 100.0
    assert not p["s2"].real_change_from_baseline and not p["s2"].real_change_from_previous
    assert p["s2"].direction_from_baseline == "none"
    # s3 is measured from s1 (not from the incomplete s2): +20 N both ways, within the MDC
    assert p["s3"].change_from_baseline == 20.0 and p["s3"].change_from_previous == 20.0
    assert not p["s3"].real_change_from_baseline and not p["s3"].real_change_from_previous
    # s4: +80 N from the baseline (real, better), +60 N from s3 (real)
    assert p["s4"].change_from_baseline == 80.0 and p["s4"].change_from_previous == 60.0
    assert p["s4"].real_change_from_baseline and p["s4"].real_change_from_previous
    assert p["s4"].direction_from_baseline == "better"
    assert p["s4"].percent_from_baseline == pytest.approx(80.0 / 300.0 * 100.0, rel=1e-12)
    assert p["s2"].to_dict()["completed"] is False and p["s2"].to_dict()["counted"] is False


def test_include_incomplete_counts_them_like_any_session() -> None:
    p = grip(grip_history(), include_incomplete=True)
    assert all(pt.counted for pt in p.values())
    assert p["s1"].change_from_baseline == 200.0 and p["s1"].real_change_from_baseline  # from s0's 100 N
    assert p["s2"].change_from_previous == 100.0 and p["s2"].real_change_from_previous
    assert p["s3"].change_from_previous == -80.0 and p["s3"].real_change_from_previous
    assert p["s3"].change_from_baseline == 220.0 and p["s3"].direction_from_baseline == "better"


def test_incomplete_trials_stay_out_of_the_patient_sem() -> None:
    """SEM from the patient's own trials: the incomplete session's spread (0 and 100) is left out by default."""
    history = [
        SessionValues("a", T0, (10.0, 12.0)),
        SessionValues("b", T0 + timedelta(days=7), (0.0, 100.0), completed=False),
        SessionValues("c", T0 + timedelta(days=14), (20.0, 22.0)),
    ]
    kw: dict[str, Any] = dict(protocol="x", key="k", side="none", unit="N", how="mean")
    m = metric_progress(history, **kw)
    assert m.sem_source == "trials" and m.sem == pytest.approx(math.sqrt(2.0), rel=1e-12)  # var 2, dof 2
    c = m.points[2]
    assert c.change_from_baseline == 10.0 and c.mdc95_baseline == pytest.approx(MDC95_FACTOR * math.sqrt(2.0))
    assert c.real_change_from_baseline  # 10 > 3.92
    m_all = metric_progress(history, include_incomplete=True, **kw)
    assert m_all.sem == pytest.approx(math.sqrt((1 * 2.0 + 1 * 5000.0 + 1 * 2.0) / 3), rel=1e-12)
    assert not m_all.points[2].real_change_from_baseline  # 10 < 1.96·√2·40.84


def test_progress_from_stored_sessions_uses_their_flag() -> None:
    def session(sid: str, day: int, value: float, completed: bool) -> SessionInfo:
        at = T0 + timedelta(days=day)
        row = ResultInfo(sid, "", "peak_force", value, "N", "right", "grip-asht", "mean", at)
        return SessionInfo(sid, "P-0A0B0C", "grip-asht", at, None, "", "local", results=(row,), completed=completed)

    sessions = [session("a", 0, 200.0, False), session("b", 7, 300.0, True), session("c", 14, 360.0, True)]
    (m,) = progress_from_sessions("P-0A0B0C", sessions).metrics
    assert [(p.session_id, p.counted) for p in m.points] == [("a", False), ("b", True), ("c", True)]
    assert m.points[2].change_from_baseline == 60.0 and m.points[2].real_change_from_baseline
    (m_all,) = progress_from_sessions("P-0A0B0C", sessions, include_incomplete=True).metrics
    assert m_all.points[2].change_from_baseline == 160.0
