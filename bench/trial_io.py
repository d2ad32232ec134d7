"""Sustained write rate of TrialWriter in the shape of a live session, against one bulk h5py write.

Four devices as in a balance/strength session: two force plates (1 kHz × 4 load cells), a push dynamometer
(1 kHz) and a goniometer (200 Hz). Blocks of 10–50 samples arrive interleaved in time order, as notifications
would; a checkpoint is made every second of *recorded* time (what a live session does at the default 1 s
interval — the benchmark writes faster than real time, so wall-clock checkpoints would be rarer than live).

Baseline, same run: one bulk h5py write of the same arrays with the compression and chunking of a trial written in
one call (write_trial).
Figures: samples/s, how many times faster than real time, the ratio TrialWriter / bulk, and bytes per stored
channel value against raw float32 (4 bytes).

    .venv/bin/python bench/trial_io.py [--seconds 120]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from kinetics.io import TrialWriter, read_trial
from kinetics.io._schema import BULK_CHUNK_SECONDS, COMPRESSION, LIBVER, sample_chunk
from kinetics.trial import Channel, DeviceInfo, TrialMeta

DEVICES = [
    DeviceInfo("plate_left", "plate", 1000.0, tuple(Channel(f"cell_{i}", "N") for i in range(4))),
    DeviceInfo("plate_right", "plate", 1000.0, tuple(Channel(f"cell_{i}", "N") for i in range(4))),
    DeviceInfo("push", "push", 1000.0, (Channel("force", "N"),)),
    DeviceInfo("knee", "goniometer", 200.0, (Channel("angle", "deg"),)),
]


def session_signals(seconds: float, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Realistic sensor signals: slow sway/effort plus noise, quantised to the sensors' resolution."""
    out = {}
    for d in DEVICES:
        n = int(seconds * d.rate)
        counter = np.arange(n, dtype=np.int64)
        t = 12.5 + counter / d.rate * (1 + 150e-6)  # session clock with a 150 ppm drift
        slow = np.sin(2 * np.pi * 0.3 * t)[None, :]
        n_ch = len(d.channels)
        if d.kind == "plate":
            v = 200.0 + 15.0 * slow * np.arange(1, n_ch + 1)[:, None] + rng.normal(0, 0.3, (n_ch, n))
            v = np.round(v / 0.01) * 0.01  # 10 mN load-cell resolution
        elif d.kind == "push":
            v = 150.0 * np.clip(slow, 0, None) + rng.normal(0, 0.2, (1, n))
            v = np.round(v / 0.01) * 0.01
        else:
            v = 45.0 + 40.0 * slow + rng.normal(0, 0.05, (1, n))
            v = np.round(v / 0.01) * 0.01  # 0.01 deg
        out[d.name] = (t, counter, v.astype(np.float32))
    return out


def blocks_in_time_order(
    signals: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], rng: np.random.Generator
) -> list[tuple[str, int, int]]:
    """(device, start, end) blocks of 10–50 samples (goniometer: 2–10), ordered by their last sample's time."""
    blocks = []
    for d in DEVICES:
        n = signals[d.name][0].shape[0]
        lo, hi = (10, 51) if d.rate >= 1000 else (2, 11)
        i = 0
        while i < n:
            j = min(n, i + int(rng.integers(lo, hi)))
            blocks.append((float(signals[d.name][0][j - 1]), d.name, i, j))
            i = j
    blocks.sort()
    return [(name, i, j) for _, name, i, j in blocks]


def write_streaming(path: Path, signals: dict, blocks: list[tuple[str, int, int]]) -> float:
    t0 = time.perf_counter()
    with TrialWriter(path, TrialMeta(protocol="bench"), DEVICES, checkpoint_interval=1e9) as w:
        next_checkpoint = 13.5
        for name, i, j in blocks:
            t, c, v = signals[name]
            w.append(name, t[i:j], c[i:j], v[:, i:j])
            if t[j - 1] >= next_checkpoint:
                w.checkpoint()
                next_checkpoint += 1.0
    return time.perf_counter() - t0


def write_bulk(path: Path, signals: dict) -> float:
    t0 = time.perf_counter()
    with h5py.File(path, "w", libver=LIBVER) as f:
        for d in DEVICES:
            t, c, v = signals[d.name]
            g = f.create_group(d.name)
            chunk = sample_chunk(d.rate, BULK_CHUNK_SECONDS)
            g.create_dataset("time", data=t, chunks=(chunk,), maxshape=(None,), **COMPRESSION)
            g.create_dataset("counter", data=c, chunks=(chunk,), maxshape=(None,), **COMPRESSION)
            g.create_dataset("values", data=v, chunks=(v.shape[0], chunk), maxshape=(v.shape[0], None), **COMPRESSION)
        f.flush()
        os.fsync(f.id.get_vfd_handle())
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="recorded session length (s)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    signals = session_signals(args.seconds, rng)
    blocks = blocks_in_time_order(signals, rng)
    n_samples = sum(s[0].shape[0] for s in signals.values())
    n_values = sum(s[2].size for s in signals.values())
    print(f"session: {args.seconds:g} s, {len(DEVICES)} devices, {n_samples} samples, {n_values} channel values, "
          f"{len(blocks)} blocks of 10–50 samples")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        stream_path, bulk_path = Path(tmp) / "stream.h5", Path(tmp) / "bulk.h5"
        stream_s, bulk_s = [], []
        for _ in range(args.repeats):
            stream_path.unlink(missing_ok=True)
            bulk_path.unlink(missing_ok=True)
            stream_s.append(write_streaming(stream_path, signals, blocks))
            bulk_s.append(write_bulk(bulk_path, signals))
        stream, bulk = min(stream_s), min(bulk_s)
        trial = read_trial(stream_path)
        assert all(np.array_equal(trial.devices[k].values, signals[k][2]) for k in signals), "round trip failed"
        stream_bytes = stream_path.stat().st_size
        bulk_bytes = bulk_path.stat().st_size

    rate = n_samples / stream
    print(f"TrialWriter: {stream:.3f} s  ({rate:,.0f} samples/s, {args.seconds / stream:.0f}× real time, "
          f"{len(blocks) / stream:,.0f} blocks/s)")  # fmt: skip
    print(f"bulk h5py:   {bulk:.3f} s  ({n_samples / bulk:,.0f} samples/s)")
    print(f"TrialWriter takes {stream / bulk:.2f}× the time of one bulk write of the same arrays")
    per_value = stream_bytes / n_values
    raw_row = sum(4 * len(d.channels) + 16 for d in DEVICES) / len(DEVICES)
    print(f"file: {stream_bytes:,} bytes = {per_value:.2f} bytes per channel value "
          f"(raw float32: 4.00; with time and counter {stream_bytes / n_samples:.2f} bytes per sample row against "
          f"{raw_row:.1f} raw); bulk file {bulk_bytes:,} bytes")  # fmt: skip
    print(
        f"samples_per_s={rate:.0f} realtime_factor={args.seconds / stream:.0f} stream_over_bulk={stream / bulk:.2f} "
        f"bytes_per_value={per_value:.3f} ratio_to_float32={per_value / 4:.3f} "
        f"file_over_bulk={stream_bytes / bulk_bytes:.3f}"
    )


if __name__ == "__main__":
    main()
