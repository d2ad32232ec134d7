"""Several simulated sensors at once — what ``kinetics record --simulated`` and the demo start on the virtual radio.

Two plates are the left and the right plate under one standing person: names ending ``-L`` / ``-R``, roles
``plate_left`` / ``plate_right``, and the same body sway, so that their combined COP is one person's sway and
their loads add up to body weight. Other kinds get their role from their key (``push``; a second push is
``push_2``). Each sensor gets its own seed (``seed + index``), so their noise differs.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from drivers.devices import device_kind
from drivers.sim.gatt import default_name, next_serial
from drivers.sim.sensor import SensorFaults, SimulatedSensor
from drivers.sim.signals import Side, SignalScript, countermovement_jumps, default_script, standing_sway
from kinetics._checks import input_error

if TYPE_CHECKING:
    from drivers.ble.radio import Radio
    from drivers.ble.transport import BleTransport

PlateScenario = Literal["standing", "cmj"]


def fleet_roles(kinds: Sequence[str]) -> list[str]:
    """Role of each kind in a fleet: two plates → ``plate_left``, ``plate_right``; repeats → ``key_2``, ``key_3``…"""
    counts = Counter(kinds)
    seen: Counter[str] = Counter()
    roles = []
    for key in kinds:
        seen[key] += 1
        if key == "plate" and counts[key] == 2:
            roles.append("plate_left" if seen[key] == 1 else "plate_right")
        else:
            roles.append(key if seen[key] == 1 else f"{key}_{seen[key]}")
    return roles


def _side(role: str) -> Side | None:
    return "left" if role == "plate_left" else "right" if role == "plate_right" else None


class SimulatedFleet:
    """Simulated sensors of ``kinds`` on one virtual radio, started and stopped together.

    Parameters
    ----------
    radio : Radio or BleTransport
        The virtual radio, or an open ``virtual`` transport.
    kinds : sequence of str
        Device-table keys, e.g. ``["plate", "plate", "push", "goniometer"]``.
    speed : float
        Device seconds per wall second, for every sensor.
    faults : SensorFaults, mapping or None
        One set of faults for every sensor, or a mapping from role (``plate_left``) or kind key (``plate``) to
        faults (a role wins over a kind); sensors not named get none.
    seed : int
        Sensor ``i`` is seeded ``seed + i``; the plates' person is seeded ``seed``.
    body_mass : float
        Mass (kg) of the person on the plates.
    sensor_options
        Further keyword arguments for every :class:`SimulatedSensor` (``battery``, ``keep_sent``…).
    """

    def __init__(
        self,
        radio: Radio | BleTransport,
        kinds: Sequence[str],
        *,
        speed: float = 1.0,
        faults: SensorFaults | Mapping[str, SensorFaults] | None = None,
        seed: int = 0,
        body_mass: float = 70.0,
        **sensor_options: Any,
    ) -> None:
        if not kinds:
            raise input_error("kinds", "no sensors asked for", "pass e.g. ['plate', 'plate', 'push']")
        self.kinds = [device_kind(k).key for k in kinds]
        self.roles = fleet_roles(self.kinds)
        self.seed = int(seed)
        self.body_mass = float(body_mass)
        self.sensors: list[SimulatedSensor] = []
        for index, (key, role) in enumerate(zip(self.kinds, self.roles, strict=True)):
            kind = device_kind(key)
            side = _side(role)
            name = None
            script: SignalScript = default_script(kind, seed=self.seed + index)
            if key == "plate":
                script = standing_sway(
                    kind.rate, body_mass=self.body_mass, side=side, person_seed=self.seed, seed=self.seed + index
                )
                if side is not None:
                    name = f"{default_name(kind, next_serial())}-{'L' if side == 'left' else 'R'}"
            self.sensors.append(
                SimulatedSensor(
                    radio,
                    kind,
                    name=name,
                    script=script,
                    speed=speed,
                    faults=self._faults_for(faults, role, key),
                    seed=self.seed + index,
                    **sensor_options,
                )
            )

    @staticmethod
    def _faults_for(
        faults: SensorFaults | Mapping[str, SensorFaults] | None, role: str, key: str
    ) -> SensorFaults | None:
        if faults is None or isinstance(faults, SensorFaults):
            return faults
        return faults.get(role, faults.get(key))

    def sensor(self, role: str) -> SimulatedSensor:
        """The sensor playing ``role`` (``plate_left``, ``push``, ``push_2``…)."""
        try:
            return self.sensors[self.roles.index(role)]
        except ValueError:
            raise input_error("role", f"no sensor plays {role!r}", f"use one of {self.roles}") from None

    @property
    def by_role(self) -> dict[str, SimulatedSensor]:
        return dict(zip(self.roles, self.sensors, strict=True))

    def set_plate_scenario(self, scenario: PlateScenario, **options: Any) -> None:
        """Switch every plate to ``"standing"`` (quiet standing) or ``"cmj"`` (countermovement jumps), starting
        now, for the same person (``options`` go to :func:`standing_sway` / :func:`countermovement_jumps`)."""
        if scenario not in ("standing", "cmj"):
            raise input_error("scenario", f"{scenario!r}", "use 'standing' or 'cmj'")
        for index, (role, sensor) in enumerate(zip(self.roles, self.sensors, strict=True)):
            if sensor.kind.key != "plate":
                continue
            args: dict[str, Any] = {"body_mass": self.body_mass, "side": _side(role), "seed": self.seed + index}
            if scenario == "standing":
                sensor.set_script(standing_sway(sensor.rate, **(args | {"person_seed": self.seed} | options)))
            else:
                sensor.set_script(countermovement_jumps(sensor.rate, **(args | options)))

    async def start(self) -> None:
        """Power every sensor on, on one common clock origin (sample k of every sensor is taken at the same
        instant, drift aside)."""
        started: list[SimulatedSensor] = []
        origin = asyncio.get_running_loop().time()
        try:
            for sensor in self.sensors:
                await sensor.start(clock_origin=origin)
                started.append(sensor)
        except BaseException:
            for sensor in reversed(started):
                await sensor.stop()
            raise

    async def stop(self) -> None:
        for sensor in reversed(self.sensors):
            await sensor.stop()

    async def __aenter__(self) -> SimulatedFleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
