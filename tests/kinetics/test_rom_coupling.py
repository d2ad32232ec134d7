"""Angle-specific strength: a goniometer angle and a dynamometer force joined on one session clock."""

from __future__ import annotations

import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.rom import force_at_angle


def _session() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # goniometer at 100 Hz from t = 10 s: a slow 0 → 90° sweep in 9 s; dynamometer at 80 Hz from t = 9.5 s
    angle_t = 10.0 + np.arange(901) / 100.0
    angle = 10.0 * (angle_t - 10.0)
    force_t = 9.5 + np.arange(int(10.5 * 80)) / 80.0 + 0.003  # its own instants
    true_angle = np.clip(10.0 * (force_t - 10.0), 0.0, 90.0)
    force = 100.0 + 50.0 * np.sin(np.pi * true_angle / 90.0)  # strongest at mid-range, 45°
    return angle_t, angle, force_t, force


def test_force_per_angle_bin_and_peak_angle() -> None:
    angle_t, angle, force_t, force = _session()
    out = force_at_angle(angle_t, angle, force_t, force, bins=np.arange(0.0, 91.0, 10.0))
    inside = (force_t >= 10.0) & (force_t <= 19.0)
    assert out.samples.sum() == np.count_nonzero(inside)  # force outside the angle recording is dropped
    np.testing.assert_allclose(out.bin_centers, np.arange(5.0, 90.0, 10.0))
    # max of 100 + 50 sin(πθ/90) in each bin, at the sample closest to the bin's best angle
    theta = 10.0 * (force_t[inside] - 10.0)
    f = force[inside]
    expected = [f[(theta >= lo) & (theta < lo + 10.0)].max() for lo in range(0, 90, 10)]
    np.testing.assert_allclose(out.force, expected, rtol=1e-12)
    assert out.peak_force == pytest.approx(150.0, abs=0.01)
    assert out.peak_force_angle == pytest.approx(45.0, abs=0.2)
    assert out.peak_force_time == pytest.approx(14.5, abs=0.02)
    m = out.metrics()
    assert m["peak_force_angle"] == out.peak_force_angle and m.unit("peak_force") == "N"


def test_mean_statistic_and_integer_bins() -> None:
    angle_t, angle, force_t, force = _session()
    out = force_at_angle(angle_t, angle, force_t, np.full_like(force, 42.0), bins=9, statistic="mean")
    assert out.bin_edges[0] == pytest.approx(0.0, abs=0.2) and out.bin_edges[-1] == pytest.approx(90.0, abs=0.2)
    np.testing.assert_allclose(out.force, 42.0)


def test_angle_gaps_drop_force_samples() -> None:
    angle_t, angle, force_t, force = _session()
    gap = (angle_t > 12.0) & (angle_t < 13.0)  # a 1 s drop-out of the goniometer (NaN or missing samples)
    with_nan = angle.copy()
    with_nan[gap] = np.nan
    a = force_at_angle(angle_t, with_nan, force_t, force, bins=np.arange(0.0, 91.0, 10.0))
    b = force_at_angle(angle_t[~gap], angle[~gap], force_t, force, bins=np.arange(0.0, 91.0, 10.0))
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.samples[2] == 0 and np.isnan(a.force[2])  # 20–30° fell in the gap
    full = force_at_angle(angle_t, angle, force_t, force, bins=np.arange(0.0, 91.0, 10.0))
    assert full.samples[2] == 80


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"force_t": np.arange(10) + 100.0, "force": np.ones(10)}, "do not overlap"),
        ({"angle_t": np.r_[1.0, 0.5, np.arange(2, 11)], "angle": np.zeros(11)}, "increase"),
        ({"bins": 0}, "bins"),
        ({"bins": [10.0, 5.0]}, "increasing"),
        ({"force": np.ones(3)}, "one value per time"),
    ],
)
def test_bad_coupling_input(change: dict[str, object], match: str) -> None:
    angle_t, angle, force_t, force = _session()
    args: dict[str, object] = {"angle_t": angle_t, "angle": angle, "force_t": force_t, "force": force, "bins": 10}
    args.update(change)
    with pytest.raises(KineticsInputError, match=match):
        force_at_angle(**args)  # type: ignore[arg-type]
