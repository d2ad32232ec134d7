"""Jump metrics on the BMClab force traces (../shared/data/jumps-bmc, CC BY 4.0; values in docs/metrics/jumps.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.jumps import cmj_metrics


def _load(shared_data: Path, name: str) -> tuple[np.ndarray, float]:
    path = shared_data / "jumps-bmc" / name
    if name == "GRFZjump.txt":
        return np.loadtxt(path), 600.0
    return np.loadtxt(path, skiprows=1)[:, 1], 450.0


@pytest.mark.parametrize(("name", "reference", "ft_excess"), [("jump1.txt", 0.362, 0.03), ("jump2.txt", 0.382, 0.10)])
def test_takeoff_velocity_height_matches_reference(shared_data: Path, name: str, reference: float,
                                                   ft_excess: float) -> None:
    force, fs = _load(shared_data, name)
    m = cmj_metrics(force, fs)
    assert m["jump_height"] == pytest.approx(reference, rel=0.015)
    # landing posture inflates flight time: the flight-time height is higher, by ~3 % and ~10 % here
    excess = m["jump_height_flight_time"] / m["jump_height"] - 1
    assert excess == pytest.approx(ft_excess, abs=0.015)
    # stepping on and off the plate is not mistaken for the jump: quiet standing precedes the onset
    assert 650 < m["body_weight"] < 800 and m["quiet_sd"] < 10
    assert m["onset_time"] < m["takeoff_time"] < m["landing_time"]
    assert not m.flags["landing_incomplete"]


def test_documented_values(shared_data: Path) -> None:
    """The figures quoted in docs/metrics/jumps.md (rounded there)."""
    expected = {
        "jump1.txt": (692.6, 4.142, 5.090, 5.640, 0.358, 0.371),
        "jump2.txt": (774.1, 3.796, 4.919, 5.505, 0.382, 0.421),
    }
    for name, (bw, onset, to, ld, h, hft) in expected.items():
        force, fs = _load(shared_data, name)
        m = cmj_metrics(force, fs)
        got = (m["body_weight"], m["onset_time"], m["takeoff_time"], m["landing_time"], m["jump_height"],
               m["jump_height_flight_time"])
        # body weight to 0.1 N, instants to 1 ms, heights to 1 mm
        assert got[0] == pytest.approx(bw, abs=0.1)
        assert got[1:4] == pytest.approx((onset, to, ld), abs=1e-3)
        assert got[4:] == pytest.approx((h, hft), abs=1e-3)


def test_grfz_needs_a_shorter_weighing_window(shared_data: Path) -> None:
    force, fs = _load(shared_data, "GRFZjump.txt")
    with pytest.raises(KineticsInputError, match="quiet phase"):
        cmj_metrics(force, fs)  # only ~0.2 s of standing before the countermovement
    m = cmj_metrics(force, fs, weigh_duration=0.15)
    assert m["jump_height"] == pytest.approx(0.240, abs=0.002)
    assert m["jump_height_flight_time"] == pytest.approx(0.220, abs=0.002)
    assert m["body_weight"] == pytest.approx(628.1, abs=0.5)
