"""Benchmark: the full isometric metric set of kinetics.strength against a plain per-sample Python version.

One 10 s trial at 1 kHz, and a batch of 1000 such trials (one vectorised call), each compared with a plain
Python implementation of the same definitions run in this process. Prints readable lines, then one line of
``key=value`` figures.

Run: ``.venv/bin/python bench/strength.py``
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from kinetics.simulate.force import isometric_force
from kinetics.strength import isometric_metrics

FS = 1000.0
N_BATCH = 1000


def plain_isometric(force: list[float], fs: float, baseline: float = 0.5, k: float = 5.0) -> dict[str, float]:
    """The same definitions, one sample at a time in plain Python (the baseline)."""
    n = len(force)
    nb = round(baseline * fs)
    mean = sum(force[:nb]) / nb
    sd = math.sqrt(sum((v - mean) ** 2 for v in force[:nb]) / nb)
    level = mean + k * sd
    p = 0
    for i in range(n):
        if force[i] > force[p]:
            p = i
    pk = force[p]
    o = 0
    for i in range(p - 1, -1, -1):
        if force[i] <= level:
            o = i
            break
    e = n - 1
    for i in range(p + 1, n):
        if force[i] <= level:
            e = i
            break
    rise = pk - mean
    hl = mean + 0.9 * rise
    h0 = 0
    for i in range(p - 1, -1, -1):
        if force[i] < hl:
            h0 = i + 1
            break
    h1 = n - 1
    for i in range(p + 1, n):
        if force[i] < hl:
            h1 = i - 1
            break
    out = {"onset_time": o / fs, "peak_force": pk, "time_to_peak": (p - o) / fs}
    out["mean_force"] = sum(force[h0 : h1 + 1]) / (h1 - h0 + 1)
    for t in (0.05, 0.1, 0.2):
        j = o + round(t * fs)
        out[f"rfd_0_{round(t * 1000)}"] = (force[j] - force[o]) / t
    w = round(0.02 * fs)
    best = -math.inf
    for i in range(o, max(o, p - w) + 1):
        best = max(best, force[i + w] - force[i])
    out["peak_rfd_20ms"] = best * fs / w

    def crossing(level: float, start: int, reached: Callable[[float], bool]) -> float:
        for i in range(start, n):
            if reached(force[i]):
                a, b = force[i - 1], force[i]
                return (i - 1 + (level - a) / (b - a)) / fs
        return math.nan

    l20, l80, l90, l10 = (mean + f * rise for f in (0.2, 0.8, 0.9, 0.1))
    t20 = crossing(l20, o, lambda v: v >= l20)
    t80 = crossing(l80, o, lambda v: v >= l80)
    out["rtd_20_80"] = 0.6 * rise / (t80 - t20)
    total = 0.0
    for i in range(o, e):
        total += 0.5 * (force[i] + force[i + 1]) / fs
    out["impulse"] = total
    out["net_impulse"] = total - mean * (e - o) / fs
    t90 = crossing(l90, p + 1, lambda v: v < l90)
    i90 = math.ceil(t90 * fs)
    out["relaxation_time"] = crossing(l10, i90, lambda v: v <= l10) - t90
    return out


def best_time(fn: Callable[[], Any], repeat: int, number: int) -> float:
    """Best mean seconds per call over ``repeat`` rounds of ``number`` calls."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    trials = np.stack(
        [
            isometric_force(
                FS,
                10.0,
                onset=1.0 + 0.001 * int(rng.integers(0, 500)),
                fmax=float(rng.uniform(200, 600)),
                tau=float(rng.uniform(0.03, 0.15)),
                rise=3.0,
                release=0.5,
                noise_sd=1.0,
                seed=i,
            )
            for i in range(N_BATCH)
        ]
    )
    one = trials[0]
    one_list = one.tolist()

    got = isometric_metrics(one, FS)
    ref = plain_isometric(one_list, FS)
    worst = max(abs(got[k] - v) / max(abs(v), 1e-12) for k, v in ref.items())
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"one trial ({one.size} samples): largest relative difference to the plain version {worst:.2e}")

    t_vec = best_time(lambda: isometric_metrics(one, FS), repeat=5, number=200)
    t_py = best_time(lambda: plain_isometric(one_list, FS), repeat=3, number=5)
    print(f"one trial: kinetics {t_vec * 1e3:.3f} ms, plain Python {t_py * 1e3:.2f} ms, ratio {t_py / t_vec:.0f}×")

    batch = isometric_metrics(trials, FS)
    for i in (0, N_BATCH // 2, N_BATCH - 1):
        single = isometric_metrics(trials[i], FS)
        assert all(single[k] == batch[k][i] or (math.isnan(single[k]) and math.isnan(batch[k][i])) for k in single)
    t_batch = best_time(lambda: isometric_metrics(trials, FS), repeat=3, number=1) / N_BATCH
    t_loop = best_time(lambda: [isometric_metrics(t, FS) for t in trials[:200]], repeat=3, number=1) / 200
    sample = [t.tolist() for t in trials[:20]]
    t_py_batch = best_time(lambda: [plain_isometric(t, FS) for t in sample], repeat=2, number=1) / len(sample)
    print(
        f"batch of {N_BATCH}: vectorised {t_batch * 1e3:.3f} ms/trial,"
        f" loop of single calls {t_loop * 1e3:.3f} ms/trial,"
        f" plain Python {t_py_batch * 1e3:.2f} ms/trial, ratio {t_py_batch / t_batch:.0f}×"
    )
    print(
        f"single_ms={t_vec * 1e3:.4f} single_plain_ms={t_py * 1e3:.3f} single_ratio={t_py / t_vec:.1f} "
        f"batch_ms_per_trial={t_batch * 1e3:.4f} loop_ms_per_trial={t_loop * 1e3:.4f} "
        f"batch_plain_ms_per_trial={t_py_batch * 1e3:.3f} batch_ratio={t_py_batch / t_batch:.1f} "
        f"max_rel_diff={worst:.1e} n_batch={N_BATCH}"
    )


if __name__ == "__main__":
    main()
