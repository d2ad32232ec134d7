"""Symmetry indices, torque, body-mass normalisation and force control on known numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.strength import (
    bishop_asymmetry,
    force_control_metrics,
    limb_symmetry_index,
    normalise_to_body_mass,
    symmetry_index,
    torque,
)


def test_symmetry_indices_on_known_numbers() -> None:
    assert limb_symmetry_index(90.0, 100.0) == pytest.approx(90.0)
    assert symmetry_index(110.0, 90.0) == pytest.approx(20.0)  # 20 / 100 × 100
    assert symmetry_index(90.0, 110.0) == pytest.approx(-20.0)
    assert bishop_asymmetry(100.0, 80.0) == pytest.approx(20.0)  # right stronger: +
    assert bishop_asymmetry(80.0, 100.0) == pytest.approx(-20.0)  # left stronger: −
    assert bishop_asymmetry(50.0, 50.0) == 0.0 and symmetry_index(50.0, 50.0) == 0.0
    np.testing.assert_allclose(limb_symmetry_index(np.array([[45.0, 50.0]]), np.array([50.0, 40.0])), [[90.0, 125.0]])
    np.testing.assert_allclose(bishop_asymmetry([100.0, 75.0], [75.0, 100.0]), [25.0, -25.0])


@pytest.mark.parametrize(("a", "b"), [(0.0, 10.0), (10.0, -1.0), (math.nan, 1.0), ([1.0, 2.0], [1.0, 2.0, 3.0])])
def test_symmetry_rejects_bad_values(a: object, b: object) -> None:
    for fn in (limb_symmetry_index, symmetry_index, bishop_asymmetry):
        with pytest.raises(KineticsInputError):
            fn(a, b)


def test_torque_and_body_mass() -> None:
    assert torque(200.0, 0.35) == pytest.approx(70.0)
    np.testing.assert_allclose(torque(np.array([100.0, 300.0]), 0.3), [30.0, 90.0])
    assert normalise_to_body_mass(700.0, 70.0) == pytest.approx(10.0)
    assert normalise_to_body_mass(torque(210.0, 0.4), 70.0) == pytest.approx(1.2)
    with pytest.raises(KineticsInputError, match="lever_arm"):
        torque(100.0, 35.0)  # cm, not m
    with pytest.raises(KineticsInputError, match="lever_arm"):
        torque(100.0, 0.0)
    with pytest.raises(KineticsInputError, match="body_mass"):
        normalise_to_body_mass(100.0, 70000.0)  # g
    with pytest.raises(KineticsInputError, match="value"):
        normalise_to_body_mass(math.nan, 70.0)


FS = 100.0


def test_force_control_errors_on_a_constructed_signal() -> None:
    n = 1000
    target = 100.0
    bias, spread = 2.0, 3.0
    force = target + bias + np.where(np.arange(n) % 2 == 0, spread, -spread)  # errors +5, −1 alternating
    m = force_control_metrics(force, target, FS, band=4.0)
    assert m["constant_error"] == pytest.approx(bias, abs=1e-12)
    assert m["variable_error"] == pytest.approx(spread, abs=1e-12)
    assert m["absolute_error"] == pytest.approx(3.0, abs=1e-12)  # (5 + 1) / 2
    assert m["total_error"] == pytest.approx(math.hypot(bias, spread), abs=1e-12)
    assert m["time_in_band"] == pytest.approx(n / 2 / FS)  # only the −1 N samples are within ±4 N
    assert m["time_in_band_fraction"] == 0.5
    assert m.method == "schmidt_lee" and m.unit("constant_error") == "N" and m.unit("time_in_band") == "s"
    wide = force_control_metrics(force, target, FS)  # ±10 % of 100 N
    assert wide["time_in_band_fraction"] == 1.0 and wide.params["band_pct"] == 10.0


def test_force_control_follows_a_ramp_target_and_a_window() -> None:
    t = np.arange(1000) / FS
    target = 20.0 * t  # a ramp
    force = target - 1.5
    m = force_control_metrics(force, target, FS, band=1.0, window=(2.0, 8.0))
    assert m["constant_error"] == pytest.approx(-1.5) and m["variable_error"] == pytest.approx(0.0, abs=1e-12)
    assert m["time_in_band"] == 0.0 and m["scored_time"] == pytest.approx(6.0)
    pct = force_control_metrics(force, target, FS, band_pct=10.0, window=(2.0, 8.0))
    # in band where 1.5 ≤ 0.1 × 20 t, i.e. t ≥ 0.75 s: the whole window
    assert pct["time_in_band_fraction"] == 1.0


def test_force_control_batched_equals_single() -> None:
    rng = np.random.default_rng(4)
    force = 50.0 + rng.normal(0, 3.0, (2, 3, 500))
    batch = force_control_metrics(force, 50.0, FS, band=2.0)
    for idx in np.ndindex(2, 3):
        single = force_control_metrics(force[idx], 50.0, FS, band=2.0)
        for key in single:
            assert single[key] == batch[key][idx]


def test_force_control_bad_input() -> None:
    with pytest.raises(KineticsInputError, match="target"):
        force_control_metrics(np.ones(100), np.ones(50), FS)
    with pytest.raises(KineticsInputError, match="target"):
        force_control_metrics(np.ones(100), math.nan, FS)
    with pytest.raises(KineticsInputError, match="band"):
        force_control_metrics(np.ones(100), 1.0, FS, band=-1.0)
    with pytest.raises(KineticsInputError, match="window"):
        force_control_metrics(np.ones(100), 1.0, FS, window=(5.0, 6.0))
    with pytest.raises(KineticsInputError, match="NaN"):
        force_control_metrics(np.r_[np.ones(10), np.nan], 1.0, FS)
