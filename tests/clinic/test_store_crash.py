"""A process killed (SIGKILL) in the middle of saving sessions leaves a consistent store and intact trial files."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clinic.store import ClinicStore
from kinetics.io import read_trial

KEY = "crash-test passphrase"

# Saves sessions in a loop until killed: two trials of 2000 samples each and three result rows per session.
WRITER = r"""
import sys
from datetime import UTC, datetime
import numpy as np
from clinic.store import ClinicStore
from kinetics.io import ResultRow
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Trial, TrialMeta

store = ClinicStore.open(sys.argv[1])
pid = store.list_patients(identified=False)[0].id
dev = DeviceInfo("grip", "grip", 1000.0, (Channel("force", "N"),))
rng = np.random.default_rng(int(sys.argv[2]))
from protocols.library import get_protocol
get_protocol("grip-asht")  # load the library before "ready", so the kills land among saves
print("ready", flush=True)
i = 0
while True:
    trials = []
    for k in range(2):
        values = rng.normal(250.0, 10.0, (1, 2000)).astype(np.float32)
        rec = DeviceRecording(dev, np.arange(2000) / 1000.0, np.arange(2000), values)
        trials.append(Trial.from_recordings(TrialMeta(f"t{k}", "grip-asht", "left", datetime.now(UTC)), [rec]))
    rows = [ResultRow("t0", "peak_force", float(i), "N"), ResultRow("t1", "peak_force", float(i) + 0.5, "N"),
            ResultRow("", "peak_force_mean", float(i) + 0.25, "N")]
    store.save_session(pid, "grip-asht", trials, rows)
    i += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_during_saves_leaves_a_consistent_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINETICS_DB_KEY", KEY)
    data = tmp_path / "data"
    with ClinicStore.open(data) as store:
        store.add_patient("Crash Test Dummy", "1990-01-01")
    env = {**os.environ, "KINETICS_DB_KEY": KEY, "KINETICS_ACTOR": "crash-writer"}
    rng = random.Random(20260301)
    counts = []
    for round_ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data), str(round_)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
        time.sleep(rng.uniform(0.2, 0.6))
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()

        with ClinicStore.open(data) as store:
            report = store.check()
            assert report.integrity == "ok"
            assert report.missing == () and report.altered == (), report  # every row's file, same SHA-256
            sessions = store.list_sessions()
            for s in sessions:
                full = store.get_session(s.id)
                assert [t.trial_id for t in full.trials] == ["t0", "t1"]  # never a half-saved session
                assert [r.key for r in full.results] == ["peak_force", "peak_force", "peak_force_mean"]
                for t in full.trials:
                    assert read_trial(store.trial_path(t)).devices["grip"].n_samples == 2000
            # files a killed save had written before its rows: complete trial files, listed as orphans
            for rel in report.orphans:
                path = data / rel
                if path.name.endswith(".partial"):
                    continue  # an atomic write cut short: never renamed to a trial file
                assert read_trial(path).complete
            assert store.verify_audit().ok
            counts.append(len(sessions))
    assert counts == sorted(counts) and counts[-1] >= 4  # sessions were being saved when the kills landed
