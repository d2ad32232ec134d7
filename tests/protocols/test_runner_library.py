"""Every built-in protocol end to end: simulated patient → in-process sensors on a virtual clock → runner →
trial files → scores, checked against what the simulated patient was set up to do."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from kinetics.io import read_trial
from protocols.library import builtin_protocols
from protocols.simpatient import SimulatedPatient, simulate_session

PROTOCOLS = builtin_protocols()


@pytest.mark.parametrize("protocol", PROTOCOLS, ids=[p.id for p in PROTOCOLS])
def test_protocol_runs_end_to_end(protocol, tmp_path: Path) -> None:
    patient = SimulatedPatient()
    result = asyncio.run(simulate_session(protocol, tmp_path, source="inprocess", patient=patient))

    assert result.completed
    plan = protocol.trial_plan()
    assert [(t.index, t.side, t.condition) for t in result.trials] == [(p.index, p.side, p.condition) for p in plan]
    for trial in result.trials:
        assert trial.status == "accepted", (trial.index, trial.flags, trial.notes)
        assert "not_scored" not in trial.flags and "data_gap" not in trial.flags
        for key in protocol.scoring.metric_keys:
            assert math.isfinite(trial.values[key]), (trial.index, key, trial.notes)
            assert trial.units[key], key
        assert trial.path is not None and trial.path.exists()
        recorded = read_trial(trial.path)
        assert set(recorded.devices) == set(protocol.sensor_roles)
        assert recorded.meta.protocol == protocol.id and recorded.meta.side == trial.side
    # the scores are those of the simulated patient
    for summary in result.summaries():
        for key, (low, high) in patient.expected(protocol, summary.side, summary.condition).items():
            assert low <= summary.mean[key] <= high, (summary.side, summary.condition, key, summary.mean[key])
    # two sides compared by the limb symmetry index, the worse side as the involved one: ≤ 100 % when higher
    # is better, ≥ 100 % when lower is better (an error, a sway velocity)
    if protocol.sides in ("both", "alternating"):
        sym = result.symmetry()
        assert sym, "two-sided protocols compare sides"
        for entry in sym.values():
            if protocol.scoring.better == "higher":
                assert 0 < entry["value"] <= 100.0 + 1e-9
            else:
                assert entry["value"] >= 100.0 - 1e-9
    # the session saves as a bundle with one row per trial metric
    rows = result.result_rows()
    assert sum(1 for r in rows if r.trial_id) == len(result.counted()) * len(protocol.scoring.metric_keys)
