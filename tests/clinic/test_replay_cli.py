"""``kinetics replay LOGDIR --out FILE``: a session recorded with ``--packet-log`` comes back bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinic.cli import app
from kinetics.io import read_trial

runner = CliRunner()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, dict[str, object]]]:
    root = tmp_path_factory.mktemp("replay-cli")
    out, logs = root / "recorded.h5", root / "logs"
    args = ["record", "--device", "push", "--device", "goniometer", "--seconds", "4", "--out", str(out)]
    args += ["--simulated", "--speed", "2", "--drop-link-at", "2", "--packet-log", str(logs), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    statuses = {d["name"]: d for d in json.loads(result.stdout)["devices"]}
    return out, logs, statuses


def test_replay_writes_the_recorded_trial_again(recorded: tuple[Path, Path, dict], tmp_path: Path) -> None:
    original, logs, statuses = recorded
    assert statuses["push"]["reconnects"] == 1 and statuses["push"]["gaps"] == 1
    out = tmp_path / "replayed.h5"
    result = runner.invoke(app, ["replay", str(logs), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["trials"] == [str(out)] and summary["records"] > 100
    by_name = {d["name"]: d for d in summary["devices"]}
    assert by_name["push"]["reconnects"] == 1 and by_name["push"]["gaps"] == 1
    assert by_name["push"]["torn_tail_bytes"] == 0 and by_name["goniometer"]["decode_errors"] == 0
    a, b = read_trial(original), read_trial(out)
    assert a.equals(b)  # samples, times, counters, gaps, events, metadata: bit for bit
    assert len(b.device("push").gaps) == 1
    # paced, and again over an existing file only with --overwrite
    result = runner.invoke(app, ["replay", str(logs), "--out", str(out), "--speed", "50", "--json"])
    assert result.exit_code == 2 and "--overwrite" in result.output
    result = runner.invoke(app, ["replay", str(logs), "--out", str(out), "--speed", "50", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "push" in result.stdout and "goniometer" in result.stdout
    assert read_trial(out).equals(a)


def test_replay_rejects_bad_input(recorded: tuple[Path, Path, dict], tmp_path: Path) -> None:
    _, logs, _ = recorded
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["replay", str(empty), "--out", str(tmp_path / "x.h5")])
    assert result.exit_code == 2 and "no packet logs" in result.output
    (empty / "plate_left.knlog").write_text("time,force\n0,1\n")
    result = runner.invoke(app, ["replay", str(empty), "--out", str(tmp_path / "x.h5")])
    assert result.exit_code == 2 and "not a Kinetics packet log" in result.output
    result = runner.invoke(app, ["replay", str(logs), "--out", str(tmp_path / "x.h5"), "--speed", "0"])
    assert result.exit_code == 2 and "--speed" in result.output
    result = runner.invoke(app, ["replay", str(logs), "--out", str(tmp_path / "nowhere" / "x.h5")])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "x.h5").exists()
