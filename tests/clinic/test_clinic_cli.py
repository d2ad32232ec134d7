"""The clinic commands end to end with typer's CliRunner: patients, sessions, progress, export/import, audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from clinic.cli import COMMAND_MODULES, app
from clinic.store import ClinicStore
from kinetics.io import ResultRow
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Trial, TrialMeta

KEY = "cli passphrase"
runner = CliRunner()


def _trial(tid: str, side: str) -> Trial:
    dev = DeviceInfo("grip", "grip", 100.0, (Channel("force", "N"),))
    rec = DeviceRecording(dev, np.arange(50) / 100.0, np.arange(50), np.ones((1, 50), np.float32))
    return Trial.from_recordings(TrialMeta(tid, "grip-asht", side, datetime(2026, 1, 1, tzinfo=UTC)), [rec])


def run(*args: str, data: Path, key: str = KEY) -> object:
    return runner.invoke(app, [*args, "--data-dir", str(data)], env={"KINETICS_DB_KEY": key, "COLUMNS": "200"})


def _ok(result: object) -> object:
    assert result.exit_code == 0, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    return result


def _err(result: object, message: str) -> None:
    assert result.exit_code == 2, result.stdout  # type: ignore[attr-defined]
    assert result.stderr.startswith("error: ") and message in result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.stderr  # type: ignore[attr-defined]


def test_registered() -> None:
    assert {"patients", "sessions", "progress", "export", "audit"} <= set(COMMAND_MODULES)
    help_text = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    for command in ("patients", "sessions", "progress", "export", "import", "audit"):
        assert command in help_text


def test_full_flow(tmp_path: Path) -> None:
    data, other = tmp_path / "a", tmp_path / "b"
    pid = _ok(
        run("patients", "add", "--name", "Olga Petrovna", "--birth-date", "1966-06-16", "--sex", "f", data=data)
    ).stdout.strip()  # type: ignore[attr-defined]
    assert pid.startswith("P-") and len(pid) == 8
    listed = json.loads(_ok(run("patients", "list", "--json", data=data)).stdout)  # type: ignore[attr-defined]
    assert [(p["id"], p["name"], p["birth_date"], p["sex"]) for p in listed] == [
        (pid, "Olga Petrovna", "1966-06-16", "female")
    ]
    assert "Olga Petrovna" in _ok(run("patients", "list", data=data)).stdout  # type: ignore[attr-defined]
    shown = _ok(run("patients", "show", pid, data=data)).stdout  # type: ignore[attr-defined]
    assert pid in shown and "1966-06-16" in shown

    with ClinicStore.open(data, key=KEY) as store:  # what `kinetics run` will do through the store API
        for week, (left, right) in enumerate([(200.0, 260.0), (270.0, 262.0)]):
            rows = [
                ResultRow("l", "peak_force", left, "N", "left", "grip-asht", "m"),
                ResultRow("r", "peak_force", right, "N", "right", "grip-asht", "m"),
            ]
            store.save_session(
                pid,
                "grip-asht",
                [_trial("l", "left"), _trial("r", "right")],
                rows,
                started=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(weeks=week),
            )
    sessions = json.loads(_ok(run("sessions", "list", "--patient", pid, "--json", data=data)).stdout)  # type: ignore[attr-defined]
    assert len(sessions) == 2 and all(s["patient_id"] == pid and s["id"] for s in sessions)
    sid = sessions[0]["id"]
    shown = json.loads(_ok(run("sessions", "show", sid, "--json", data=data)).stdout)  # type: ignore[attr-defined]
    assert [t["trial_id"] for t in shown["trials"]] == ["l", "r"] and len(shown["trials"][0]["sha256"]) == 64

    prog = json.loads(_ok(run("progress", pid, "--metric", "peak_force", "--json", data=data)).stdout)  # type: ignore[attr-defined]
    left = next(m for m in prog["metrics"] if m["side"] == "left")
    assert [p["value"] for p in left["points"]] == [200.0, 270.0]
    assert left["points"][1]["real_change_from_baseline"] is True and left["sem_source"] == "published"
    right = next(m for m in prog["metrics"] if m["side"] == "right")
    assert right["points"][1]["real_change_from_baseline"] is False  # +2 N < 48.9 N
    assert prog["symmetry"][0]["points"][0]["symmetry_index"] == pytest.approx(60.0 / 230.0 * 100.0)
    table = _ok(run("progress", pid, data=data)).stdout  # type: ignore[attr-defined]
    assert "+70 *" in table and "better" in table

    bundle = tmp_path / "s.h5"
    _ok(run("export", "session", sid, "--format", "hdf5", "--out", str(bundle), data=data))
    assert b"Olga" not in bundle.read_bytes()
    imported = json.loads(_ok(run("import", str(bundle), "--json", data=other, key="other key")).stdout)  # type: ignore[attr-defined]
    assert imported == {"session_id": sid, "patient_id": pid, "trials": 2, "results": 2, "patient_created": True}
    _err(run("import", str(bundle), data=other, key="other key"), "already in this store")
    _ok(run("export", "session", sid, "--format", "csv", "--out", str(tmp_path / "csv"), data=data))
    assert (tmp_path / "csv" / "results.csv").is_file()
    _ok(run("export", "patient", pid, "--out", str(tmp_path / "all"), data=data))
    assert (tmp_path / "all" / "patient.json").is_file()

    assert "audit log intact" in _ok(run("audit", "verify", data=data)).stdout  # type: ignore[attr-defined]
    entries = json.loads(_ok(run("audit", "list", "--subject", pid, "--json", data=data)).stdout)  # type: ignore[attr-defined]
    assert {"create", "view", "export"} <= {e["action"] for e in entries}

    _err(run("patients", "erase", pid, data=data), "add --yes to confirm")
    erased = _ok(run("patients", "erase", pid, "--yes", data=data)).stdout  # type: ignore[attr-defined]
    assert "verified gone" in erased and not (data / "trials" / pid).exists()
    assert json.loads(_ok(run("patients", "list", "--json", data=data)).stdout) == []  # type: ignore[attr-defined]
    _ok(run("audit", "verify", data=data))

    with ClinicStore.open(data, key=KEY) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 2"))
    bad = run("audit", "verify", data=data)
    assert bad.exit_code == 1 and "entry #2" in bad.stderr and "edited" in bad.stderr  # type: ignore[attr-defined]
    bad_json = run("audit", "verify", "--json", data=data)
    assert bad_json.exit_code == 1 and json.loads(bad_json.stdout)["bad_seq"] == 2  # type: ignore[attr-defined]


def test_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    data = tmp_path / "d"
    _ok(run("patients", "add", "--name", "X Y", "--birth-date", "1970-01-01", data=data))
    _err(run("patients", "show", "P-000000", data=data), "no patient P-000000")
    _err(run("patients", "add", "--name", "A", "--birth-date", "01/02/1970", data=data), "YYYY-MM-DD")
    _err(run("patients", "list", data=data, key="wrong"), f"wrong key for {data / 'kinetics.db'}: ")
    _err(run("sessions", "list", "--patient", "P-ABCDEF", data=data), "no patient P-ABCDEF")
    _err(run("sessions", "show", "nope", data=data), "no session 'nope'")
    _err(run("progress", "nobody", data=data), "is not a patient id")
    _err(run("export", "session", "nope", "--format", "pdf", "--out", str(tmp_path / "x"), data=data), "--format")
    _err(run("export", "session", "nope", "--out", str(tmp_path / "x"), data=data), "no session 'nope'")
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    _err(run("import", str(junk), data=data), "cannot import")
    no_key = runner.invoke(app, ["patients", "list", "--data-dir", str(data)], env={"KINETICS_DB_KEY": ""})
    _err(no_key, "set KINETICS_DB_KEY")


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    env = {"KINETICS_DB_KEY": KEY, "KINETICS_DATA_DIR": str(tmp_path / "env-dir")}
    result = runner.invoke(app, ["patients", "add", "--name", "E N", "--birth-date", "1999-09-09"], env=env)
    assert result.exit_code == 0 and (tmp_path / "env-dir" / "kinetics.db").is_file()
