"""Device table: loads, every kind consistent (channels, units, rates, UUIDs, codec), DeviceInfo built right."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from drivers.codecs import codec_for
from drivers.codecs.kinetics_profile import BASE_UUID, KIND_CODES, layout_for, profile_uuid
from drivers.devices import TABLE_PATH, all_kinds, device_kind, load_table, to_device_info
from kinetics._checks import KineticsInputError
from kinetics.trial import DEVICE_KINDS

REQUIRED = {
    "push",
    "grip",
    "pull",
    "pneumatic",
    "goniometer",
    "plate",
    "tindeq-progressor",
    "witmotion-bwt901",
    "ble-force",
    "ble-weight-scale",
}
SI_UNITS = {"N", "Pa", "rad/s", "m/s^2", "deg", "kg", "kg/m^2", "m"}


def test_every_required_kind_is_in_the_table() -> None:
    assert REQUIRED <= {k.key for k in all_kinds()}


@pytest.mark.parametrize("kind", all_kinds(), ids=lambda k: k.key)
def test_kind_is_consistent(kind) -> None:  # type: ignore[no-untyped-def]
    assert kind.trial_kind in DEVICE_KINDS
    assert all(c.unit in SI_UNITS for c in kind.channels)
    assert kind.rate in kind.rates
    for u in (kind.service_uuid, kind.data_uuid, kind.command_uuid, kind.status_uuid, kind.layout_uuid):
        assert u == "" or str(uuid.UUID(u)) == u
    assert kind.data_uuid != kind.service_uuid
    codec = codec_for(kind)
    assert codec.n_channels == kind.n_channels
    assert codec.max_samples(kind.min_mtu) >= 1


def test_open_profile_kinds() -> None:
    profile = [k for k in all_kinds() if k.codec == "kinetics-profile"]
    assert {k.key for k in profile} == set(KIND_CODES.values())
    services = set()
    for kind in profile:
        assert KIND_CODES[kind.kind_code] == kind.key  # type: ignore[index]
        assert kind.service_uuid == profile_uuid(0x1000 + kind.kind_code)  # type: ignore[operator]
        assert (kind.data_uuid, kind.command_uuid, kind.status_uuid, kind.layout_uuid) == tuple(
            profile_uuid(s) for s in (0x2001, 0x2002, 0x2003, 0x2004)
        )
        assert kind.timing == "counter" and kind.battery_service and kind.device_information
        assert kind.name_prefix.startswith("KN-")
        services.add(kind.service_uuid)
        assert np.all(layout_for(kind).full_scale > 1.0)
    assert len(services) == len(profile) and BASE_UUID.endswith("067e179b6b81")
    assert device_kind("plate").rate == 1000.0 and device_kind("push").rate == 1000.0
    assert device_kind("pneumatic").rate == 100.0 and device_kind("goniometer").rate == 200.0
    assert device_kind("goniometer").channel_names == ("gyr_x", "gyr_y", "gyr_z", "acc_x", "acc_y", "acc_z")


def test_plate_geometry() -> None:
    cells = device_kind("plate").geometry["cell_positions"]
    assert cells.shape == (4, 2) and np.allclose(cells.sum(axis=0), 0.0)  # centred on the plate
    assert cells[0, 0] < 0 < cells[0, 1] and cells[2, 0] > 0 > cells[2, 1]  # front-left, rear-right
    with pytest.raises(ValueError):
        cells[0, 0] = 1.0  # the table is read-only


def test_public_devices() -> None:
    tindeq = device_kind("tindeq-progressor")
    assert tindeq.service_uuid == "7e4e1701-1ea6-40c9-9dcc-13d34ffead57"
    assert tindeq.data_uuid == "7e4e1702-1ea6-40c9-9dcc-13d34ffead57"
    assert tindeq.command_uuid == "7e4e1703-1ea6-40c9-9dcc-13d34ffead57"
    assert tindeq.name_prefix == "Progressor" and tindeq.min_mtu == 37 and tindeq.timing == "device_time"
    wit = device_kind("witmotion-bwt901")
    assert (wit.service_uuid, wit.data_uuid, wit.command_uuid) == (
        "0000ffe5-0000-1000-8000-00805f9a34fb",
        "0000ffe4-0000-1000-8000-00805f9a34fb",
        "0000ffe9-0000-1000-8000-00805f9a34fb",
    )
    assert device_kind("ble-force").data_uuid.startswith("00002c07")
    scale = device_kind("ble-weight-scale")
    assert scale.service_uuid.startswith("0000181d") and scale.data_uuid.startswith("00002a9d")
    assert scale.data_property == "indicate"


def test_to_device_info() -> None:
    info = to_device_info(device_kind("plate"), "plate_left", "sim:plate:1", firmware="1.0")
    assert (
        info.kind == "plate" and info.rate == 1000.0 and info.channel_names == ("cell_0", "cell_1", "cell_2", "cell_3")
    )
    assert info.geometry["cell_positions"].shape == (4, 2) and info.calibration["cell_0_lsb"] == 0.01
    assert to_device_info(device_kind("push"), "push", rate=500).rate == 500.0
    tindeq = to_device_info(device_kind("tindeq-progressor"), "pull")
    assert tindeq.kind == "pull" and tindeq.calibration["standard_gravity"] == 9.80665
    with pytest.raises(KineticsInputError, match="cannot sample"):
        to_device_info(device_kind("push"), "push", rate=333)
    with pytest.raises(KineticsInputError, match="unknown kind"):
        device_kind("treadmill")


def test_bad_tables_are_refused(tmp_path: Path) -> None:
    text = TABLE_PATH.read_text()
    bad = tmp_path / "t.toml"
    bad.write_text(text.replace('trial_kind = "grip"', 'trial_kind = "glove"'))
    with pytest.raises(KineticsInputError, match="glove"):
        load_table(bad)
    bad.write_text(text.replace("rate = 100.0\nrates = [10.0", "rate = 150.0\nrates = [10.0"))
    with pytest.raises(KineticsInputError, match="default rate"):
        load_table(bad)
    bad.write_text(text.replace('service = "34cd1001-f8f9-42b7-b55b-067e179b6b81"', 'service = "xyz"'))
    with pytest.raises(KineticsInputError, match="not a UUID"):
        load_table(bad)
    bad.write_text(text.replace("kind_code = 6\n", ""))
    with pytest.raises(KineticsInputError, match="kind_code"):
        load_table(bad)
