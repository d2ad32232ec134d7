"""Signal scripts and front ends of the simulated sensors (pure: no radio)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs import SampleBlock, codec_for
from drivers.codecs import kinetics_profile as profile
from drivers.devices import all_kinds, device_kind
from drivers.sim.frontend import framer_for
from drivers.sim.signals import (
    CounterNoise,
    body_sway,
    body_weight,
    counter_ramp,
    countermovement_jumps,
    default_script,
    efforts,
    euler_angles,
    flexion_cycles,
    standing_sway,
)
from kinetics._checks import KineticsInputError
from kinetics.simulate import force as sim_force
from kinetics.simulate import imu as sim_imu
from kinetics.simulate import jumps as sim_jumps

G = 9.80665
CELLS = device_kind("plate").geometry["cell_positions"]


@pytest.mark.parametrize("kind", all_kinds(), ids=lambda k: k.key)
def test_every_default_script_is_deterministic_whatever_the_span(kind: object) -> None:
    k = device_kind(kind.key)  # type: ignore[attr-defined]
    script = default_script(k, seed=5)
    assert (script.rate, script.n_channels) == (k.rate, k.n_channels)
    whole = script.values(100, 9000)
    pieces = np.concatenate([script.values(100, 4000), script.values(4100, 1), script.values(4101, 4999)], axis=1)
    assert whole.shape == (k.n_channels, 9000) and np.all(np.isfinite(whole))
    assert np.array_equal(whole, pieces)
    assert np.array_equal(default_script(k, seed=5).values(100, 9000), whole)
    assert not np.array_equal(default_script(k, seed=6).values(100, 9000), whole)  # the seed draws the noise


def test_counter_noise_never_repeats_and_has_its_sd() -> None:
    noise = CounterNoise([2.0, 0.0], seed=1)
    a = noise.values(0, 50_000)
    assert a[0].std() == pytest.approx(2.0, rel=0.02) and not a[1].any()
    assert not np.array_equal(a[0, :4096], a[0, 4096:8192])
    with pytest.raises(KineticsInputError):
        noise.values(-1, 3)


def test_efforts_are_the_exact_repeated_efforts_plus_the_zero_offset() -> None:
    script = efforts(500.0, fmax=(200.0, 180.0), zero_offset=3.0, noise_sd=0.0)
    trace, onsets = sim_force.repeated_efforts(500.0, fmax=(200.0, 180.0), tau=0.15, rise=3.0, release=0.5,
                                               rest=3.0, lead=2.0, tail=0.0)
    period = trace.size
    assert script.period == pytest.approx(period / 500.0)
    assert np.array_equal(script.values(0, period)[0], trace + 3.0)
    assert np.array_equal(script.values(period, period), script.values(0, period))  # it loops
    assert script.values(0, 1)[0, 0] == 3.0
    top = onsets[0] + round(3.0 * 500)
    assert script.values(0, period)[0, top] == pytest.approx(3.0 + 200.0 * (1 - math.exp(-3.0 / 0.15)), abs=1e-9)
    # the same scenario at another rate keeps its times
    assert script.at_rate(100.0).period == pytest.approx(script.period, abs=2 / 100.0)  # one sample per effort


def test_pneumatic_efforts_are_pressure_over_the_bulb_area() -> None:
    script = efforts(100.0, fmax=(250.0,), pressure_area=2.5e-3, noise_sd=0.0)
    force = efforts(100.0, fmax=(250.0,), noise_sd=0.0)
    n = round(script.period * 100)
    assert np.allclose(script.values(0, n), force.values(0, n) / 2.5e-3, rtol=1e-12, atol=0)
    assert script.truth["pmax"] == pytest.approx(100_000.0)


def test_one_plate_puts_body_weight_at_the_sway() -> None:
    script = standing_sway(1000.0, body_mass=75.0, noise_sd=0.0, person_seed=4)
    cells = script.values(0, 30_000)
    total = cells.sum(axis=0)
    assert np.allclose(total, 75.0 * G, rtol=0, atol=1e-9)
    cop = np.stack([CELLS[:, 0] @ cells, CELLS[:, 1] @ cells]) / total
    sway = body_sway(1000.0, person_seed=4)[:, :30_000]
    assert np.allclose(cop, sway, rtol=0, atol=1e-12)
    # quiet standing: millimetres, not centimetres
    assert 0.001 < sway[1].std() < 0.008 and np.abs(sway).max() < 0.03


def test_two_plates_share_one_person_by_the_moment_balance() -> None:
    left = standing_sway(1000.0, side="left", noise_sd=0.0, person_seed=2)
    right = standing_sway(1000.0, side="right", noise_sd=0.0, person_seed=2)
    l_cells, r_cells = left.values(0, 60_000), right.values(0, 60_000)
    fl, fr = l_cells.sum(axis=0), r_cells.sum(axis=0)
    assert np.allclose(fl + fr, 70.0 * G, rtol=0, atol=1e-9)
    assert 0.45 < fl.min() / (70 * G) and fl.max() / (70 * G) < 0.55
    cop_l = np.stack([CELLS[:, 0] @ l_cells / fl - 0.10, CELLS[:, 1] @ l_cells / fl])
    cop_r = np.stack([CELLS[:, 0] @ r_cells / fr + 0.10, CELLS[:, 1] @ r_cells / fr])
    combined = (fl * cop_l + fr * cop_r) / (fl + fr)
    assert np.allclose(combined, body_sway(1000.0, person_seed=2), rtol=0, atol=1e-12)


def test_the_sway_loops_without_a_jump() -> None:
    sway = body_sway(100.0, period=20.0, person_seed=9)
    steps = np.abs(np.diff(np.concatenate([sway, sway[:, :1]], axis=1), axis=1))
    assert steps[:, -1].max() < 5 * steps.std(axis=1).max() + steps.mean(axis=1).max()


def test_jumps_on_two_plates_add_up_to_the_simulated_cmj() -> None:
    left = countermovement_jumps(1000.0, side="left", left_share=0.4, noise_sd=0.0)
    right = countermovement_jumps(1000.0, side="right", left_share=0.4, noise_sd=0.0)
    jump = sim_jumps.simulate_cmj(fs=1000.0, body_mass=70.0, flight_time=0.5, quiet_time=2.0, after_time=2.0)
    n = jump.force.size
    total = left.values(0, n).sum(axis=0) + right.values(0, n).sum(axis=0)
    assert np.allclose(total, jump.force, rtol=0, atol=1e-9)
    flight = slice(round(jump.takeoff_time * 1000) + 1, round(jump.landing_time * 1000))
    assert np.all(np.abs(left.values(0, n)[:, flight]) < 1e-9)
    assert left.truth["jump_height"] == pytest.approx(jump.jump_height)


def test_flexion_cycles_rotate_the_goniometer_through_the_amplitude() -> None:
    script = flexion_cycles(200.0, amplitude=80.0, frequency=0.5, repetitions=3, gyr_noise=0, acc_noise=0)
    n = round(script.period * 200)
    v = script.values(0, n)
    gyr, acc = v[:3], v[3:]
    assert np.allclose(np.linalg.norm(acc, axis=0), G, rtol=0, atol=1e-9)  # gravity only
    axis = gyr[:, np.argmax(np.linalg.norm(gyr, axis=0))]
    axis /= np.linalg.norm(axis)
    assert np.allclose(np.cross(gyr.T, axis), 0.0, atol=1e-12)  # a hinge: one axis
    angle = np.degrees(np.cumsum(gyr.T @ axis) / 200.0)
    assert angle.max() - angle.min() == pytest.approx(80.0, abs=1e-9)
    assert script.truth["peak_velocity_deg_s"] == pytest.approx(math.pi * 80.0 * 0.5)


def test_witmotion_angles_agree_with_the_accelerometer_tilt() -> None:
    script = flexion_cycles(100.0, channels="acc_gyr_angle", gyr_noise=0, acc_noise=0, angle_noise=0)
    v = script.values(0, round(script.period * 100))
    acc, angle = v[:3], v[6:]
    roll = np.degrees(np.arctan2(acc[1], acc[2]))
    pitch = np.degrees(np.arctan2(-acc[0], np.hypot(acc[1], acc[2])))
    assert np.allclose(angle[0], roll, atol=1e-9) and np.allclose(angle[1], pitch, atol=1e-9)
    rec = sim_imu.segment_motion(np.zeros(2), 100.0)
    assert np.allclose(euler_angles(rec.quat)[:, 0], angle[:, 0], atol=1e-9)  # at rest: the mounting pose


def test_body_weight_and_counter_ramp() -> None:
    scale = body_weight(mass=80.0, height=1.6, noise_sd=0.0)
    assert np.allclose(scale.values(0, 3), [[80.0] * 3, [31.25] * 3, [1.6] * 3])
    ramp = counter_ramp(100.0, 2, step=0.5, modulo=10)
    assert np.array_equal(ramp.values(8, 3), [[4.0, 4.5, 0.0], [4.5, 0.0, 0.5]])


def test_scripts_refuse_impossible_parameters() -> None:
    with pytest.raises(KineticsInputError, match="side"):
        standing_sway(100.0, side="middle")  # type: ignore[arg-type]
    with pytest.raises(KineticsInputError, match="body_mass"):
        standing_sway(100.0, body_mass=-1.0)
    with pytest.raises(KineticsInputError, match="channels"):
        flexion_cycles(100.0, channels="quaternions")  # type: ignore[arg-type]
    with pytest.raises(KineticsInputError, match="rate"):
        default_script(device_kind("plate"), rate=333.0)


# --- front ends ---------------------------------------------------------------------------------------------

RESOLUTION = {
    "push": [0.01], "grip": [0.01], "pull": [0.01], "pneumatic": [1.0], "plate": [0.01] * 4,
    "goniometer": [0.001] * 3 + [0.005] * 3, "ble-force": [0.001], "ble-weight-scale": [0.005, 0.1, 0.001],
}
RANGE = {"goniometer": 30.0, "witmotion-bwt901": 30.0, "ble-weight-scale": 60.0, "pneumatic": 1e6}


@pytest.mark.parametrize("kind", all_kinds(), ids=lambda k: k.key)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_what_the_front_end_says_goes_on_air_is_what_the_codec_decodes(kind: object, data: st.DataObject) -> None:
    k = device_kind(kind.key)  # type: ignore[attr-defined]
    framer, codec = framer_for(k), codec_for(k)
    top = RANGE.get(k.key, 5000.0)
    low = 0.0 if k.key == "ble-weight-scale" else -top
    n = data.draw(st.integers(1, framer.per_packet(247, k.rate, 1.0)))
    values = np.array(
        data.draw(st.lists(st.lists(st.floats(low, top), min_size=n, max_size=n), min_size=k.n_channels,
                           max_size=k.n_channels))
    )
    on_air, saturated = framer.on_air(values, None)
    assert not saturated.any()
    decoded = codec.decode(framer.encode(0, on_air, np.arange(n) / k.rate), 0)
    assert isinstance(decoded, SampleBlock)
    assert np.array_equal(decoded.values, on_air.astype(np.float32))
    if k.key in RESOLUTION:
        assert np.all(np.abs(on_air - values) <= np.asarray(RESOLUTION[k.key])[:, None] / 2 + 1e-9)


def test_profile_saturation_is_the_saturation_code_and_plain_clipping_elsewhere() -> None:
    push = framer_for(device_kind("push"))
    on_air, saturated = push.on_air(np.array([[50.0, 99.99, 100.0, -120.0, 1e9]]), 100.0)
    full = profile.layout_for(device_kind("push")).full_scale[0]
    assert np.allclose(on_air[0], [50.0, 99.99, full, -full, full], rtol=0, atol=1e-9)
    assert on_air[0, 2] == full and on_air[0, 3] == -full
    assert saturated.tolist() == [False, False, True, True, True]
    tindeq = framer_for(device_kind("tindeq-progressor"))
    clipped, hit = tindeq.on_air(np.array([[10.0, 300.0]]), 200.0)
    assert clipped[0, 1] == pytest.approx(200.0, rel=1e-7) and hit.tolist() == [False, True]


def test_packing_follows_the_profile_and_the_real_devices() -> None:
    plate, push = framer_for(device_kind("plate")), framer_for(device_kind("push"))
    assert plate.per_packet(23, 1000.0, 1.0) == 1 and plate.per_packet(247, 1000.0, 1.0) == 19
    assert push.per_packet(247, 1000.0, 1.0) == 20  # the 20 ms latency cap
    assert push.per_packet(247, 1000.0, 4.0) == 79  # 20 ms of wall time at 4× speed: as many as fit
    assert framer_for(device_kind("tindeq-progressor")).per_packet(23, 80.0, 1.0) == 4  # 34 bytes, whatever the MTU
    assert framer_for(device_kind("witmotion-bwt901")).per_packet(247, 100.0, 1.0) == 1
