"""Jump metrics against simulated jumps with exact answers (kinetics.simulate.jumps)."""

from __future__ import annotations

import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.jumps import (
    G,
    asymmetry,
    cmj_metrics,
    dalleau_stiffness,
    drop_jump_metrics,
    hop_contacts,
    hop_metrics,
    sj_metrics,
)
from kinetics.simulate.jumps import simulate_cmj, simulate_drop_jump, simulate_hops, simulate_squat_jump

# With the force exactly 0 N in flight, a threshold of 1 µN puts the interpolated crossings on the true
# take-off/landing instants, so the only error left is rounding.
EXACT = 1e-6


@pytest.mark.parametrize("flight_time", [0.3, 0.5, 0.62])
def test_cmj_heights_exact_both_methods(flight_time: float) -> None:
    sim = simulate_cmj(flight_time=flight_time, body_mass=82.0)
    m = cmj_metrics(sim.force, sim.fs, takeoff_threshold=EXACT)
    assert sim.jump_height == pytest.approx(G * flight_time**2 / 8, rel=1e-12)
    assert m["takeoff_velocity"] == pytest.approx(sim.takeoff_velocity, rel=1e-9)
    assert m["jump_height"] == pytest.approx(sim.jump_height, rel=1e-8)
    assert m["jump_height_flight_time"] == pytest.approx(sim.jump_height, rel=1e-8)
    assert m["flight_time"] == pytest.approx(sim.flight_time, abs=1e-9)
    assert m["takeoff_time"] == pytest.approx(sim.takeoff_time, abs=1e-9)
    assert m["landing_time"] == pytest.approx(sim.landing_time, abs=1e-9)
    assert m["body_weight"] == pytest.approx(82.0 * G, rel=1e-12)
    assert m["body_mass"] == pytest.approx(82.0, rel=1e-12)
    # onset: first departing sample (1 ms after the quiet phase) stepped back 30 ms
    assert m["onset_time"] == pytest.approx(sim.onset_time + 0.001 - 0.030, abs=1e-9)
    assert m["time_to_takeoff"] == pytest.approx(sim.takeoff_time - m["onset_time"], abs=1e-9)
    # propulsion starts at the first sample with v ≥ 0, so v there is below one sample of peak acceleration
    one_sample = (m["peak_propulsive_force"] - m["body_weight"]) * 0.001
    assert 0 <= 82.0 * m["takeoff_velocity"] - m["net_propulsive_impulse"] <= one_sample
    assert m["countermovement_depth"] == pytest.approx(sim.countermovement_depth, rel=1e-4)
    assert m["peak_propulsive_force"] == pytest.approx(sim.extras["peak_propulsive_force"], rel=1e-12)
    assert m["mrsi"] == pytest.approx(m["jump_height"] / m["time_to_takeoff"], rel=1e-12)
    assert m.method == "impulse_momentum"
    assert m.params["fs"] == 1000.0 and m.params["g"] == G and m.params["takeoff_threshold"] == EXACT


def test_cmj_phases_are_ordered_and_consistent() -> None:
    sim = simulate_cmj()
    m = cmj_metrics(sim.force, sim.fs, takeoff_threshold=EXACT)
    order = ["onset_time", "unweighting_end_time", "braking_end_time", "takeoff_time", "landing_time",
             "landing_end_time"]
    times = [m[k] for k in order]
    assert times == sorted(times)
    assert m["unweighting_duration"] + m["braking_duration"] == pytest.approx(m["eccentric_duration"])
    assert m["eccentric_duration"] + m["propulsion_duration"] == pytest.approx(m["time_to_takeoff"])
    # braking undoes the unweighting: both impulses equal m·|v_min| (to one sample)
    assert m["braking_impulse"] == pytest.approx(m["unweighting_impulse"], rel=0.01)
    assert m["unweighting_impulse"] == pytest.approx(-m["peak_negative_velocity"] * m["body_mass"], rel=1e-9)
    assert m["min_unweighting_force"] == pytest.approx(0.4 * m["body_weight"], rel=1e-9)
    assert m["landing_velocity"] == pytest.approx(-m["takeoff_velocity"], rel=1e-3)
    assert m["peak_landing_force"] > m["peak_propulsive_force"] > m["body_weight"]
    assert m["braking_rfd"] > 0 and m["peak_braking_power"] > 0 and m["peak_propulsive_power"] > 0
    assert m.flags["landing_incomplete"] is False or not m.flags["landing_incomplete"]
    for key in m:
        assert m.unit(key)


