"""Choosing the transport at run time, and the Bumble backend over an external HCI transport (TCP)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bleak import BleakClient, BleakScanner

from drivers.ble import transport as transport_module
from drivers.ble.bumble_backend import BumbleClient, BumbleScanner
from drivers.ble.errors import BleTransportError
from drivers.ble.peripheral import CharacteristicSpec, ServiceSpec, SimulatedPeripheral
from drivers.ble.radio import open_hci_radio, serve_hci, virtual_radio
from drivers.ble.transport import has_os_adapter, open_transport, resolve_spec

T = TypeVar("T")

SERVICE = "6b0f0201-8d5e-4c1b-9a3e-2f4f6d7a0001"
DATA = "6b0f0202-8d5e-4c1b-9a3e-2f4f6d7a0001"


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run one test scenario on a fresh, real asyncio event loop."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def test_adapter_detection_reads_sys_class_bluetooth(tmp_path: Path) -> None:
    assert not has_os_adapter(tmp_path / "missing", system="Linux")
    assert not has_os_adapter(tmp_path, system="Linux")
    (tmp_path / "hci0").mkdir()
    assert has_os_adapter(tmp_path, system="Linux")
    assert has_os_adapter(tmp_path / "missing", system="Darwin")
    assert has_os_adapter(tmp_path / "missing", system="Windows")


def test_resolve_spec() -> None:
    assert resolve_spec(None, adapter_present=True) == ("os", "os")
    assert resolve_spec("auto", adapter_present=False) == ("virtual", "virtual")
    assert resolve_spec("  ", adapter_present=False) == ("virtual", "virtual")
    assert resolve_spec("OS") == ("os", "os")
    assert resolve_spec("virtual") == ("virtual", "virtual")
    assert resolve_spec("simulated") == ("virtual", "virtual")
    assert resolve_spec("usb:0") == ("hci", "usb:0")
    assert resolve_spec("serial:/dev/ttyACM0") == ("hci", "serial:/dev/ttyACM0")
    assert resolve_spec("tcp-client:127.0.0.1:9001") == ("hci", "tcp-client:127.0.0.1:9001")
    with pytest.raises(BleTransportError, match="not a transport"):
        resolve_spec("usb 0")
    with pytest.raises(BleTransportError, match="not a transport"):
        resolve_spec(":9001")


def test_open_transport_gives_bleak_its_backend_and_kwargs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(transport_module, "SYS_CLASS_BLUETOOTH", tmp_path)  # an empty adapter list

    async def scenario() -> None:
        async with await open_transport(None) as ble:  # no adapter: the embedded virtual radio
            assert ble.kind == "virtual"
            assert ble.radio is not None and ble.radio.is_virtual
            scanner_backend, client_backend = ble.scanner_kwargs()["backend"], ble.client_kwargs()["backend"]
            assert set(ble.scanner_kwargs()) == set(ble.client_kwargs()) == {"backend"}
            assert issubclass(scanner_backend, BumbleScanner) and scanner_backend.bound_radio is ble.radio
            assert issubclass(client_backend, BumbleClient) and client_backend.bound_radio is ble.radio
            assert ble.description == "virtual radio"
            scanner = BleakScanner(**ble.scanner_kwargs())
            assert scanner.backend_id == "BumbleScanner"
        assert ble.radio.closed
        with pytest.raises(BleTransportError, match="no Bluetooth adapter"):
            await open_transport("os")
        (tmp_path / "hci0").mkdir()
        os_stack = await open_transport("os")  # opening the OS transport touches no radio yet
        assert os_stack.kind == "os" and os_stack.radio is None
        assert os_stack.scanner_kwargs() == {} and os_stack.client_kwargs() == {}
        assert os_stack.scanner_backend is None and os_stack.client_backend is None
        await os_stack.close()
        with pytest.raises(BleTransportError, match="central_mtu"):
            await open_transport("virtual", central_mtu=600)
        with pytest.raises(BleTransportError, match="cannot open Bumble HCI transport"):
            await open_transport("no-such-scheme:1")
        with pytest.raises(BleTransportError, match="cannot open Bumble HCI transport"):
            await open_transport(f"tcp-client:127.0.0.1:{free_port()}")  # nobody listens

    run(scenario())


def test_closed_radio_refuses_new_clients() -> None:
    async def scenario() -> None:
        async with virtual_radio() as radio:
            pass
        with pytest.raises(BleTransportError, match="closed"):
            BleakClient("F0:00:00:00:00:01", backend=BumbleClient, radio=radio)
        with pytest.raises(BleTransportError, match="radio="):
            BleakClient("F0:00:00:00:00:01", backend=BumbleClient)

    run(scenario())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_bumble_backend_over_an_external_hci_transport() -> None:
    """A controller served over TCP (as a simulator in another process would) drives the same bleak code."""

    async def scenario() -> None:
        async with virtual_radio() as air:
            peripheral = SimulatedPeripheral(
                air, name="Remote-1", services=[ServiceSpec(SERVICE, [CharacteristicSpec(DATA, ("notify",))])]
            )
            port = free_port()
            async with peripheral, await serve_hci(air, f"tcp-server:127.0.0.1:{port}"):
                async with await open_transport(f"tcp-client:127.0.0.1:{port}") as ble:
                    assert ble.kind == "hci" and ble.radio is not None and not ble.radio.is_virtual
                    assert ble.description == f"HCI tcp-client:127.0.0.1:{port}"
                    with pytest.raises(BleTransportError, match="virtual radio"):
                        SimulatedPeripheral(ble.radio, name="x", services=peripheral.services)
                    device = await BleakScanner.find_device_by_name("Remote-1", timeout=5.0, **ble.scanner_kwargs())
                    assert device is not None
                    received: list[int] = []
                    async with BleakClient(device, **ble.client_kwargs()) as client:
                        assert client.mtu_size == 247
                        await client.start_notify(DATA, lambda _c, d: received.append(struct.unpack("<I", d)[0]))
                        await peripheral.wait_subscribed(DATA, timeout=2.0)
                        for i in range(50):
                            await peripheral.notify(DATA, struct.pack("<I", i))
                            await asyncio.sleep(0.005)
                        await client.stop_notify(DATA)  # a request: every earlier notification is in
                    assert received == list(range(50))

    run(scenario())


def test_opening_an_hci_radio_on_a_port_without_controller_fails_clearly() -> None:
    async def scenario() -> None:
        port = free_port()
        server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", port)
        try:
            with pytest.raises(BleTransportError):
                await asyncio.wait_for(open_hci_radio(f"tcp-client:127.0.0.1:{port}"), 15.0)
        finally:
            server.close()
            await server.wait_closed()

    run(scenario(), timeout=25.0)
