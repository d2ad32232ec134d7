"""The runner's state machine: cue order, recording windows, onset, redo/discard, disconnects, saving."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from kinetics.io import read_session, read_trial
from protocols.library import get_protocol
from protocols.runner import ProtocolRunner, RunnerError
from protocols.scoring import phase_spans
from protocols.simpatient import PatientParams, SimulatedPatient
from protocols.virtual import VirtualAcquisition, VirtualClock


def _setup(
    protocol_id: str,
    tmp_path: Path,
    *,
    keep_log: bool = False,
    params: PatientParams | None = None,
    **runner_kw: object,
):
    protocol = get_protocol(protocol_id)
    clock = VirtualClock()
    acq = VirtualAcquisition.for_protocol(
        {r: protocol.sensor_for_role(r).kind for r in protocol.sensor_roles}, clock, keep_log=keep_log
    )
    patient = SimulatedPatient(params)
    patient.attach(protocol, acq.sensors)
    runner = ProtocolRunner(protocol, acq, clock=clock, out_dir=tmp_path, maxima=patient.maxima(protocol), **runner_kw)  # type: ignore[arg-type]
    runner.add_listener(patient.on_cue)
    return protocol, clock, acq, patient, runner


def test_cues_follow_the_protocol_schedule(tmp_path: Path) -> None:
    protocol, _, _, patient, runner = _setup("grip-asht", tmp_path)
    result = asyncio.run(runner.run())
    phase_cues = [c for c in patient.cues if c.phase_index is not None]
    schedule = protocol.schedule()
    assert [(c.phase_index, c.side) for c in phase_cues] == [(s.phase_index, s.side) for s in schedule]
    kinds = [c.kind for c in patient.cues]
    assert kinds[-1] == "done" and kinds.count("trial_done") == 6 and kinds.count("stop") == 6
    assert kinds[:3] == ["prepare", "countdown", "go"]
    assert {c.kind for c in patient.cues} >= {
        "prepare",
        "countdown",
        "go",
        "switch_side",
        "done",
    }  # alternating: no rest
    # ASHT: right and left alternate, the right is this patient's stronger hand
    assert [t.side for t in result.trials] == ["right", "left"] * 3
    assert result.summary("right").headline > result.summary("left").headline


def test_effort_starts_on_onset_and_recording_has_baseline(tmp_path: Path) -> None:
    protocol, _, _, patient, runner = _setup("grip-asht", tmp_path)
    result = asyncio.run(runner.run())
    go = [c for c in patient.cues if c.kind == "go"]
    for cue, trial in zip(go, result.trials, strict=True):
        rec = read_trial(trial.path)
        (span,) = [s for s in phase_spans(rec) if s.kind == "effort"]
        onset = [e.time for e in rec.events if e.kind == "marker" and e.label.startswith("onset")]
        assert onset == [span.start]
        # the patient pushes reaction_time after the cue; the onset is detected within 50 ms of that
        assert span.start - cue.time == pytest.approx(patient.params.reaction_time, abs=0.05)
        assert span.duration == pytest.approx(protocol.phases[2].duration, abs=1e-9)
        grip = rec.device("grip")
        assert grip.time[0] <= cue.time - runner.lead_in + 1e-3  # the quiet second before the cue is there
        assert grip.time[-1] >= span.end + runner.tail - 2e-3


def test_rejected_trial_is_redone_and_not_counted(tmp_path: Path) -> None:
    # a patient so weak that the grip never leaves its baseline: no onset → rejected → redone once
    weak = PatientParams(strength={"right": 0.0, "left": 380.0, "none": 0.0})
    _protocol, _, _, _, runner = _setup("grip-asht", tmp_path, params=weak, max_redos=1)
    result = asyncio.run(runner.run())
    right = [t for t in result.trials if t.side == "right"]
    assert [t.status for t in right] == ["redone", "rejected"] * 3
    assert all("no_onset" in t.flags for t in right)
    assert result.summary("right").n_trials == 0 and math.isnan(result.summary("right").headline)
    assert result.summary("left").n_trials == 3
    assert result.symmetry() == {}


def test_redo_and_discard_between_trials(tmp_path: Path) -> None:
    _protocol, _, _, _, runner = _setup("neck-flexion-hhd", tmp_path)
    done: list[int] = []

    def decide(cue) -> None:
        if cue.kind == "trial_done":
            done.append(cue.result.index)
            if cue.result.index == 0 and cue.result.attempt == 1:
                runner.redo(0)
            if cue.result.index == 2:
                runner.discard(2)

    runner.add_listener(decide)
    result = asyncio.run(runner.run())
    assert done == [0, 0, 1, 2]
    assert [(t.index, t.attempt, t.status) for t in result.trials] == [
        (0, 1, "redone"),
        (0, 2, "accepted"),
        (1, 1, "accepted"),
        (2, 1, "discarded"),
    ]
    counted = result.counted()
    assert [t.index for t in counted] == [0, 1]
    best = max(t.values["peak_force"] for t in counted)
    assert result.summary("none").best["peak_force"] == best
    assert len({t.path for t in result.trials}) == 4  # every attempt keeps its own file
    # only counted attempts reach the results table that progress and MDC statistics read
    row_ids = {r.trial_id for r in result.result_rows() if r.trial_id}
    assert row_ids == {t.trial_id for t in counted}


def test_disconnect_mid_trial_is_marked_and_nothing_is_lost(tmp_path: Path) -> None:
    _protocol, _clock, acq, _patient, runner = _setup("grip-asht", tmp_path, keep_log=True)
    dropped: dict[str, float] = {}

    def drop_in_second_effort(cue) -> None:
        if cue.kind == "go" and cue.trial == 1 and not dropped:
            dropped["at"] = cue.time + 2.0
            acq.drop_link("grip", cue.time + 2.0, 1.5)

    runner.add_listener(drop_in_second_effort)
    result = asyncio.run(runner.run())
    assert result.completed and len(result.trials) == 6
    marked = result.trials[1]
    assert "disconnected" in marked.flags and marked.status == "accepted"
    assert all("disconnected" not in t.flags for i, t in enumerate(result.trials) if i != 1)
    rec = read_trial(marked.path)
    grip = rec.device("grip")
    # a gap of exactly the samples taken while the link was down
    (gap,) = grip.gaps
    assert gap.missing_samples == pytest.approx(1.5 * 1000, abs=2)
    assert [e for e in rec.events if e.kind == "device" and e.device == "grip"]
    # the effort lasted its 5 s of *connected* time: the phase was extended by the pause
    (span,) = [s for s in phase_spans(rec) if s.kind == "effort"]
    assert span.duration >= 5.0 + 1.5 - 0.2
    # nothing that arrived is lost: every delivered sample in the recording window is in the file
    counters, times, values = acq.delivered("grip")
    window = (times >= grip.time[0]) & (times <= grip.time[-1])
    np.testing.assert_array_equal(grip.counter, counters[window])
    np.testing.assert_allclose(grip.values, values[:, window].astype(np.float32))
    # the session went on to the next trials
    assert [t.status for t in result.trials[2:]] == ["accepted"] * 4


def test_device_that_never_comes_back_aborts_the_trial_and_ends_the_session(tmp_path: Path) -> None:
    _protocol, _clock, acq, _patient, runner = _setup("neck-flexion-hhd", tmp_path, disconnect_timeout=5.0)

    def drop(cue) -> None:
        if cue.kind == "go" and cue.trial == 0:
            acq.drop_link("push", cue.time + 1.0, 1e6)

    runner.add_listener(drop)
    result = asyncio.run(runner.run())
    assert not result.completed
    assert [(t.index, t.status) for t in result.trials] == [(0, "aborted")]
    assert {"disconnected", "device_lost"} <= set(result.trials[0].flags)
    assert read_trial(result.trials[0].path).device("push").n_samples > 1000


def test_balance_loss_ends_the_hold_early(tmp_path: Path) -> None:
    _protocol, _, _, patient, runner = _setup("balance-single-leg-stance", tmp_path)
    result = asyncio.run(runner.run())
    left = [t for t in result.trials if t.side == "left"]
    for t in left:
        rec = read_trial(t.path)
        (span,) = [s for s in phase_spans(rec) if s.kind == "hold"]
        assert span.duration < 15.0  # stopped soon after the step at 12 s, not at 30 s
        assert t.values["stance_time"] == pytest.approx(patient.params.stance_time["left"], abs=0.3)


def test_session_result_saves_and_reads_back(tmp_path: Path) -> None:
    protocol, _, _, _, runner = _setup("balance-romberg", tmp_path)
    result = asyncio.run(runner.run())
    path = result.save(tmp_path / "session.h5")
    session = read_session(path)
    assert len(session.trials) == 6
    keys = {r.key for r in session.results}
    assert "romberg_quotient" in keys and "eyes_open.best_ellipse_area_95" in keys
    assert "protocol.toml" in session.documents
    quotient = result.ratios()["romberg_quotient"]
    assert protocol.scoring.headline == "ellipse_area_95"
    eo = result.summary("none", "eyes_open").headline
    ec = result.summary("none", "eyes_closed").headline
    assert quotient == pytest.approx(ec / eo)
    assert quotient > 1.5  # the patient sways 1.6× more with the eyes closed (area ∝ 1.6²)


def test_percent_target_needs_a_maximum(tmp_path: Path) -> None:
    protocol = get_protocol("train-grip-hold")
    clock = VirtualClock()
    acq = VirtualAcquisition.for_protocol({"grip": "grip"}, clock)
    with pytest.raises(RunnerError, match="grip-asht"):
        ProtocolRunner(protocol, acq, clock=clock, out_dir=tmp_path)
    with pytest.raises(RunnerError, match="no device for role"):
        ProtocolRunner(get_protocol("jump-cmj"), acq, clock=clock, out_dir=tmp_path)
