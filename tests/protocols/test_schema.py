"""The protocol format: parsing, validation errors that name the field, the schedule a runner walks, targets."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest

from kinetics.trial import DEVICE_KINDS
from protocols.loader import dump_protocol, load_protocol, parse_protocol
from protocols.schema import (
    SCORER_METRICS,
    SENSOR_KINDS,
    SIGNAL_UNITS,
    Phase,
    Protocol,
    ProtocolError,
    Target,
    protocol_from_dict,
)


def base() -> dict[str, Any]:
    """A valid two-sided strength protocol, as parsed TOML."""
    return {
        "id": "test-grip",
        "name": "Test grip",
        "category": "strength",
        "region": "hand",
        "summary": "A grip test for the tests.",
        "instructions": "Squeeze.",
        "sides": "both",
        "repetitions": 3,
        "sensors": [{"kind": "grip", "placement": "In the hand."}],
        "phases": [
            {"kind": "prepare", "duration": 10.0},
            {"kind": "countdown", "duration": 3.0},
            {"kind": "effort", "duration": 5.0, "start": "onset"},
            {"kind": "rest", "duration": 30.0},
            {"kind": "switch_side", "duration": 15.0},
        ],
        "scoring": {
            "headline": "peak_force",
            "scorers": [{"name": "strength.isometric_metrics", "metrics": ["peak_force", "rfd_0_100"]}],
        },
        "acceptance": [{"rule": "effort_cv", "max_cv": 15.0}],
    }


def training() -> dict[str, Any]:
    d = base()
    d["id"] = "test-hold"
    d["category"] = "training"
    d["phases"][2] = {
        "kind": "effort",
        "duration": 10.0,
        "target": {"kind": "percent_max", "percent": 50.0, "tolerance": 5.0, "reference_protocol": "grip-asht"},
    }
    d["scoring"] = {
        "headline": "time_in_band",
        "scorers": [{"name": "strength.force_control_metrics", "metrics": ["time_in_band", "absolute_error"]}],
    }
    d["acceptance"] = []
    return d


def plates() -> dict[str, Any]:
    return {
        "id": "test-romberg",
        "name": "Test Romberg",
        "category": "balance",
        "region": "whole_body",
        "summary": "Stance.",
        "instructions": "Stand still.",
        "repetitions": 2,
        "conditions": [{"id": "eyes_open", "name": "Eyes open"}, {"id": "eyes_closed", "name": "Eyes closed"}],
        "sensors": [{"kind": "plate", "count": 2, "roles": ["plate_left", "plate_right"], "placement": "Feet."}],
        "phases": [
            {"kind": "prepare", "duration": 10.0},
            {"kind": "countdown", "duration": 3.0},
            {"kind": "hold", "duration": 30.0},
            {"kind": "rest", "duration": 20.0},
        ],
        "scoring": {
            "headline": "ellipse_area_95",
            "better": "lower",
            "scorers": [
                {"name": "balance.sway_metrics", "metrics": ["ellipse_area_95", "mean_velocity"], "params": {}}
            ],
            "ratios": [
                {
                    "key": "romberg_quotient",
                    "metric": "ellipse_area_95",
                    "numerator": "eyes_closed",
                    "denominator": "eyes_open",
                }
            ],
        },
    }


def mutate(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set (or delete, with value ...) the field at a dotted path with [i] indices."""
    data = copy.deepcopy(data)
    parts = path.replace("]", "").replace("[", ".").split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


def test_base_examples_are_valid() -> None:
    for make in (base, training, plates):
        p = protocol_from_dict(make())
        assert isinstance(p, Protocol)
    p = protocol_from_dict(base())
    assert p.phases[2].recorded and not p.phases[1].recorded
    assert p.phases[1].cue_text == "3, 2, 1"
    assert p.sensor_roles == ("grip",)
    assert p.scoring.metric_keys == ("peak_force", "rfd_0_100")


