"""Representative protocols over the real stack: simulated GATT sensors on the virtual radio, bleak, the
supervisors and the acquisition on an accelerated session clock, with the simulated patient."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from kinetics.io import read_trial
from protocols.library import get_protocol
from protocols.simpatient import SimulatedPatient, simulate_session


# Speeds keep the samples on air under ~10 000/s (a 1 kHz grip at 8x, a 6-channel 200 Hz goniometer at 8x):
# the in-process radio shares two cores with everything else, and a backlog would delay the effort onset.
@pytest.mark.timeout(180)
@pytest.mark.parametrize(("protocol_id", "speed"), [("grip-asht", 8.0), ("rom-elbow-flexion", 8.0)])
def test_protocol_over_the_virtual_radio(protocol_id: str, speed: float, tmp_path: Path) -> None:
    logging.getLogger("bumble").setLevel(logging.ERROR)
    protocol = get_protocol(protocol_id)
    patient = SimulatedPatient()
    result = asyncio.run(simulate_session(protocol, tmp_path, source="radio", speed=speed, patient=patient))
    assert result.completed
    assert len(result.trials) == len(protocol.trial_plan())
    for trial in result.trials:
        assert trial.status == "accepted", (trial.flags, trial.notes)
        rec = read_trial(trial.path)
        assert all(d.n_samples > 0 for d in rec.devices.values())
        assert all(d.address for d in (x.info for x in rec.devices.values()))  # real BLE addresses
    for summary in result.summaries():
        for key, (low, high) in patient.expected(protocol, summary.side).items():
            assert low <= summary.mean[key] <= high, (summary.side, key, summary.mean[key])
