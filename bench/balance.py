"""Benchmark: the full sway descriptor set (kinetics.balance.sway_metrics) against a straightforward per-sample
implementation of the same descriptors, in the same run.

Cases: one 60 s trial at 100 Hz, one at 1 kHz, and a batch of 1000 trials of 60 s at 100 Hz. The per-sample
baseline is timed on the 100 Hz trial; at 1 kHz on the first 8 s (then scaled ×7.5: a lower bound, since its
range and sway-density loops grow faster than linearly); for the batch it is 1000 × the single-trial time.
Run: .venv/bin/python bench/balance.py
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import signal, stats

from kinetics.balance import sway_metrics
from kinetics.balance.dynamic import sway_density_curve
from kinetics.simulate.sway import random_walk_sway


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def baseline(cop: np.ndarray, fs: float, radius: float = 0.003) -> dict[str, float]:
    """The descriptors computed sample by sample (Python loops), as in a straightforward implementation."""
    x = [float(v) for v in cop[0]]
    y = [float(v) for v in cop[1]]
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    x = [v - mx for v in x]
    y = [v - my for v in y]
    out: dict[str, float] = {}
    path = path_ml = path_ap = swept = 0.0
    for i in range(1, n):
        dx, dy = x[i] - x[i - 1], y[i] - y[i - 1]
        path += math.hypot(dx, dy)
        path_ml += abs(dx)
        path_ap += abs(dy)
        swept += abs(x[i] * y[i - 1] - y[i] * x[i - 1])
    out["path_length"] = path
    out["mean_velocity"] = path / (n / fs)
    out["sway_area_per_second"] = swept / (2 * (n - 1) / fs)
    sxx = syy = sxy = rsum = 0.0
    for i in range(n):
        sxx += x[i] * x[i]
        syy += y[i] * y[i]
        sxy += x[i] * y[i]
        rsum += math.hypot(x[i], y[i])
    out["mean_distance"] = rsum / n
    det = (sxx / (n - 1)) * (syy / (n - 1)) - (sxy / (n - 1)) ** 2
    k = stats.f.ppf(0.95, 2, n - 2) * 2 * (n - 1) * (n + 1) / (n * (n - 2))
    out["ellipse_area_95"] = math.pi * k * math.sqrt(det)
    pts = np.column_stack([x, y])
    rng = 0.0
    for i in range(n):  # planar range: farthest pair
        rng = max(rng, float(np.max(np.hypot(pts[:, 0] - x[i], pts[:, 1] - y[i]))))
    out["range"] = rng
    v = signal.savgol_filter(np.array([x, y]), 5 if fs <= 25 else int(0.2 * fs) | 1, 3, deriv=1, delta=1 / fs)
    crossings = 0
    for i in range(1, n):
        if (v[0, i] > 0) != (v[0, i - 1] > 0):
            crossings += 1
    out["velocity_zero_crossings_ml"] = crossings / (n / fs)
    stay = []
    for i in range(n - 1):  # sway density
        j = i + 1
        while j < n and (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2 <= radius * radius:
            j += 1
        stay.append((j - i - 1) / fs)
    peaks = [stay[i] for i in range(1, len(stay) - 1) if stay[i] > stay[i - 1] and stay[i] > stay[i + 1]]
    out["sway_density_mean_peak"] = sum(peaks) / len(peaks) if peaks else math.nan
    f, p = signal.welch(np.array([x, y]), fs, nperseg=n // 2, noverlap=n // 4, nfft=n // 2)
    out["mean_frequency_ml"] = float(np.trapezoid(f * p[0], f) / np.trapezoid(p[0], f))
    k_max = min(int(10 * fs), n // 3)
    arr = np.array([x, y])
    msd = [float(np.sum(np.mean((arr[:, lag:] - arr[:, :-lag]) ** 2, axis=1))) for lag in range(1, k_max + 1)]
    t = np.arange(1, k_max + 1) / fs
    best = (math.inf, 0.0)
    for b in range(int(0.3 * fs) - 1, min(int(2.5 * fs), k_max - 2)):
        ps, rs, *_ = np.polyfit(t[: b + 1], msd[: b + 1], 1, full=True)
        _, rl, *_ = np.polyfit(t[b:], msd[b:], 1, full=True)
        sse = float(rs[0] if len(rs) else 0.0) + float(rl[0] if len(rl) else 0.0)
        if sse < best[0]:
            best = (sse, ps[0] / 2)
    out["diffusion_short"] = best[1]
    return out


def main() -> None:
    print("kinetics.balance.sway_metrics benchmark (full descriptor set, method duarte2016)")
    cop100 = random_walk_sway(100.0, 60.0, seed=1)
    cop1k = random_walk_sway(1000.0, 60.0, seed=2)
    batch = random_walk_sway(100.0, 60.0, batch=(1000,), seed=3)

    fast100 = best_of(lambda: sway_metrics(cop100, 100.0), 15)
    fast100q = best_of(lambda: sway_metrics(cop100, 100.0, method="quijoux2021"), 15)
    fast1k = best_of(lambda: sway_metrics(cop1k, 1000.0), 3)
    fast_batch = best_of(lambda: sway_metrics(batch, 100.0), 1)
    centred = cop100 - cop100.mean(axis=-1, keepdims=True)
    sd100 = best_of(lambda: sway_density_curve(centred, 100.0, 0.003), 15)

    m = sway_metrics(cop100, 100.0)
    t0 = time.perf_counter()
    ref = baseline(cop100, 100.0)
    base100 = time.perf_counter() - t0
    worst = max(abs(ref[k] / m[k] - 1) for k in ref)
    t0 = time.perf_counter()
    baseline(cop1k[:, :8000], 1000.0)
    base1k = (time.perf_counter() - t0) * 7.5
    base_batch = base100 * 1000

    print(f"keys per trial: {len(m)}; baseline vs vectorised, worst relative difference {worst:.2e}")
    r100, r1k, rb = base100 / fast100, base1k / fast1k, base_batch / fast_batch
    print(f"60 s @ 100 Hz  duarte2016 : {fast100 * 1e3:8.2f} ms   baseline {base100 * 1e3:9.1f} ms   x{r100:.0f}")
    print(f"60 s @ 100 Hz  quijoux2021: {fast100q * 1e3:8.2f} ms   (SWARII to 25 Hz + 10 Hz low-pass)")
    print(f"60 s @ 1 kHz   duarte2016 : {fast1k * 1e3:8.2f} ms   baseline ≥{base1k:8.1f} s    x{r1k:.0f}")
    print(f"1000 x 60 s @ 100 Hz      : {fast_batch:8.2f} s    baseline ~{base_batch:8.0f} s    x{rb:.0f}")
    print(f"exact sway-density curve alone, 60 s @ 100 Hz: {sd100 * 1e3:.2f} ms")
    print(
        f"trial100_ms={fast100 * 1e3:.2f} trial100_quijoux_ms={fast100q * 1e3:.2f} trial1k_ms={fast1k * 1e3:.1f} "
        f"batch1000_s={fast_batch:.2f} ratio100={r100:.0f} ratio1k={r1k:.0f} "
        f"ratio_batch={rb:.0f} max_rel_diff={worst:.1e} sway_density100_ms={sd100 * 1e3:.2f}"
    )


if __name__ == "__main__":
    main()
