"""``kinetics record ... --simulated`` and ``kinetics devices scan`` end to end (simulated sensors, real bleak)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from clinic.cli import app
from kinetics.io import read_trial

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_record_simulated_devices_writes_a_trial_that_read_trial_opens(tmp_path: Path) -> None:
    out = tmp_path / "trial.h5"
    args = ["record", "--device", "plate", "--device", "plate", "--device", "goniometer"]
    args += ["--seconds", "4", "--out", str(out), "--simulated", "--speed", "2", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["interrupted"] is False and summary["path"] == str(out)
    trial = read_trial(out)
    assert trial.complete
    assert list(trial.devices) == ["plate_left", "plate_right", "goniometer"]
    for d in summary["devices"]:
        dev = trial.device(d["name"])
        rate = dev.info.rate
        # the samples of the 4 s asked for (0.2 %: on a busy machine the fitted clock may lean a few hundred ppm)
        assert abs(dev.n_samples - 4 * rate) <= max(1, 0.002 * 4 * rate), (d["name"], dev.n_samples)
        assert d["recorded_samples"] == dev.n_samples and d["gaps"] == 0 and d["decode_errors"] == 0
        np.testing.assert_array_equal(np.diff(dev.counter), 1)
        assert dev.gaps == ()
    # the two plates carry one standing person: together they hold body weight (70 kg default)
    left, right = trial.device("plate_left").values.sum(axis=0), trial.device("plate_right").values.sum(axis=0)
    total = float(np.median(left) + np.median(right))
    assert abs(total - 70 * 9.80665) < 0.1 * 70 * 9.80665
    assert [e.label for e in trial.events if e.kind == "trial"] == ["recording started", "recording stopped"]


def test_record_with_a_dropped_link_records_the_gap_and_reconnects(tmp_path: Path) -> None:
    out = tmp_path / "drop.h5"
    args = ["record", "--device", "push", "--seconds", "5", "--out", str(out), "--simulated"]
    args += ["--speed", "2", "--drop-link-at", "2.5", "--mtu", "23", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)["devices"][0]
    assert status["reconnects"] == 1 and status["gaps"] == 1 and status["decode_errors"] == 0
    assert status["mtu"] == 23
    dev = read_trial(out).device("push")
    assert len(dev.gaps) == 1
    gap = dev.gaps[0]
    i = int(np.searchsorted(dev.counter, gap.first_missing))
    assert dev.counter[i - 1] == gap.first_missing - 1 and dev.counter[i] == gap.last_missing + 1
    assert gap.missing_samples == status["missing_samples"]
    assert gap.end - gap.start < 2.0 * 2  # reconnected within 2 s of wall time (speed 2)


def test_record_rejects_bad_options(tmp_path: Path) -> None:
    out = tmp_path / "x.h5"
    result = runner.invoke(app, ["record", "--device", "toaster", "--seconds", "1", "--out", str(out)])
    assert result.exit_code == 2 and "toaster" in result.output
    result = runner.invoke(app, ["record", "--device", "push", "--seconds", "1", "--out", str(out), "--mtu", "23"])
    assert result.exit_code == 2 and "--simulated" in result.output
    result = runner.invoke(app, ["record", "--device", "push", "--seconds", "0", "--out", str(out), "--simulated"])
    assert result.exit_code == 2 and "--seconds" in result.output
    assert not out.exists()


def test_devices_scan_lists_every_simulated_kind() -> None:
    result = runner.invoke(app, ["devices", "scan", "--simulated", "--seconds", "1.5", "--json"])
    assert result.exit_code == 0, result.output
    kinds = sorted(row["kind"] for row in json.loads(result.stdout))
    expected = ["ble-force", "ble-weight-scale", "goniometer", "grip", "plate", "pneumatic", "pull", "push"]
    expected += ["tindeq-progressor", "witmotion-bwt901"]
    assert kinds == sorted(expected)


def test_sigterm_mid_recording_leaves_a_valid_file(tmp_path: Path) -> None:
    out = tmp_path / "term.h5"
    code = "from clinic.cli import main; main()"
    args = [sys.executable, "-c", code, "record", "--device", "push", "--device", "goniometer"]
    args += ["--seconds", "120", "--out", str(out), "--simulated", "--json"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert out.exists(), proc.stderr.read() if proc.stderr else ""
        time.sleep(1.5)  # about 1.5 s of recording
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] is True
    trial = read_trial(out)
    assert trial.complete
    push = trial.device("push")
    assert 500 < push.n_samples < 10_000
    np.testing.assert_array_equal(np.diff(push.counter), 1)
    assert "recording interrupted" in [e.label for e in trial.events]
