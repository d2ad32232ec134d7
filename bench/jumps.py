"""Benchmark: CMJ full metric set, vectorised (kinetics.jumps.cmj_metrics) vs a plain per-sample Python loop.

One 5 s jump at 1 kHz, and a batch of 1000 equal-length jumps (different noise) scored in one call. The
baseline is a straightforward per-sample implementation of the same conventions (quietest 1 s window,
5 SD onset stepped back 30 ms, 20 N take-off/landing, trapezoid velocity), run in this process; its per-jump
time is measured on a subset of the batch. Times are CPU time
of this process (best of several runs). Run: ``.venv/bin/python bench/jumps.py``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from kinetics.jumps import G, cmj_metrics
from kinetics.simulate.jumps import simulate_cmj

FS = 1000.0
N = 5000


def baseline_cmj(force: list[float], fs: float) -> dict[str, float]:
    """Per-sample Python CMJ scoring (same conventions, sample-level events, no NumPy)."""
    n = len(force)
    dt = 1.0 / fs
    thr = 20.0
    w = round(fs)
    # take-off: first unloaded stretch ≥ 0.1 s after ≥ 1 s on the plate, ending with a landing
    to = ld = -1
    loaded_run = 0
    i = 1
    while i < n:
        if force[i] >= thr:
            loaded_run += 1
            i += 1
            continue
        if loaded_run >= w:
            j = i
            while j < n and force[j] < thr:
                j += 1
            if j < n and j - i >= 0.1 * fs:
                to, ld = i, j
                break
            i = j
        loaded_run = 0
        i += 1
    # quietest fully loaded 1 s window before take-off
    best_sd, bw, w_end = math.inf, 0.0, 0
    for s in range(0, to - w, 10):
        seg = force[s : s + w]
        if min(seg) < thr:
            continue
        mean = sum(seg) / w
        sd = math.sqrt(sum((x - mean) ** 2 for x in seg) / (w - 1))
        if sd < best_sd:
            best_sd, bw, w_end = sd, mean, s + w
    band = 5 * best_sd
    onset = w_end
    while onset < to and abs(force[onset] - bw) <= band:
        onset += 1
    onset = max(onset - round(0.03 * fs), 0)
    m = bw / G
    v = [0.0] * n
    s_ = [0.0] * n
    for k in range(onset + 1, min(n, ld + round(fs))):
        v[k] = v[k - 1] + 0.5 * (force[k - 1] + force[k] - 2 * bw) / m * dt
        s_[k] = s_[k - 1] + 0.5 * (v[k - 1] + v[k]) * dt
    vmin = min(range(onset, to), key=lambda k: v[k])
    bottom = next(k for k in range(vmin, to) if v[k] >= 0)
    out = {"body_weight": bw, "takeoff_velocity": v[to], "jump_height": v[to] ** 2 / (2 * G)}
    out["jump_height_flight_time"] = G * ((ld - to) * dt) ** 2 / 8
    out["peak_propulsive_force"] = max(force[bottom:to])
    out["mean_propulsive_force"] = sum(force[bottom:to]) / (to - bottom)
    out["peak_propulsive_power"] = max(force[k] * v[k] for k in range(bottom, to))
    out["net_propulsive_impulse"] = sum(0.5 * (force[k] + force[k + 1]) - bw for k in range(bottom, to)) * dt
    out["peak_braking_force"] = max(force[vmin : bottom + 1])
    out["braking_impulse"] = sum(0.5 * (force[k] + force[k + 1]) - bw for k in range(vmin, bottom)) * dt
    out["braking_rfd"] = (force[bottom] - force[vmin]) / ((bottom - vmin) * dt)
    out["countermovement_depth"] = -min(s_[onset:to])
    lend = next((k for k in range(ld, min(n, ld + round(fs))) if v[k] >= 0), n - 1)
    out["peak_landing_force"] = max(force[ld : lend + 1])
    out["time_to_takeoff"] = (to - onset) * dt
    out["mrsi"] = out["jump_height"] / out["time_to_takeoff"]
    return out


def best_of(fn: object, repeat: int) -> float:
    """Fastest of ``repeat`` runs in CPU time of this process (the machine is shared: wall time is noisy)."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()  # type: ignore[operator]
        times.append(time.process_time() - t0)
    return min(times)


def best_of_many(fn: object, inner: int, repeat: int) -> float:
    """Fastest mean over ``inner`` calls, of ``repeat`` rounds (CPU time; for sub-millisecond calls)."""
    return best_of(lambda: [fn() for _ in range(inner)], repeat) / inner  # type: ignore[operator]


def main() -> None:
    sim = simulate_cmj(fs=FS, quiet_time=1.5, after_time=2.0, noise_sd=2.0, seed=0)
    clean = np.asarray(sim.force)[:N]
    single = clean.copy()
    rng = np.random.default_rng(1)
    batch = simulate_cmj(fs=FS, quiet_time=1.5, after_time=2.0).force[:N] + rng.normal(0, 2.0, (1000, N))

    m = cmj_metrics(single, FS)
    ref = baseline_cmj(single.tolist(), FS)
    print(f"check: jump height vectorised {m['jump_height']:.5f} m, per-sample loop {ref['jump_height']:.5f} m, "
          f"truth {sim.jump_height:.5f} m; keys {len(m)}")

    t_single = best_of_many(lambda: cmj_metrics(single, FS), 100, 5)
    t_loop_single = best_of(lambda: baseline_cmj(single.tolist(), FS), 3)
    print(f"one 5 s jump @1 kHz: vectorised {t_single * 1e3:.3f} ms, per-sample loop {t_loop_single * 1e3:.1f} ms, "
          f"ratio {t_loop_single / t_single:.0f}x")

    t_batch = best_of(lambda: cmj_metrics(batch, FS), 5)
    sub = [row.tolist() for row in batch[:20]]
    t_loop = best_of(lambda: [baseline_cmj(r, FS) for r in sub], 1) / len(sub)
    per_jump = t_batch / batch.shape[0]
    print(f"batch of 1000: vectorised {t_batch * 1e3:.1f} ms = {per_jump * 1e3:.4f} ms/jump, per-sample loop "
          f"{t_loop * 1e3:.1f} ms/jump (20 measured), ratio {t_loop / per_jump:.0f}x")
    mb = cmj_metrics(batch, FS)
    same = all(np.allclose(mb.select(i)[k], cmj_metrics(batch[i], FS)[k], rtol=1e-12, atol=1e-12)
               for i in (0, 499, 999) for k in mb)
    # the one-trace path and the batch path on a batch of one: the same bits
    one = cmj_metrics(single[None], FS).select(0)
    same = same and all(np.array_equal(one[k], m[k]) for k in m)
    print(f"batched == single (3 spot checks, all keys): {same}")
    print(f"single_ms={t_single * 1e3:.4f} single_loop_ms={t_loop_single * 1e3:.2f} "
          f"single_ratio={t_loop_single / t_single:.0f} batch_ms_per_jump={per_jump * 1e3:.4f} "
          f"batch_loop_ms_per_jump={t_loop * 1e3:.2f} batch_ratio={t_loop / per_jump:.0f} batched_equal={same}")


if __name__ == "__main__":
    main()
