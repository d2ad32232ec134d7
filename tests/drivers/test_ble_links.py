"""Links over the virtual radio: loss, reconnection, faults, several devices, the connect lock."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from drivers.ble.bumble_backend import BumbleClient, bound_scanner
from drivers.ble.peripheral import CharacteristicSpec, PeripheralFaults, ServiceSpec, SimulatedPeripheral
from drivers.ble.radio import Radio, virtual_radio
from drivers.ble.transport import open_transport

T = TypeVar("T")

SERVICE = "6b0f0101-8d5e-4c1b-9a3e-2f4f6d7a0001"
DATA = "6b0f0102-8d5e-4c1b-9a3e-2f4f6d7a0001"
STATUS = "6b0f0103-8d5e-4c1b-9a3e-2f4f6d7a0001"


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 25.0) -> T:
    """Run one test scenario on a fresh, real asyncio event loop."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def sensor(radio: Radio, name: str, faults: PeripheralFaults | None = None) -> SimulatedPeripheral:
    return SimulatedPeripheral(
        radio,
        name=name,
        services=[ServiceSpec(SERVICE, [CharacteristicSpec(DATA, ("notify",)), CharacteristicSpec(STATUS, ("read",))])],
        faults=faults,
    )


async def find(radio: Radio, name: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_name(name, timeout=5.0, backend=bound_scanner(radio))
    assert device is not None, f"{name} was not found"
    return device


async def stream(peripheral: SimulatedPeripheral, first: int, count: int, rate_hz: float) -> None:
    """Notify counters first..first+count-1 at ``rate_hz`` (on the sender's clock)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(count):
        await peripheral.notify(DATA, struct.pack("<I", first + i))
        await asyncio.sleep(max(0.0, start + (i + 1) / rate_hz - loop.time()))


def counters(packets: list[bytes]) -> list[int]:
    return [struct.unpack_from("<I", p)[0] for p in packets]


def test_link_loss_calls_disconnected_callback_and_a_new_client_reconnects() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio, sensor(radio, "Link-1") as peripheral:
            device = await find(radio, "Link-1")
            lost: asyncio.Queue[BleakClient] = asyncio.Queue()
            received: list[bytes] = []
            client = BleakClient(device, disconnected_callback=lost.put_nowait, backend=BumbleClient, radio=radio)
            await client.connect()
            await client.start_notify(DATA, lambda _c, d: received.append(bytes(d)))
            await peripheral.wait_subscribed(DATA, timeout=2.0)
            await stream(peripheral, 0, 20, 100.0)
            assert await peripheral.drop_link() == 1
            assert await asyncio.wait_for(lost.get(), 2.0) is client
            assert not client.is_connected
            assert peripheral.stats.links_dropped == 1
            with pytest.raises(BleakError):  # bleak: "Service Discovery has not been performed yet"
                await client.read_gatt_char(STATUS)
            assert not await peripheral.notify(DATA, b"\x00" * 4)  # nobody listens any more

            # bleak's rule: a new client per connection. The peripheral advertises again at once.
            again = BleakClient(device, timeout=2.0, backend=BumbleClient, radio=radio)
            await again.connect()
            await again.start_notify(DATA, lambda _c, d: received.append(bytes(d)))
            await peripheral.wait_subscribed(DATA, timeout=2.0)
            await stream(peripheral, 20, 20, 100.0)
            await again.read_gatt_char(STATUS)  # round trip: the last notification has arrived
            assert counters(received) == list(range(40))
            assert lost.empty()  # the first client's callback ran exactly once
            await again.disconnect()
            assert not again.is_connected
            assert peripheral.stats.connections == 2

    run(scenario())


def test_drop_link_at_fault_cuts_the_stream_after_the_given_time() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio:
            faults = PeripheralFaults(drop_link_at=0.3)
            async with sensor(radio, "Link-2", faults) as peripheral:
                device = await find(radio, "Link-2")
                lost = asyncio.Event()
                received: list[bytes] = []
                client = BleakClient(
                    device, disconnected_callback=lambda _c: lost.set(), backend=BumbleClient, radio=radio
                )
                await client.connect()
                await client.start_notify(DATA, lambda _c, d: received.append(bytes(d)))
                await stream(peripheral, 0, 100, 100.0)  # 1 s of stream; the link dies at 0.3 s
                assert lost.is_set()
                got = counters(received)
                assert got == list(range(len(got)))  # a prefix, in order, nothing after the cut
                assert 10 <= len(got) <= 60
                stats = peripheral.stats
                assert stats.notifications_sent + stats.notifications_unsubscribed == 100
                # A notification already handed to the link when it dies is lost with it, as on air.
                assert stats.notifications_sent - len(got) in (0, 1)

    run(scenario())


def test_silent_peripheral_times_out_and_the_radio_connects_again_afterwards() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio:
            faults = PeripheralFaults(readvertise_after=1.5)
            async with sensor(radio, "Link-3", faults) as peripheral:
                device = await find(radio, "Link-3")
                client = BleakClient(device, backend=BumbleClient, radio=radio)
                await client.connect()
                await peripheral.drop_link()
                # Out of range for 1.5 s: a 0.3 s connect attempt must fail cleanly...
                with pytest.raises(TimeoutError):
                    await BleakClient(device, timeout=0.3, backend=BumbleClient, radio=radio).connect()
                # ...and must not leave the controller stuck with a pending connection.
                later = BleakClient(device, timeout=5.0, backend=BumbleClient, radio=radio)
                await later.connect()
                assert later.is_connected
                await later.disconnect()

    run(scenario())


def test_connect_to_an_unknown_address_string_fails_with_device_not_found() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio, sensor(radio, "Link-4") as peripheral:
            by_string = BleakClient(peripheral.address.lower(), timeout=3.0, backend=BumbleClient, radio=radio)
            await by_string.connect()  # a plain address string is resolved by scanning, as bleak does
            assert by_string.name == "Link-4"
            await by_string.disconnect()
            with pytest.raises(BleakError, match="not found"):
                await BleakClient("F0:00:00:00:99:99", timeout=0.3, backend=BumbleClient, radio=radio).connect()

    run(scenario())


def test_packet_loss_fault_loses_the_expected_notifications_only() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio:
            async with sensor(radio, "Link-5", PeripheralFaults(packet_loss=0.25, seed=7)) as peripheral:
                device = await find(radio, "Link-5")
                received: list[bytes] = []
                async with BleakClient(device, backend=BumbleClient, radio=radio) as client:
                    await client.start_notify(DATA, lambda _c, d: received.append(bytes(d)))
                    await peripheral.wait_subscribed(DATA, timeout=2.0)
                    sent = []
                    for i in range(200):
                        if await peripheral.notify(DATA, struct.pack("<I", i)):
                            sent.append(i)
                        if i % 20 == 19:
                            await asyncio.sleep(0.01)
                    await client.read_gatt_char(STATUS)
                    assert counters(received) == sent
                    lost = peripheral.stats.notifications_lost
                    assert lost == 200 - len(sent)
                    assert 20 <= lost <= 80  # 25 % of 200, seeded

    run(scenario())


def test_two_peripherals_at_once_with_the_connect_lock() -> None:
    async def scenario() -> None:
        async with await open_transport("virtual") as ble:
            assert ble.radio is not None
            radio = ble.radio
            async with sensor(radio, "Left") as left, sensor(radio, "Right") as right:
                devices = [await find(radio, "Left"), await find(radio, "Right")]
                received: dict[str, list[bytes]] = {"Left": [], "Right": []}

                async def connect(device: BLEDevice) -> BleakClient:
                    async with ble.connect_lock:
                        client = BleakClient(device, **ble.client_kwargs())
                        await client.connect()
                        return client

                clients = await asyncio.gather(*(connect(d) for d in devices))

                def collector(sink: list[bytes]) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
                    return lambda _c, d: sink.append(bytes(d))

                for client, name in zip(clients, ("Left", "Right"), strict=True):
                    await client.start_notify(DATA, collector(received[name]))
                await left.wait_subscribed(DATA, timeout=2.0)
                await right.wait_subscribed(DATA, timeout=2.0)
                await asyncio.gather(stream(left, 0, 150, 100.0), stream(right, 1000, 150, 100.0))
                for client in clients:
                    await client.read_gatt_char(STATUS)
                assert counters(received["Left"]) == list(range(150))
                assert counters(received["Right"]) == list(range(1000, 1150))
                assert len(radio.central.connections) == 2
                for client in clients:
                    await client.disconnect()

    run(scenario())


def test_concurrent_connects_without_a_lock_fail_like_bluez() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio, sensor(radio, "Busy-1"), sensor(radio, "Busy-2"):
            devices = [await find(radio, "Busy-1"), await find(radio, "Busy-2")]
            clients = [BleakClient(d, timeout=3.0, backend=BumbleClient, radio=radio) for d in devices]
            results = await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            assert len(errors) == 1
            assert isinstance(errors[0], BleakError)
            assert "already in progress" in str(errors[0])
            assert sum(c.is_connected for c in clients) == 1

    run(scenario())


def test_peripheral_switched_off_disconnects_its_central() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio:
            peripheral = sensor(radio, "Off-1")
            await peripheral.start()
            device = await find(radio, "Off-1")
            lost = asyncio.Event()
            client = BleakClient(device, disconnected_callback=lambda _c: lost.set(), backend=BumbleClient, radio=radio)
            await client.connect()
            await peripheral.wait_connected(timeout=2.0)
            await peripheral.stop()
            await asyncio.wait_for(lost.wait(), 2.0)
            assert not client.is_connected
            assert radio.central.connections == {}
            # Switched off means gone from the air: no more advertisements.
            assert await BleakScanner.find_device_by_name("Off-1", timeout=0.3, backend=bound_scanner(radio)) is None

    run(scenario())