# (builder, field path to change, new value or ... to delete, path named in the error, words in the message)
MALFORMED = [
    # unknown fields
    (base, "colour", "red", "colour", "unknown field"),
    (base, "phases[2].durration", 5.0, "phases[2].durration", "did you mean 'duration'"),
    (base, "sensors[0].position", "x", "sensors[0].position", "unknown field"),
    (base, "scoring.scorers[0].metric", ["peak_force"], "scoring.scorers[0].metric", "did you mean 'metrics'"),
    # wrong types
    (base, "phases[2].duration", "5", "phases[2].duration", "expected a number, got string"),
    (base, "repetitions", 2.5, "repetitions", "expected an integer, got float"),
    (base, "repetitions", True, "repetitions", "expected an integer, got boolean"),
    (base, "sides", 3, "sides", "expected a string"),
    (base, "phases", {"kind": "effort"}, "phases", "expected an array of tables"),
    (base, "phases[2].record", "yes", "phases[2].record", "expected true or false"),
    (base, "scoring.scorers[0].metrics", "peak_force", "scoring.scorers[0].metrics", "array of strings"),
    (base, "phases[2].duration", math.nan, "phases[2].duration", "finite"),
    # missing required fields
    (base, "name", ..., "name", "missing; expected a string (name shown)"),
    (base, "category", ..., "category", "missing; expected one of: strength, rom, balance, jump, training"),
    (base, "phases[2].duration", ..., "phases[2].duration", "missing"),
    (base, "sensors[0].placement", ..., "sensors[0].placement", "missing"),
    # impossible durations
    (base, "phases[2].duration", 0.0, "phases[2].duration", "must be > 0 s"),
    (base, "phases[2].duration", -1.0, "phases[2].duration", "must be > 0 s"),
    (base, "phases[3].duration", -5.0, "phases[3].duration", "must be > 0 s"),
    (base, "phases[1].duration", 30.0, "phases[1].duration", "countdown of 30 s is too long"),
    (base, "phases[2].duration", 7200.0, "phases[2].duration", "≤ 3600 s"),
    (base, "phases[2].rest_between", -1.0, "phases[2].rest_between", "≥ 0 s"),
    (base, "phases[2].repeat", 4, "phases[2].rest_between", "repeat > 1 needs"),
    (base, "phases[2].onset_timeout", 0.0, "phases[2].onset_timeout", "must be > 0 s"),
    # unknown allowed values
    (base, "sensors[0].kind", "laser", "sensors[0].kind", "expected one of: push, grip, pull"),
    (base, "category", "strenght", "category", "did you mean 'strength'"),
    (base, "sides", "both_sides", "sides", "expected one of"),
    (base, "phases[2].kind", "effrot", "phases[2].kind", "did you mean 'effort'"),
    (base, "scoring.scorers[0].name", "strength.peak", "scoring.scorers[0].name", "expected one of"),
    (base, "scoring.scorers[0].metrics", ["peak_forse"], "scoring.scorers[0].metrics[0]", "did you mean 'peak_force'"),
    (base, "scoring.headline", "mean_force", "scoring.headline", "not among the metrics computed"),
    (base, "id", "Test Grip", "id", "lower-case words joined by hyphens"),
    (base, "format_version", 2, "format_version", "newer than this Kinetics reads"),
    # missing targets and target mistakes
    (training, "phases[2].target", ..., "phases[2].target", "training protocol needs a target"),
    (training, "phases[2].target.percent", ..., "phases[2].target.percent", "missing"),
    (training, "phases[2].target.percent", 150.0, "phases[2].target.percent", "≤ 100"),
    (training, "phases[2].target.kind", "cop_zone", "phases[2].target.radius", "kind = 'cop_zone' needs it"),
    (
        training,
        "phases[2].target",
        {"kind": "angle_range", "low": 0.0, "high": 90.0, "percent": 5.0},
        "phases[2].target.percent",
        "does not apply to kind = 'angle_range'",
    ),
    (
        training,
        "phases[2].target",
        {"kind": "absolute", "value": 50.0, "unit": "kg"},
        "phases[2].target.unit",
        "measures in 'N'",
    ),
    (
        training,
        "phases[2].target",
        {"kind": "angle_range", "low": 0.0, "high": 90.0},
        "phases[2].target.kind",
        "cannot be shown for a grip sensor",
    ),
    (training, "phases[2].target.profile", "ramp", "phases[2].target.ramp_time", "profile = 'ramp' needs it"),
    (training, "phases[2].target.sensor", "plate_left", "phases[2].target.sensor", "no sensor has role"),
    (
        training,
        "phases[3].target",
        {"kind": "percent_max", "percent": 10.0},
        "phases[3].target",
        "only effort and hold phases show a target",
    ),
    # structure of the phases
    (base, "phases[4]", ..., "phases", "needs a phase with kind = 'switch_side'"),
    (base, "sides", "none", "phases[4].kind", "switch_side phase needs sides"),
    (base, "phases[0].kind", "switch_side", "phases[0].kind", "switch_side phase must be the last"),
    (base, "phases[3].kind", "prepare", "phases[3].kind", "prepare phases must come first"),
    (base, "phases[1].kind", "prepare", "phases[1].kind", None),  # valid: two prepare phases (checked below)
    (base, "phases[3].start", "onset", "phases[3].start", "only effort and hold phases can start on onset"),
    (base, "phases[2]", {"kind": "rest", "duration": 5.0}, "phases", "no phase is recorded"),
    # acceptance and scoring consistency
    (base, "repetitions", 1, "acceptance[0].rule", "needs repetitions ≥ 2"),
    (base, "acceptance[0].max_sd", 3.0, "acceptance[0].max_sd", "does not apply to rule = 'effort_cv'"),
    (base, "acceptance[0].max_cv", ..., "acceptance[0].max_cv", "missing"),
    (base, "acceptance[0].metric", "impulse", "acceptance[0].metric", "not among the metrics computed"),
    (base, "sensors[0].kind", "goniometer", "scoring.scorers[0].name", "reads a sensor of kind"),
    (base, "category", "jump", "scoring.scorers[0].name", "a jump protocol uses jumps scorers"),
    (base, "sensors[0].count", 2, "sensors[0].count", None),  # valid with default roles (checked below)
    (plates, "scoring.ratios[0].numerator", "eyes_shut", "scoring.ratios[0].numerator", "unknown condition"),
    (
        plates,
        "scoring.scorers[0]",
        {"name": "balance.weight_bearing", "metrics": ["weight_share_left", "ellipse_area_95"]},
        "scoring.scorers[0].metrics[1]",
        "balance.weight_bearing has no metric 'ellipse_area_95'",
    ),
    (plates, "conditions[1].id", "eyes_open", "conditions[1].id", "listed twice"),
    (plates, "sensors[0].roles", ["plate_left"], "sensors[0].roles", "1 name(s) for count = 2"),
    (plates, "scoring.scorers[0].params", {"method": [1, 2]}, "scoring.scorers[0].params.method", "expected"),
    (plates, "phases[2].stop", "balance_lost", "phases[2].stop", "expected one of: time, balance_loss"),
]


