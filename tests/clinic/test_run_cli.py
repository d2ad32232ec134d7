"""``kinetics run``: a protocol run headless for a stored patient, saved in the encrypted store.

The simulated runs go over the virtual radio (real GATT servers, bleak, the real acquisition) at 20 × real time.
"""

from __future__ import annotations

import io
import json
import logging
import math
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from clinic import running
from clinic.cli import COMMAND_MODULES, app
from clinic.commands import run as run_cmd
from clinic.store import ClinicStore, sha256_file
from kinetics.io import read_trial
from protocols.library import get_protocol
from protocols.simpatient import SimulatedPatient

KEY = "run passphrase"
cli = CliRunner()


def invoke(*args: str, data: Path) -> Any:
    return cli.invoke(app, [*args, "--data-dir", str(data)], env={"KINETICS_DB_KEY": KEY, "COLUMNS": "200"})


def add_patient(data: Path, involved: str = "left") -> str:
    res = invoke("patients", "add", "--name", "Ada Lovelace", "--birth-date", "1985-12-10", "--involved", involved,
                 data=data)  # fmt: skip
    assert res.exit_code == 0, res.output
    return str(res.stdout.strip())


def sessions_of(data: Path, patient: str) -> list[dict[str, Any]]:
    res = invoke("sessions", "list", "--patient", patient, "--json", data=data)
    assert res.exit_code == 0, res.output
    return list(json.loads(res.stdout))


def trial_files(data: Path) -> list[Path]:
    return sorted((data / "trials").rglob("*.h5")) if (data / "trials").exists() else []


@pytest.fixture(scope="module")
def grip_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Any]]:
    """One ASHT grip session of a patient whose left hand is the involved side, run with ``--json``."""
    logging.getLogger("bumble").setLevel(logging.ERROR)
    data = tmp_path_factory.mktemp("run-data")
    pid = add_patient(data, "left")
    res = invoke("run", "grip-asht", "--patient", pid, "--simulated", "--speed", "20", "--json", data=data)
    yield data, pid, res


def test_run_is_registered() -> None:
    assert "run" in COMMAND_MODULES and {"demo", "patients", "sessions"} <= set(COMMAND_MODULES)


@pytest.mark.timeout(120)
def test_simulated_run_saves_the_session_with_files_and_results(grip_run: tuple[Path, str, Any]) -> None:
    data, pid, res = grip_run
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["completed"] is True and payload["interrupted"] is False
    # progress went to stderr: the cues and every scored trial
    assert "Squeeze as hard as you can!" in res.stderr and "switch_side" in res.stderr
    assert res.stderr.count("grip-asht trial ") == 6

    listed = sessions_of(data, pid)
    assert [s["id"] for s in listed] == [payload["session_id"]]
    assert listed[0]["protocol"] == "grip-asht" and listed[0]["trials"] == 6 and listed[0]["completed"] is True
    assert "simulated" in listed[0]["notes"]

    with ClinicStore.open(data, key=KEY) as store:
        info = store.get_session(payload["session_id"])
        report = store.check()
        paths = [store.trial_path(t) for t in info.trials]
    # every trial file was recorded straight into the session's folder and is stored with its SHA-256
    assert report.ok and report.orphans == () and report.trials == 6
    folder = data / "trials" / pid / payload["session_id"]
    assert sorted(paths) == trial_files(data) and all(p.parent == folder for p in paths)
    for t, p in zip(info.trials, paths, strict=True):
        assert sha256_file(p) == t.sha256
        meta = read_trial(p).meta
        assert meta.patient_id == pid and meta.protocol == "grip-asht" and meta.side == t.side
    assert [t.side for t in info.trials] == ["right", "left"] * 3
    assert 'id = "grip-asht"' in info.protocol_toml

    # results: peak force of every trial within the simulated patient's range, per-side mean, LSI of the left
    protocol = get_protocol("grip-asht")
    patient = SimulatedPatient()
    per_trial = {(r.trial_id, r.key): r for r in info.results if r.trial_id}
    session = {(r.key, r.side): r.value for r in info.results if not r.trial_id}
    sides = {t.trial_id: t.side for t in info.trials}
    for side in ("left", "right"):
        low, high = patient.expected(protocol, side)["peak_force"]
        peaks = [per_trial[(tid, "peak_force")].value for tid, s in sides.items() if s == side]
        assert len(peaks) == 3 and all(low <= v <= high for v in peaks)
        assert all(per_trial[(tid, "peak_force")].unit == "N" for tid in sides)
        assert session[("mean_peak_force", side)] == pytest.approx(sum(peaks) / 3, rel=1e-12)
        assert session[("best_peak_force", side)] == max(peaks)
        assert session[("headline_peak_force", side)] == pytest.approx(sum(peaks) / 3, rel=1e-12)
    lsi = session[("lsi", "both")]
    left, right = session[("headline_peak_force", "left")], session[("headline_peak_force", "right")]
    assert lsi == pytest.approx(100.0 * left / right, rel=1e-12)  # the stored involved side (left) is the numerator
    assert payload["symmetry"]["default"]["involved"] == "left"


