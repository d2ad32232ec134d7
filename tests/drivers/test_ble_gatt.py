"""GATT over the virtual radio through the real bleak API: connect, MTU, discovery, read/write, notify."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError, BleakGATTProtocolError

from drivers.ble.bumble_backend import BumbleClient, bound_scanner
from drivers.ble.peripheral import (
    CharacteristicSpec,
    PeripheralFaults,
    ServiceSpec,
    SimulatedPeripheral,
    WriteRejected,
    battery_service,
    device_information_service,
)
from drivers.ble.radio import Radio, virtual_radio

T = TypeVar("T")

SERVICE = "6b0f0001-8d5e-4c1b-9a3e-2f4f6d7a0001"
DATA = "6b0f0002-8d5e-4c1b-9a3e-2f4f6d7a0001"
CONTROL = "6b0f0003-8d5e-4c1b-9a3e-2f4f6d7a0001"
STATUS = "6b0f0004-8d5e-4c1b-9a3e-2f4f6d7a0001"
EVENTS = "6b0f0005-8d5e-4c1b-9a3e-2f4f6d7a0001"
CCCD = "00002902-0000-1000-8000-00805f9b34fb"
USER_DESCRIPTION = "00002901-0000-1000-8000-00805f9b34fb"


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run one test scenario on a fresh, real asyncio event loop."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def sensor_services() -> list[ServiceSpec]:
    return [
        ServiceSpec(
            SERVICE,
            [
                CharacteristicSpec(DATA, ("notify",), description="samples"),
                CharacteristicSpec(CONTROL, ("write", "write-without-response")),
                CharacteristicSpec(STATUS, ("read",), b"\x01idle"),
                CharacteristicSpec(EVENTS, ("indicate",)),
            ],
        ),
        battery_service(87),
        device_information_service("Open Kinetics", "Demo", "SN-0001", "1.2.3"),
    ]


async def find(radio: Radio, name: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_name(name, timeout=5.0, backend=bound_scanner(radio))
    assert device is not None, f"{name} was not found"
    return device


def test_connect_exchanges_mtu_and_discovers_every_attribute() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio, SimulatedPeripheral(radio, name="Demo-1", services=sensor_services()):
            device = await find(radio, "Demo-1")
            async with BleakClient(device, backend=BumbleClient, radio=radio) as client:
                assert client.is_connected
                assert client.mtu_size == 247
                assert client.name == "Demo-1"
                uuids = {s.uuid for s in client.services}
                assert {
                    SERVICE,
                    "0000180f-0000-1000-8000-00805f9b34fb",
                    "0000180a-0000-1000-8000-00805f9b34fb",
                } <= uuids
                service = client.services.get_service(SERVICE)
                assert service is not None
                by_uuid = {c.uuid: c for c in service.characteristics}
                assert set(by_uuid) == {DATA, CONTROL, STATUS, EVENTS}
                assert by_uuid[DATA].properties == ["notify"]
                assert by_uuid[CONTROL].properties == ["write-without-response", "write"]
                assert by_uuid[STATUS].properties == ["read"]
                assert by_uuid[EVENTS].properties == ["indicate"]
                assert sorted(d.uuid for d in by_uuid[DATA].descriptors) == [USER_DESCRIPTION, CCCD]
                assert [d.uuid for d in by_uuid[STATUS].descriptors] == []
                assert by_uuid[CONTROL].max_write_without_response_size == 244
                description = by_uuid[DATA].get_descriptor(USER_DESCRIPTION)
                assert description is not None
                assert await client.read_gatt_descriptor(description) == bytearray(b"samples")
                assert await client.read_gatt_char("2a19") == bytearray([87])
                assert await client.read_gatt_char("2a29") == bytearray(b"Open Kinetics")
            assert not client.is_connected

    run(scenario())


def test_service_filter_limits_discovery() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio, SimulatedPeripheral(radio, name="Demo-2", services=sensor_services()):
            device = await find(radio, "Demo-2")
            async with BleakClient(device, services=["180f"], backend=BumbleClient, radio=radio) as client:
                assert [s.uuid for s in client.services] == ["0000180f-0000-1000-8000-00805f9b34fb"]

    run(scenario())


def test_read_write_with_and_without_response_and_rejection() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio:
            sensor = SimulatedPeripheral(radio, name="Demo-3", services=sensor_services())
            commands: list[bytes] = []

            async def on_control(data: bytes) -> None:
                if data == b"\xff":
                    raise WriteRejected(0x81)
                commands.append(data)
                sensor.set_value(STATUS, b"\x02" + data)

            sensor.on_write(CONTROL, on_control)
            async with sensor:
                device = await find(radio, "Demo-3")
                async with BleakClient(device, backend=BumbleClient, radio=radio) as client:
                    assert await client.read_gatt_char(STATUS) == bytearray(b"\x01idle")
                    await client.write_gatt_char(CONTROL, b"\x65\x01", response=True)
                    assert commands == [b"\x65\x01"]
                    assert await client.read_gatt_char(STATUS) == bytearray(b"\x02\x65\x01")
                    await client.write_gatt_char(CONTROL, bytearray(b"\x66"), response=False)
                    # A command travels without acknowledgement; a read behind it proves it arrived.
                    assert await client.read_gatt_char(STATUS) == bytearray(b"\x02\x66")
                    with pytest.raises(BleakGATTProtocolError) as rejected:
                        await client.write_gatt_char(CONTROL, b"\xff", response=True)
                    assert int(rejected.value.code) == 0x81
                    assert commands == [b"\x65\x01", b"\x66"]
                    assert sensor.stats.writes == 3
                    # Writing a read-only characteristic is refused by the server, not silently dropped.
                    with pytest.raises(BleakGATTProtocolError) as refused:
                        await client.write_gatt_char(STATUS, b"\x00", response=True)
                    assert int(refused.value.code) == 0x03  # Write Not Permitted
                    with pytest.raises(BleakGATTProtocolError) as refused:
                        await client.read_gatt_char(CONTROL)
                    assert int(refused.value.code) == 0x02  # Read Not Permitted
                    assert await client.read_gatt_char(STATUS) == bytearray(b"\x02\x66")

    run(scenario())


def test_notifications_at_100_hz_arrive_all_in_order_with_bleak_callback_types() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio:
            sensor = SimulatedPeripheral(radio, name="Demo-4", services=sensor_services())
            async with sensor:
                device = await find(radio, "Demo-4")
                received: list[bytes] = []
                senders: set[str] = set()

                def on_data(sender: BleakGATTCharacteristic, data: bytearray) -> None:
                    assert isinstance(data, bytearray)
                    senders.add(sender.uuid)
                    received.append(bytes(data))

                async with BleakClient(device, backend=BumbleClient, radio=radio) as client:
                    await client.start_notify(DATA, on_data)
                    await sensor.wait_subscribed(DATA, timeout=2.0)
                    sent = [struct.pack("<I", i) + bytes(range(i % 7, i % 7 + 36)) for i in range(200)]
                    loop = asyncio.get_running_loop()
                    start = loop.time()
                    for i, packet in enumerate(sent):
                        assert await sensor.notify(DATA, packet)
                        # 100 Hz on the sender's clock, not sleep-accumulated.
                        await asyncio.sleep(max(0.0, start + (i + 1) / 100 - loop.time()))
                    await client.stop_notify(DATA)
                    assert not sensor.is_subscribed(DATA)
                    assert received == sent
                    assert senders == {DATA}
                    assert not await sensor.notify(DATA, b"after stop")
                    assert sensor.stats.notifications_sent == 200
                    assert sensor.stats.notifications_unsubscribed == 1

    run(scenario())


def test_async_notification_callback_and_indications() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio, SimulatedPeripheral(radio, name="Demo-5", services=sensor_services()) as s:
            device = await find(radio, "Demo-5")
            got: asyncio.Queue[bytes] = asyncio.Queue()

            async def on_event(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
                await got.put(bytes(data))

            async with BleakClient(device, backend=BumbleClient, radio=radio) as client:
                await client.start_notify(EVENTS, on_event)
                await s.wait_subscribed(EVENTS, timeout=2.0)
                for payload in (b"tare-done", b"battery-low"):
                    assert await s.notify(EVENTS, payload)  # an indication: returns after the confirmation
                assert [await got.get(), await got.get()] == [b"tare-done", b"battery-low"]
                with pytest.raises(BleakError):
                    await client.start_notify(STATUS, on_event)  # no notify/indicate, no CCCD

    run(scenario())


def test_mtu_23_peripheral_truncates_notifications_like_real_stacks() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio:
            faults = PeripheralFaults(max_mtu=23)
            async with SimulatedPeripheral(radio, name="Demo-6", services=sensor_services(), faults=faults) as s:
                device = await find(radio, "Demo-6")
                received: list[bytes] = []
                async with BleakClient(device, backend=BumbleClient, radio=radio) as client:
                    assert client.mtu_size == 23
                    assert s.mtu == 23
                    await client.start_notify(DATA, lambda _c, d: received.append(bytes(d)))
                    await s.wait_subscribed(DATA, timeout=2.0)
                    long_packet = bytes(range(34))  # e.g. a Progressor frame needs MTU >= 37
                    assert await s.notify(DATA, long_packet)
                    assert await s.notify(DATA, b"short")
                    await client.read_gatt_char(STATUS)  # round trip: both notifications have arrived
                    assert received == [long_packet[:20], b"short"]
                    assert s.stats.notifications_truncated == 1

    run(scenario())


def test_peripheral_rejects_bad_descriptions() -> None:
    with pytest.raises(ValueError, match="properties"):
        CharacteristicSpec(DATA, ("notfy",))
    with pytest.raises(ValueError, match="UUID"):
        ServiceSpec("not-a-uuid", [])
    with pytest.raises(ValueError, match="max_mtu"):
        PeripheralFaults(max_mtu=10)
    with pytest.raises(ValueError, match="packet_loss"):
        PeripheralFaults(packet_loss=1.5)

    async def scenario() -> None:
        async with virtual_radio() as radio:
            with pytest.raises(ValueError, match="twice"):
                SimulatedPeripheral(
                    radio,
                    name="Dup",
                    services=[
                        ServiceSpec(SERVICE, [CharacteristicSpec(DATA, ("read",)), CharacteristicSpec(DATA, ("read",))])
                    ],
                )
            sensor = SimulatedPeripheral(radio, name="Demo-7", services=sensor_services())
            with pytest.raises(ValueError, match="not writable"):
                sensor.on_write(STATUS, lambda _d: None)
            with pytest.raises(KeyError, match="no characteristic"):
                sensor.value("2a00")

    run(scenario())