def test_default_threshold_and_noise_stay_close() -> None:
    sim = simulate_cmj(noise_sd=2.0, seed=3)
    m = cmj_metrics(sim.force, sim.fs)
    assert m["jump_height"] == pytest.approx(sim.jump_height, rel=0.02)
    assert m["jump_height_flight_time"] == pytest.approx(sim.jump_height, rel=0.02)
    assert m["body_weight"] == pytest.approx(sim.body_weight, abs=0.5)


def test_scaling_force_and_mass_together() -> None:
    sim = simulate_cmj(noise_sd=1.0, seed=7)
    base = cmj_metrics(sim.force, sim.fs)
    # the take-off threshold is a force too: scale it with the force (noise and quiet SD scale by themselves)
    scaled = cmj_metrics(sim.force * 1.7, sim.fs, takeoff_threshold=1.7 * 20.0)
    for key in ("jump_height", "jump_height_flight_time", "takeoff_velocity", "flight_time", "time_to_takeoff",
                "countermovement_depth", "mrsi"):
        assert scaled[key] == pytest.approx(base[key], rel=1e-9), key
    for key in ("body_weight", "body_mass", "peak_propulsive_force", "mean_propulsive_force", "braking_rfd",
                "net_propulsive_impulse", "braking_impulse", "peak_propulsive_power", "peak_landing_force"):
        assert scaled[key] == pytest.approx(1.7 * base[key], rel=1e-9), key


def test_heavier_simulated_athlete_same_flight_same_height() -> None:
    light = simulate_cmj(body_mass=55.0, flight_time=0.48)
    heavy = simulate_cmj(body_mass=110.0, flight_time=0.48)
    a = cmj_metrics(light.force, 1000.0, takeoff_threshold=EXACT)
    b = cmj_metrics(heavy.force, 1000.0, takeoff_threshold=EXACT)
    assert a["jump_height"] == pytest.approx(b["jump_height"], rel=1e-9)
    assert b["net_propulsive_impulse"] == pytest.approx(2 * a["net_propulsive_impulse"], rel=1e-9)


def test_batched_equals_single() -> None:
    sims = [simulate_cmj(flight_time=ft, body_mass=bm, noise_sd=1.5, seed=i)
            for i, (ft, bm) in enumerate([(0.4, 60.0), (0.5, 75.0), (0.55, 90.0), (0.35, 68.0)])]
    n = min(s.force.size for s in sims)
    stack = np.stack([s.force[:n] for s in sims]).reshape(2, 2, n)
    batched = cmj_metrics(stack, 1000.0)
    assert batched["jump_height"].shape == (2, 2)
    for i, s in enumerate(sims):
        single = cmj_metrics(s.force[:n], 1000.0)
        one = batched.select(np.unravel_index(i, (2, 2)))
        for key in single:
            assert one[key] == pytest.approx(single[key], rel=1e-12, abs=1e-12), key


def test_two_plates_sides_and_asymmetry() -> None:
    sim = simulate_cmj(left_share=0.6)
    m = cmj_metrics(sim.force, sim.fs, sides=True, takeoff_threshold=EXACT)
    one = cmj_metrics(sim.force.sum(axis=0), sim.fs, takeoff_threshold=EXACT)
    assert m["jump_height"] == pytest.approx(one["jump_height"], rel=1e-12)
    expected = (0.6 - 0.4) / 0.6 * 100
    for key in ("peak_propulsive_force", "net_propulsive_impulse", "braking_impulse", "peak_braking_force",
                "mean_propulsive_force", "peak_landing_force", "body_weight"):
        assert m[f"{key}_asymmetry"] == pytest.approx(expected, rel=1e-6), key
        assert m.unit(f"{key}_asymmetry") == "%"
    total = m["net_propulsive_impulse_left"] + m["net_propulsive_impulse_right"]
    assert total == pytest.approx(m["net_propulsive_impulse"], rel=1e-9)
    assert asymmetry(np.array(3.0), np.array(4.0)) == pytest.approx(-25.0)


