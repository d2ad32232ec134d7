"""Choose the BLE transport at run time and hand bleak what it needs.

``open_transport(spec)`` understands:

* ``None`` or ``"auto"`` — the operating system's stack when an adapter is present, otherwise the
  embedded virtual radio (on Linux "present" means some ``/sys/class/bluetooth/hci*``; on macOS and
  Windows the OS stack is always chosen, bleak reports a missing radio itself);
* ``"os"`` — bleak's default backend (BlueZ, WinRT, CoreBluetooth);
* ``"virtual"`` — the in-process virtual radio where :class:`~drivers.ble.peripheral.SimulatedPeripheral`
  sensors live;
* anything else — a Bumble HCI transport spec (``usb:0``, ``serial:/dev/ttyACM0``,
  ``tcp-client:127.0.0.1:9001``...): our Bumble backend drives that controller directly.

The result gives ``BleakScanner`` and ``BleakClient`` their ``backend=`` and extra keyword arguments::

    async with await open_transport(spec) as ble:
        async with BleakScanner(service_uuids=[SERVICE], **ble.scanner_kwargs()) as scanner: ...
        async with ble.connect_lock:                       # one connect at a time (BlueZ rule)
            client = BleakClient(device, disconnected_callback=on_lost, **ble.client_kwargs())
            await client.connect()
"""

from __future__ import annotations

import asyncio
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from drivers.ble.bumble_backend import bound_client, bound_scanner
from drivers.ble.errors import BleTransportError
from drivers.ble.radio import DEFAULT_CENTRAL_MTU, Radio, open_hci_radio, open_virtual_radio

TransportKind = Literal["os", "virtual", "hci"]

#: Where Linux lists its Bluetooth adapters.
SYS_CLASS_BLUETOOTH = Path("/sys/class/bluetooth")


def has_os_adapter(sys_class_bluetooth: Path | None = None, system: str | None = None) -> bool:
    """Whether the operating system has a Bluetooth adapter bleak could use.

    On Linux: an ``hci*`` entry under ``/sys/class/bluetooth`` (no BlueZ D-Bus call, so it is instant
    and works without a system bus). Elsewhere: True — CoreBluetooth and WinRT report a missing radio
    through bleak's own errors.
    """
    if (system or platform.system()) != "Linux":
        return True
    directory = SYS_CLASS_BLUETOOTH if sys_class_bluetooth is None else sys_class_bluetooth
    try:
        return any(entry.name.startswith("hci") for entry in directory.iterdir())
    except OSError:
        return False


def resolve_spec(spec: str | None, *, adapter_present: bool | None = None) -> tuple[TransportKind, str]:
    """Decide which transport a spec means, without opening anything.

    Returns ``(kind, spec)`` where ``spec`` is ``"os"``, ``"virtual"`` or the Bumble HCI spec.
    """
    text = (spec or "auto").strip()
    if not text:
        text = "auto"
    lowered = text.lower()
    if lowered == "auto":
        present = has_os_adapter() if adapter_present is None else adapter_present
        return ("os", "os") if present else ("virtual", "virtual")
    if lowered == "os":
        return ("os", "os")
    if lowered in ("virtual", "simulated"):
        return ("virtual", "virtual")
    scheme = text.split(":", 1)[0]
    if not scheme or " " in text:
        raise BleTransportError(
            f"transport: {spec!r} is not a transport; use auto, os, virtual or a Bumble HCI spec "
            "such as usb:0, serial:/dev/ttyACM0 or tcp-client:127.0.0.1:9001"
        )
    return ("hci", text)


@dataclass
class BleTransport:
    """An open BLE transport: which bleak backend to use, with what, and the shared connect lock.

    Attributes
    ----------
    kind : "os", "virtual" or "hci"
    spec : str
        ``"os"``, ``"virtual"`` or the Bumble HCI spec that was opened.
    radio : Radio or None
        The Bumble central for ``virtual`` and ``hci``; ``None`` for the OS stack.
    connect_lock : asyncio.Lock
        Hold it around every ``BleakClient.connect()``: BlueZ (and our backend, which mimics it) refuse
        a second connect while one is pending ("operation already in progress").
    """

    kind: TransportKind
    spec: str
    radio: Radio | None = None
    connect_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    scanner_backend: type[BaseBleakScanner] | None = field(init=False)
    """The ``backend=`` for ``BleakScanner`` (``None``: bleak's platform default); bound to :attr:`radio`."""
    client_backend: type[BaseBleakClient] | None = field(init=False)
    """The ``backend=`` for ``BleakClient`` (``None``: bleak's platform default); bound to :attr:`radio`."""

    def __post_init__(self) -> None:
        self.scanner_backend = None if self.radio is None else bound_scanner(self.radio)
        self.client_backend = None if self.radio is None else bound_client(self.radio)

    def scanner_kwargs(self) -> dict[str, Any]:
        """Keyword arguments to add to every ``BleakScanner(...)`` / ``BleakScanner.discover(...)``."""
        return {} if self.scanner_backend is None else {"backend": self.scanner_backend}

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments to add to every ``BleakClient(...)``."""
        return {} if self.client_backend is None else {"backend": self.client_backend}

    @property
    def description(self) -> str:
        """Human-readable name for status lines, e.g. ``"virtual radio"``."""
        if self.radio is not None:
            return self.radio.description
        return f"operating system Bluetooth ({platform.system()})"

    async def close(self) -> None:
        """Close the radio (virtual or HCI); nothing to do for the OS stack."""
        if self.radio is not None:
            await self.radio.close()

    async def __aenter__(self) -> BleTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_transport(
    spec: str | None = None, *, central_mtu: int = DEFAULT_CENTRAL_MTU, adapter_present: bool | None = None
) -> BleTransport:
    """Open the transport named by ``spec`` (see the module docstring) inside the running event loop.

    ``central_mtu`` is the ATT MTU the Bumble backend requests after connecting. ``adapter_present``
    overrides adapter detection for ``auto`` (tests, or a user who knows better).
    """
    if not 23 <= central_mtu <= 517:
        raise BleTransportError(f"central_mtu: {central_mtu} is outside 23..517; use 247 unless testing")
    kind, resolved = resolve_spec(spec, adapter_present=adapter_present)
    if kind == "os":
        if spec is not None and spec.strip().lower() == "os" and not has_os_adapter():
            raise BleTransportError(
                "transport: no Bluetooth adapter found (no /sys/class/bluetooth/hci*); "
                "plug in an adapter, use --transport virtual for simulated sensors, or a Bumble spec like usb:0"
            )
        return BleTransport("os", "os")
    if kind == "virtual":
        return BleTransport("virtual", "virtual", await open_virtual_radio(central_mtu=central_mtu))
    return BleTransport("hci", resolved, await open_hci_radio(resolved, central_mtu=central_mtu))


def allow_sta_on_windows() -> None:
    """On Windows, let bleak's WinRT backend run on a GUI (STA) thread that drives asyncio (qasync).

    Call once before the first scan when the event loop runs on the Qt thread; without it bleak refuses
    to work or hangs. Does nothing on other platforms.
    """
    if sys.platform != "win32":
        return
    from bleak.backends.winrt.util import allow_sta  # Windows-only module

    allow_sta()
