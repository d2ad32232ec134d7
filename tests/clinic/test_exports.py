"""Session exports (HDF5 bundle, CSV) and imports: bit-exact round trip, pseudonymisation, refusals."""

from __future__ import annotations

import csv
import json
import math
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h5py
import numpy as np
import pytest

from clinic.errors import BundleError, ClinicError
from clinic.exports import MANIFEST, export_session, import_bundle
from clinic.store import ClinicStore
from kinetics.io import ResultRow, Session, SessionMeta, read_session, read_trial, write_session, write_trial
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Event, Gap, Trial, TrialMeta

NAME = "Wilhelmina Fairweather-Oduya"
BORN = "1958-11-30"
T0 = datetime(2026, 2, 3, 8, 30, 15, 123456, tzinfo=UTC)


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def make_trial(trial_id: str, side: str, seed: int) -> Trial:
    rng = np.random.default_rng(seed)
    plate = DeviceInfo(
        "plate",
        "plate",
        1000.0,
        tuple(Channel(f"cell_{i}", "N") for i in range(4)),
        model="KP",
        address="AA:BB",
        calibration={"gain": 1.0 / 3.0},
        geometry={"cell_positions": rng.normal(size=(4, 2))},
    )
    knee = DeviceInfo("knee", "goniometer", 200.0, (Channel("angle", "deg"),), value_dtype="float64")
    counter = np.r_[0:300, 305:600]
    recs = [
        DeviceRecording(
            plate,
            counter / 1000.0 + 1e-9 * seed,
            counter,
            rng.normal(300, 50, (4, counter.size)).astype(np.float32),
            (Gap(300, 304, 0.299, 0.305),),
        ),
        DeviceRecording(knee, np.arange(120) / 200.0 + 0.1, np.arange(120), rng.normal(45, 20, (1, 120))),
    ]
    meta = TrialMeta(trial_id, "jump-cmj", side, T0 + timedelta(seconds=seed), "", {"rep": seed, "note": "ok"})
    return Trial.from_recordings(meta, recs, [Event(0.1, "cue", "jump!"), Event(0.4, "phase", "flight", "plate")])


ROWS = [
    ResultRow("t1", "jump_height", 0.1 + 0.2, "m", "both", "jump-cmj", "takeoff_velocity"),
    ResultRow("t1", "peak_force", 1234.5678901234567, "N", "both", "jump-cmj", "x"),
    ResultRow("t2", "jump_height", math.nan, "m", "both", "jump-cmj", "takeoff_velocity"),
    ResultRow("t2", "rsi", -math.inf, "1", "both", "jump-cmj", "x"),
    ResultRow("", "jump_height", 5e-324, "m", "both", "jump-cmj", "best"),
]


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ClinicStore, str, str]:
    monkeypatch.setenv("KINETICS_DB_KEY", "tablet A key")
    store = ClinicStore.open(tmp_path / "tablet-a")
    pid = store.add_patient(NAME, BORN, "female")
    sid = store.save_session(
        pid,
        "jump-cmj",
        [make_trial("t1", "both", 1), make_trial("t2", "both", 2)],
        ROWS,
        started=T0,
        ended=T0 + timedelta(minutes=7, microseconds=1),
        notes="Mrs Fairweather-Oduya's knee felt stiff",
    )
    yield store, pid, sid
    store.close()


@pytest.fixture
def target(tmp_path: Path) -> ClinicStore:
    store = ClinicStore.open(tmp_path / "tablet-b", key="tablet B key")
    yield store
    store.close()


def _assert_same_session(a: ClinicStore, b: ClinicStore, sid: str, *, notes: bool) -> None:
    sa, sb = a.get_session(sid), b.get_session(sid)
    assert (sb.patient_id, sb.protocol_id, sb.started_at, sb.ended_at) == (
        sa.patient_id,
        sa.protocol_id,
        sa.started_at,
        sa.ended_at,
    )
    assert sb.protocol_toml == sa.protocol_toml and sb.origin == "import"
    assert sb.notes == (sa.notes if notes else "")
    assert len(sa.trials) == len(sb.trials) == 2
    for ta, tb in zip(sa.trials, sb.trials, strict=True):
        assert (ta.trial_id, ta.side, ta.protocol, ta.started_at, ta.complete) == (
            tb.trial_id,
            tb.side,
            tb.protocol,
            tb.started_at,
            tb.complete,
        )
        assert read_trial(b.trial_path(tb)).equals(read_trial(a.trial_path(ta)))
    assert len(sa.results) == len(sb.results) == len(ROWS)
    for ra, rb in zip(sa.results, sb.results, strict=True):
        assert bits(ra.value) == bits(rb.value) or (math.isnan(ra.value) and math.isnan(rb.value))
        assert (ra.trial_id, ra.key, ra.unit, ra.side, ra.protocol, ra.method, ra.measured_at) == (
            rb.trial_id,
            rb.key,
            rb.unit,
            rb.side,
            rb.protocol,
            rb.method,
            rb.measured_at,
        )
    assert b.check().ok