def test_squat_jump_exact_and_countermovement_flag() -> None:
    clean = simulate_squat_jump(flight_time=0.44)
    m = sj_metrics(clean.force, clean.fs, takeoff_threshold=EXACT)
    assert m["jump_height"] == pytest.approx(clean.jump_height, rel=1e-8)
    assert m["jump_height_flight_time"] == pytest.approx(clean.jump_height, rel=1e-8)
    assert not m.flags["countermovement"]
    assert m["countermovement_depth"] == pytest.approx(0.0, abs=1e-9)
    dipped = simulate_squat_jump(flight_time=0.44, countermovement=0.08, noise_sd=1.0, seed=2)
    d = sj_metrics(dipped.force, dipped.fs)
    assert d.flags["countermovement"]
    assert d["countermovement_depth"] == pytest.approx(dipped.countermovement_depth, rel=0.05)
    assert d["min_force_before_peak"] == pytest.approx(0.92 * dipped.body_weight, abs=6.0)


def test_drop_jump_exact() -> None:
    sim = simulate_drop_jump(drop_height=0.4, contact_time=0.22, flight_time=0.42)
    m = drop_jump_metrics(sim.force, sim.fs, drop_height=0.4, takeoff_threshold=EXACT)
    assert m["contact_time"] == pytest.approx(0.22, abs=1e-9)
    assert m["flight_time"] == pytest.approx(0.42, abs=1e-9)
    assert m["rsi"] == pytest.approx(G * 0.42**2 / 8 / 0.22, rel=1e-8)
    assert m["rsi_flight_contact"] == pytest.approx(0.42 / 0.22, rel=1e-8)
    assert m["touchdown_velocity"] == pytest.approx(sim.touchdown_velocity, rel=1e-12)
    assert m["takeoff_velocity"] == pytest.approx(sim.takeoff_velocity, rel=1e-9)
    assert m["jump_height"] == pytest.approx(sim.jump_height, rel=1e-8)
    assert m["contact_net_impulse"] == pytest.approx(sim.net_impulse, rel=1e-9)
    assert m["countermovement_depth"] == pytest.approx(sim.countermovement_depth, rel=1e-4)
    assert m["peak_contact_force"] == pytest.approx(sim.extras["peak_contact_force"], rel=1e-12)
    assert m["touchdown_time"] == pytest.approx(sim.onset_time, abs=1e-9)
    two = simulate_drop_jump(drop_height=0.4, contact_time=0.22, flight_time=0.42, left_share=0.45)
    sides = drop_jump_metrics(two.force, two.fs, drop_height=0.4, sides=True, takeoff_threshold=EXACT)
    assert sides["jump_height"] == pytest.approx(sim.jump_height, rel=1e-8)
    for key in ("peak_contact_force", "contact_net_impulse", "peak_landing_force"):
        assert sides[f"{key}_asymmetry"] == pytest.approx((0.45 - 0.55) / 0.55 * 100, rel=1e-6), key
    without = drop_jump_metrics(sim.force, sim.fs, takeoff_threshold=EXACT)
    assert "jump_height" not in without and without["rsi"] == pytest.approx(m["rsi"])


def test_hops_rsi_times_and_stiffness() -> None:
    sim = simulate_hops(n_hops=10, contact_time=0.17, flight_time=0.38, body_mass=64.0)
    m = hop_metrics(sim.force, sim.fs, takeoff_threshold=EXACT)
    assert m["n_hops"] == 10
    assert m["contact_time"] == pytest.approx(0.17, abs=1e-9)
    assert m["flight_time"] == pytest.approx(0.38, abs=1e-9)
    assert m["rsi"] == pytest.approx(G * 0.38**2 / 8 / 0.17, rel=1e-8)
    # Dalleau's times formula equals the spring–mass model's F_max / Δy computed by the simulator
    assert m["stiffness"] == pytest.approx(sim.stiffness, rel=1e-8)
    assert m["peak_force"] == pytest.approx(sim.extras["peak_force"], rel=1e-3)
    assert m["body_mass"] == pytest.approx(64.0, rel=1e-12)
    assert not m.flags["fewer_hops_than_best_of"]
    per = hop_contacts(sim.force, sim.fs, takeoff_threshold=EXACT, body_mass=64.0)
    assert per.n_hops == 10 and per.rsi.shape == (10,)
    assert dalleau_stiffness(64.0, 0.17, 0.38) == pytest.approx(sim.stiffness, rel=1e-12)


