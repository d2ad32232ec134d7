"""Bad files give TrialFileError with a useful message — never another exception, a crash or a hang.

Damaged files (random byte flips, truncation) are read in a child process with a timeout, so that a crash
(segfault) or a hang inside HDF5 fails the test instead of taking pytest down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pytest

from kinetics.io import TrialFileError, read_session, read_trial, summarize_file, write_trial
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Event, Gap, Trial, TrialMeta

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import json, sys
from kinetics.io import TrialFileError, read_trial
original = read_trial(sys.argv[1])
for path in sys.argv[2:]:
    print(json.dumps({"path": path, "state": "start"}), flush=True)
    try:
        trial = read_trial(path)
        out = {"path": path, "state": "read", "same": trial.equals(original)}
    except TrialFileError as exc:
        out = {"path": path, "state": "TrialFileError", "message": str(exc)}
    except BaseException as exc:
        out = {"path": path, "state": "other", "message": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out), flush=True)
"""


def _trial() -> Trial:
    rng = np.random.default_rng(5)
    plate = DeviceInfo("plate", "plate", 1000.0, tuple(Channel(f"cell_{i}", "N") for i in range(4)))
    gonio = DeviceInfo("gonio", "goniometer", 200.0, (Channel("angle", "deg"),), value_dtype="float64")
    n = 3000
    counter = np.arange(n) + 100
    recs = [
        DeviceRecording(
            plate, counter / 1000.0, counter, rng.normal(200, 2, (4, n)).astype(np.float32), (Gap(5, 6, 0.1, 0.2),)
        ),
        DeviceRecording(gonio, np.arange(600) / 200.0, np.arange(600), np.cumsum(rng.normal(size=(1, 600)), axis=1)),
    ]
    meta = TrialMeta(trial_id="bad", start_utc=datetime(2026, 1, 2, tzinfo=UTC), patient_id="P-1")
    return Trial.from_recordings(meta, recs, [Event(0.5, "cue", "go"), Event(1.0, "phase", "rest")])


@pytest.fixture(scope="module")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "good.h5"
    write_trial(path, _trial())
    return path


