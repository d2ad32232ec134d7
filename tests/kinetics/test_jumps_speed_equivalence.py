"""The fast paths of kinetics.jumps (row chunks, restricted block sums, sample-level onset search) give exactly
the numbers of the plain whole-batch definitions."""

from __future__ import annotations

import numpy as np
import pytest

from kinetics.jumps import _common, cmj_metrics, sj_metrics
from kinetics.jumps._common import JumpSettings
from kinetics.jumps._detect import block_sums, blocks, departure
from kinetics.simulate.jumps import simulate_cmj


def _batch() -> np.ndarray:
    sims = [simulate_cmj(quiet_time=1.1 + 0.2 * i, flight_time=0.3 + 0.04 * i, body_mass=60.0 + 5 * i,
                         noise_sd=1.5, seed=i).force for i in range(7)]
    n = min(s.size for s in sims)
    out = np.stack([s[:n] for s in sims])
    out[3] = 650.0  # never unloaded: rejected with on_invalid="flag"
    return out


def _assert_identical(a: object, b: object) -> None:
    assert list(a) == list(b)  # type: ignore[call-overload]
    for key in a:  # type: ignore[attr-defined]
        assert np.array_equal(a[key], b[key], equal_nan=True), key  # type: ignore[index]
    assert list(a.flags) == list(b.flags)  # type: ignore[attr-defined]
    for key in a.flags:  # type: ignore[attr-defined]
        assert np.array_equal(a.flags[key], b.flags[key]), key  # type: ignore[attr-defined]


@pytest.mark.parametrize("fn", [cmj_metrics, sj_metrics])
def test_chunking_does_not_change_any_number(fn: object, monkeypatch: pytest.MonkeyPatch) -> None:
    force = _batch()
    whole = fn(force, 1000.0, on_invalid="flag")  # type: ignore[operator]
    monkeypatch.setattr(_common, "CHUNK_ELEMENTS", 1)  # one trial per chunk
    one_by_one = fn(force, 1000.0, on_invalid="flag")  # type: ignore[operator]
    _assert_identical(whole, one_by_one)
    monkeypatch.setattr(_common, "CHUNK_ELEMENTS", 3 * force.shape[1])  # uneven chunks of three
    _assert_identical(whole, fn(force, 1000.0, on_invalid="flag"))  # type: ignore[operator]
    assert np.isnan(whole["jump_height"][3]) and whole.flags["no_flight"][3]


def test_chunking_with_two_plates(monkeypatch: pytest.MonkeyPatch) -> None:
    force = _batch()
    force = np.delete(force, 3, axis=0)
    two = np.stack([0.45 * force, 0.55 * force], axis=-2)
    whole = cmj_metrics(two, 1000.0, sides=True)
    monkeypatch.setattr(_common, "CHUNK_ELEMENTS", 2 * force.shape[1])
    _assert_identical(whole, cmj_metrics(two, 1000.0, sides=True))


@pytest.mark.parametrize("fs", [1000.0, 2500.0, 300.0])  # blocks of 10, 25 (> 16: reduction path) and 3 samples
def test_block_loading_and_sums_match_the_definitions(fs: float) -> None:
    rng = np.random.default_rng(4)
    f = rng.uniform(0.0, 60.0, (5, 3001))
    settings = JumpSettings()
    bl = blocks(f, fs, settings)
    size = max(1, round(settings.search_grid * fs))
    fb = f[:, : bl.count * size].reshape(5, bl.count, size)
    assert bl.count == f.shape[1] // size
    assert np.array_equal(bl.anyun, fb.min(axis=2) < settings.takeoff_threshold)
    assert np.array_equal(bl.allun, fb.max(axis=2) < settings.takeoff_threshold)
    # sums over the first m blocks only are the same numbers as over all blocks
    full_sum, full_sq = fb.sum(axis=2), np.einsum("ijk,ijk->ij", fb, fb)
    for m in (1, bl.count // 3, bl.count):
        s, q = block_sums(f, size, m)
        assert np.array_equal(s, full_sum[:, :m]) and np.array_equal(q, full_sq[:, :m])


def test_departure_is_the_first_sample_out_of_band() -> None:
    rng = np.random.default_rng(9)
    f = 700.0 + rng.normal(0.0, 3.0, (6, 800))
    rows = np.array([0, 2, 3, 5])
    hi = np.array([709.0, 712.0, 720.0, 706.0])
    lo = np.array([691.0, 690.0, 680.0, 695.0])
    start = np.array([100, 50, 300, 0])
    stop = np.array([700, 400, 310, 10])
    got = departure(f, rows, hi, lo, start, stop)
    for i, r in enumerate(rows):
        expected = next((s for s in range(start[i], stop[i]) if f[r, s] > hi[i] or f[r, s] < lo[i]), stop[i])
        assert got[i] == expected
    assert got[2] == 310  # a 20 SD band: no departure before stop
