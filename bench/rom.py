"""Range-of-motion throughput: a 10 min IMU goniometer recording at 200 Hz, against plain-Python baselines.

Measures samples per second (and the multiple of real time) of
- orientation with VQF (real-time filter and offline variant), against a per-sample Python complementary filter
  (gyro integration plus a fixed-gain accelerometer tilt correction, the simplest usable fusion);
- segment angle + rom_metrics (smoothing, repetitions, scores), against a per-sample Python loop (exponential
  smoothing, running min/max, hysteresis repetition counting).

Run: ``.venv/bin/python bench/rom.py``. The last line holds the figures as ``key=value``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from kinetics.rom import inclination_error, orientation, rom_metrics, segment_angle
from kinetics.simulate.imu import sinusoidal_flexion

FS = 200.0
MINUTES = 10.0


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Shortest wall time in s of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def python_complementary_filter(gyr: list[list[float]], acc: list[list[float]], fs: float) -> list[list[float]]:
    """Per-sample quaternion complementary filter in plain Python (the baseline)."""
    dt = 1.0 / fs
    gain = 0.02
    w, x, y, z = 1.0, 0.0, 0.0, 0.0
    out = []
    for (gx, gy, gz), (ax, ay, az) in zip(gyr, acc, strict=True):
        norm = math.sqrt(ax * ax + ay * ay + az * az)
        if norm > 0:
            ax, ay, az = ax / norm, ay / norm, az / norm
            # estimated up direction in the sensor frame (third row of the rotation matrix)
            vx = 2 * (x * z - w * y)
            vy = 2 * (w * x + y * z)
            vz = w * w - x * x - y * y + z * z
            # correction rate: cross product of measured and estimated up
            gx += gain * fs * (ay * vz - az * vy)
            gy += gain * fs * (az * vx - ax * vz)
            gz += gain * fs * (ax * vy - ay * vx)
        half = 0.5 * dt
        w, x, y, z = (
            w - half * (x * gx + y * gy + z * gz),
            x + half * (w * gx + y * gz - z * gy),
            y + half * (w * gy - x * gz + z * gx),
            z + half * (w * gz + x * gy - y * gx),
        )
        n = math.sqrt(w * w + x * x + y * y + z * z)
        w, x, y, z = w / n, x / n, y / n, z / n
        out.append([w, x, y, z])
    return out


def python_rom_loop(angle: list[float], fs: float) -> dict[str, float]:
    """Per-sample ROM scoring in plain Python (the baseline): smoothing, min/max, speed, repetitions."""
    alpha = 1.0 - math.exp(-2.0 * math.pi * 6.0 / fs)
    smooth = angle[0]
    lo = hi = smooth
    previous = smooth
    peak_speed = 0.0
    reps = 0
    up = False
    for value in angle:
        smooth += alpha * (value - smooth)
        lo = min(lo, smooth)
        hi = max(hi, smooth)
        peak_speed = max(peak_speed, abs(smooth - previous) * fs)
        previous = smooth
        if not up and smooth > lo + 0.75 * (hi - lo) and hi - lo > 10.0:
            up = True
        elif up and smooth < lo + 0.25 * (hi - lo):
            up = False
            reps += 1
    return {"rom": hi - lo, "repetitions": float(reps), "peak_angular_velocity": peak_speed}


def main() -> None:
    reps = int(MINUTES * 60 * 0.25) - 2
    rec = sinusoidal_flexion(FS, amplitude=90.0, frequency=0.25, repetitions=reps, rest_before=3.0, rest_after=5.0)
    n = rec.gyr.shape[0]
    duration = n / FS
    print(f"recording: {n} samples, {duration / 60:.1f} min at {FS:g} Hz, {reps} repetitions (2 cores shared)")

    t_vqf = best_of(lambda: orientation(rec.gyr, rec.acc, FS))
    t_vqf_offline = best_of(lambda: orientation(rec.gyr, rec.acc, FS, offline=True))
    gyr_list, acc_list = rec.gyr.tolist(), rec.acc.tolist()
    t_python_filter = best_of(lambda: python_complementary_filter(gyr_list, acc_list, FS), repeat=1)

    quat = orientation(rec.gyr, rec.acc, FS)
    angle = segment_angle(quat, rec.axis)
    t_rom = best_of(lambda: rom_metrics(segment_angle(quat, rec.axis), FS))
    angle_list = angle.tolist()
    t_python_rom = best_of(lambda: python_rom_loop(angle_list, FS), repeat=1)
    scores = rom_metrics(angle, FS)
    vqf_error = float(np.sqrt(np.mean(inclination_error(quat, rec.quat) ** 2)))
    python_quat = np.array(python_complementary_filter(gyr_list, acc_list, FS))
    python_error = float(np.sqrt(np.mean(inclination_error(python_quat, rec.quat) ** 2)))

    rows = [
        ("orientation vqf (real time)", t_vqf),
        ("orientation vqf offline", t_vqf_offline),
        ("orientation python complementary", t_python_filter),
        ("angle + rom_metrics", t_rom),
        ("rom python per-sample loop", t_python_rom),
    ]
    for name, t in rows:
        print(f"{name:36s} {t * 1e3:9.1f} ms  {n / t / 1e6:7.2f} M samples/s  {duration / t:9.0f}x real time")
    print(f"inclination RMSE vs truth: vqf {vqf_error:.3f} deg, python complementary {python_error:.3f} deg")
    print(f"scores: rom {scores['rom']:.2f} deg, repetitions {scores['repetitions']:.0f} (true 90.00, {reps})")
    figures = {
        "samples": n,
        "orientation_samples_per_s": round(n / t_vqf),
        "orientation_x_realtime": round(duration / t_vqf),
        "orientation_offline_x_realtime": round(duration / t_vqf_offline),
        "orientation_python_x_realtime": round(duration / t_python_filter),
        "orientation_speedup_vs_python": round(t_python_filter / t_vqf, 1),
        "vqf_inclination_rmse_deg": round(vqf_error, 3),
        "python_inclination_rmse_deg": round(python_error, 3),
        "rom_samples_per_s": round(n / t_rom),
        "rom_x_realtime": round(duration / t_rom),
        "rom_python_x_realtime": round(duration / t_python_rom),
        "rom_speedup_vs_python": round(t_python_rom / t_rom, 1),
    }
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
