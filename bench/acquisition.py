"""Benchmark: two plates (4 cells at 1 kHz each), a push dynamometer (1 kHz) and a goniometer (200 Hz) streaming
over the virtual radio in real time while recording, through the real bleak API.

Reports
  * CPU of acquisition + recording per second of data: the supervisors' notification handlers (raw log-free
    decode, counter unwrapping, gap check, clock mapping, ring-buffer append, hand-off to the recorder),
    measured with thread CPU time inside the handlers, plus the recorder's writer thread (HDF5 + fsync), read
    from /proc. The simulated sensors, the peripheral and central Bumble stacks and bleak run in the same
    process; the whole process's CPU is reported too, and a second phase (bleak receiving the same stream with
    an empty handler, no decode, no recording) gives the stack-and-simulator share to subtract.
  * notification-to-ring-buffer latency p50/p95: from the simulated peripheral's notify() call to the samples
    being in the ring buffer (across the virtual link), and from the bleak callback's entry.
  * samples lost (must be 0): counters the sensors sent during the recording that are not in the trial file.
  * baseline in the same run: the same notifications decoded and stored the naive way (struct.unpack per
    sample, Python lists, per-sample ring writes) — CPU per second of data, and the ratio.

Run: ``.venv/bin/python bench/acquisition.py [--seconds 60] [--baseline-seconds 20]`` (2 shared cores here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bleak import BleakClient

from drivers.acquisition import Acquisition, DeviceSpec, role_names
from drivers.ble.scanning import SharedScanner, by_address
from drivers.ble.transport import open_transport
from drivers.codecs.kinetics_profile import Opcode, encode_command
from drivers.session_clock import SessionClock
from drivers.sim.fleet import SimulatedFleet
from kinetics.io import read_trial
from kinetics.trial import TrialMeta

KINDS = ["plate", "plate", "push", "goniometer"]


def thread_cpu_s(native_id: int) -> float:
    """CPU seconds (user + system) of one thread of this process, from /proc."""
    with open(f"/proc/self/task/{native_id}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def recorded_run(seconds: float, workdir: Path) -> dict[str, Any]:
    async with await open_transport("virtual") as ble:
        assert ble.radio is not None
        fleet = SimulatedFleet(ble.radio, KINDS, speed=1.0)
        await fleet.start()
        names = role_names(KINDS)
        sent_at: dict[str, dict[bytes, float]] = {n: {} for n in names}
        for name, sensor in zip(names, fleet.sensors, strict=True):
            notify = sensor.peripheral.notify
            data_uuid = sensor.kind.data_uuid
            book = sent_at[name]

            async def timed_notify(
                uuid: str, data: bytes, notify: Any = notify, book: Any = book, data_uuid: str = data_uuid
            ) -> bool:
                if uuid == data_uuid:
                    book[bytes(data)] = time.perf_counter()
                return bool(await notify(uuid, data))

            sensor.peripheral.notify = timed_notify  # type: ignore[method-assign]
        acq = Acquisition(
            ble,
            [DeviceSpec(n, k, s.address) for n, k, s in zip(names, KINDS, fleet.sensors, strict=True)],
            clock=SessionClock(),
        )
        await acq.start()
        handler_cpu = [0.0]
        link_latency: list[float] = []
        payloads: dict[str, list[bytes]] = {n: [] for n in names}
        for name, sup in acq.supervisors.items():
            inner = sup._on_data
            book = sent_at[name]
            store = payloads[name]

            def on_data(char: Any, data: bytearray, inner: Any = inner, book: Any = book, store: Any = store) -> None:
                c0 = time.thread_time()
                inner(char, data)
                done = time.perf_counter()
                handler_cpu[0] += time.thread_time() - c0
                sent = book.pop(bytes(data), None)
                if sent is not None:
                    link_latency.append(done - sent)
                store.append(bytes(data))

            sup._on_data = on_data  # type: ignore[method-assign,assignment]
        assert await acq.wait_streaming(timeout=20.0), {n: acq.status(n) for n in names}
        await asyncio.sleep(2.0)  # let every stream settle into its pace
        handler_cpu[0] = 0.0
        link_latency.clear()
        for store in payloads.values():
            store.clear()
        for lat in acq._latency.values():
            lat.clear()
        path = workdir / "bench.h5"
        acq.start_recording(path, TrialMeta(protocol="bench"), duration=seconds)
        assert acq.recorder is not None
        start = acq.recorder.start
        writer_tid = acq.recorder._thread.native_id or 0
        p0, w0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        process_cpu = time.process_time() - p0
        wall = time.perf_counter() - w0
        writer_cpu = thread_cpu_s(writer_tid)
        acq_cpu = handler_cpu[0]
        callback_latency = acq.latencies()
        path = await acq.stop_recording(at=start + seconds)
        statuses = {n: acq.status(n) for n in names}
        sent = {n: s.sent_counters() for n, s in zip(names, fleet.sensors, strict=True)}
        await acq.stop()
        await fleet.stop()
    trial = read_trial(path)
    lost = 0
    for n in names:
        dev = trial.device(n)
        s = sent[n]
        inside = s[(s >= dev.counter[0]) & (s <= dev.counter[-1])]
        lost += int(np.setdiff1d(inside, dev.counter).size) + statuses[n].missing_samples
    return {
        "wall": wall,
        "process_cpu": process_cpu,
        "handler_cpu": acq_cpu,
        "writer_cpu": writer_cpu,
        "link_latency": np.array(link_latency),
        "callback_latency": callback_latency,
        "lost": lost,
        "payloads": payloads,
        "statuses": statuses,
        "trial_samples": {n: trial.device(n).n_samples for n in names},
        "file_bytes": path.stat().st_size,
    }


async def bleak_only_run(seconds: float) -> dict[str, float]:
    """The same four sensors received by plain bleak clients with an empty handler: no decode, no recording."""
    async with await open_transport("virtual") as ble:
        assert ble.radio is not None
        fleet = SimulatedFleet(ble.radio, KINDS, speed=1.0)
        await fleet.start()
        count = [0]
        clients = []
        async with SharedScanner(ble) as scanner:
            for sensor in fleet.sensors:
                found = await scanner.find(by_address(sensor.address), timeout=10.0)
                assert found is not None
                async with ble.connect_lock:
                    client = BleakClient(found[0], **ble.client_kwargs())
                    await client.connect()
                clients.append(client)
                await client.start_notify(sensor.kind.data_uuid, lambda _c, _d: count.__setitem__(0, count[0] + 1))
                await client.write_gatt_char(sensor.kind.command_uuid, encode_command(Opcode.START), response=True)
        await asyncio.sleep(2.0)
        count[0] = 0
        p0, w0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - p0, time.perf_counter() - w0
        notifications = count[0]
        for client in clients:
            await client.disconnect()
        await fleet.stop()
    return {"process_cpu": cpu, "wall": wall, "notifications": notifications}


def naive_store(payloads: dict[str, list[bytes]]) -> tuple[float, int]:
    """Baseline: decode every sample with struct and append it to Python lists and a per-sample ring."""
    from drivers.devices import device_kind

    t0 = time.process_time()
    n = 0
    for name, packets in payloads.items():
        kind = device_kind("plate" if name.startswith("plate") else name)
        width, n_ch = kind.value_bytes or 3, kind.n_channels
        lsb = [c.lsb or 1.0 for c in kind.channels]
        ring = [[0.0] * 10_000 for _ in range(n_ch)]
        times: list[float] = []
        columns: list[list[float]] = [[] for _ in range(n_ch)]
        pos = 0
        for p in packets:
            first, count, _fmt = struct.unpack_from("<IBB", p)
            off = 6
            for k in range(count):
                times.append((first + k) / kind.rate)
                for ch in range(n_ch):
                    raw = int.from_bytes(p[off : off + width], "little", signed=True)
                    off += width
                    v = raw * lsb[ch]
                    columns[ch].append(v)
                    ring[ch][pos % 10_000] = v
                pos += 1
                n += 1
    return time.process_time() - t0, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = asyncio.run(recorded_run(args.seconds, Path(tmp)))
    b = asyncio.run(bleak_only_run(args.baseline_seconds))
    naive_cpu, naive_samples = naive_store(r["payloads"])
    data_s = r["wall"]
    ours = (r["handler_cpu"] + r["writer_cpu"]) / data_s
    naive = naive_cpu / data_s
    process = r["process_cpu"] / data_s
    stack = b["process_cpu"] / b["wall"]
    notifications = sum(len(p) for p in r["payloads"].values())
    link = r["link_latency"] * 1e3
    cb = r["callback_latency"] * 1e3
    print(
        f"machine: {os.cpu_count()} cores (shared); {data_s:.1f} s recorded, {notifications} notifications "
        f"({notifications / data_s:.0f}/s), samples per device {r['trial_samples']}, file {r['file_bytes']} B"
    )
    print(
        f"acquisition handlers: {r['handler_cpu']:.3f} s CPU; recorder thread (HDF5 + fsync): {r['writer_cpu']:.3f} s"
    )
    print(f"acquisition + recording: {ours * 1e3:.2f} ms CPU per second of data ({ours * 100:.2f} % of one core)")
    print(
        f"whole process with simulators and both BLE stacks: {process * 1e3:.0f} ms CPU per s; "
        f"bleak-only receiving the same stream (no decode, no record): {stack * 1e3:.0f} ms CPU per s "
        f"({b['notifications'] / b['wall']:.0f} notifications/s); difference {(process - stack) * 1e3:.0f} ms per s"
    )
    print(
        f"latency peripheral notify → ring buffer: p50 {np.percentile(link, 50):.3f} ms, "
        f"p95 {np.percentile(link, 95):.3f} ms; bleak callback → ring buffer: p50 {np.percentile(cb, 50):.3f} ms, "
        f"p95 {np.percentile(cb, 95):.3f} ms"
    )
    print(
        f"naive per-sample decode/append baseline on the same packets: {naive * 1e3:.2f} ms CPU per s of data "
        f"({naive_samples} samples); ours / naive = {ours / naive:.3f}"
    )
    for name, st in r["statuses"].items():
        print(
            f"  {name}: gaps {st.gaps}, decode errors {st.decode_errors}, drift {st.drift_ppm:+.1f} ppm, mtu {st.mtu}"
        )
    print(f"samples lost: {r['lost']}")
    print(
        f"acq_cpu_ms_per_s={ours * 1e3:.3f} naive_cpu_ms_per_s={naive * 1e3:.3f} ratio_vs_naive={ours / naive:.3f} "
        f"process_cpu_ms_per_s={process * 1e3:.1f} bleak_only_cpu_ms_per_s={stack * 1e3:.1f} "
        f"latency_p50_ms={np.percentile(link, 50):.3f} latency_p95_ms={np.percentile(link, 95):.3f} "
        f"callback_latency_p50_ms={np.percentile(cb, 50):.3f} callback_latency_p95_ms={np.percentile(cb, 95):.3f} "
        f"samples_lost={r['lost']} seconds={data_s:.1f}"
    )


if __name__ == "__main__":
    main()
