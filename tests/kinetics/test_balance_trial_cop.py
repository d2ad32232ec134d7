"""COP of a recorded trial: plates put on one grid, gaps bridged, two feet combined in one frame."""

from __future__ import annotations

import numpy as np
import pytest

from kinetics import Channel, DeviceInfo, DeviceRecording, Gap, KineticsInputError, Trial, TrialMeta
from kinetics.balance import PLATE_HALF_SPACING, cop_from_trial
from kinetics.simulate.sway import cell_forces

CELLS = np.array([[-0.15, 0.20], [0.15, 0.20], [0.15, -0.20], [-0.15, -0.20]])
FS = 100.0


def _plate(name: str, cop: np.ndarray, fz: np.ndarray, keep: np.ndarray | None = None) -> DeviceRecording:
    info = DeviceInfo(
        name=name,
        kind="plate",
        rate=FS,
        channels=tuple(Channel(f"cell_{i}", "N") for i in range(4)),
        geometry={"cell_positions": CELLS},
        value_dtype="float64",
    )
    counter = np.arange(fz.size)
    values = cell_forces(cop, fz, CELLS)
    if keep is None:
        return DeviceRecording(info, counter / FS, counter, values)
    gaps = (Gap(int(counter[~keep][0]), int(counter[~keep][-1]), 0.0, 0.0),)
    return DeviceRecording(info, counter[keep] / FS, counter[keep], values[:, keep], gaps)


def test_two_plates_give_the_weighted_net_cop_in_one_frame() -> None:
    n = 500
    t = np.arange(n) / FS
    cop_l = np.vstack([0.01 * np.sin(t), 0.02 * np.cos(t)])
    cop_r = np.vstack([-0.01 * np.cos(t), 0.015 * np.sin(2 * t)])
    fz_l, fz_r = 400.0 + 50 * np.sin(t), 300.0 - 50 * np.sin(t)
    trial = Trial.from_recordings(TrialMeta(), [_plate("plate_right", cop_r, fz_r), _plate("plate_left", cop_l, fz_l)])
    got = cop_from_trial(trial)
    assert got.plates == ("plate_left", "plate_right") and got.fs == FS
    x_l, x_r = cop_l[0] - PLATE_HALF_SPACING, cop_r[0] + PLATE_HALF_SPACING
    expected_x = (fz_l * x_l + fz_r * x_r) / (fz_l + fz_r)
    expected_y = (fz_l * cop_l[1] + fz_r * cop_r[1]) / (fz_l + fz_r)
    np.testing.assert_allclose(got.cop[0], expected_x, atol=1e-12)
    np.testing.assert_allclose(got.cop[1], expected_y, atol=1e-12)
    assert got.share_left is not None
    np.testing.assert_allclose(got.share_left, fz_l / (fz_l + fz_r), atol=1e-12)


def test_a_gap_is_bridged_on_the_counter_grid() -> None:
    n = 300
    cop = np.vstack([np.linspace(-0.02, 0.02, n), np.zeros(n)])
    keep = np.ones(n, dtype=bool)
    keep[100:120] = False
    rec = _plate("plate", cop, np.full(n, 700.0), keep)
    time, values = rec.on_regular_grid()
    np.testing.assert_allclose(time, np.arange(n) / FS, atol=1e-15)
    assert values.shape == (4, n)
    got = cop_from_trial(Trial.from_recordings(TrialMeta(), [rec]))
    np.testing.assert_allclose(got.cop[0], cop[0], atol=1e-12)  # a linear COP is bridged exactly
    assert got.share_left is None


def test_plate_count_is_checked() -> None:
    with pytest.raises(KineticsInputError, match="0 force plates"):
        cop_from_trial(Trial.from_recordings(TrialMeta(), []))