@pytest.mark.parametrize(("make", "field", "value", "path", "words"), MALFORMED)
def test_malformed_protocol_names_the_field(make: Any, field: str, value: Any, path: str, words: str | None) -> None:
    data = mutate(make(), field, value)
    if words is None:
        protocol_from_dict(data, source="case.toml")  # a legal variant: must not raise
        return
    with pytest.raises(ProtocolError) as info:
        protocol_from_dict(data, source="case.toml")
    err = info.value
    assert err.path == path, str(err)
    assert err.source == "case.toml"
    message = str(err)
    assert message.startswith(f"case.toml: {path}: "), message
    assert words in message, message


def test_weight_bearing_needs_two_plates() -> None:
    data = plates()
    data["scoring"]["scorers"].append({"name": "balance.weight_bearing", "metrics": ["weight_share_left"]})
    protocol_from_dict(data)
    data["sensors"] = [{"kind": "plate", "placement": "One plate."}]
    with pytest.raises(ProtocolError, match=r"scoring\.scorers\[1\]\.name: balance\.weight_bearing needs 2 sensors"):
        protocol_from_dict(data)


def test_recorded_phases_must_be_contiguous() -> None:
    data = base()
    data["phases"].insert(3, {"kind": "rest", "duration": 2.0})
    data["phases"].insert(4, {"kind": "hold", "duration": 2.0})
    with pytest.raises(ProtocolError, match=r"phases\[3\]\.record: .*between recorded phases"):
        protocol_from_dict(data)
    data["phases"][3]["record"] = True
    p = protocol_from_dict(data)
    assert [ph.recorded for ph in p.phases] == [False, False, True, True, True, False, False]


