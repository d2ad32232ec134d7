"""The runner records only the protocol's sensors, whatever else is connected (the app keeps several)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from kinetics._checks import KineticsInputError
from kinetics.io import read_trial
from kinetics.trial import TrialMeta
from protocols.library import get_protocol
from protocols.runner import ProtocolRunner
from protocols.simpatient import SimulatedPatient
from protocols.virtual import VirtualAcquisition, VirtualClock, VirtualSensor

EXTRA = {"plate_left": "plate", "plate_right": "plate"}


def _run_grip(tmp_path: Path, extra: dict[str, str]) -> tuple[list[Path], list[dict[str, float]], VirtualAcquisition]:
    protocol = get_protocol("grip-asht")
    clock = VirtualClock()
    roles = {r: protocol.sensor_for_role(r).kind for r in protocol.sensor_roles}
    acq = VirtualAcquisition.for_protocol({**roles, **extra}, clock)
    if extra:
        # a link loss (and its counter gap) of a device the protocol does not use, inside the first trial
        acq.drop_link("plate_left", 13.0, 2.0)
    patient = SimulatedPatient()
    patient.attach(protocol, {r: acq.sensors[r] for r in protocol.sensor_roles})
    runner = ProtocolRunner(protocol, acq, clock=clock, out_dir=tmp_path, maxima=patient.maxima(protocol))
    runner.add_listener(patient.on_cue)
    result = asyncio.run(runner.run())
    paths = [t.path for t in result.trials if t.path is not None]
    return paths, [dict(t.values) for t in result.trials], acq


def test_trial_files_hold_only_the_protocols_roles(tmp_path: Path) -> None:
    paths, values, acq = _run_grip(tmp_path / "extra", EXTRA)
    assert len(paths) == 6
    first = read_trial(paths[0]).device("grip").time
    (lost,) = [e.time for e in acq.events if e.device == "plate_left" and e.label == "link lost"]
    assert first[0] < lost < first[-1] and acq.status("plate_left").gaps == 1  # it happened while recording
    for path in paths:
        trial = read_trial(path)
        assert list(trial.devices) == ["grip"]  # the two plates are connected but not recorded
        assert not [e for e in trial.events if e.device in EXTRA]
    # the plates streamed live all along
    last = read_trial(paths[-1]).device("grip").time[-1]
    assert acq.buffers["plate_right"].latest(1)[0][-1] >= last
    # and the trials are those of a session where only the grip is connected
    alone_paths, alone_values, _ = _run_grip(tmp_path / "alone", {})
    assert values == alone_values and values[0]
    for a, b in zip(paths, alone_paths, strict=True):
        np.testing.assert_array_equal(read_trial(a).device("grip").values, read_trial(b).device("grip").values)


def test_virtual_acquisition_records_the_selected_roles(tmp_path: Path) -> None:
    clock = VirtualClock()
    sensors = {role: VirtualSensor(kind, clock) for role, kind in {"grip": "grip", **EXTRA}.items()}
    acq = VirtualAcquisition(sensors, clock)
    with pytest.raises(KineticsInputError, match=r"'push' is not connected.*\['grip', 'plate_left', 'plate_right'\]"):
        acq.start_recording(tmp_path / "bad.h5", TrialMeta(), devices=["grip", "push"])
    assert not acq.recording and not (tmp_path / "bad.h5").exists()
    acq.start_recording(tmp_path / "two.h5", TrialMeta(), devices=["plate_right", "grip"])
    clock.advance(1.0)
    path = asyncio.run(acq.stop_recording())
    trial = read_trial(path)
    assert list(trial.devices) == ["plate_right", "grip"]
    grip_rate = sensors["grip"].rate
    assert trial.device("grip").n_samples == int(grip_rate) + 1  # samples at t = 0, 1/rate ... 1 s
