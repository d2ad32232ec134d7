"""``kinetics inspect FILE [--json]`` on trial files, session bundles and bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from clinic.commands import inspect as inspect_command
from kinetics.io import ResultRow, Session, SessionMeta, write_session, write_trial
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Event, Gap, Trial, TrialMeta


def _app() -> typer.Typer:
    """The command registered on an app of its own (a group, as in ``clinic.cli``)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Kinetics."""

    inspect_command.register(app)
    return app


def _trial(trial_id: str = "t1") -> Trial:
    plate = DeviceInfo("plate_left", "plate", 1000.0, tuple(Channel(f"cell_{i}", "N") for i in range(4)), model="KP")
    gonio = DeviceInfo("knee", "goniometer", 200.0, (Channel("angle", "deg"),))
    counter = np.r_[0:500, 510:1000]
    recs = [
        DeviceRecording(plate, counter / 1000.0, counter, np.ones((4, 990), np.float32), (Gap(500, 509, 0.499, 0.51),)),
        DeviceRecording(gonio, 0.25 + np.arange(100) / 200.0, np.arange(100), np.zeros((1, 100), np.float32)),
    ]
    meta = TrialMeta(trial_id, "cmj", "both", datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC), "P-9", {"rep": 2})
    return Trial.from_recordings(meta, recs, [Event(0.2, "cue", "jump!"), Event(0.9, "phase", "landing")])


@pytest.fixture
def trial_file(tmp_path: Path) -> Path:
    path = tmp_path / "trial.h5"
    write_trial(path, _trial())
    return path


def test_json_has_the_documented_keys(trial_file: Path) -> None:
    result = CliRunner().invoke(_app(), ["inspect", str(trial_file), "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["format_version"] == 1 and s["duration"] == 1.0 and s["complete"] is True
    plate, knee = s["devices"]
    assert plate["name"] == "plate_left" and plate["kind"] == "plate" and plate["rate"] == 1000.0
    assert plate["samples"] == 990 and plate["channels"][0] == {"name": "cell_0", "unit": "N"}
    assert plate["gaps"][0]["start"] == 0.499 and plate["gaps"][0]["end"] == 0.51
    assert plate["gaps"][0]["missing_samples"] == 10
    assert knee["channels"] == [{"name": "angle", "unit": "deg"}] and knee["gaps"] == [] and knee["samples"] == 100
    assert [e["label"] for e in s["events"]] == ["jump!", "landing"]


def test_tables_for_humans(trial_file: Path) -> None:
    result = CliRunner().invoke(_app(), ["inspect", str(trial_file)])
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.replace("│", " ").split()) for line in result.stdout.splitlines()]
    for row in (
        "format kinetics-trial v1",
        "duration 1.000 s",
        "plate_left plate KP 1000 Hz 990 1.000 s 1 10",
        "knee goniometer 200 Hz 100 0.500 s 0 0",
        "plate_left cell_3 N",
        "knee angle deg",
        "plate_left 0.499 s 0.510 s 10 500…509",
        "0.200 s cue jump!",
        "0.900 s phase landing",
    ):
        assert row in lines, (row, lines)


def test_session_bundle(tmp_path: Path) -> None:
    path = tmp_path / "session.h5"
    session = Session(
        SessionMeta("s1", "P-9", datetime(2026, 5, 6, tzinfo=UTC), "ok"),
        [_trial("t1"), _trial("t2")],
        [ResultRow("t1", "jump_height", 0.31, "m", "both", "cmj", "flight_time")],
        {"protocol.toml": 'name = "cmj"\n'},
    )
    write_session(path, session)
    result = CliRunner().invoke(_app(), ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["format"] == "kinetics-session" and s["session"]["session_id"] == "s1"
    assert [t["trial_id"] for t in s["trials"]] == ["t1", "t2"] and s["duration"] == 2.0
    assert s["trials"][1]["devices"][0]["samples"] == 990
    human = CliRunner().invoke(_app(), ["inspect", str(path)])
    assert human.exit_code == 0 and "Trial 2 of 2" in human.stdout and "protocol.toml" in human.stdout


@pytest.mark.parametrize("content", [b"", b"time,force\n0,1\n", b"\x89HDF\r\n\x1a\n" + b"\x00" * 100])
def test_bad_file_prints_the_error_and_exits_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.h5"
    path.write_bytes(content)
    for args in (["inspect", str(path)], ["inspect", str(path), "--json"]):
        result = CliRunner().invoke(_app(), args)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr.startswith(f"error: {path}: ") and "Traceback" not in result.stderr
        assert "; " in result.stderr  # what is wrong; what to do


def test_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["inspect", str(tmp_path / "nope.h5")])
    assert result.exit_code == 2 and "no such file; check the path" in result.stderr


def test_registered_on_the_kinetics_command_line(trial_file: Path) -> None:
    from clinic.cli import COMMAND_MODULES, app

    assert "inspect" in COMMAND_MODULES
    result = CliRunner().invoke(app, ["inspect", str(trial_file), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["devices"][0]["name"] == "plate_left"