def test_errors_from_files_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(dump_protocol(protocol_from_dict(base())), encoding="utf-8")
    assert load_protocol(good).id == "test-grip"
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("duration = 5.0", "duration = -2.0"), encoding="utf-8")
    with pytest.raises(ProtocolError) as info:
        load_protocol(bad)
    assert str(info.value).startswith(f"{bad}: phases[2].duration: must be > 0 s, got -2.0")
    broken = tmp_path / "broken.toml"
    broken.write_text('id = "x"\nname = [unclosed\n', encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"broken\.toml: not valid TOML: .*line 2"):
        load_protocol(broken)
    with pytest.raises(ProtocolError, match="file not found"):
        load_protocol(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ProtocolError, match="not a UTF-8 text file"):
        load_protocol(binary)


def test_direct_construction_is_validated_too() -> None:
    p = protocol_from_dict(plates())
    with pytest.raises(ProtocolError, match=r"^phases: no phase is recorded"):
        Protocol(**{**p.__dict__, "phases": (Phase(kind="countdown", duration=3.0),)})


def test_sensor_kinds_are_the_trial_models_and_all_have_a_unit() -> None:
    assert SENSOR_KINDS == tuple(DEVICE_KINDS)
    assert set(SIGNAL_UNITS) == set(SENSOR_KINDS)
    for kind in ("push", "grip", "pull", "pneumatic", "goniometer", "plate"):
        assert kind in SENSOR_KINDS


def test_scorer_metric_keys_cover_the_agreed_keys() -> None:
    assert {"peak_force", "rfd_0_100", "mean_force", "impulse", "time_to_peak"} <= SCORER_METRICS[
        "strength.isometric_metrics"
    ]
    assert {"jump_height", "jump_height_flight_time", "mrsi", "flight_time", "peak_propulsive_force"} <= (
        SCORER_METRICS["jumps.cmj_metrics"]
    )
    assert {"rsi", "contact_time", "flight_time"} <= SCORER_METRICS["jumps.drop_jump_metrics"]
    assert {
        "path_length",
        "mean_velocity",
        "ellipse_area_95",
        "rms_ml",
        "rms_ap",
        "mean_frequency",
        "sway_area_per_second",
    } <= SCORER_METRICS["balance.sway_metrics"]
    assert {"rom", "min_angle", "max_angle", "repetitions", "peak_angular_velocity"} <= SCORER_METRICS[
        "rom.rom_metrics"
    ]


# ------------------------------------------------------------------ the schedule a runner walks


def steps_of(p: Protocol) -> list[tuple[str, str, int, int | None]]:
    return [(s.kind, s.side, s.repetition, s.trial) for s in p.schedule()]