def test_hops_best_of_picks_the_best() -> None:
    sim = simulate_hops(n_hops=3)
    m = hop_metrics(sim.force, sim.fs, best_of=5, body_mass=70.0)
    assert m["n_hops"] == 3 and m.flags["fewer_hops_than_best_of"]
    both = np.stack([simulate_hops(n_hops=6, contact_time=0.2).force[:6000],
                     simulate_hops(n_hops=6, contact_time=0.25).force[:6000]])
    b = hop_metrics(both, 1000.0, takeoff_threshold=EXACT)
    assert b["contact_time"] == pytest.approx([0.2, 0.25], abs=1e-9)
    sides = hop_metrics(np.stack([0.3 * both[0], 0.7 * both[0]]), 1000.0, sides=True)
    assert sides["peak_force_asymmetry"] == pytest.approx((0.3 - 0.7) / 0.7 * 100)


# ------------------------------------------------------------------ bad input


def test_nan_is_an_error() -> None:
    f = simulate_cmj().force.copy()
    f[2000] = np.nan
    with pytest.raises(KineticsInputError, match="NaN"):
        cmj_metrics(f, 1000.0)


def test_never_unloaded_is_an_error() -> None:
    f = np.full(4000, 700.0) + np.sin(np.arange(4000) / 50.0)
    with pytest.raises(KineticsInputError, match="no flight"):
        cmj_metrics(f, 1000.0)


def test_short_quiet_phase_is_an_error() -> None:
    sim = simulate_cmj(quiet_time=0.45)
    f = sim.force.copy()
    f[:250] = 0.0  # stepped on 0.2 s before the countermovement: 0.98 s on the plate before take-off
    with pytest.raises(KineticsInputError, match="quiet phase too short"):
        cmj_metrics(f, sim.fs)
    m = cmj_metrics(f, sim.fs, weigh_duration=0.15, takeoff_threshold=EXACT)
    assert m["jump_height"] == pytest.approx(sim.jump_height, rel=1e-8)


def test_quiet_phase_not_quiet_is_an_error() -> None:
    sim = simulate_cmj(quiet_time=1.5)
    f = sim.force.copy()
    t = np.arange(f.size) / 1000.0
    f[:1400] += 40.0 * np.sin(2 * np.pi * 3.0 * t[:1400])  # swaying before the jump
    with pytest.raises(KineticsInputError, match="not quiet"):
        cmj_metrics(f, 1000.0)


def test_flag_mode_keeps_good_trials() -> None:
    good = simulate_cmj(noise_sd=1.0, seed=1).force
    bad = np.full(good.size, 650.0)
    m = cmj_metrics(np.stack([good, bad]), 1000.0, on_invalid="flag")
    assert np.isfinite(m["jump_height"][0]) and np.isnan(m["jump_height"][1])
    assert m.flags["no_flight"].tolist() == [False, True]
    with pytest.raises(KineticsInputError, match=r"force\[1\]"):
        cmj_metrics(np.stack([good, bad]), 1000.0)


def test_bad_arguments() -> None:
    f = simulate_cmj().force
    with pytest.raises(KineticsInputError):
        cmj_metrics(f, -1.0)
    with pytest.raises(KineticsInputError, match="on_invalid"):
        cmj_metrics(f, 1000.0, on_invalid="ignore")  # type: ignore[arg-type]
    with pytest.raises(KineticsInputError, match="sides"):
        cmj_metrics(np.stack([f, f, f]), 1000.0, sides=True)
    with pytest.raises(KineticsInputError, match="drop_height"):
        drop_jump_metrics(simulate_drop_jump().force, 1000.0, drop_height=-0.3)
    with pytest.raises(KineticsInputError, match="no drop-jump contact"):
        drop_jump_metrics(f, 1000.0)
    with pytest.raises(KineticsInputError, match="no hop"):
        hop_metrics(f, 1000.0)
