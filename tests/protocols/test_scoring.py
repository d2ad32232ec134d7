"""Scoring a recorded trial: the channels chosen, the phase windows read back, the zone score's exact values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivers.devices import device_kind, to_device_info
from kinetics import strength
from kinetics._checks import KineticsInputError
from kinetics.simulate.force import isometric_force
from kinetics.simulate.sway import cell_forces
from kinetics.targets import cop_zone_metrics
from kinetics.trial import DeviceRecording, Event, Gap, Trial, TrialMeta
from protocols.library import get_protocol
from protocols.scoring import phase_spans, score_trial


def test_cop_zone_metrics_exact() -> None:
    fs = 100.0
    # COP 3 cm right of a fixed zone centre for 60 samples, then on it for 40: radius 2 cm
    cop = np.zeros((2, 100))
    cop[0, :60] = 0.03
    m = cop_zone_metrics(cop, (0.0, 0.0), 0.02, fs)
    assert m["time_in_zone"] == pytest.approx(0.4)
    assert m["time_in_zone_fraction"] == pytest.approx(0.4)
    assert m["mean_target_distance"] == pytest.approx(0.6 * 0.03)
    assert m.unit("time_in_zone") == "s" and m.unit("mean_target_distance") == "m"
    # a moving centre that the COP follows exactly: always inside, distance 0
    path = np.vstack([np.linspace(-0.1, 0.1, 50), np.zeros(50)])
    m2 = cop_zone_metrics(path, path, 0.01, 50.0)
    assert m2["time_in_zone"] == pytest.approx(1.0) and m2["mean_target_distance"] == 0.0
    with pytest.raises(KineticsInputError, match="radius"):
        cop_zone_metrics(cop, (0.0, 0.0), 0.0, fs)
    with pytest.raises(KineticsInputError, match="centre"):
        cop_zone_metrics(cop, np.zeros((2, 7)), 0.02, fs)


def _grip_trial(force: np.ndarray, fs: float, *, drop: slice | None = None, events: list[Event]) -> Trial:
    info = to_device_info(device_kind("grip"), "grip")
    counter = np.arange(force.size)
    time = 10.0 + counter / fs
    keep = np.ones(force.size, dtype=bool)
    gaps: tuple[Gap, ...] = ()
    if drop is not None:
        keep[drop] = False
        gaps = (Gap(drop.start, drop.stop - 1, float(time[drop.start - 1]), float(time[drop.stop])),)
    rec = DeviceRecording(info, time[keep], counter[keep], force[None, keep].astype(np.float32), gaps)
    return Trial(TrialMeta(protocol="grip-asht", side="right"), {"grip": rec}, events)


def test_score_grip_trial_matches_kinetics_and_reads_phases() -> None:
    fs = 1000.0
    force = isometric_force(fs, 7.0, onset=1.5, fmax=400.0, rise=4.0, noise_sd=0.3, seed=3)
    events = [Event(11.5, "phase", "start effort 2"), Event(16.5, "phase", "end effort 2")]
    trial = _grip_trial(force, fs, events=events)
    (span,) = phase_spans(trial)
    assert (span.index, span.kind, span.start, span.end) == (2, "effort", 11.5, 16.5)
    score = score_trial(trial, get_protocol("grip-asht"))
    direct = strength.isometric_metrics(force.astype(np.float32).astype(np.float64), fs)
    for key in ("peak_force", "time_to_peak", "rfd_0_100", "mean_force", "impulse"):
        assert score.values[key] == pytest.approx(float(direct[key]), rel=1e-9), key
        assert score.units[key] == direct.unit(key)
    assert score.flags == () and not score.rejected


def test_gap_is_bridged_and_flagged() -> None:
    fs = 1000.0
    force = isometric_force(fs, 7.0, onset=1.5, fmax=400.0, rise=4.0, noise_sd=0.3, seed=3)
    events = [Event(11.5, "phase", "start effort 2"), Event(16.5, "phase", "end effort 2")]
    trial = _grip_trial(force, fs, drop=slice(4000, 5500), events=events)  # 1.5 s missing in the hold
    score = score_trial(trial, get_protocol("grip-asht"))
    assert "data_gap" in score.flags  # max_gap allows 0.5 s
    assert score.values["peak_force"] == pytest.approx(400.0, rel=0.01)
    assert any("1.50 s of data missing" in n for n in score.notes)


def test_weight_bearing_from_two_plates() -> None:
    fs = 1000.0
    n = 25_000
    bw = 700.0
    kind = device_kind("plate")
    cells_pos = np.asarray(kind.geometry["cell_positions"])
    recs = []
    t = np.arange(n) / fs
    sway = 0.002 * np.sin(2 * np.pi * 0.5 * t)  # each foot's COP sways 2 mm side to side at 0.5 Hz
    for role, share in (("plate_left", 0.4), ("plate_right", 0.6)):
        cop = np.vstack([sway, np.zeros(n)])
        cells = cell_forces(cop, np.full(n, bw * share), cells_pos)
        info = to_device_info(kind, role)
        t = np.arange(n) / fs
        recs.append(DeviceRecording(info, t, np.arange(n), cells.astype(np.float32)))
    events = [Event(1.0, "phase", "start hold 2"), Event(21.0, "phase", "end hold 2")]
    trial = Trial.from_recordings(TrialMeta(protocol="balance-weight-bearing"), recs, events)
    score = score_trial(trial, get_protocol("balance-weight-bearing"))
    assert score.values["weight_share_left"] == pytest.approx(0.4, abs=1e-6)
    assert score.values["weight_bearing_asymmetry"] == pytest.approx(-0.2, abs=1e-6)
    # the net COP sways like each foot: mean speed of x = A·sin(2πft) over whole cycles is 4·A·f
    assert score.values["mean_velocity"] == pytest.approx(4 * 0.002 * 0.5, rel=1e-3)


def test_unscorable_trial_is_flagged_not_raised() -> None:
    fs = 1000.0
    events = [Event(11.0, "phase", "start effort 2"), Event(12.0, "phase", "end effort 2")]
    flat = _grip_trial(np.zeros(3000), fs, events=events)
    score = score_trial(flat, get_protocol("grip-asht"))
    assert "no_effort" in score.flags  # the scorer's own flag, kept
    assert all(math.isnan(v) for v in score.values.values())
    one = _grip_trial(np.zeros(1), fs, events=events)  # a device that recorded nothing usable
    score = score_trial(one, get_protocol("grip-asht"))
    assert "not_scored" in score.flags and "fewer than 2 samples" in score.notes[0]
    assert all(math.isnan(v) for v in score.values.values())
