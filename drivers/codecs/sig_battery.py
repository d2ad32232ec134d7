"""Bluetooth SIG Battery Level (0x2A19) and Device Information Service strings (0x180A).

Source: Bluetooth SIG Battery Service 1.0 (Battery Level: uint8, percent 0–100) and Device Information Service
1.1 (Manufacturer Name 0x2A29, Model Number 0x2A24, Serial Number 0x2A25, Hardware Revision 0x2A27, Firmware
Revision 0x2A26: UTF-8 strings of any length).
"""

from __future__ import annotations

from drivers.codecs import DecodeError, require_bytes
from kinetics._checks import input_error

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFORMATION_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
DIS_STRINGS = {
    "manufacturer": "00002a29-0000-1000-8000-00805f9b34fb",
    "model": "00002a24-0000-1000-8000-00805f9b34fb",
    "serial": "00002a25-0000-1000-8000-00805f9b34fb",
    "hardware": "00002a27-0000-1000-8000-00805f9b34fb",
    "firmware": "00002a26-0000-1000-8000-00805f9b34fb",
}


def decode_battery_level(payload: bytes) -> int:
    """1 byte → battery level in percent (0–100)."""
    data = require_bytes(payload, "Battery Level")
    if len(data) != 1 or data[0] > 100:
        raise DecodeError(f"Battery Level must be one byte 0..100, got {data.hex(' ') or 'nothing'}")
    return data[0]


def encode_battery_level(percent: int) -> bytes:
    if not 0 <= int(percent) <= 100:
        raise input_error("battery level", f"{percent!r} %", "give 0..100")
    return bytes([int(percent)])


def decode_string(payload: bytes) -> str:
    """A Device Information string (UTF-8; trailing NULs that some devices send are dropped)."""
    data = require_bytes(payload, "Device Information string")
    try:
        return data.decode("utf-8").rstrip("\x00")
    except UnicodeDecodeError:
        raise DecodeError(f"Device Information string is not UTF-8: {data[:20].hex(' ')}") from None