def test_progress_shows_the_run(grip_run: tuple[Path, str, Any]) -> None:
    data, pid, res = grip_run
    assert res.exit_code == 0, res.output
    session_id = json.loads(res.stdout)["session_id"]
    prog = invoke("progress", pid, "--metric", "peak_force", "--json", data=data)
    assert prog.exit_code == 0, prog.output
    metrics = json.loads(prog.stdout)["metrics"]
    by_side = {m["side"]: m for m in metrics if m["key"] == "peak_force" and m["protocol"] == "grip-asht"}
    assert set(by_side) == {"left", "right"}
    for m in by_side.values():
        assert [p["session_id"] for p in m["points"]] == [session_id]
        assert m["points"][0]["n_trials"] == 3 and m["unit"] == "N"


def test_stored_maxima_feed_percent_targets(grip_run: tuple[Path, str, Any]) -> None:
    data, pid, _ = grip_run
    with ClinicStore.open(data, key=KEY) as store:
        sessions = store.patient_sessions(pid)
    best = {(r.key, r.side): r.value for r in sessions[0].results if not r.trial_id}
    hold = get_protocol("train-grip-hold")  # a hold at a % of the grip-asht maximum
    maxima = running.stored_maxima(hold, sessions)
    assert maxima == {"left": best[("best_peak_force", "left")], "right": best[("best_peak_force", "right")]}
    running.check_maxima(hold, maxima, pid)  # nothing missing
    from clinic.errors import ClinicError

    with pytest.raises(ClinicError, match="run `kinetics run grip-asht --patient P-"):
        running.check_maxima(hold, {}, pid)
    assert running.stored_maxima(get_protocol("grip-asht"), sessions) == {}


def test_unknown_protocol_or_patient_saves_nothing(tmp_path: Path) -> None:
    pid = add_patient(tmp_path)
    res = invoke("run", "grip-ashtt", "--patient", pid, "--simulated", data=tmp_path)
    assert res.exit_code == 2 and "unknown protocol 'grip-ashtt'" in res.stderr and "grip-asht" in res.stderr
    res = invoke("run", "missing.toml", "--patient", pid, "--simulated", data=tmp_path)
    assert res.exit_code == 2 and "missing.toml does not exist" in res.stderr
    for bad, message in (("P-000000", "no patient P-000000"), ("bob", "is not a patient id")):
        res = invoke("run", "grip-asht", "--patient", bad, "--simulated", "--speed", "20", data=tmp_path)
        assert res.exit_code == 2 and res.stderr.startswith("error: ") and message in res.stderr
        assert "Traceback" not in res.output
    assert sessions_of(tmp_path, pid) == [] and trial_files(tmp_path) == []
    assert not (tmp_path / "trials").exists() or not any((tmp_path / "trials").iterdir())


def test_real_sensors_without_an_adapter_fail_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drivers.ble import transport

    monkeypatch.setattr(transport, "has_os_adapter", lambda *a, **k: False)
    pid = add_patient(tmp_path)
    for extra in ((), ("--transport", "os"), ("--transport", "auto")):
        res = invoke("run", "grip-asht", "--patient", pid, *extra, data=tmp_path)
        assert res.exit_code == 2, res.output
        assert "no Bluetooth adapter found" in res.stderr and "--simulated" in res.stderr
    res = invoke("run", "grip-asht", "--patient", pid, "--transport", "virtual", data=tmp_path)
    assert res.exit_code == 2 and "simulated sensors only; add --simulated" in res.stderr
    res = invoke("run", "grip-asht", "--patient", pid, "--speed", "5", data=tmp_path)
    assert res.exit_code == 2 and "--speed acts on simulated sensors" in res.stderr
    res = invoke("run", "grip-asht", "--patient", pid, "--simulated", "--speed", "0", data=tmp_path)
    assert res.exit_code == 2 and "not a positive factor" in res.stderr
    assert sessions_of(tmp_path, pid) == [] and trial_files(tmp_path) == []


