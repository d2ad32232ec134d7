"""``kinetics protocols list/show/validate``: output, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from clinic.cli import app
from protocols.library import builtin_protocols, get_protocol
from protocols.loader import dump_protocol

runner = CliRunner()


def test_protocols_is_registered() -> None:
    result = runner.invoke(app, ["protocols", "--help"])
    assert result.exit_code == 0
    for command in ("list", "show", "validate"):
        assert command in result.output


def test_list_table_and_json() -> None:
    result = runner.invoke(app, ["protocols", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for p in builtin_protocols():
        assert p.id in result.stdout
    result = runner.invoke(app, ["protocols", "list", "--json"])
    assert result.exit_code == 0
    items = json.loads(result.stdout)
    assert [i["id"] for i in items] == [p.id for p in builtin_protocols()]
    grip = next(i for i in items if i["id"] == "grip-asht")
    assert grip["trials"] == 6 and grip["sides"] == "alternating" and grip["headline"] == "peak_force"
    assert grip["sensors"] == [{"kind": "grip", "count": 1, "roles": ["grip"]}]
    assert grip["estimated_duration"] == get_protocol("grip-asht").estimated_duration()


def test_list_filters_by_category() -> None:
    result = runner.invoke(app, ["protocols", "list", "--category", "jump", "--json"])
    assert result.exit_code == 0
    items = json.loads(result.stdout)
    assert items and {i["category"] for i in items} == {"jump"}
    result = runner.invoke(app, ["protocols", "list", "--category", "balance"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "balance-romberg" in result.stdout and "jump-cmj" not in result.stdout
    result = runner.invoke(app, ["protocols", "list", "--region", "knee", "--search", "extension", "--json"])
    assert {i["id"] for i in json.loads(result.stdout)} >= {"knee-extension-hhd", "pull-knee-extension"}


def test_list_unknown_category_exits_2() -> None:
    result = runner.invoke(app, ["protocols", "list", "--category", "cardio"])
    assert result.exit_code == 2
    assert "unknown category 'cardio'" in result.stderr
    assert result.stdout == ""


def test_show_renders_a_protocol() -> None:
    result = runner.invoke(app, ["protocols", "show", "grip-asht"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "Grip strength (ASHT)",
        "switch_side",
        "strength.isometric_metrics",
        "Mathiowetz",
        "peak_force",
        "inconsistent_effort",
        "starts on effort onset",
    ):
        assert text in out, text
    result = runner.invoke(app, ["protocols", "show", "train-force-tracking"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    assert "sine" in result.stdout and "40 ± 5 % of maximum" in result.stdout
    result = runner.invoke(app, ["protocols", "show", "balance-romberg"], env={"COLUMNS": "160"})
    assert "romberg_quotient = ellipse_area_95 (eyes_closed) / ellipse_area_95 (eyes_open)" in result.stdout


def test_show_json_is_the_full_definition() -> None:
    result = runner.invoke(app, ["protocols", "show", "jump-cmj", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["id"] == "jump-cmj"
    assert data["scoring"]["headline"] == "jump_height"
    assert [s["roles"] for s in data["sensors"]] == [["plate_left", "plate_right"]]


def test_show_unknown_id_exits_2_with_a_suggestion() -> None:
    result = runner.invoke(app, ["protocols", "show", "grip-ahst"])
    assert result.exit_code == 2
    assert "unknown protocol 'grip-ahst'" in result.stderr
    assert "grip-asht" in result.stderr


def test_validate_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(dump_protocol(get_protocol("balance-romberg")), encoding="utf-8")
    result = runner.invoke(app, ["protocols", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout and "balance-romberg" in result.stdout
    result = runner.invoke(app, ["protocols", "validate", str(path), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True and data["trials"] == 6


def test_validate_invalid_file_names_the_field(tmp_path: Path) -> None:
    text = dump_protocol(get_protocol("grip-asht"))
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("duration = 5.0", "duration = 0.0"), encoding="utf-8")
    result = runner.invoke(app, ["protocols", "validate", str(bad)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "phases[2].duration" in result.stderr and "must be > 0 s" in result.stderr
    assert str(bad) in result.stderr.replace("\n", "")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(text.replace('kind = "grip"', 'kind = "gripper"'), encoding="utf-8")
    result = runner.invoke(app, ["protocols", "validate", str(unknown), "--json"])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["path"] == "sensors[0].kind"
    assert "expected one of" in data["error"]


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["protocols", "validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "file not found" in result.stderr


def test_show_reads_a_file_too(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(dump_protocol(get_protocol("train-grip-ramp")), encoding="utf-8")
    result = runner.invoke(app, ["protocols", "show", str(path)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "ramp over 5 s" in result.stdout
    path.write_text("id = 3\n", encoding="utf-8")
    result = runner.invoke(app, ["protocols", "show", str(path)])
    assert result.exit_code == 2
    assert "id: expected a string, got integer 3" in result.stderr
