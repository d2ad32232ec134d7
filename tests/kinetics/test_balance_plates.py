"""COP from plates, two-plate combination, composites, preprocessing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from kinetics import Channel, DeviceInfo, DeviceRecording, KineticsInputError
from kinetics.balance import (
    butter_lowpass,
    combine_plates,
    cop_from_cells,
    cop_from_recording,
    cop_from_wrench,
    limits_of_stability,
    romberg_quotient,
    single_leg_stance,
    swarii,
    sway_metrics,
    weight_bearing,
)
from kinetics.simulate import sway as sim

# Cells: back-left, back-right, front-right, front-left (x ML right +, y AP forward +), metres.
CELLS = np.array([[-0.2, -0.15], [0.2, -0.15], [0.2, 0.15], [-0.2, 0.15]])


def test_four_cell_plate_known_forces_give_known_cop() -> None:
    forces = np.array([[100.0], [200.0], [300.0], [400.0]])
    plate = cop_from_cells(forces, CELLS)
    x = (-0.2 * 100 + 0.2 * 200 + 0.2 * 300 - 0.2 * 400) / 1000
    y = (-0.15 * 100 - 0.15 * 200 + 0.15 * 300 + 0.15 * 400) / 1000
    assert plate.cop[0, 0] == pytest.approx(x, abs=1e-15)
    assert plate.cop[1, 0] == pytest.approx(y, abs=1e-15)
    assert plate.fz[0] == 1000.0
    assert plate.front_share is not None and plate.front_share[0] == pytest.approx(0.7, abs=1e-14)


def test_simulated_cell_forces_round_trip() -> None:
    cop = sim.random_walk_sway(100.0, 10.0, batch=(3,), seed=2) + np.array([[0.01], [0.03]])
    fz = 650.0 + np.sin(np.arange(1000) / 50.0)
    forces = sim.cell_forces(cop, fz, CELLS)
    plate = cop_from_cells(forces, CELLS)
    np.testing.assert_allclose(plate.cop, cop, rtol=0, atol=1e-14)
    np.testing.assert_allclose(plate.fz, np.broadcast_to(fz, (3, 1000)), rtol=1e-13)
    assert plate.fully_loaded


def test_six_axis_plate_with_surface_offset() -> None:
    cop = np.array([[0.05, -0.02, 0.0], [0.10, 0.04, -0.07]])
    fz = np.array([700.0, 650.0, 720.0])
    wrench = sim.plate_wrench(cop, fz, fx=[12.0, -8.0, 3.0], fy=[-5.0, 9.0, 0.5], tz=0.4, dz=0.045)
    plate = cop_from_wrench(wrench, dz=0.045)
    np.testing.assert_allclose(plate.cop, cop, atol=1e-15)
    # Ignoring the offset moves the COP by Fx·dz/Fz: the sign convention matters.
    naive = cop_from_wrench(wrench, dz=0.0)
    assert naive.cop[0, 0] == pytest.approx(0.05 - 12.0 * 0.045 / 700.0, abs=1e-15)


def test_bds_forces_give_the_file_cop(shared_data: Path) -> None:
    a = np.loadtxt(shared_data / "balance-bds" / "BDS00001.txt", skiprows=1, max_rows=500)
    # In the BDS plate's own frame (x AP, y ML, z up, moments at the surface) our formula with dz = 0 is the
    # data set's COPx = −My/Fz, COPy = Mx/Fz, and reproduces its COP columns (cm, 6 decimals).
    fx, fy, fz, mx, my, mz = (a[:, i] for i in range(1, 7))
    plate = cop_from_wrench(np.stack([fx, fy, fz, mx, my, mz]))
    np.testing.assert_allclose(plate.cop[0] * 100, a[:, 7], atol=1e-6)
    np.testing.assert_allclose(plate.cop[1] * 100, a[:, 8], atol=1e-6)


def test_unloaded_plate_gives_nan_and_a_flag_never_a_blow_up() -> None:
    forces = np.zeros((4, 6))
    forces[:, :3] = 150.0
    forces[:, 3] = 1e-9
    forces[:, 4] = -1e-3
    plate = cop_from_cells(forces, CELLS)
    assert plate.loaded.tolist() == [True, True, True, False, False, False]
    assert np.all(np.isnan(plate.cop[:, 3:])) and np.all(np.isfinite(plate.cop[:, :3]))
    assert not plate.fully_loaded
    with pytest.raises(KineticsInputError, match="missing samples"):
        sway_metrics(np.repeat(plate.cop, 200, axis=-1), 100.0)
    w = np.zeros((6, 4))
    w[2] = [0.0, 1e-12, 5.0, 600.0]
    w[3] = 1.0
    p6 = cop_from_wrench(w)
    assert p6.loaded.tolist() == [False, False, False, True]
    assert np.all(np.isnan(p6.cop[:, :3]))


def test_recording_with_geometry() -> None:
    info = DeviceInfo(
        name="plate",
        kind="plate",
        rate=100.0,
        channels=tuple(Channel(f"cell_{i}", "N") for i in range(4)),
        geometry={"cell_positions": CELLS},
        value_dtype="float64",
    )
    cop = np.array([[0.02, -0.01], [0.05, 0.0]])
    values = sim.cell_forces(cop, 600.0, CELLS)
    rec = DeviceRecording(info, np.array([0.0, 0.01]), np.array([0, 1]), values)
    np.testing.assert_allclose(cop_from_recording(rec).cop, cop, atol=1e-15)


def test_two_plates_net_cop_and_shares() -> None:
    cop_l = np.array([[0.01, 0.0], [0.02, 0.05]])
    cop_r = np.array([[-0.01, 0.02], [0.0, -0.03]])
    left = cop_from_cells(sim.cell_forces(cop_l, [300.0, 0.0], CELLS), CELLS)
    right = cop_from_cells(sim.cell_forces(cop_r, [500.0, 600.0], CELLS), CELLS)
    both = combine_plates(left, right, left_origin=(-0.25, 0.0), right_origin=(0.25, 0.0))
    expected_x0 = (300 * (0.01 - 0.25) + 500 * (-0.01 + 0.25)) / 800
    assert both.cop[0, 0] == pytest.approx(expected_x0, abs=1e-15)
    assert both.share_left[0] == pytest.approx(300 / 800) and both.share_right[0] == pytest.approx(500 / 800)
    # Sample 1: left foot in the air → the net COP is the right foot's.
    assert both.share_left[1] == 0.0
    np.testing.assert_allclose(both.cop[:, 1], cop_r[:, 1] + [0.25, 0.0], atol=1e-15)
    assert np.all(np.isnan(both.left[:, 1]))
    # Front share = front cells' force / total, summed over plates.
    fl = sim.cell_forces(cop_l, [300.0, 0.0], CELLS)
    fr = sim.cell_forces(cop_r, [500.0, 600.0], CELLS)
    front = (fl[2:, 0].sum() + fr[2:, 0].sum()) / 800
    assert both.share_front is not None and both.share_front[0] == pytest.approx(front, abs=1e-14)
    wb = weight_bearing(np.full(100, 300.0), np.full(100, 500.0))
    assert wb["weight_share_left"] == pytest.approx(0.375)
    assert wb["weight_bearing_asymmetry"] == pytest.approx(-0.25)
    with pytest.raises(KineticsInputError, match="nobody"):
        weight_bearing(np.zeros(10), np.ones(10))


def test_romberg_quotient() -> None:
    eo = sway_metrics(sim.random_walk_sway(50.0, 30.0, sd=(0.002, 0.003), seed=1), 50.0)
    ec = sway_metrics(sim.random_walk_sway(50.0, 30.0, sd=(0.004, 0.006), seed=1), 50.0)
    q = romberg_quotient(ec, eo, key="ellipse_area_95")
    assert q["romberg_quotient"] == pytest.approx(4.0, rel=1e-9)  # same walk scaled by 2 on both axes
    assert romberg_quotient(ec, eo, key="rms_ap")["romberg_quotient"] == pytest.approx(2.0, rel=1e-9)
    assert romberg_quotient(3.0, 2.0)["romberg_quotient"] == 1.5
    with pytest.raises(KineticsInputError, match="positive"):
        romberg_quotient(1.0, 0.0)


@pytest.mark.parametrize("touchdown", [12.0, None])
def test_single_leg_stance_time(touchdown: float | None) -> None:
    fs, bw, ramp, contact = 200.0, 700.0, 0.2, 20.0
    stance, other = sim.single_leg_stance_forces(
        fs, 20.0, body_weight=bw, lift_time=2.0, touchdown_time=touchdown, ramp=ramp
    )
    m = single_leg_stance(stance, fs, fz_other=other, contact_force=contact)
    start = 2.0 + ramp * (1 - 2 * contact / bw)
    assert m["stance_start"] == pytest.approx(start, abs=1.5 / fs)
    if touchdown is None:
        assert m.flags["balance_lost"] is False
        assert m["stance_time"] == pytest.approx(20.0 - start, abs=1.5 / fs)
    else:
        end = touchdown + ramp * contact / (0.4 * bw)
        assert m.flags["balance_lost"] is True
        assert m["stance_time"] == pytest.approx(end - start, abs=1.5 / fs)
    assert m["body_weight"] == pytest.approx(bw, rel=1e-9)


def test_single_leg_stance_step_off_a_single_plate() -> None:
    fs = 100.0
    fz = np.full(1500, 680.0)
    fz[1000:] = 5.0  # stepped off at 10 s
    fz[400] = 100.0  # a one-sample glitch is not a loss
    m = single_leg_stance(fz, fs)
    assert m["stance_time"] == pytest.approx(10.0, abs=1e-9)
    both = single_leg_stance(np.stack([fz, np.full(1500, 690.0)]), fs)
    assert both.flags["balance_lost"].tolist() == [True, False]
    with pytest.raises(KineticsInputError, match="nobody"):
        single_leg_stance(np.zeros(100), fs)


def test_limits_of_stability() -> None:
    t = np.linspace(0, 1, 200)
    reach = {"forward": 0.12, "right": 0.08, "backward": 0.05, "left": 0.07}
    segments = []
    for name, (ux, uy) in {"forward": (0, 1), "right": (1, 0), "backward": (0, -1), "left": (-1, 0)}.items():
        r = reach[name] * np.sin(np.pi * t)
        segments.append(np.stack([ux * r, uy * r]))
    cop = np.concatenate(segments, axis=-1) + np.array([[0.01], [0.02]])
    m = limits_of_stability(cop, centre=(0.01, 0.02), directions=4)
    for name, value in reach.items():
        assert m[f"los_{name}"] == pytest.approx(value, rel=1e-4)
    expected_area = 0.5 * (0.12 + 0.05) * (0.08 + 0.07)
    assert m["los_area"] == pytest.approx(expected_area, rel=1e-3)
    m8 = limits_of_stability(cop, centre=(0.01, 0.02))
    assert m8["los_forward_right"] == 0.0 and m8["los_forward"] == pytest.approx(0.12, rel=1e-4)


def _swarii_by_definition(t: np.ndarray, x: np.ndarray, fs_out: float, window: float) -> np.ndarray:
    """Audiffren & Contal's algorithm written sample by sample."""
    half = 0.5 * (window - 1e-6)
    out = []
    c = t[0]
    k = 0
    while c < t[-1]:
        idx = [i for i in range(len(t)) if abs(t[i] - c) < half]
        if len(idx) == 1:
            out.append(x[idx[0]])
        else:
            value = weight = 0.0
            for j, i in enumerate(idx):
                left = max(t[0], c - half) if j == 0 else 0.5 * (t[i] + t[i - 1])
                right = min(t[-1], c + half) if j == len(idx) - 1 else 0.5 * (t[i + 1] + t[i])
                value += x[i] * (right - left)
                weight += right - left
            out.append(value / weight)
        k += 1
        c = t[0] + k / fs_out
    return np.array(out)


