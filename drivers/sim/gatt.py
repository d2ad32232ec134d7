"""The GATT table and advertised name of a simulated sensor, built from its row of the device table.

- Kinetics-profile kinds (docs/gatt-profile.md): the kind's sensor service (advertised) with Data (notify),
  Command (write), Status (read, notify) and Layout (read), plus Battery and Device Information.
- Tindeq Progressor: its service with data (notify) and control point (write); the service UUID is not advertised
  — the Progressor is found by its name (``Progressor_…``), as its public clients find it.
- WitMotion BWT901BLE: service 0xFFE5 with 0xFFE4 (notify) and 0xFFE9 (write without response) on the
  ``…9a34fb`` base.
- SIG Force: Industrial Measurement Device Service 0x185A with Force 0x2C07 (read, notify).
- SIG Weight Scale: service 0x181D with Weight Measurement 0x2A9D (indicate) and Weight Scale Feature 0x2A9E.
"""

from __future__ import annotations

import itertools
import struct

from drivers.ble.peripheral import CharacteristicSpec, ServiceSpec, battery_service, device_information_service
from drivers.codecs import kinetics_profile as profile
from drivers.codecs import sig_weight
from drivers.devices import DeviceKind

MANUFACTURER = "Kinetics (simulated)"
FIRMWARE = "sim-1.0"
HARDWARE = "virtual"

WEIGHT_SCALE_FEATURE = 0x04 | (7 << 3) | (3 << 7)
"""Weight Scale Feature (uint32): BMI supported (bit 2), weight resolution 0.005 kg (code 7, bits 3–6), height
resolution 0.001 m (code 3, bits 7–9) — Weight Scale Service 1.0, §3.1."""

_serials = itertools.count(1)


def next_serial() -> int:
    """A serial number unique within this process (names of sensors created one after the other differ)."""
    return next(_serials)


def default_name(kind: DeviceKind, serial: int) -> str:
    """What a sensor of ``kind`` advertises: the kind's prefix and a serial (``KN-Plate-0003``)."""
    if kind.codec == "kinetics-profile":
        return f"{kind.name_prefix}-{serial:04d}"
    if kind.codec == "tindeq":
        return f"{kind.name_prefix}_{serial:04d}"
    if kind.codec == "witmotion":
        return f"{kind.name_prefix}901BLE{serial % 100:02d}"
    if kind.codec == "sig-force":
        return f"Force {serial:04d}"
    return f"Scale {serial:04d}"


def services_for(kind: DeviceKind, *, serial: str, battery: int) -> list[ServiceSpec]:
    """The GATT services of a simulated sensor of ``kind``."""
    sig = [
        battery_service(battery),
        device_information_service(MANUFACTURER, kind.model, serial, FIRMWARE, HARDWARE),
    ]
    if kind.codec == "kinetics-profile":
        main = ServiceSpec(
            kind.service_uuid,
            [
                CharacteristicSpec(kind.data_uuid, ("notify",), description="Data"),
                CharacteristicSpec(kind.command_uuid, ("write",), description="Command"),
                CharacteristicSpec(kind.status_uuid, ("read", "notify"), description="Status"),
                CharacteristicSpec(
                    kind.layout_uuid, ("read",), profile.encode_layout(profile.layout_for(kind)), description="Layout"
                ),
            ],
        )
        return [main, *sig]
    if kind.codec == "tindeq":
        return [
            ServiceSpec(
                kind.service_uuid,
                [CharacteristicSpec(kind.data_uuid, ("notify",)), CharacteristicSpec(kind.command_uuid, ("write",))],
                advertised=False,
            )
        ]
    if kind.codec == "witmotion":
        return [
            ServiceSpec(
                kind.service_uuid,
                [
                    CharacteristicSpec(kind.data_uuid, ("notify",)),
                    CharacteristicSpec(kind.command_uuid, ("write-without-response", "write")),
                ],
            )
        ]
    if kind.codec == "sig-force":
        return [ServiceSpec(kind.service_uuid, [CharacteristicSpec(kind.data_uuid, ("read", "notify"))]), *sig]
    return [
        ServiceSpec(
            kind.service_uuid,
            [
                CharacteristicSpec(kind.data_uuid, ("indicate",)),
                CharacteristicSpec(sig_weight.FEATURE_UUID, ("read",), struct.pack("<I", WEIGHT_SCALE_FEATURE)),
            ],
        ),
        *sig,
    ]
