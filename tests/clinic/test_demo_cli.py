"""``kinetics demo``: runs protocols end to end and writes the trial and session files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinic.cli import COMMAND_MODULES, app
from kinetics.io import read_session


def test_demo_is_registered() -> None:
    assert "demo" in COMMAND_MODULES


def test_demo_inprocess_json(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = CliRunner().invoke(
        app, ["demo", "--protocol", "grip-asht", "--protocol", "jump-cmj", "--out", str(out), "--inprocess", "--json"]
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert [r["protocol"] for r in payload["results"]] == ["grip-asht", "jump-cmj"]
    cmj = payload["results"][1]
    assert cmj["summaries"][0]["headline"] == pytest.approx(9.80665 * 0.5**2 / 8, rel=0.05)
    session = read_session(payload["sessions"]["grip-asht"])
    assert len(session.trials) == 6 and len(list((out / "grip-asht").glob("*.h5"))) == 6
    assert any(r.key == "lsi" for r in session.results)


@pytest.mark.timeout(120)
def test_demo_over_the_radio_prints_a_table(tmp_path: Path) -> None:
    logging.getLogger("bumble").setLevel(logging.ERROR)
    res = CliRunner().invoke(app, ["demo", "-p", "pneumatic-hand-squeeze", "--out", str(tmp_path), "--speed", "20"])
    assert res.exit_code == 0, res.output
    assert "pneumatic-hand-squeeze" in res.output and "peak_force" in res.output and "lsi" in res.output
    assert (tmp_path / "pneumatic-hand-squeeze.session.h5").exists()


def test_demo_rejects_unknown_protocol_and_bad_speed(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "-p", "grip-ashtt", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "grip-asht" in res.output
    res = CliRunner().invoke(app, ["demo", "--speed", "0", "--out", str(tmp_path)])
    assert res.exit_code == 2
