"""Trial files: bit-exact round trips, the streaming writer, its input errors, and the plain-h5py view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import h5py
import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.io import TRIAL_FORMAT, TrialWriter, read_trial, summarize_file, write_trial
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Event, Gap, Trial, TrialMeta

SPECIAL = np.array([np.nan, -0.0, np.inf, -np.inf, 5e-324, 1.0 + 2**-52, -1e308], dtype=np.float64)


def full_trial(n: int = 2345, seed: int = 1) -> Trial:
    """A trial that uses every field of the model, with awkward floats (NaN, -0.0, ±inf, subnormals)."""
    rng = np.random.default_rng(seed)
    plate = DeviceInfo(
        "plate_left",
        "plate",
        1000.0,
        tuple(Channel(f"cell_{i}", "N") for i in range(4)),
        model="KP-4",
        address="AA:BB:CC:DD:EE:01",
        firmware="1.2.3",
        calibration={"gain_0": 1.0012345678901234, "tare_0": -3.25, "odd": float("inf")},
        geometry={"cell_positions": rng.normal(size=(4, 2)), "height": np.array(0.045), "none": np.zeros(0)},
    )
    gonio = DeviceInfo(
        "gonio", "goniometer", 200.0, (Channel("angle", "deg"), Channel("rate", "deg/s")), value_dtype="float64"
    )
    idle = DeviceInfo("grip", "grip", 80.0, (Channel("force", "N"),))
    plate_values = rng.normal(200.0, 30.0, size=(4, n)).astype(np.float32)
    plate_values[:, :6] = SPECIAL[:6].astype(np.float32)  # 5e-324 becomes +0.0 in float32
    plate_values[0, 6] = np.float32(1e-45)  # float32 subnormal
    gonio_values = rng.normal(size=(2, n // 5))
    gonio_values[0, :7] = SPECIAL
    counter = np.arange(n, dtype=np.int64) + 10**12  # large counters survive
    counter[1000:] += 4
    recordings = [
        DeviceRecording(
            plate,
            1234.5 + counter / 1000.0,
            counter,
            plate_values,
            (Gap(10**12 + 1000, 10**12 + 1003, 1235.499, 1235.504),),
        ),
        DeviceRecording(gonio, rng.uniform(0, 1, n // 5).cumsum(), np.arange(n // 5) * 3, gonio_values),
        DeviceRecording(idle, np.zeros(0), np.zeros(0, np.int64), np.zeros((1, 0), np.float32)),
    ]
    meta = TrialMeta(
        trial_id="t-0001",
        protocol="cmj_bilateral",
        side="both",
        start_utc=datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=2))),
        patient_id="P-7f3a",
        extra={"repetition": 3, "target_n": 250.5, "note": "genou gauche, à revoir", "ok": True, "big": -(2**62)},
    )
    events = [
        Event(1234.5, "trial", "start"),
        Event(1235.0, "phase", "quiet stance — ñ 漢字"),
        Event(1235.5, "cue", "x" * 200, device="plate_left"),
        Event(-0.0, "annotation", ""),
    ]
    trial = Trial.from_recordings(meta, recordings, events)
    trial.complete = False
    return trial


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_bit_exact(a: Trial, b: Trial) -> None:
    assert a.equals(b)
    for name in a.devices:
        ra, rb = a.devices[name], b.devices[name]
        assert _bits_equal(ra.time, rb.time) and _bits_equal(ra.counter, rb.counter)
        assert _bits_equal(ra.values, rb.values)  # NaN payloads and -0.0 too
        for key in ra.info.geometry:
            assert _bits_equal(ra.info.geometry[key], rb.info.geometry[key])
    for ea, eb in zip(a.events, b.events, strict=True):
        assert np.float64(ea.time).tobytes() == np.float64(eb.time).tobytes()
    assert {k: type(v) for k, v in a.meta.extra.items()} == {k: type(v) for k, v in b.meta.extra.items()}


def test_write_trial_round_trips_every_field_bit_exact(tmp_path: Path) -> None:
    trial = full_trial()
    path = tmp_path / "trial.h5"
    write_trial(path, trial)
    back = read_trial(path)
    assert_bit_exact(trial, back)
    assert back.meta.start_utc == trial.meta.start_utc and back.meta.start_utc.tzinfo == UTC
    assert back.complete is False
    trial.complete = True
    write_trial(path, trial, overwrite=True)
    assert read_trial(path).complete is True
    assert [p.name for p in tmp_path.iterdir()] == ["trial.h5"]  # no temporary file left behind


def _stream(path: Path, trial: Trial, rng: np.random.Generator, interval: float) -> None:
    infos = [d.info for d in trial.devices.values()]
    with TrialWriter(path, trial.meta, infos, checkpoint_interval=interval) as w:
        pos = dict.fromkeys(trial.devices, 0)
        while any(pos[k] < trial.devices[k].n_samples for k in pos):
            for name, rec in trial.devices.items():
                i = pos[name]
                j = min(rec.n_samples, i + int(rng.integers(1, 60)))
                w.append(name, rec.time[i:j], rec.counter[i:j], rec.values[:, i:j])
                pos[name] = j
            if rng.random() < 0.05:
                w.checkpoint()
        for name, rec in trial.devices.items():
            for g in rec.gaps:
                w.add_gap(name, g)
        for e in trial.events:
            w.add_event(e)
        assert sum(w.buffered_samples.values()) + sum(w.committed_samples.values()) == sum(
            r.n_samples for r in trial.devices.values()
        )
    assert w.closed and w.committed_samples == {k: r.n_samples for k, r in trial.devices.items()}


@pytest.mark.parametrize("interval", [1.0, 1e-6])
def test_trial_writer_streams_the_same_trial_bit_exact(tmp_path: Path, interval: float) -> None:
    trial = full_trial()
    path = tmp_path / "stream.h5"
    _stream(path, trial, np.random.default_rng(3), interval)
    back = read_trial(path)
    assert back.complete is True
    trial.complete = True
    assert_bit_exact(trial, back)


def test_writer_leaving_by_an_exception_keeps_data_but_marks_incomplete(tmp_path: Path) -> None:
    trial = full_trial(n=300)
    rec = trial.devices["plate_left"]
    path = tmp_path / "aborted.h5"
    with pytest.raises(RuntimeError, match="operator stopped"):
        with TrialWriter(path, trial.meta, [d.info for d in trial.devices.values()]) as w:
            w.append("plate_left", rec.time, rec.counter, rec.values)
            raise RuntimeError("operator stopped")
    back = read_trial(path)
    assert back.complete is False
    assert back.devices["plate_left"].equals(DeviceRecording(rec.info, rec.time, rec.counter, rec.values))


def test_bad_blocks_raise_clear_errors_and_leave_the_file_intact(tmp_path: Path) -> None:
    plate = DeviceInfo("plate", "plate", 1000.0, tuple(Channel(f"cell_{i}", "N") for i in range(4)))
    path = tmp_path / "w.h5"
    good_t = np.arange(10) / 1000.0
    good_v = np.ones((4, 10), np.float32)
    with TrialWriter(path, TrialMeta(), [plate], checkpoint_interval=1e-6) as w:
        w.append("plate", good_t, np.arange(10), good_v)
        cases = [
            (("push", good_t, np.arange(10, 20), good_v), "no device 'push'"),
            (
                ("plate", good_t, np.arange(10, 20), np.ones((3, 10), np.float32)),
                r"shape \(3, 10\), expected \(4, 10\)",
            ),
            (("plate", good_t, np.arange(10, 20), good_v.T), "expected"),
            (("plate", good_t[:5], np.arange(10, 20), good_v), "equal length"),
            (("plate", good_t, np.arange(5, 15), good_v), "not after the last stored counter 9"),
            (("plate", good_t, np.r_[10, 12, 11, 13:20], good_v), "not strictly increasing"),
            (("plate", good_t, np.arange(10, 20) * 1.0, good_v), "integer sample counter"),
            (("plate", good_t, np.arange(10, 20), good_v.astype(np.float64)), "convert them explicitly"),
            (("plate", np.array(["a"] * 10), np.arange(10, 20), good_v), "time is not numeric"),
        ]
        for args, message in cases:
            with pytest.raises(KineticsInputError, match=message):
                w.append(*args)  # type: ignore[arg-type]
        with pytest.raises(KineticsInputError, match="no device 'push'"):
            w.add_gap("push", Gap(1, 2, 0.0, 0.1))
        with pytest.raises(KineticsInputError, match="expected an Event"):
            w.add_event("start")  # type: ignore[arg-type]
        w.append("plate", good_t + 0.01, np.arange(10, 20), good_v * 2)
    back = read_trial(path).devices["plate"]
    assert np.array_equal(back.counter, np.arange(20))
    assert np.array_equal(back.values, np.hstack([good_v, good_v * 2]))
    with pytest.raises(KineticsInputError, match="already closed"):
        w.append("plate", good_t, np.arange(30, 40), good_v)


def test_writer_refuses_existing_files_and_bad_settings(tmp_path: Path) -> None:
    trial = full_trial(n=50)
    path = tmp_path / "x.h5"
    write_trial(path, trial)
    infos = [d.info for d in trial.devices.values()]
    with pytest.raises(KineticsInputError, match="already exists"):
        TrialWriter(path, trial.meta, infos)
    with pytest.raises(KineticsInputError, match="already exists"):
        write_trial(path, trial)
    with pytest.raises(KineticsInputError, match="checkpoint_interval"):
        TrialWriter(tmp_path / "y.h5", trial.meta, infos, checkpoint_interval=0)
    with pytest.raises(KineticsInputError, match="duplicate device names"):
        TrialWriter(tmp_path / "z.h5", trial.meta, [infos[0], infos[0]])
    assert not (tmp_path / "z.h5").exists()
    with pytest.raises(KineticsInputError, match="cannot be stored"):
        write_trial(tmp_path / "e.h5", Trial(TrialMeta(extra={"x": [1]}), {}))  # type: ignore[dict-item]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.h5"]


def test_plain_h5py_reads_it_and_attributes_say_what_each_dataset_is(tmp_path: Path) -> None:
    trial = full_trial()
    path = tmp_path / "plain.h5"
    write_trial(path, trial)
    with open(path, "rb") as fh:
        assert fh.read(9)[8] == 3  # superblock v3: libver v110, readable by HDF5 1.10 tools
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == TRIAL_FORMAT and f.attrs["format_version"] == 1
        assert f.attrs["trial_id"] == "t-0001" and f.attrs["patient_id"] == "P-7f3a"
        assert list(f["devices"].attrs["order"]) == ["plate_left", "gonio", "grip"]
        plate = f["devices/plate_left"]
        assert plate.attrs["kind"] == "plate" and plate.attrs["rate"] == 1000.0 and plate.attrs["rate_units"] == "Hz"
        assert plate["calibration"].attrs["gain_0"] == 1.0012345678901234
        assert plate["geometry/cell_positions"].shape == (4, 2)
        values = plate["values"]
        assert list(values.attrs["channel_names"]) == [f"cell_{i}" for i in range(4)]
        assert list(values.attrs["units"]) == ["N"] * 4
        assert np.array_equal(values[()], trial.devices["plate_left"].values, equal_nan=True)
        assert values.compression == "gzip" and values.compression_opts == 4 and values.shuffle
        assert values.chunks is not None and values.maxshape == (4, None)
        assert plate["time"].attrs["units"] == "s" and plate["counter"].attrs["units"] == "1"
        assert list(f["devices/gonio/values"].attrs["units"]) == ["deg", "deg/s"]
        assert f["devices/gonio/values"].dtype == np.float64
        for name in ("time", "counter", "values", "gaps"):
            assert "description" in plate[name].attrs
        assert "description" in f["events"].attrs and "columns" in f["checkpoints"].attrs
        assert f["events"][2]["label"].decode() == "x" * 200
        assert f["devices/plate_left/gaps"][0]["first_missing"] == 10**12 + 1000


def test_summary_lists_devices_channels_rates_gaps_and_events(tmp_path: Path) -> None:
    trial = full_trial()
    path = tmp_path / "s.h5"
    write_trial(path, trial)
    s = summarize_file(path)
    assert s["format"] == TRIAL_FORMAT and s["format_version"] == 1 and s["complete"] is False
    assert s["duration"] == trial.duration
    plate = s["devices"][0]
    assert plate["name"] == "plate_left" and plate["kind"] == "plate" and plate["rate"] == 1000.0
    assert plate["samples"] == 2345 and plate["channels"][2] == {"name": "cell_2", "unit": "N"}
    assert plate["gaps"] == [
        {"start": 1235.499, "end": 1235.504, "first_missing": 10**12 + 1000, "last_missing": 10**12 + 1003,
         "missing_samples": 4}
    ]  # fmt: skip
    assert [d["samples"] for d in s["devices"]] == [2345, 469, 0]
    assert s["events"][1] == {"time": 1235.0, "kind": "phase", "label": "quiet stance — ñ 漢字", "device": ""}


def test_empty_trials_round_trip(tmp_path: Path) -> None:
    empty = Trial(TrialMeta(trial_id="empty", start_utc=datetime(2026, 1, 1, tzinfo=UTC)), {})
    write_trial(tmp_path / "e.h5", empty)
    assert read_trial(tmp_path / "e.h5").equals(empty)
    push = DeviceInfo("push", "push", 80.0, (Channel("force", "N"),))
    with TrialWriter(tmp_path / "w.h5", empty.meta, [push]):
        pass
    back = read_trial(tmp_path / "w.h5")
    assert back.complete and back.devices["push"].n_samples == 0 and back.duration == 0.0