def test_swarii_matches_its_definition_on_irregular_times() -> None:
    rng = np.random.default_rng(7)
    t = np.cumsum(rng.uniform(0.005, 0.02, size=600))
    x = np.cumsum(rng.normal(size=600))
    tt, fast = swarii(np.stack([x, -2 * x]), t, fs_out=25.0)
    slow = _swarii_by_definition(t, x, 25.0, 0.08)
    np.testing.assert_allclose(fast[0], slow, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast[1], -2 * slow, rtol=1e-12, atol=1e-12)
    assert tt[1] - tt[0] == pytest.approx(0.04)


def test_swarii_fills_empty_windows_and_lowpass_checks_rate() -> None:
    t = np.concatenate([np.arange(0, 1, 0.01), np.arange(1.5, 3, 0.01)])  # a 0.5 s hole
    x = 2.0 * t + 1.0  # a line: a window full of samples averages it back to the line exactly
    tt, y = swarii(x, t, fs_out=25.0)
    full = ((tt > 0.05) & (tt + 0.04 < 0.99)) | ((tt - 0.04 > 1.5) & (tt < 2.9))
    np.testing.assert_allclose(y[full], 2.0 * tt[full] + 1.0, atol=1e-12)
    # Windows in the hole (no sample within 0.04 s) are linear between their neighbours: zero 2nd difference.
    empty = np.flatnonzero((tt - 0.04 > 0.99) & (tt + 0.04 < 1.5))
    run = y[empty[0] - 1 : empty[-1] + 2]
    np.testing.assert_allclose(np.diff(run, 2), 0.0, atol=1e-12)
    assert empty.size >= 8
    with pytest.raises(KineticsInputError, match="Nyquist"):
        butter_lowpass(np.zeros(100), 15.0, cutoff=10.0)
    flat = butter_lowpass(np.full((2, 300), 3.0), 25.0)
    np.testing.assert_allclose(flat, 3.0, atol=1e-12)
    assert math.isfinite(float(flat.sum()))
