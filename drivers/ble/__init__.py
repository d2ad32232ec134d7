"""BLE transports: bleak on the OS stack, bleak over Bumble (virtual radio or external HCI), simulated peripherals.

See ``docs/ble-transports.md``. The pieces:

* :mod:`drivers.ble.transport` — ``open_transport(spec)`` chooses the backend at run time.
* :mod:`drivers.ble.scanning` — ``SharedScanner``: one bleak scanner for the application's lifetime.
* :mod:`drivers.ble.bumble_backend` — ``BumbleScanner`` / ``BumbleClient``, bleak backends over Bumble.
* :mod:`drivers.ble.radio` — the Bumble central: virtual radio, external HCI controller, ``serve_hci``.
* :mod:`drivers.ble.peripheral` — ``SimulatedPeripheral``: GATT servers on the virtual radio, from data.
* :mod:`drivers.ble.errors` — ``BleTransportError`` (a ``BleakError``).
"""
