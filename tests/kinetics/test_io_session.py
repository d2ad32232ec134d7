"""Session bundles: several trials, session metadata, a results table and documents, round-tripped bit-exact."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pytest

from kinetics import KineticsInputError
from kinetics.io import (
    SESSION_FORMAT,
    ResultRow,
    Session,
    SessionMeta,
    TrialFileError,
    read_session,
    read_trial,
    summarize_file,
    write_session,
    write_trial,
)
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Event, Gap, Trial, TrialMeta

PROTOCOL_TOML = 'name = "CMJ — bilatéral"\n[phases]\nquiet = 2.0\n# trailing spaces kept   \n\n'


def _trial(trial_id: str, seed: int, side: str) -> Trial:
    rng = np.random.default_rng(seed)
    push = DeviceInfo("push", "push", 1000.0, (Channel("force", "N"),), model="PD-1", calibration={"gain": 0.5})
    n = 500 + seed
    rec = DeviceRecording(
        push, np.arange(n) / 1000.0, np.arange(n), rng.normal(100, 5, (1, n)).astype(np.float32), (Gap(3, 4, 1.0, 1.1),)
    )
    start = datetime(2026, 11, 23, 9, 30 + seed, tzinfo=UTC)
    meta = TrialMeta(trial_id, "isometric_knee_ext", side, start, "P-42", {"rep": seed})
    return Trial.from_recordings(meta, [rec], [Event(0.1, "phase", "contract"), Event(0.4, "phase", "rest")])


def _session() -> Session:
    nan_with_payload = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_0ABC))[0]
    return Session(
        SessionMeta(
            session_id="s-2026-11-23",
            patient_id="P-42",
            start_utc=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
            notes="Séance 3: douleur 2/10\nline two",
            extra={"clinician": "C-7", "tablet": 3, "room_temp_c": 21.5, "consent": True},
        ),
        trials=[_trial("t1", 1, "left"), _trial("t2", 2, "right")],
        results=[
            ResultRow("t1", "peak_force", 123.456789012345, "N", "left", "isometric_knee_ext", "peak"),
            ResultRow("t2", "peak_force", 98.7, "N", "right", "isometric_knee_ext", "peak"),
            ResultRow("t2", "rfd_0_100ms", nan_with_payload, "N/s", "right", "isometric_knee_ext", "maffiuletti2016"),
            ResultRow("", "limb_symmetry_index", -0.0, "1", "both", "isometric_knee_ext", "ratio"),
        ],
        documents={"protocol.toml": PROTOCOL_TOML, "notes.md": "", "unicode.txt": "漢字\r\n"},
    )


def test_session_round_trips_every_field_bit_exact(tmp_path: Path) -> None:
    session = _session()
    path = tmp_path / "session.h5"
    write_session(path, session)
    back = read_session(path)
    assert back.equals(session)
    assert back.meta.extra == session.meta.extra and type(back.meta.extra["tablet"]) is int
    assert struct.pack("<d", back.results[2].value) == struct.pack("<d", session.results[2].value)
    assert struct.pack("<d", back.results[3].value) == struct.pack("<d", -0.0)
    assert back.documents["protocol.toml"] == PROTOCOL_TOML and list(back.documents) == list(session.documents)
    assert back.trial("t2").equals(session.trial("t2"))
    for a, b in zip(session.trials, back.trials, strict=True):
        assert a.devices["push"].values.tobytes() == b.devices["push"].values.tobytes()
    assert [p.name for p in tmp_path.iterdir()] == ["session.h5"]


def test_equals_notices_a_changed_result_value() -> None:
    a, b = _session(), _session()
    assert a.equals(b)
    b.results[0] = ResultRow("t1", "peak_force", 123.45678901234501, "N", "left", "isometric_knee_ext", "peak")
    assert not a.equals(b)


def test_empty_session_round_trips(tmp_path: Path) -> None:
    session = Session(SessionMeta(session_id="empty"))
    write_session(tmp_path / "e.h5", session)
    assert read_session(tmp_path / "e.h5").equals(session)


def test_trial_groups_share_the_trial_file_layout(tmp_path: Path) -> None:
    """A bundle's trial group holds exactly the objects and attributes of a trial file's root."""
    session = _session()
    write_session(tmp_path / "s.h5", session)
    write_trial(tmp_path / "t.h5", session.trials[0])

    def layout(group: h5py.Group) -> dict[str, list[str]]:
        out = {"/": sorted(group.attrs)}
        group.visititems(lambda name, obj: out.__setitem__(name, sorted(obj.attrs)))
        return out

    with h5py.File(tmp_path / "s.h5", "r") as fs, h5py.File(tmp_path / "t.h5", "r") as ft:
        trial_root = layout(ft)
        trial_root["/"] = [a for a in trial_root["/"] if a not in ("format", "format_version", "kinetics_version")]
        assert layout(fs["trials/trial_0000"]) == trial_root
        assert fs.attrs["format"] == SESSION_FORMAT
        assert list(fs["trials"].attrs["trial_ids"]) == ["t1", "t2"]
        assert fs["documents/protocol.toml"].asstr()[()] == PROTOCOL_TOML
        assert fs["results"].shape == (4,) and fs["results"].dtype.names[:3] == ("trial_id", "key", "value")


def test_reading_the_wrong_kind_of_file_says_which_reader_to_use(tmp_path: Path) -> None:
    session = _session()
    write_session(tmp_path / "s.h5", session)
    write_trial(tmp_path / "t.h5", session.trials[0])
    with pytest.raises(TrialFileError, match=r"is a kinetics-session file.*read_session\(\)"):
        read_trial(tmp_path / "s.h5")
    with pytest.raises(TrialFileError, match=r"is a kinetics-trial file.*read_trial\(\)"):
        read_session(tmp_path / "t.h5")


def test_a_damaged_trial_inside_a_bundle_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    write_session(path, _session())
    with h5py.File(path, "r+") as f:
        del f["trials/trial_0001/devices/push/counter"]
    with pytest.raises(TrialFileError, match="'/trials/trial_0001/devices/push/counter' is missing"):
        read_session(path)


def test_session_validation() -> None:
    t = _trial("t1", 1, "left")
    with pytest.raises(KineticsInputError, match="duplicate trial ids"):
        Session(SessionMeta(), trials=[t, t])
    with pytest.raises(KineticsInputError, match="names trial 'nope'"):
        Session(SessionMeta(), trials=[t], results=[ResultRow("nope", "peak_force", 1.0, "N")])
    with pytest.raises(KineticsInputError, match="file-like name"):
        Session(SessionMeta(), documents={"a/b.toml": "x"})
    with pytest.raises(KineticsInputError, match="NUL"):
        Session(SessionMeta(), documents={"a.toml": "x\x00"})
    with pytest.raises(KineticsInputError, match="naive datetime"):
        SessionMeta(start_utc=datetime(2026, 1, 1))
    with pytest.raises(KineticsInputError, match="not a number"):
        ResultRow("t1", "k", "high", "N")  # type: ignore[arg-type]
    with pytest.raises(KineticsInputError, match="no trial 'x'"):
        Session(SessionMeta(), trials=[t]).trial("x")


def test_session_summary(tmp_path: Path) -> None:
    session = _session()
    path = tmp_path / "s.h5"
    write_session(path, session)
    s = summarize_file(path)
    assert s["format"] == SESSION_FORMAT and s["format_version"] == 1
    assert s["session"]["session_id"] == "s-2026-11-23" and s["session"]["extra"]["tablet"] == 3
    assert [t["trial_id"] for t in s["trials"]] == ["t1", "t2"]
    assert s["trials"][1]["devices"][0]["samples"] == 502
    assert s["trials"][0]["devices"][0]["gaps"][0]["missing_samples"] == 2
    assert s["duration"] == pytest.approx(0.501 + 0.502, abs=1e-12)
    assert s["results"] == 4 and s["documents"] == ["protocol.toml", "notes.md", "unicode.txt"]
