"""Simulated sensors: real GATT servers on the virtual radio that speak each device's protocol, byte for byte.

- :mod:`drivers.sim.signals` — what they measure (efforts, sway, jumps, flexion cycles, body weight);
- :mod:`drivers.sim.frontend` — how each protocol quantises and packs samples;
- :mod:`drivers.sim.gatt` — each kind's GATT table and advertised name;
- :mod:`drivers.sim.sensor` — :class:`SimulatedSensor` and its fault knobs :class:`SensorFaults`;
- :mod:`drivers.sim.fleet` — :class:`SimulatedFleet`, several sensors (two plates under one person).

See docs/simulated-sensors.md.
"""

from drivers.sim.fleet import SimulatedFleet, fleet_roles
from drivers.sim.sensor import SensorFaults, SentLog, SimulatedSensor
from drivers.sim.signals import SignalScript, default_script

__all__ = [
    "SensorFaults",
    "SentLog",
    "SignalScript",
    "SimulatedFleet",
    "SimulatedSensor",
    "default_script",
    "fleet_roles",
]
