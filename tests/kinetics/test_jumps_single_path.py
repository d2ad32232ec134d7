"""The one-trace path of kinetics.jumps (1-D input, scalar indices and slices) gives bit-for-bit the numbers,
flags and errors of the batch path run on the same trace as a batch of one."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.jumps import _single, cmj_metrics, drop_jump_metrics, height_from_velocity, hop_metrics, sj_metrics
from kinetics.results import Metrics
from kinetics.simulate.jumps import simulate_cmj, simulate_drop_jump, simulate_hops, simulate_squat_jump

EXACT = 1e-6
FS = 1000.0


def _same_bits(a: Any, b: Any) -> bool:
    x, y = np.asarray(a), np.asarray(b)
    if x.dtype == bool or y.dtype == bool:
        return bool(x.dtype == y.dtype and np.array_equal(x, y))
    return bool(x.shape == y.shape and np.array_equal(x.view(np.int64), y.astype(np.float64).view(np.int64)))


def _assert_identical(single: Metrics, batched: Metrics) -> None:
    assert list(single) == list(batched)
    for key in single:
        assert type(single[key]) is type(batched[key]), key
        assert _same_bits(single[key], batched[key]), (key, single[key], batched[key])
    assert list(single.flags) == list(batched.flags)
    for key in single.flags:
        assert type(single.flags[key]) is type(batched.flags[key]) and single.flags[key] == batched.flags[key], key
    assert dict(single.units) == dict(batched.units)
    assert single.method == batched.method and dict(single.params) == dict(batched.params)


def _check(fn: Callable[..., Metrics], force: np.ndarray, fs: float = FS, **kw: Any) -> Metrics:
    """Score ``force`` as one trace and as a batch of one; assert they agree bit for bit."""
    single = fn(force, fs, **kw)
    assert all(isinstance(single[k], float) for k in single)
    _assert_identical(single, fn(force[None], fs, **kw).select(0))
    return single


@pytest.mark.parametrize("seed", range(12))
def test_cmj_exact_simulations(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sim = simulate_cmj(flight_time=rng.uniform(0.25, 0.62), body_mass=rng.uniform(45.0, 120.0),
                       quiet_time=rng.uniform(1.1, 2.0))
    m = _check(cmj_metrics, sim.force, takeoff_threshold=EXACT)
    assert m["jump_height"] == pytest.approx(sim.jump_height, rel=1e-8)
    _check(cmj_metrics, sim.force)  # default 20 N threshold: interpolated crossings


@pytest.mark.parametrize("seed", range(12))
def test_cmj_noisy_simulations(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    sim = simulate_cmj(flight_time=rng.uniform(0.25, 0.62), body_mass=rng.uniform(45.0, 120.0),
                       noise_sd=float(rng.choice([0.5, 2.0, 4.0])), seed=seed)
    m = _check(cmj_metrics, sim.force)
    assert m["jump_height"] == pytest.approx(sim.jump_height, rel=0.05)
    _check(cmj_metrics, sim.force, onset_sd=3.0, onset_step_back=0.0, weigh_duration=0.5, landing_window=0.2)
    _check(cmj_metrics, sim.force[::2].copy(), fs=500.0)  # blocks of 5 samples
    _check(cmj_metrics, np.repeat(sim.force, 3), fs=3000.0)  # blocks of 30: the reduction path


@pytest.mark.parametrize("seed", range(6))
def test_squat_jumps(seed: int) -> None:
    clean = simulate_squat_jump(flight_time=0.3 + 0.04 * seed)
    _check(sj_metrics, clean.force, takeoff_threshold=EXACT)
    dipped = simulate_squat_jump(flight_time=0.44, countermovement=0.02 * seed, noise_sd=1.0, seed=seed)
    m = _check(sj_metrics, dipped.force)
    if seed == 0:
        assert not m.flags["countermovement"]
    if seed >= 3:
        assert m.flags["countermovement"]


@pytest.mark.parametrize("share", [0.4, 0.5, 0.63])
def test_two_plates(share: float) -> None:
    exact = simulate_cmj(left_share=share)
    _check(cmj_metrics, exact.force, sides=True, takeoff_threshold=EXACT)
    noisy = simulate_cmj(left_share=share, noise_sd=1.5, seed=int(share * 100))
    m = _check(cmj_metrics, noisy.force, sides=True)
    assert "peak_propulsive_force_asymmetry" in m
    sj = simulate_squat_jump(left_share=share, noise_sd=1.0, seed=3)
    _check(sj_metrics, sj.force, sides=True)


@pytest.mark.parametrize(("name", "fs", "kw"), [("jump1.txt", 450.0, {}), ("jump2.txt", 450.0, {}),
                                                ("GRFZjump.txt", 600.0, {"weigh_duration": 0.15})])
def test_bmc_files(shared_data: Path, name: str, fs: float, kw: dict[str, Any]) -> None:
    path = shared_data / "jumps-bmc" / name
    force = np.loadtxt(path) if name == "GRFZjump.txt" else np.loadtxt(path, skiprows=1)[:, 1]
    _check(cmj_metrics, force, fs, **kw)
    _check(sj_metrics, force, fs, **kw)


def _rejected() -> dict[str, np.ndarray]:
    sim = simulate_cmj(quiet_time=1.5)
    swaying = sim.force.copy()
    swaying[:1400] += 40.0 * np.sin(2 * np.pi * 3.0 * np.arange(1400) / FS)
    short = simulate_cmj(quiet_time=0.45).force.copy()
    short[:250] = 0.0
    return {
        "no_flight": np.full(4000, 700.0) + np.sin(np.arange(4000) / 50.0),
        "quiet_phase_not_quiet": swaying,
        "quiet_phase_too_short": short,
        "no_flight_at_all": np.full(3000, 0.0),
    }


@pytest.mark.parametrize("case", list(_rejected()))
@pytest.mark.parametrize("fn", [cmj_metrics, sj_metrics])
def test_rejected_trials_flag_and_raise(case: str, fn: Callable[..., Metrics]) -> None:
    force = _rejected()[case]
    m = _check(fn, force, on_invalid="flag")
    assert all(math.isnan(m[k]) for k in m)
    assert sum(bool(v) for v in m.flags.values()) == 1
    with pytest.raises(KineticsInputError) as one:
        fn(force, FS)
    with pytest.raises(KineticsInputError) as batched:
        fn(force[None], FS)
    # the same reason and remedy; only the trial's address differs ("force" vs "force[0]")
    assert str(one.value) == str(batched.value).replace("force[0]", "force", 1)


def test_drop_jumps_and_hops() -> None:
    drop = simulate_drop_jump(drop_height=0.4, contact_time=0.22, flight_time=0.42)
    _check(drop_jump_metrics, drop.force, drop_height=0.4, takeoff_threshold=EXACT)
    noisy = simulate_drop_jump(drop_height=0.3, noise_sd=2.0, seed=5)
    _check(drop_jump_metrics, noisy.force)
    two = simulate_drop_jump(left_share=0.45, noise_sd=1.0, seed=2)
    _check(drop_jump_metrics, two.force, drop_height=0.3, sides=True)
    hops = simulate_hops(n_hops=10, contact_time=0.17, flight_time=0.38, body_mass=64.0)
    _check(hop_metrics, hops.force, takeoff_threshold=EXACT)
    _check(hop_metrics, simulate_hops(n_hops=7, noise_sd=2.0, seed=1).force, body_mass=70.0)
    _check(hop_metrics, np.full(3000, 650.0), on_invalid="flag")


@pytest.mark.parametrize("a", [0.0, -0.0, 1.5, -2.0, math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("b", [0.0, -0.0, 1.5, -2.0, math.inf, math.nan])
def test_scalar_helpers_follow_numpy(a: float, b: float) -> None:
    with np.errstate(all="ignore"):
        assert _same_bits(_single.np_max(a, b), np.maximum(a, b))
        assert _same_bits(_single.np_min(a, b), np.minimum(a, b))
        assert _same_bits(_single.divide(a, b), np.float64(a) / np.float64(b))
        assert _same_bits(_single.height_from_velocity(a), height_from_velocity(np.array(a)))
    for x in (a, b, 0.5, 1.0, 1.25):
        assert _same_bits(_single.clip01(x), np.clip(np.array([x]), 0.0, 1.0)[0])
