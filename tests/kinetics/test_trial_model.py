"""The trial data model validates what it is given and compares bit-exactly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from kinetics import Channel, DeviceInfo, DeviceRecording, Event, Gap, KineticsInputError, Trial, TrialMeta


def _plate(name: str = "plate_left") -> DeviceInfo:
    return DeviceInfo(
        name=name,
        kind="plate",
        rate=1000.0,
        channels=tuple(Channel(f"cell_{i}", "N") for i in range(4)),
        model="sim-plate",
        calibration={"gain_0": 1.0},
        geometry={"cell_positions": [[-0.2, -0.1], [0.2, -0.1], [0.2, 0.1], [-0.2, 0.1]]},
    )


def _recording(n: int = 5) -> DeviceRecording:
    return DeviceRecording(
        _plate(),
        time=np.arange(n) / 1000.0,
        counter=np.arange(n),
        values=np.ones((4, n), dtype=np.float32),
        gaps=(Gap(10, 12, 0.009, 0.013),),
    )


def test_recording_shapes_and_channel_access() -> None:
    rec = _recording()
    assert rec.n_samples == 5
    assert rec.channel("cell_2").shape == (5,)
    assert rec.duration == pytest.approx(0.005)
    assert rec.gaps[0].missing_samples == 3


def test_values_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(KineticsInputError, match=r"values have shape \(3, 5\), expected \(4, 5\)"):
        DeviceRecording(_plate(), np.arange(5.0), np.arange(5), np.zeros((3, 5), dtype=np.float32))


def test_unsafe_dtype_is_refused_not_silently_rounded() -> None:
    with pytest.raises(KineticsInputError, match="declare value_dtype='float64'"):
        DeviceRecording(_plate(), np.arange(5.0), np.arange(5), np.zeros((4, 5), dtype=np.float64))


def test_counter_must_increase() -> None:
    with pytest.raises(KineticsInputError, match="strictly increasing"):
        DeviceRecording(_plate(), np.arange(3.0), np.array([0, 2, 2]), np.zeros((4, 3), dtype=np.float32))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "treadmill"}, "unknown kind"),
        ({"rate": 0.0}, "positive rate"),
        ({"channels": ()}, "has no channels"),
        ({"name": "bad name!"}, "short identifier"),
    ],
)
def test_device_info_rejects_bad_descriptions(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"name": "push", "kind": "push", "rate": 1000.0, "channels": (Channel("force", "N"),)}
    base.update(kwargs)
    with pytest.raises(KineticsInputError, match=message):
        DeviceInfo(**base)  # type: ignore[arg-type]


def test_meta_needs_aware_time_and_known_side() -> None:
    with pytest.raises(KineticsInputError, match="naive"):
        TrialMeta(start_utc=datetime(2026, 1, 1))
    with pytest.raises(KineticsInputError, match="unknown side"):
        TrialMeta(side="up")
    local = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert TrialMeta(start_utc=local).start_utc.hour == 10


def test_trial_equality_is_bit_exact() -> None:
    meta = TrialMeta(protocol="grip-asht", side="left", patient_id="P-7F3A")
    a = Trial.from_recordings(meta, [_recording()], [Event(0.5, "cue", "go")])
    b = Trial.from_recordings(meta, [_recording()], [Event(0.5, "cue", "go")])
    assert a.equals(b)
    b.devices["plate_left"].values[0, 0] = np.nextafter(np.float32(1), np.float32(2))
    assert not a.equals(b)
    assert a.duration == pytest.approx(0.005)


def test_duplicate_device_names_are_refused() -> None:
    with pytest.raises(KineticsInputError, match="two devices named"):
        Trial.from_recordings(TrialMeta(), [_recording(), _recording()])


def test_event_kind_and_label_are_checked() -> None:
    with pytest.raises(KineticsInputError, match="unknown kind"):
        Event(0.0, "noise", "x")
    with pytest.raises(KineticsInputError, match="200 bytes"):
        Event(0.0, "annotation", "x" * 201)