def test_schedule_both_sides_in_blocks() -> None:
    p = protocol_from_dict(base())  # prepare 10, countdown 3, effort 5, rest 30, switch 15; 3 reps, both sides
    assert [(t.side, t.repetition) for t in p.trial_plan()] == [
        ("right", 1),
        ("right", 2),
        ("right", 3),
        ("left", 1),
        ("left", 2),
        ("left", 3),
    ]
    assert steps_of(p) == [
        ("prepare", "right", 1, None),
        ("countdown", "right", 1, 0), ("effort", "right", 1, 0), ("rest", "right", 1, None),
        ("countdown", "right", 2, 1), ("effort", "right", 2, 1), ("rest", "right", 2, None),
        ("countdown", "right", 3, 2), ("effort", "right", 3, 2),
        ("switch_side", "left", 1, None), ("prepare", "left", 1, None),
        ("countdown", "left", 1, 3), ("effort", "left", 1, 3), ("rest", "left", 1, None),
        ("countdown", "left", 2, 4), ("effort", "left", 2, 4), ("rest", "left", 2, None),
        ("countdown", "left", 3, 5), ("effort", "left", 3, 5),
    ]  # fmt: skip
    # 2 prepares + 6 × (3 + 5) + 4 rests + 1 switch
    assert p.estimated_duration() == 2 * 10 + 6 * 8 + 4 * 30 + 15


def test_schedule_alternating_prepares_each_side_once() -> None:
    p = protocol_from_dict({**base(), "sides": "alternating", "first_side": "left", "repetitions": 2})
    assert [(t.side, t.repetition) for t in p.trial_plan()] == [
        ("left", 1), ("right", 1), ("left", 2), ("right", 2),
    ]  # fmt: skip
    kinds = [s.kind for s in p.schedule()]
    assert kinds.count("prepare") == 2
    assert kinds.count("switch_side") == 3
    assert kinds.count("rest") == 0  # the side changes between every two trials
    assert p.estimated_duration() == 2 * 10 + 4 * 8 + 3 * 15


def test_schedule_conditions_and_one_side() -> None:
    p = protocol_from_dict(plates())
    plan = p.trial_plan()
    assert [(t.condition, t.side, t.repetition) for t in plan] == [
        ("eyes_open", "none", 1), ("eyes_open", "none", 2), ("eyes_closed", "none", 1), ("eyes_closed", "none", 2),
    ]  # fmt: skip
    kinds = [(s.kind, s.condition) for s in p.schedule()]
    assert kinds.count(("prepare", "eyes_open")) == 1 and kinds.count(("prepare", "eyes_closed")) == 1
    assert [k for k, _ in kinds].count("rest") == 3  # between trials, never after the last
    assert p.estimated_duration() == 2 * 10 + 4 * (3 + 30) + 3 * 20
    recorded = [s for s in p.schedule() if s.phase.recorded]
    assert [s.trial for s in recorded] == [0, 1, 2, 3]


def test_repeated_effort_phase_windows() -> None:
    ph = Phase(kind="effort", duration=7.0, repeat=6, rest_between=3.0)
    assert ph.total_duration == 6 * 7 + 5 * 3
    assert ph.windows() == tuple((10.0 * i, 10.0 * i + 7.0) for i in range(6))
    assert Phase(kind="hold", duration=2.5).windows() == ((0.0, 2.5),)


# ------------------------------------------------------------------ targets


