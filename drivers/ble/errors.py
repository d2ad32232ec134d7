"""The errors of the BLE transport layer."""

from __future__ import annotations

from bleak.exc import BleakError


class BleTransportError(BleakError):
    """A BLE transport cannot be opened or used (bad spec, missing adapter, closed radio...).

    A :class:`bleak.exc.BleakError`, so code that handles bleak's errors handles these too. The message
    reads ``"<what>: <problem>; <what to do>"``.
    """
