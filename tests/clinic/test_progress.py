"""Progress and MDC flags on constructed histories whose answers are worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from clinic.progress import (
    MDC95_FACTOR,
    SessionValues,
    metric_progress,
    patient_progress,
    pooled_within_sd,
    published_reliability,
)
from clinic.store import ClinicStore
from kinetics.io import ResultRow
from kinetics.trial import Channel, DeviceInfo, DeviceRecording, Trial, TrialMeta

D0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _sessions(*trial_sets: list[float]) -> list[SessionValues]:
    return [SessionValues(f"s{i}", D0 + timedelta(weeks=i), tuple(v)) for i, v in enumerate(trial_sets)]


def test_mdc_factor() -> None:
    assert MDC95_FACTOR == pytest.approx(2.7718585822512662, abs=1e-15)


def test_own_trials_sem_best_of_three() -> None:
    # SDs 10, 10, 5 with 2 degrees of freedom each: pooled SD = √((200 + 200 + 50)/6) = √75
    sem, dof = pooled_within_sd([[300, 310, 320], [330, 340, 350], [345, 350, 355]])
    assert dof == 6 and sem == pytest.approx(math.sqrt(75.0), rel=1e-15)
    m = metric_progress(
        _sessions([300, 310, 320], [330, 340, 350], [345, 350, 355]),
        protocol="knee-extension-hhd",
        key="peak_force",
        side="left",
        unit="N",
        better="higher",
        how="best",
    )
    mdc = 1.96 * math.sqrt(150.0)  # 1.96·√2·√75 = 24.005 N
    assert m.sem_source == "trials" and m.mdc95 == pytest.approx(mdc, rel=1e-14)
    assert [p.value for p in m.points] == [320.0, 350.0, 355.0]
    first, second, third = m.points
    assert math.isnan(first.change_from_baseline) and not first.real_change_from_baseline
    assert (second.change_from_baseline, second.change_from_previous) == (30.0, 30.0)
    assert second.real_change_from_baseline and second.real_change_from_previous
    assert second.mdc95_baseline == pytest.approx(mdc, rel=1e-14) and second.direction_from_baseline == "better"
    assert (third.change_from_baseline, third.change_from_previous) == (35.0, 5.0)
    assert third.real_change_from_baseline and not third.real_change_from_previous
    assert third.percent_from_baseline == pytest.approx(35.0 / 320.0 * 100.0, rel=1e-15)
    assert third.within_sd == pytest.approx(5.0, rel=1e-15) and third.n_trials == 3


def test_lower_is_better_and_worse_direction() -> None:
    m = metric_progress(
        _sessions([0.010, 0.012], [0.020, 0.022]),
        protocol="x",
        key="mean_velocity",
        side="none",
        unit="m/s",
        better="lower",
        how="mean",
    )
    # SD of each pair = 0.002/√2; pooled the same; MDC95 = 1.96·√2·0.002/√2 = 0.00392 m/s
    assert m.points[1].mdc95_baseline == pytest.approx(0.00392, rel=1e-12)
    assert m.points[1].change_from_baseline == pytest.approx(0.010, rel=1e-12)
    assert m.points[1].real_change_from_baseline and m.points[1].direction_from_baseline == "worse"


def test_published_sem_for_grip() -> None:
    rel = published_reliability("grip-asht", "peak_force")
    assert rel is not None and rel.sem == pytest.approx(1.8 * 9.80665, rel=1e-15) and "Bai Z" in rel.source
    mdc = 1.96 * math.sqrt(2.0) * 1.8 * 9.80665  # 48.93 N
    m = metric_progress(
        _sessions([200, 210, 220], [250, 260, 270], [240, 250, 260]),
        protocol="grip-asht",
        key="peak_force",
        side="right",
        unit="N",
        how="mean",
        reliability=rel,
    )
    assert m.sem_source == "published" and m.mdc95 == pytest.approx(mdc, rel=1e-14)
    assert [p.value for p in m.points] == [210.0, 260.0, 250.0]
    assert m.points[1].change_from_baseline == 50.0 and m.points[1].real_change_from_baseline  # 50 > 48.93
    assert m.points[2].change_from_baseline == 40.0 and not m.points[2].real_change_from_baseline
    assert not m.points[2].real_change_from_previous
    own = metric_progress(
        _sessions([200, 210, 220], [250, 260, 270]),
        protocol="grip-asht",
        key="peak_force",
        side="right",
        unit="N",
        how="mean",
        reliability=rel,
        sem_source="trials",
    )
    assert own.sem_source == "trials" and own.sem == pytest.approx(10.0, rel=1e-15)


def test_percentage_sem_is_relative_to_the_reference() -> None:
    rel = published_reliability("jump-cmj", "jump_height")
    assert rel is not None and rel.sem_percent == 5.8 and rel.sem is None
    m = metric_progress(
        [
            SessionValues("a", D0, (), 0.30),
            SessionValues("b", D0 + timedelta(days=7), (), 0.35),
            SessionValues("c", D0 + timedelta(days=14), (), 0.34),
        ],
        protocol="jump-cmj",
        key="jump_height",
        side="both",
        unit="m",
        reliability=rel,
    )
    b, c = m.points[1], m.points[2]
    assert b.mdc95_baseline == pytest.approx(MDC95_FACTOR * 0.058 * 0.30, rel=1e-14)  # 0.0482 m
    assert b.real_change_from_baseline  # +0.05 m
    assert c.mdc95_previous == pytest.approx(MDC95_FACTOR * 0.058 * 0.35, rel=1e-14)  # reference: previous session
    assert c.change_from_previous == pytest.approx(-0.01, abs=1e-15) and not c.real_change_from_previous
    assert math.isnan(m.mdc95)


def test_no_repeats_means_no_flag() -> None:
    m = metric_progress(_sessions([100.0], [200.0]), protocol="x", key="k", side="none", unit="N")
    assert m.sem_source == "none" and not m.points[1].real_change_from_baseline
    assert m.points[1].change_from_baseline == 100.0


def _trial(tid: str, side: str, when: datetime) -> Trial:
    dev = DeviceInfo("grip", "grip", 50.0, (Channel("force", "N"),))
    rec = DeviceRecording(dev, np.arange(10) / 50.0, np.arange(10), np.zeros((1, 10), np.float32))
    return Trial.from_recordings(TrialMeta(tid, "grip-asht", side, when), [rec])


def test_progress_from_the_store_with_symmetry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINETICS_DB_KEY", "progress")
    with ClinicStore.open(tmp_path / "data") as store:
        pid = store.add_patient("Pat Progress", "1960-02-03", involved_side="left")
        history = {"left": ([180, 190, 200], [240, 250, 260]), "right": ([250, 250, 250], [260, 260, 260])}
        for week in range(2):
            when = D0 + timedelta(weeks=week)
            trials, rows = [], []
            for side in ("left", "right"):
                for k, v in enumerate(history[side][week]):
                    tid = f"{side[0]}{k}"
                    trials.append(_trial(tid, side, when))
                    rows.append(ResultRow(tid, "peak_force", float(v), "N", side, "grip-asht", "isometric"))
            rows.append(ResultRow("", "peak_force", 999.0, "N", "right", "grip-asht", "override"))
            store.save_session(pid, "grip-asht", trials, rows, started=when)
        result = patient_progress(store, pid, metric="peak_force")
        assert store.audit_entries(pid)[-1]["action"] == "view"
    left, right = (m for m in result.metrics if m.side in ("left", "right"))
    assert [p.value for p in left.points] == [190.0, 250.0]  # grip-asht: mean of the three trials
    assert left.points[1].real_change_from_baseline  # +60 N > 48.93 N (published SEM)
    assert [p.value for p in right.points] == [999.0, 999.0]  # a session-level row wins over the trials
    (sym,) = result.symmetry
    assert sym.involved_side == "left" and len(sym.points) == 2
    p0 = sym.points[0]
    assert p0.lsi == pytest.approx(190.0 / 999.0 * 100.0, rel=1e-15)
    assert p0.symmetry_index == pytest.approx((999.0 - 190.0) / (0.5 * (999.0 + 190.0)) * 100.0, rel=1e-15)