def test_target_levels_follow_their_profiles_exactly() -> None:
    const = Target(kind="absolute", value=100.0, unit="N", tolerance=10.0)
    assert const.level_at(3.0) == 100.0
    assert const.band_at(3.0) == (90.0, 110.0)
    pct = Target(kind="percent_max", percent=50.0, tolerance=5.0)
    assert pct.level_at(1.0, maximum=400.0) == 200.0
    assert pct.band_at(1.0, maximum=400.0) == (180.0, 220.0)
    with pytest.raises(ValueError, match="needs the patient's maximum"):
        pct.level_at(1.0)
    ramp = Target(kind="percent_max", percent=80.0, profile="ramp", ramp_time=5.0, start_level=0.25)
    assert ramp.level_at(0.0, maximum=100.0) == pytest.approx(20.0)
    assert ramp.level_at(2.5, maximum=100.0) == pytest.approx(80.0 * (0.25 + 0.75 * 0.5))
    assert ramp.level_at(9.0, maximum=100.0) == pytest.approx(80.0)
    sine = Target(kind="absolute", value=40.0, unit="N", profile="sine", amplitude=0.5, period=4.0)
    assert sine.level_at(1.0) == pytest.approx(60.0)
    assert sine.level_at(3.0) == pytest.approx(20.0)
    assert sine.level_at(2.0) == pytest.approx(40.0)
    steps = Target(kind="absolute", value=90.0, unit="N", profile="steps", levels=(1 / 3, 2 / 3, 1.0), step_time=2.0)
    assert [round(steps.level_at(t), 9) for t in (0.0, 1.9, 2.0, 4.5, 6.0)] == [30.0, 30.0, 60.0, 90.0, 30.0]
    angles = Target(kind="angle_range", low=10.0, high=90.0)
    assert angles.band_at(5.0) == (10.0, 90.0)
    zone = Target(kind="cop_zone", radius=0.02, path=((0.0, 0.05), (0.05, 0.0)), dwell=5.0)
    assert zone.zone_at(0.0) == (0.0, 0.05, 0.02)
    assert zone.zone_at(7.0) == (0.05, 0.0, 0.02)
    assert zone.zone_at(10.0) == (0.0, 0.05, 0.02)
    assert Target(kind="cop_zone", radius=0.03, x=0.01, y=-0.02).zone_at(100.0) == (0.01, -0.02, 0.03)


def test_ramp_longer_than_its_phase_is_refused() -> None:
    data = training()
    data["phases"][2]["target"].update(profile="ramp", ramp_time=12.0)
    with pytest.raises(ProtocolError, match=r"phases\[2\]\.target\.ramp_time: the ramp \(12 s\) is longer"):
        protocol_from_dict(data)


# ------------------------------------------------------------------ writing


def test_dump_then_parse_round_trips_every_field() -> None:
    data = plates()
    data["instructions"] = (
        'Stand "still" — with a back\\slash, a tab\there, unicode ° and a very long line that goes on and on past '
        "the wrapping width of the writer so that it must be continued on the next line without changing a thing.\n"
        "Second paragraph.\n\n  Indented line after a blank one.\n"
    )
    data["summary"] = 'ends with a quote "'
    data["tags"] = ["romberg", "posturography"]
    data["references"] = ["A. Ref. 2001;1:1-2.", "B. Ref."]
    data["acceptance"] = [
        {"rule": "max_gap", "max_missing": 0.1},
        {"rule": "metric_range", "metric": "mean_velocity", "maximum": 0.5, "action": "reject"},
    ]
    data["scoring"]["scorers"][0]["params"] = {"method": "duarte2016", "fs": 100.0, "order": 4, "detrend": True}
    data["normative"] = {
        "source": "Somebody 2020.",
        "values": [
            {"metric": "ellipse_area_95", "mean": 1.5e-4, "sd": 2e-5, "sex": "female", "age_min": 20, "age_max": 39}
        ],
    }
    data["phases"][2]["target"] = {
        "kind": "cop_zone",
        "radius": 0.02,
        "path": [[0.0, 0.05], [-0.05, 0.0]],
        "dwell": 5.0,
    }
    data["category"] = "training"
    data["scoring"]["scorers"].append({"name": "target.cop_zone_metrics", "metrics": ["time_in_zone"]})
    p = protocol_from_dict(data)
    text = dump_protocol(p)
    assert parse_protocol(text) == p
    assert max(len(line) for line in text.splitlines() if not line.startswith('    "')) <= 102
    assert isinstance(parse_protocol(text).scoring.scorers[0].params["order"], int)
    assert "colour" not in text and "format_version" not in text  # defaults are left out


def test_to_dict_is_plain_data() -> None:
    d = protocol_from_dict(training()).to_dict()
    assert d["phases"][2]["target"]["percent"] == 50.0
    assert d["sensors"][0]["kind"] == "grip"
    assert d["format_version"] == 1
    assert protocol_from_dict(d) == protocol_from_dict(training())
