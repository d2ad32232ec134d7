"""What a scan found: each advertising device with the device kind it is recognised as.

Both ``kinetics devices scan`` and the app's Sensors screen list sightings of the shared scanner
(:class:`drivers.ble.scanning.SharedScanner`) this way::

    rows = describe_sightings(scanner.seen)
    for row in rows:
        print(row.name, row.address, row.kind.key if row.kind else "unknown", row.rssi)

A device is recognised by :func:`drivers.supervisor.kind_filter` (its advertised service, its name prefix or
both, as the device table says), the same test a supervisor uses to find it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.devices import DeviceKind, all_kinds
from drivers.supervisor import kind_filter

Sighting = tuple[BLEDevice, AdvertisementData]


@dataclass(frozen=True)
class FoundDevice:
    """One advertising device.

    ``address`` upper case; ``name`` the advertised local name (or the OS's name for it); ``kind`` the device
    table's kind it matches (None: not a sensor we know); ``rssi`` received signal strength (dBm) of its latest
    advertisement; ``services`` the service UUIDs it advertised.
    """

    address: str
    name: str
    kind: DeviceKind | None
    rssi: int | None
    services: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: name, address, kind key ("" when unknown), rssi, services."""
        return {
            "name": self.name,
            "address": self.address,
            "kind": self.kind.key if self.kind is not None else "",
            "rssi": self.rssi,
            "services": list(self.services),
        }


def kind_of(device: BLEDevice, adv: AdvertisementData, kinds: Sequence[DeviceKind] | None = None) -> DeviceKind | None:
    """The first kind of ``kinds`` (default: the whole device table, in table order) the sighting matches."""
    for kind in all_kinds() if kinds is None else kinds:
        if kind_filter(kind)(device, adv):
            return kind
    return None


def found_device(device: BLEDevice, adv: AdvertisementData, kinds: Sequence[DeviceKind] | None = None) -> FoundDevice:
    """A :class:`FoundDevice` for one sighting."""
    return FoundDevice(
        address=device.address.upper(),
        name=adv.local_name or device.name or "",
        kind=kind_of(device, adv, kinds),
        rssi=adv.rssi,
        services=tuple(adv.service_uuids),
    )


def describe_sightings(seen: Mapping[str, Sighting], kinds: Sequence[DeviceKind] | None = None) -> list[FoundDevice]:
    """Every sighting of ``seen`` (address → (device, advertisement)) as a :class:`FoundDevice`, by address."""
    return [found_device(device, adv, kinds) for _address, (device, adv) in sorted(seen.items())]
