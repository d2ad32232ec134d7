"""The built-in library: every protocol valid, the coverage the clinic needs, search, and the docs in step."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from protocols import schema
from protocols.library import UnknownProtocolError, builtin_protocols, find_protocols, get_protocol
from protocols.loader import dump_protocol, load_protocol, parse_protocol
from protocols.schema import CATEGORIES, SCORERS, Protocol

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "protocols" / "library"
DOCS = ROOT / "docs" / "protocols.md"


@pytest.fixture(scope="module")
def library() -> list[Protocol]:
    return builtin_protocols()


def by_id(library: list[Protocol]) -> dict[str, Protocol]:
    return {p.id: p for p in library}


def test_every_file_validates_and_is_named_after_its_id() -> None:
    files = sorted(LIBRARY.glob("*.toml"))
    assert len(files) >= 40
    for path in files:
        p = load_protocol(path)
        assert path.name == f"{p.id}.toml"


def test_library_size_unique_ids_and_order(library: list[Protocol]) -> None:
    assert len(library) >= 40
    assert len(library) == len(list(LIBRARY.glob("*.toml")))
    ids = [p.id for p in library]
    assert len(ids) == len(set(ids))
    order = [CATEGORIES.index(p.category) for p in library]
    assert order == sorted(order)
    assert builtin_protocols() is not builtin_protocols()  # callers get their own list


def test_every_category_is_present(library: list[Protocol]) -> None:
    counts = {c: sum(p.category == c for p in library) for c in CATEGORIES}
    assert all(n >= 5 for n in counts.values()), counts


def test_every_protocol_round_trips_through_the_writer(library: list[Protocol]) -> None:
    for p in library:
        assert parse_protocol(dump_protocol(p), source=p.id) == p


def test_every_protocol_has_a_runnable_schedule(library: list[Protocol]) -> None:
    for p in library:
        plan = p.trial_plan()
        steps = p.schedule()
        recorded_trials = sorted({s.trial for s in steps if s.phase.recorded and s.trial is not None})
        assert recorded_trials == list(range(len(plan))), p.id
        n_conditions = max(len(p.conditions), 1)
        n_sides = 2 if p.sides in ("both", "alternating") else 1
        assert len(plan) == n_conditions * n_sides * p.repetitions, p.id
        duration = p.estimated_duration()
        assert math.isfinite(duration) and 10.0 < duration < 3600.0, (p.id, duration)


def test_clinical_tests_cite_their_sources(library: list[Protocol]) -> None:
    for p in library:
        if p.category != "training":
            assert p.references, p.id
        if p.normative is not None:
            assert p.normative.source.strip(), p.id


def test_percent_targets_point_at_a_library_maximum(library: list[Protocol]) -> None:
    index = by_id(library)
    seen = 0
    for p in library:
        for ph in p.phases:
            t = ph.target
            if t is None or t.kind != "percent_max":
                continue
            seen += 1
            ref = index[t.reference_protocol]
            assert t.reference_metric in ref.scoring.metric_keys, p.id
            target_sensor = p.sensor_for_role(t.sensor or p.sensor_roles[0]).kind
            assert target_sensor in {s.kind for s in ref.sensors}, p.id
    assert seen >= 5


def _hhd_regions(library: list[Protocol]) -> set[str]:
    return {
        p.region
        for p in library
        if p.category == "strength" and [s.kind for s in p.sensors] == ["push"] and p.scoring.headline == "peak_force"
    }


def test_strength_coverage(library: list[Protocol]) -> None:
    assert {"hip", "knee", "ankle", "shoulder", "elbow", "wrist", "neck"} <= _hhd_regions(library)
    kinds = {s.kind for p in library if p.category == "strength" for s in p.sensors}
    assert {"push", "grip", "pull", "pneumatic"} <= kinds
    grip = get_protocol("grip-asht")
    assert grip.repetitions == 3 and grip.sides == "alternating"
    assert len(grip.trial_plan()) == 6
    assert [s.kind for s in grip.sensors] == ["grip"]
    assert "90 degrees" in grip.instructions
    assert grip.scoring.aggregate == "mean" and grip.scoring.headline == "peak_force"
    assert any(r.rule == "effort_cv" for r in grip.acceptance)
    assert grip.normative is not None and "Mathiowetz" in grip.normative.source
    assert any("Mathiowetz" in r and "1984" in r for r in grip.references)
    assert any("Casanova" in r for r in grip.references)  # ASHT Clinical Assessment Recommendations
    effort = next(ph for ph in grip.phases if ph.kind == "effort")
    assert effort.start == "onset"
    hip = get_protocol("hip-abduction-hhd")
    assert any("Bohannon" in r for r in hip.references)


def test_rom_coverage(library: list[Protocol]) -> None:
    rom = [p for p in library if p.category == "rom"]
    regions = {p.region for p in rom}
    assert {"shoulder", "elbow", "wrist", "hip", "knee", "ankle", "neck", "lumbar_spine"} <= regions
    for p in rom:
        assert p.scoring.headline == "rom"
        assert all(s.kind == "goniometer" for s in p.sensors)


def test_balance_coverage(library: list[Protocol]) -> None:
    romberg = get_protocol("balance-romberg")
    assert [c.id for c in romberg.conditions] == ["eyes_open", "eyes_closed"]
    quotient = next(r for r in romberg.scoring.ratios if r.key == "romberg_quotient")
    assert (quotient.numerator, quotient.denominator) == ("eyes_closed", "eyes_open")
    assert romberg.sensors[0].role_names == ("plate_left", "plate_right")
    sls = get_protocol("balance-single-leg-stance")
    assert sls.sides == "both" and {t.side for t in sls.trial_plan()} == {"left", "right"}
    assert any(ph.stop == "balance_loss" for ph in sls.phases)
    assert any("Springer" in r for r in sls.references)
    assert find_protocols(category="balance", text="tandem")
    assert len(find_protocols(category="balance", text="foam")) >= 2
    weight = get_protocol("balance-weight-bearing")
    assert sum(s.count for s in weight.sensors if s.kind == "plate") == 2
    assert "weight_share_left" in weight.scoring.metric_keys
    los = get_protocol("balance-limits-of-stability")
    assert los.scoring.headline == "los_area"
    assert {"los_forward", "los_backward", "los_left", "los_right"} <= set(los.scoring.metric_keys)
    assert sum(ph.kind == "hold" and ph.cue.startswith("Lean") for ph in los.phases) == 8


def test_jump_coverage(library: list[Protocol]) -> None:
    scorers = {u.name for p in library if p.category == "jump" for u in p.scoring.scorers}
    assert {"jumps.cmj_metrics", "jumps.sj_metrics", "jumps.drop_jump_metrics", "jumps.hop_metrics"} <= scorers
    cmj = get_protocol("jump-cmj")
    assert cmj.scoring.headline == "jump_height"
    assert any(r.rule == "quiet_phase" for r in cmj.acceptance)
    assert any("Linthorne" in r for r in cmj.references)
    single = get_protocol("jump-single-leg-cmj")
    assert single.sides == "both" and single.scoring.side_comparison == "lsi"


def test_training_coverage(library: list[Protocol]) -> None:
    targets = [ph.target for p in library if p.category == "training" for ph in p.phases if ph.target]
    assert {"percent_max", "absolute", "angle_range", "cop_zone"} <= {t.kind for t in targets}
    assert {"constant", "ramp", "sine", "steps"} <= {t.profile for t in targets}
    assert any(t.kind == "cop_zone" and t.path for t in targets)  # moving balance target
    repeaters = get_protocol("train-grip-repeaters")
    assert any(ph.repeat > 1 for ph in repeaters.phases)
    for p in library:
        if p.category == "training":
            assert any(ph.target is not None for ph in p.phases), p.id


def test_search(library: list[Protocol]) -> None:
    jumps = find_protocols(category="jump")
    assert jumps and all(p.category == "jump" for p in jumps)
    knees = find_protocols(region="knee")
    assert {"knee-extension-hhd", "rom-knee-flexion"} <= {p.id for p in knees}
    pneumatic = find_protocols(sensor="pneumatic")
    assert pneumatic and all(any(s.kind == "pneumatic" for s in p.sensors) for p in pneumatic)
    assert [p.id for p in find_protocols(text="ASHT grip")] == ["grip-asht"]
    assert find_protocols(text="no such words anywhere") == []
    assert len(find_protocols()) == len(library)
    with pytest.raises(ValueError, match="unknown category 'jumps'; expected one of: strength"):
        find_protocols(category="jumps")


def test_unknown_id_suggests_close_ones() -> None:
    with pytest.raises(UnknownProtocolError, match="unknown protocol 'grip-ahst'; did you mean grip-asht"):
        get_protocol("grip-ahst")


def test_docs_describe_every_field_and_list_every_protocol(library: list[Protocol]) -> None:
    text = DOCS.read_text(encoding="utf-8")
    classes = [
        schema.Protocol, schema.SensorRequirement, schema.Phase, schema.Target, schema.Condition, schema.Scoring,
        schema.ScorerUse, schema.Ratio, schema.AcceptanceRule, schema.NormativeReference, schema.NormativeValue,
    ]  # fmt: skip
    for cls in classes:
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in text, f"{cls.__name__}.{f.name} is not documented in docs/protocols.md"
    for name, spec in SCORERS.items():
        assert f"`{name}`" in text, name
        for key in spec.metrics:
            assert f"`{key}`" in text, key
    for p in library:
        assert f"`{p.id}`" in text, f"{p.id} is missing from the library list in docs/protocols.md"


# ------------------------------------------------------------------ the scorers named exist in kinetics


def _kinetics_function(name: str) -> Any:
    module, function = name.split(".")
    return getattr(importlib.import_module(f"kinetics.{module}"), function)


def _scorer_outputs() -> dict[str, set[str]]:
    """Keys each kinetics scorer returns on a simulated signal of its kind."""
    from kinetics import balance, jumps, rom, strength
    from kinetics.simulate import force as sim_force
    from kinetics.simulate import jumps as sim_jumps
    from kinetics.simulate import sway as sim_sway

    fs = 1000.0
    effort = sim_force.isometric_force(fs, 6.0, fmax=300.0, noise_sd=0.5)
    efforts, _ = sim_force.fatiguing_efforts(fs, n_efforts=4, fmax=300.0, decline=0.05, noise_sd=0.5)
    cop = sim_sway.random_walk_sway(100.0, 30.0)
    t = np.arange(0.0, 20.0, 1 / 200.0)
    angle = 45.0 * (1.0 - np.cos(2 * np.pi * 0.25 * t))
    out = {
        "strength.isometric_metrics": strength.isometric_metrics(effort, fs),
        "strength.repetition_metrics": strength.repetition_metrics(efforts, fs),
        "strength.endurance_metrics": strength.endurance_metrics(effort, fs),
        "strength.force_control_metrics": strength.force_control_metrics(effort, np.full_like(effort, 150.0), fs),
        "jumps.cmj_metrics": jumps.cmj_metrics(sim_jumps.simulate_cmj().force, fs),
        "jumps.sj_metrics": jumps.sj_metrics(sim_jumps.simulate_squat_jump().force, fs),
        "jumps.drop_jump_metrics": jumps.drop_jump_metrics(sim_jumps.simulate_drop_jump().force, fs, drop_height=0.30),
        "jumps.hop_metrics": jumps.hop_metrics(sim_jumps.simulate_hops().force, fs),
        "balance.sway_metrics": balance.sway_metrics(cop, 100.0),
        "balance.single_leg_stance": balance.single_leg_stance(np.full(3000, 700.0), 100.0),
        "balance.weight_bearing": balance.weight_bearing(np.full(3000, 400.0), np.full(3000, 380.0)),
        "balance.limits_of_stability": balance.limits_of_stability(cop),
        "rom.rom_metrics": rom.rom_metrics(angle, 200.0),
    }
    return {name: set(metrics) for name, metrics in out.items()}


def test_scorer_keys_are_what_kinetics_returns() -> None:
    outputs = _scorer_outputs()
    kinetics_scorers = {n for n, s in SCORERS.items() if s.family in schema.KINETICS_FAMILIES}
    assert set(outputs) == kinetics_scorers
    for name, keys in outputs.items():
        missing = set(SCORERS[name].metrics) - keys
        assert not missing, f"{name} does not return {sorted(missing)}"


def test_scorer_params_of_builtins_are_keyword_arguments(library: list[Protocol]) -> None:
    for p in library:
        for use in p.scoring.scorers:
            if SCORERS[use.name].family not in schema.KINETICS_FAMILIES:
                continue
            accepted = inspect.signature(_kinetics_function(use.name)).parameters
            for key in use.params:
                assert key in accepted and accepted[key].kind is inspect.Parameter.KEYWORD_ONLY, (p.id, key)