def test_identified_export_then_import_round_trips_bit_exact(
    source: tuple[ClinicStore, str, str], target: ClinicStore, tmp_path: Path
) -> None:
    a, pid, sid = source
    out = tmp_path / "session.h5"
    export_session(a, sid, out, "hdf5", identified=True)
    report = import_bundle(target, out)
    assert (report.session_id, report.patient_id, report.trials, report.results) == (sid, pid, 2, 5)
    assert report.patient_created
    _assert_same_session(a, target, sid, notes=True)
    p = target.get_patient(pid)
    assert (p.name, p.birth_date.isoformat() if p.birth_date else None, p.sex, p.origin) == (
        NAME,
        BORN,
        "female",
        "import",
    )
    assert [e["action"] for e in target.audit_entries(pid)] == ["import", "view"]
    assert a.audit_entries(pid)[-1]["action"] == "export"
    with pytest.raises(BundleError, match=r"already in this store.*Nothing was imported"):
        import_bundle(target, out)


def test_pseudonymised_export_holds_no_identity(
    source: tuple[ClinicStore, str, str], target: ClinicStore, tmp_path: Path
) -> None:
    a, pid, sid = source
    out = tmp_path / "pseudo.h5"
    export_session(a, sid, out, "hdf5")
    raw = out.read_bytes()
    for needle in (NAME, "Wilhelmina", "Fairweather", BORN, "1958"):
        assert needle.encode() not in raw
    bundle = read_session(out)
    texts = [bundle.meta.notes, *bundle.documents.values(), *map(str, bundle.meta.extra.values())]
    texts += [str(t.meta) for t in bundle.trials]
    assert not any("Fairweather" in t or BORN in t for t in texts)
    assert bundle.meta.patient_id == pid and bundle.meta.notes == ""
    manifest = json.loads(bundle.documents[MANIFEST])
    assert manifest["identified"] is False and "patient" not in manifest
    import_bundle(target, out)
    _assert_same_session(a, target, sid, notes=False)
    p = target.get_patient(pid)
    assert p.name is None and p.origin == "import"  # a pseudonymous patient: no identity row