def _read_in_child(original: Path, paths: list[Path]) -> dict[str, dict[str, object]]:
    """read_trial each path in one child process, comparing what reads to ``original``; a crash or hang fails
    naming the file it happened on."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(original), *map(str, paths)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    started = [line["path"] for line in lines if line["state"] == "start"]
    assert proc.returncode == 0, f"reader died ({proc.returncode}) on {started[-1:]}: {proc.stderr.decode()[-2000:]}"
    results = {line["path"]: line for line in lines if line["state"] != "start"}
    assert len(results) == len(paths)
    return results


def test_random_byte_flips_never_crash_or_hang_and_are_detected_or_harmless(good_file: Path, tmp_path: Path) -> None:
    data = good_file.read_bytes()
    rng = np.random.default_rng(1234)
    paths = []
    for i in range(60):
        damaged = bytearray(data)
        for offset in rng.integers(0, len(data), size=int(rng.integers(1, 4))):
            damaged[offset] ^= int(rng.integers(1, 256))
        path = tmp_path / f"flip{i}.h5"
        path.write_bytes(bytes(damaged))
        paths.append(path)
    results = _read_in_child(good_file, paths)
    states = [r["state"] for r in results.values()]
    assert "other" not in states, [r for r in results.values() if r["state"] == "other"]
    detected = [r for r in results.values() if r["state"] == "TrialFileError"]
    # Metadata checksums (v110) and the zlib Adler-32 of every compressed chunk catch most flips; most others hit
    # bytes no reader uses (free space, padding). Only a flip in an unchecked string (HDF5's global heap) can
    # slip through with a changed value: measured 2 in 300 single flips.
    silently_changed = [r for r in results.values() if r["state"] == "read" and not r["same"]]
    assert len(detected) >= len(paths) // 2, f"only {len(detected)} of {len(paths)} flips detected"
    assert len(silently_changed) <= 0.05 * len(paths), silently_changed
    for r in detected:
        message = str(r["message"])
        assert message.startswith(f"{r['path']}: "), message
        assert any(w in message for w in ("corrupted", "truncated", "missing", "not an HDF5")), message
        assert "use a backup" in message or "copy it again" in message or "right file" in message, message


def test_truncation_at_random_offsets_is_reported(good_file: Path, tmp_path: Path) -> None:
    data = good_file.read_bytes()
    rng = np.random.default_rng(99)
    offsets = sorted({1, 7, 100, len(data) - 1, *rng.integers(2, len(data) - 1, size=16).tolist()})
    paths = []
    for offset in offsets:
        path = tmp_path / f"cut{offset}.h5"
        path.write_bytes(data[:offset])
        paths.append(path)
    results = _read_in_child(good_file, paths)
    for offset, path in zip(offsets, paths, strict=True):
        r = results[str(path)]
        assert r["state"] == "TrialFileError", (offset, r)
        message = str(r["message"])
        if offset >= 8:  # with its signature intact the file is recognised as a cut-short HDF5 file
            assert "truncated" in message, message
        else:
            assert "not an HDF5 file" in message, message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.h5"
    path.write_bytes(b"")
    with pytest.raises(TrialFileError, match=r"empty.h5: is empty \(0 bytes\); the recording never started"):
        read_trial(path)


def test_non_hdf5_files(tmp_path: Path) -> None:
    csv = tmp_path / "export.csv"
    csv.write_text("time,force\n0.0,1.5\n" * 100)
    with pytest.raises(TrialFileError, match=r"is not an HDF5 file.*check that you picked the right file"):
        read_trial(csv)
    noise = tmp_path / "noise.h5"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(TrialFileError, match="not an HDF5 file"):
        read_session(noise)
    with pytest.raises(TrialFileError, match="no such file"):
        read_trial(tmp_path / "missing.h5")
    with pytest.raises(TrialFileError, match="not a regular file"):
        read_trial(tmp_path)


def test_hdf5_file_of_another_program(tmp_path: Path) -> None:
    path = tmp_path / "matlab.h5"
    with h5py.File(path, "w") as f:  # default (earliest) file format, as most programs write
        f.create_dataset("force", data=np.arange(10.0))
        f.create_group("meta").attrs["subject"] = "x"
    with pytest.raises(TrialFileError, match=r"not a Kinetics file.*top level holds force, meta.*another program"):
        read_trial(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format"] = "nwb"
    with pytest.raises(TrialFileError, match="of format 'nwb', not a Kinetics file"):
        summarize_file(path)


def _edited(good_file: Path, tmp_path: Path, edit: str) -> Path:
    path = tmp_path / "edited.h5"
    path.write_bytes(good_file.read_bytes())
    with h5py.File(path, "r+") as f:
        exec(edit, {"f": f, "np": np})
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("f.attrs['format_version'] = np.int64(2)", "format version 2, newer than version 1.*upgrade kinetics"),
        ("f.attrs['format_version'] = 'one'", "corrupted: format_version is 'one'"),
        ("f.attrs['format_version'] = np.int64(0)", "format_version 0 does not exist"),
        ("del f['devices/plate/values']", "dataset '/devices/plate/values' is missing.*incomplete or was edited"),
        ("del f['events']", "dataset '/events' is missing"),
        ("del f['devices/gonio']", "group '/devices/gonio' is missing"),
        ("del f.attrs['trial_id']", "attribute 'trial_id' of '/' is missing"),
        ("f.attrs['side'] = 'up'", "corrupted: the metadata of / is invalid.*unknown side 'up'"),
        ("f.attrs['complete'] = np.int8(7)", "'complete' is 7"),
        ("f['devices/plate/counter'][5] = 2", "device 'plate' of / is invalid.*not strictly increasing"),
        (
            "f['devices/plate/time'].resize((10,))",
            r"'plate' holds datasets of different lengths \{'time': 10, 'counter': 3000",
        ),
        (
            "f['events'].resize((1,))",
            r"last checkpoint counts \[3000, 600, 1, 0, 2\] but the datasets hold \[3000, 600, 1, 0, 1\]",
        ),
        ("f['devices/plate'].attrs['kind'] = 'toaster'", "unknown kind 'toaster'"),
        ("f['checkpoints'].attrs['columns'] = ['x']", "checkpoint columns"),
    ],
)
def test_edited_files_name_what_is_wrong(good_file: Path, tmp_path: Path, edit: str, message: str) -> None:
    with pytest.raises(TrialFileError, match=message):
        read_trial(_edited(good_file, tmp_path, edit))


def test_untouched_copy_still_reads(good_file: Path, tmp_path: Path) -> None:
    assert read_trial(_edited(good_file, tmp_path, "pass")).equals(_trial())