def test_sensor_instructions_name_the_device_and_placement() -> None:
    lines = run_cmd.sensor_instructions(get_protocol("grip-asht"))
    assert lines == [
        "switch on the grip dynamometer (role grip) — In the hand tested, handle at the second position, "
        "dial facing the examiner."
    ]


@pytest.mark.timeout(120)
def test_ctrl_c_mid_trial_keeps_every_recorded_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real SIGINT (through asyncio's handler) while trial 2 records: trial 1 is saved with its results, trial 2's
    partial recording is kept in the session unscored and its file marked incomplete, and the session is saved
    as not completed, its notes saying it was interrupted."""
    logging.getLogger("bumble").setLevel(logging.ERROR)

    class CtrlCAtSecondEffort(run_cmd.CueReporter):
        sent = False

        def __call__(self, cue: Any) -> None:
            super().__call__(cue)
            if cue.kind == "go" and cue.trial == 1 and not self.sent:
                self.sent = True
                signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(run_cmd, "CueReporter", CtrlCAtSecondEffort)
    pid = add_patient(tmp_path, "none")
    res = invoke("run", "grip-asht", "--patient", pid, "--simulated", "--speed", "20", data=tmp_path)
    assert res.exit_code == run_cmd.EXIT_INTERRUPTED, res.output
    assert "interrupted (Ctrl-C) during trial 2 (left)" in res.output

    (listed,) = sessions_of(tmp_path, pid)
    assert listed["notes"].startswith("interrupted") and listed["trials"] == 2 and listed["completed"] is False
    assert f"session {listed['id']} saved" in res.output and "(incomplete)" in res.output
    with ClinicStore.open(tmp_path, key=KEY) as store:
        info = store.get_session(listed["id"])
        report = store.check()
        paths = [store.trial_path(t) for t in info.trials]
    assert report.ok and report.orphans == ()
    assert sorted(paths) == trial_files(tmp_path)  # nothing recorded was left out of the session
    first, partial = info.trials
    assert (first.side, partial.side) == ("right", "left")
    assert info.completed is False and (first.complete, partial.complete) == (True, False)
    assert {r.trial_id for r in info.results} == {first.trial_id, ""}  # the cut trial is kept, not scored
    peak = next(r.value for r in info.results if r.trial_id == first.trial_id and r.key == "peak_force")
    low, high = SimulatedPatient().expected(get_protocol("grip-asht"), "right")["peak_force"]
    assert low <= peak <= high
    assert "lsi" not in {r.key for r in info.results}  # one side only: no comparison
    cut = read_trial(paths[1])
    assert cut.complete is False and read_trial(paths[0]).complete is True  # closed at once, not as finished
    assert cut.meta.side == "left" and cut.devices["grip"].values.shape[-1] > 0
    assert all(math.isfinite(float(v)) for v in cut.devices["grip"].values[0, :10])


def test_real_sensors_that_never_stream_fail_with_nothing_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real-sensor path (transport, acquisition, supervisors scanning for each kind) on an empty virtual radio:
    no grip dynamometer answers, the run fails plainly and records nothing."""
    logging.getLogger("bumble").setLevel(logging.ERROR)
    monkeypatch.setattr(run_cmd, "CONNECT_TIMEOUT", 1.0)
    protocol = get_protocol("grip-asht")
    reporter = run_cmd.CueReporter(protocol, Console(file=io.StringIO()))
    outcome = run_cmd.execute(
        protocol,
        tmp_path,
        reporter,
        simulated=False,
        speed=1.0,
        transport="virtual",
        runner_options={"patient_id": "P-ABCDEF", "involved_side": None},
    )
    assert not outcome.interrupted
    assert outcome.error.startswith("no stream from grip within 1 s") and "switched on" not in outcome.error
    assert outcome.result is not None and outcome.result.trials == [] and outcome.stray_files == []
    assert list(tmp_path.iterdir()) == []