def test_csv_export_is_exact_and_pseudonymised(source: tuple[ClinicStore, str, str], tmp_path: Path) -> None:
    a, _, sid = source
    out = tmp_path / "csv"
    written = export_session(a, sid, out, "csv")
    names = sorted(p.name for p in written)
    assert names == [
        "results.csv",
        "session.json",
        "trial_001_t1_events.csv",
        "trial_001_t1_knee.csv",
        "trial_001_t1_plate.csv",
        "trial_002_t2_events.csv",
        "trial_002_t2_knee.csv",
        "trial_002_t2_plate.csv",
    ]
    for p in written:
        text = p.read_text(encoding="utf-8")
        assert "Fairweather" not in text and BORN not in text
    with open(out / "results.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["key"] for r in rows] == [r.key for r in ROWS]
    for got, want in zip(rows, ROWS, strict=True):
        v = float(got["value"])
        assert bits(v) == bits(want.value) or (math.isnan(v) and math.isnan(want.value))
    with open(out / "trial_001_t1_plate.csv", newline="", encoding="utf-8") as f:
        header, *body = list(csv.reader(f))
    assert header == ["time [s]", "counter", "cell_0 [N]", "cell_1 [N]", "cell_2 [N]", "cell_3 [N]"]
    plate = make_trial("t1", "both", 1).devices["plate"]
    table = np.array(body, dtype=np.float64)
    assert np.array_equal(table[:, 0], plate.time) and np.array_equal(table[:, 1], plate.counter)
    assert np.array_equal(table[:, 2:].T.astype(np.float32), plate.values)
    assert np.array_equal(table[:, 2:].T, plate.values.astype(np.float64))  # exact decimal of each float32
    with pytest.raises(ClinicError, match="not an empty folder"):
        export_session(a, sid, out, "csv")


def _nothing_imported(store: ClinicStore) -> None:
    assert store.list_sessions() == [] and store.list_patients() == []
    trials = store.data_dir / "trials"
    assert not trials.exists() or not any(trials.iterdir())


def _chunk_offset(path: Path, dataset: str) -> int:
    with h5py.File(path, "r") as f:
        d = f[dataset]
        return int(d.id.get_chunk_info(0).byte_offset) if d.chunks else int(d.id.get_offset())


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("trials/trial_0001/devices/plate/values", "not a readable Kinetics session bundle"),
        ("results", "not a readable Kinetics session bundle"),
        ("truncate", "not a readable Kinetics session bundle"),
        ("results-value", "results table does not match its digest"),
        ("knee-angle", "trial 't2' does not match its digest"),
        ("protocol", "protocol definition or notes do not match"),
    ],
)
def test_corrupted_bundle_is_refused_and_nothing_imported(
    source: tuple[ClinicStore, str, str], target: ClinicStore, tmp_path: Path, where: str, message: str
) -> None:
    a, _, sid = source
    out = tmp_path / "bad.h5"
    export_session(a, sid, out, "hdf5")
    if where == "truncate":
        out.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    elif where == "results-value":  # a tampered value, written through HDF5 (checksums stay valid)
        with h5py.File(out, "r+") as f:
            rows = f["results"][()]
            rows["value"][0] = 0.31
            f["results"][...] = rows
    elif where == "knee-angle":
        with h5py.File(out, "r+") as f:
            f["trials/trial_0001/devices/knee/values"][0, 5] += 1e-9
    elif where == "protocol":
        with h5py.File(out, "r+") as f:
            text = f["documents/protocol.toml"][()].decode()
            del f["documents/protocol.toml"]
            f["documents"].create_dataset("protocol.toml", data=text.replace("3", "4"), dtype=h5py.string_dtype())
    else:
        offset = _chunk_offset(out, where) + 40
        data = bytearray(out.read_bytes())
        data[offset : offset + 16] = bytes(b ^ 0xFF for b in data[offset : offset + 16])
        out.write_bytes(bytes(data))
    with pytest.raises(BundleError) as err:
        import_bundle(target, out)
    assert message in str(err.value) and str(err.value).startswith(f"cannot import {out}: ")
    assert str(err.value).endswith("Nothing was imported")
    _nothing_imported(target)


def test_foreign_files_are_refused(target: ClinicStore, tmp_path: Path) -> None:
    plain = tmp_path / "plain-session.h5"
    write_session(plain, Session(SessionMeta("s1", "P-ABCDEF"), [make_trial("t1", "both", 1)]))
    trial = tmp_path / "trial.h5"
    write_trial(trial, make_trial("t1", "both", 1))
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    other = tmp_path / "other-manifest.h5"
    write_session(other, Session(SessionMeta("s2", "P-ABCDEF"), [], [], {MANIFEST: '{"format": "acme-export"}'}))
    cases = {
        plain: "not a clinic export (no clinic.json manifest)",
        trial: "not a readable Kinetics session bundle",
        text: "not a readable Kinetics session bundle",
        other: "not a kinetics-clinic-session manifest (foreign file)",
        tmp_path / "missing.h5": "not a readable Kinetics session bundle",
    }
    for path, message in cases.items():
        with pytest.raises(BundleError, match="cannot import") as err:
            import_bundle(target, path)
        assert message in str(err.value), (path, str(err.value))
    _nothing_imported(target)


def test_failure_during_the_insert_removes_copied_files(
    source: tuple[ClinicStore, str, str], target: ClinicStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _, sid = source
    out = tmp_path / "session.h5"
    export_session(a, sid, out, "hdf5", identified=True)
    seen: list[Path] = []

    def broken(*args: object, **kwargs: object) -> None:
        seen.extend(sorted((target.data_dir / "trials").rglob("*.h5")))
        raise OSError("disk full")

    monkeypatch.setattr(target, "insert_session", broken)
    with pytest.raises(OSError, match="disk full"):
        import_bundle(target, out)
    assert len(seen) == 2  # the trial files had been written...
    assert not any(p.exists() for p in seen)  # ...and were removed again
    _nothing_imported(target)
    monkeypatch.undo()
    import_bundle(target, out)  # and a retry then succeeds
    _assert_same_session(a, target, sid, notes=True)
