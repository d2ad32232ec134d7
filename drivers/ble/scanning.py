"""One shared bleak scanner for the application's lifetime, and the usual device filters.

Real stacks behave badly when every device supervisor starts and stops its own scan (BlueZ refuses
overlapping discovery sessions, WinRT drops advertisements), so the application keeps one
:class:`SharedScanner` running and every supervisor asks it for its device::

    async with SharedScanner(ble) as scanner:
        found = await scanner.find(by_name_prefix("Progressor"), timeout=10.0)
        if found is not None:
            device, adv = found

It works with every transport from :func:`drivers.ble.transport.open_transport` (real bleak API).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.uuids import normalize_uuid_str

from drivers.ble.transport import BleTransport

DeviceFilter = Callable[[BLEDevice, AdvertisementData], bool]
Sighting = tuple[BLEDevice, AdvertisementData]


def by_service(uuid: str) -> DeviceFilter:
    """Match devices advertising service ``uuid`` (16- or 128-bit string)."""
    wanted = normalize_uuid_str(uuid)
    return lambda _device, adv: wanted in adv.service_uuids


def by_name_prefix(prefix: str) -> DeviceFilter:
    """Match devices whose advertised local name starts with ``prefix`` (case-sensitive, like Tindeq's apps)."""
    return lambda _device, adv: (adv.local_name or "").startswith(prefix)


def by_address(address: str) -> DeviceFilter:
    """Match one Bluetooth address (case-insensitive)."""
    wanted = address.upper()
    return lambda device, _adv: device.address.upper() == wanted


class SharedScanner:
    """A ``BleakScanner`` started once and shared by everyone who looks for devices.

    Parameters
    ----------
    transport : BleTransport
        Gives the bleak backend and its keyword arguments.
    service_uuids : list of str or None
        Optional OS-level service filter (needed on macOS 12.0–12.2 for background scanning).
    """

    def __init__(self, transport: BleTransport, service_uuids: list[str] | None = None) -> None:
        self.transport = transport
        self._scanner = BleakScanner(self._on_advertisement, service_uuids=service_uuids, **transport.scanner_kwargs())
        self._seen: dict[str, Sighting] = {}
        self._waiters: list[tuple[DeviceFilter, asyncio.Future[Sighting]]] = []
        self._running = False

    def _on_advertisement(self, device: BLEDevice, adv: AdvertisementData) -> None:
        self._seen[device.address.upper()] = (device, adv)
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(device, adv):
                future.set_result((device, adv))

    @property
    def seen(self) -> dict[str, Sighting]:
        """Latest sighting per address since the scanner started (a copy)."""
        return dict(self._seen)

    async def start(self) -> None:
        if not self._running:
            await self._scanner.start()
            self._running = True

    async def stop(self) -> None:
        if self._running:
            self._running = False
            await self._scanner.stop()

    async def __aenter__(self) -> SharedScanner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def find(self, predicate: DeviceFilter, timeout: float, *, fresh: bool = False) -> Sighting | None:
        """The first device matching ``predicate``, waiting up to ``timeout`` s; ``None`` if none showed up.

        With ``fresh=False`` a device already seen matches at once (its address stays valid after a link
        loss: connecting waits for its next advertisement). ``fresh=True`` waits for a new advertisement.
        """
        if not self._running:
            raise RuntimeError("SharedScanner.find: start the scanner first (async with SharedScanner(...))")
        if not fresh:
            for device, adv in self._seen.values():
                if predicate(device, adv):
                    return device, adv
        future: asyncio.Future[Sighting] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiters.remove(entry)
