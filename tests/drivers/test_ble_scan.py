"""Scanning over the virtual radio with the real bleak API: by service, by name prefix, advertisement data."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from bleak import BleakScanner

from drivers.ble.bumble_backend import BumbleScanner, bound_scanner
from drivers.ble.errors import BleTransportError
from drivers.ble.peripheral import CharacteristicSpec, ServiceSpec, SimulatedPeripheral
from drivers.ble.radio import virtual_radio
from drivers.ble.scanning import SharedScanner, by_address, by_name_prefix, by_service
from drivers.ble.transport import open_transport

T = TypeVar("T")

LONG_SERVICE = "7e4e1701-1ea6-40c9-9dcc-13d34ffead57"
LONG_DATA = "7e4e1702-1ea6-40c9-9dcc-13d34ffead57"
FORCE_SERVICE_16 = "1826"
FORCE_SERVICE = "00001826-0000-1000-8000-00805f9b34fb"


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run one test scenario on a fresh, real asyncio event loop."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def long_sensor(radio: Any) -> SimulatedPeripheral:
    # Flags + a 128-bit UUID + a 15-character name is 38 bytes: too long for a legacy advertisement,
    # so the peripheral uses a BT 5 extended one.
    return SimulatedPeripheral(
        radio,
        name="Progressor_1234",
        services=[ServiceSpec(LONG_SERVICE, [CharacteristicSpec(LONG_DATA, ("notify",))])],
    )


def short_sensor(radio: Any) -> SimulatedPeripheral:
    # 16-bit service + short name + manufacturer data fits a legacy 31-byte advertisement.
    return SimulatedPeripheral(
        radio,
        name="KF-Grip",
        services=[ServiceSpec(FORCE_SERVICE_16, [CharacteristicSpec("2c07", ("notify",))])],
        manufacturer_data=(0xFFFF, b"\x01\x02"),
    )


def test_advertisement_sizes_choose_legacy_or_extended_advertising() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio:
            long, short = long_sensor(radio), short_sensor(radio)
            assert len(long.advertising_data) == 38
            assert not long.legacy_advertising
            assert len(short.advertising_data) <= 31
            assert short.legacy_advertising

    run(scenario())


def test_discover_by_service_uuid_reports_name_uuids_rssi_and_manufacturer_data() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio, long_sensor(radio) as progressor, short_sensor(radio) as grip:
            found = await BleakScanner.discover(
                timeout=0.5, return_adv=True, service_uuids=[FORCE_SERVICE_16], backend=bound_scanner(radio)
            )
            assert list(found) == [grip.address]
            device, adv = found[grip.address]
            assert device.name == "KF-Grip"
            assert adv.local_name == "KF-Grip"
            assert adv.service_uuids == [FORCE_SERVICE]
            assert adv.manufacturer_data == {0xFFFF: b"\x01\x02"}
            assert adv.service_data == {}
            assert adv.tx_power is None
            assert adv.rssi == -50  # the virtual controller reports every advertisement at -50 dBm

            everything = await BleakScanner.discover(timeout=0.5, return_adv=True, backend=bound_scanner(radio))
            assert set(everything) == {grip.address, progressor.address}
            _device, long_adv = everything[progressor.address]
            assert long_adv.local_name == "Progressor_1234"
            assert long_adv.service_uuids == [LONG_SERVICE]

    run(scenario())


def test_find_by_name_prefix_and_passive_scanning() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio, long_sensor(radio) as progressor, short_sensor(radio):
            device = await BleakScanner.find_device_by_filter(
                lambda _d, adv: (adv.local_name or "").startswith("Progressor"),
                timeout=3.0,
                backend=bound_scanner(radio),
            )
            assert device is not None
            assert device.address == progressor.address
            passive = await BleakScanner.discover(timeout=0.5, scanning_mode="passive", backend=bound_scanner(radio))
            assert {d.name for d in passive} == {"Progressor_1234", "KF-Grip"}
            missing = await BleakScanner.find_device_by_name("Nobody", timeout=0.3, backend=bound_scanner(radio))
            assert missing is None

    run(scenario())


def test_two_scanners_share_one_scan_and_stopping_one_keeps_the_other() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio, short_sensor(radio):
            first: list[str] = []
            second: list[str] = []
            # The explicit form: bleak passes the extra radio= keyword through to the backend.
            one = BleakScanner(lambda d, _a: first.append(d.address), backend=BumbleScanner, radio=radio)
            two = BleakScanner(lambda d, _a: second.append(d.address), backend=BumbleScanner, radio=radio)
            await one.start()
            await two.start()
            await asyncio.sleep(0.35)
            await one.stop()
            seen_by_first, seen_by_second = len(first), len(second)
            assert seen_by_first > 0 and seen_by_second > 0
            await asyncio.sleep(0.35)
            assert len(first) == seen_by_first  # stopped: no more callbacks
            assert len(second) > seen_by_second  # still scanning
            assert radio.central.is_scanning
            await two.stop()
            assert not radio.central.is_scanning

    run(scenario())


def test_shared_scanner_filters() -> None:
    async def scenario() -> None:
        async with await open_transport("virtual") as ble:
            assert ble.radio is not None
            async with long_sensor(ble.radio) as progressor, short_sensor(ble.radio) as grip:
                async with SharedScanner(ble) as scanner:
                    by_name = await scanner.find(by_name_prefix("Progressor"), timeout=3.0)
                    assert by_name is not None and by_name[0].address == progressor.address
                    by_uuid = await scanner.find(by_service("1826"), timeout=3.0)
                    assert by_uuid is not None and by_uuid[0].address == grip.address
                    by_addr = await scanner.find(by_address(grip.address.lower()), timeout=3.0, fresh=True)
                    assert by_addr is not None and by_addr[1].local_name == "KF-Grip"
                    assert await scanner.find(by_name_prefix("Tindeq"), timeout=0.3) is None
                    assert set(scanner.seen) == {progressor.address, grip.address}

    run(scenario())


def test_scanner_without_radio_explains_what_to_pass() -> None:
    with pytest.raises(BleTransportError, match="radio="):
        BleakScanner(backend=BumbleScanner)
