"""The app's sensors for its whole life: one BLE transport, one shared scanner, one acquisition (and, when the
app runs on simulated sensors, a fleet of them on the virtual radio), all on the qasync event loop.

The screens talk to it in two ways, and never wait on Bluetooth themselves:

* **requests** from Qt slots — :meth:`DeviceSession.request_scan`, :meth:`~DeviceSession.request_connect`,
  :meth:`~DeviceSession.request_disconnect`, :meth:`~DeviceSession.request_tare`,
  :meth:`~DeviceSession.request_identify`, :meth:`~DeviceSession.request_battery` — each schedules the matching
  coroutine as a task on the loop and returns at once; a failure becomes the :attr:`~DeviceSession.error` signal
  (a plain sentence), never an exception in the slot;
* **signals** for everything that changes: a scan's progress and finds, a device added or removed, its link state
  (searching, connecting, streaming, reconnecting, stopped), its battery.

The coroutines themselves (:meth:`~DeviceSession.scan`, :meth:`~DeviceSession.connect_device`...) are public for code
already on the loop (the run screen, tests). ``close()`` cancels what is in flight, disconnects every device,
stops the scanner and the simulated fleet and closes the radio; the app awaits it before deleting its windows::

    session = DeviceSession("virtual", simulated=True, parent=window)
    session.start()                      # inside the running loop: opens the transport, starts the fleet
    session.request_scan(3.0)            # from a button
    ...
    await session.close()                # before the window is deleted

Devices take a *role* when they connect (``grip``, ``plate_left``…; :func:`role_for`), the name their ring buffer,
their live card and their channels in a recording go by.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from PySide6.QtCore import QObject, QTimer, Signal

from drivers.acquisition import Acquisition, DeviceSpec
from drivers.ble.scanning import SharedScanner
from drivers.ble.transport import BleTransport, allow_sta_on_windows, open_transport
from drivers.devices import DeviceKind, all_kinds
from drivers.discovery import FoundDevice, found_device
from drivers.ringbuffer import RingBuffer
from drivers.session_clock import SessionClock
from drivers.sim.fleet import SimulatedFleet
from drivers.supervisor import DeviceStatus, LinkState
from kinetics._checks import KineticsInputError, input_error

logger = logging.getLogger(__name__)

#: Default length of a scan (s): long enough for devices advertising every second to show up twice.
SCAN_SECONDS = 3.0
#: How often a running scan reports its progress (s).
SCAN_TICK_S = 0.1
#: How often the battery of every streaming device is read again (s).
BATTERY_REFRESH_S = 60.0
#: Longest wait for each step of closing (s): a stuck stack must not keep the app from quitting.
CLOSE_STEP_TIMEOUT_S = 10.0
#: Seconds of samples each device's live ring buffer keeps.
RING_SECONDS = 10.0


def simulated_kinds() -> list[str]:
    """The simulated fleet the app starts: one sensor of every kind in the device table, and two force plates
    (left and right) so that balance and jump protocols have both feet."""
    keys = [k.key for k in all_kinds()]
    if "plate" in keys:
        keys.insert(keys.index("plate"), "plate")
    return keys


def role_for(kind: DeviceKind, name: str, taken: Sequence[str]) -> str:
    """The role a device of ``kind`` advertising ``name`` takes when roles ``taken`` are in use.

    Force plates are ``plate_left`` / ``plate_right`` (a name ending ``-L`` / ``-R`` says which, as the simulated
    pair and labelled plates do; else the first free side), then ``plate_3``…; other devices take their kind's key
    (``grip``), then ``grip_2``, ``grip_3``… — the names :func:`drivers.acquisition.role_names` gives a fleet.
    """
    used = set(taken)
    if kind.key == "plate":
        preferred = {"-L": "plate_left", "-R": "plate_right"}.get(name[-2:].upper())
        candidates = ([preferred] if preferred else []) + ["plate_left", "plate_right"]
        for role in candidates:
            if role not in used:
                return role
        index = 3
    else:
        if kind.key not in used:
            return kind.key
        index = 2
    while f"{kind.key}_{index}" in used:
        index += 1
    return f"{kind.key}_{index}"


def _sentence(error: BaseException) -> str:
    """An exception as a sentence for the screen (our input errors already say what to do)."""
    if isinstance(error, KineticsInputError):
        return str(error)
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class DeviceSession(QObject):
    """The app's BLE transport, scanner, acquisition and (simulated mode) fleet; see the module docstring.

    Parameters
    ----------
    transport : str
        A spec for :func:`drivers.ble.transport.open_transport` (``"os"``, ``"virtual"``, ``"usb:0"``…).
    simulated : bool
        Start a :class:`~drivers.sim.fleet.SimulatedFleet` of ``fleet_kinds`` on the virtual radio (the transport
        must then be ``"virtual"``).
    fleet_kinds : sequence of str, optional
        Device-table keys of the simulated sensors (default :func:`simulated_kinds`).
    speed : float
        Device seconds per wall second of the simulated sensors and of the session clock (1 in the app).
    ring_seconds : float
        Seconds each device's live ring buffer keeps.

    Signals
    -------
    opened() : the transport is open, the scanner runs (and the simulated sensors advertise)
    open_failed(str) : the transport could not be opened; why, in a sentence
    scan_started(float) : a scan of that many seconds began
    scan_progress(float) : fraction 0..1 of the scan done
    device_seen(object) : a :class:`~drivers.discovery.FoundDevice` seen for the first time in this scan
    scan_finished(list) : every FoundDevice of the scan, by address
    device_added(str) : a role was connected (its buffer exists; its link comes up in the background)
    device_removed(str) : a role was disconnected and forgotten
    state_changed(str, str) : role and its new :class:`~drivers.supervisor.LinkState` value
    battery_changed(str, int) : role and its battery level (%)
    error(str) : an action failed; what went wrong, in a sentence
    request_failed(str, str, str) : the same for the screens' bookkeeping: action (``open``, ``scan``,
        ``connect``, ``disconnect``, ``tare``, ``identify``, ``battery``), its subject (address, role or ""),
        and the sentence
    closed() : everything is stopped and the radio closed
    """

    opened = Signal()
    open_failed = Signal(str)
    scan_started = Signal(float)
    scan_progress = Signal(float)
    device_seen = Signal(object)
    scan_finished = Signal(list)
    device_added = Signal(str)
    device_removed = Signal(str)
    state_changed = Signal(str, str)
    battery_changed = Signal(str, int)
    error = Signal(str)
    request_failed = Signal(str, str, str)
    closed = Signal()

    def __init__(
        self,
        transport: str,
        *,
        simulated: bool,
        fleet_kinds: Sequence[str] | None = None,
        speed: float = 1.0,
        ring_seconds: float = RING_SECONDS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if simulated and transport not in ("virtual", "simulated"):
            raise input_error("transport", f"{transport!r} with simulated sensors",
                              "simulated sensors live on the virtual radio: pass transport='virtual'")
        if not speed > 0:
            raise input_error("speed", f"{speed!r}", "pass a positive factor (1 = real time)")
        self.transport_spec = transport
        self.simulated = simulated
        self.fleet_kinds = list(fleet_kinds) if fleet_kinds is not None else simulated_kinds()
        self.speed = float(speed)
        self.ring_seconds = float(ring_seconds)
        self.clock = SessionClock(speed=self.speed)
        self.transport: BleTransport | None = None
        self.scanner: SharedScanner | None = None
        self.acquisition: Acquisition | None = None
        self.fleet: SimulatedFleet | None = None
        #: Why opening failed ("" while it has not).
        self.open_error = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opened = asyncio.Event()
        self._open_done = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._found: dict[str, FoundDevice] = {}
        self._address_of: dict[str, str] = {}  # role → address, reserved before the device is added
        self._scanning = False
        self._closing = False
        self._closed = False
        self._battery_timer = QTimer(self)
        self._battery_timer.setInterval(int(BATTERY_REFRESH_S * 1000))
        self._battery_timer.timeout.connect(self.refresh_batteries)

    # -- state ----------------------------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._opened.is_set() and not self._closing

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def scanning(self) -> bool:
        return self._scanning

    @property
    def description(self) -> str:
        """What the sensors are reached through, for a status line."""
        if self.transport is None:
            return "Bluetooth (not open)"
        return self.transport.description + (" with simulated sensors" if self.fleet is not None else "")

    def found(self) -> list[FoundDevice]:
        """The devices of the last scan (updated by the scan running) and the connected ones, by address."""
        return [self._found[a] for a in sorted(self._found)]

    def found_device(self, address: str) -> FoundDevice | None:
        """What the last scan knows of ``address`` (None if it was not seen)."""
        return self._found.get(address.upper())

    def roles(self) -> list[str]:
        """The roles connected (or connecting), in the order they were added."""
        return list(self._address_of)

    def address_of(self, role: str) -> str:
        try:
            return self._address_of[role]
        except KeyError:
            raise input_error("role", f"no device plays {role!r}", f"use one of {self.roles()}") from None

    def role_of(self, address: str) -> str | None:
        """The role of the device at ``address``, or None when it is not connected."""
        wanted = address.upper()
        return next((r for r, a in self._address_of.items() if a == wanted), None)

    def kind_of(self, role: str) -> DeviceKind:
        return self._require_acquisition().kinds[self._known(role)]

    def buffer(self, role: str) -> RingBuffer:
        """The live ring buffer of ``role`` (samples on the session clock, SI units)."""
        return self._require_acquisition().buffers[self._known(role)]

    def status(self, role: str) -> DeviceStatus:
        return self._require_acquisition().status(self._known(role))

    def state(self, role: str) -> LinkState | None:
        """The link state of ``role``; None when no such device is connected."""
        acq = self.acquisition
        if acq is None or role not in acq.supervisors:
            return None
        return acq.supervisors[role].state

    def _known(self, role: str) -> str:
        acq = self._require_acquisition()
        if role not in acq.kinds:
            raise input_error("role", f"no device plays {role!r}", f"use one of {list(acq.kinds)}")
        return role

    def _require_acquisition(self) -> Acquisition:
        if self.acquisition is None:
            raise input_error("sensors", "Bluetooth is not open yet", "wait for the Sensors screen to be ready")
        return self.acquisition

    # -- requests from the GUI thread (never block) ---------------------------------------------------------------
    def start(self) -> None:
        """Open the transport (and start the simulated sensors) in the background; call inside the running loop."""
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("DeviceSession.start() needs the running qasync loop; call it from a coroutine "
                               "or a slot while the loop runs") from None
        self._spawn(self.open(), "Opening Bluetooth", "open", "")

    def request_scan(self, seconds: float = SCAN_SECONDS) -> None:
        self._spawn(self.scan(seconds), "Scanning", "scan", "")

    def request_connect(self, address: str, role: str | None = None) -> None:
        found = self._found.get(address.upper())
        label = found.name if found is not None and found.name else address
        self._spawn(self.connect_device(address, role=role), f"Connecting {label}", "connect", address.upper())

    def request_disconnect(self, role: str) -> None:
        self._spawn(self.disconnect_device(role), f"Disconnecting {role}", "disconnect", role)

    def request_tare(self, role: str) -> None:
        self._spawn(self.tare(role), f"Taring {role}", "tare", role)

    def request_identify(self, role: str, seconds: int = 5) -> None:
        self._spawn(self.identify(role, seconds), f"Identifying {role}", "identify", role)

    def request_battery(self, role: str) -> None:
        self._spawn(self.read_battery(role), f"Reading the battery of {role}", "battery", role)

    def refresh_batteries(self) -> None:
        """Read the battery of every streaming device again (a QTimer calls it every ``BATTERY_REFRESH_S``)."""
        for role in self.roles():
            if self.state(role) is LinkState.STREAMING and self.kind_of(role).battery_service:
                self.request_battery(role)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], what: str, action: str, subject: str
               ) -> asyncio.Task[Any] | None:
        if self._closing:
            coroutine.close()
            return None
        loop = self._loop
        if loop is None:
            try:
                loop = self._loop = asyncio.get_running_loop()
            except RuntimeError:
                coroutine.close()
                raise RuntimeError(f"{what}: the app's event loop is not running; start the session first") from None
        task = loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, what, action, subject))
        return task

    def _task_done(self, task: asyncio.Task[Any], what: str, action: str, subject: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not self._closed:
            logger.info("%s failed: %r", what, error)
            sentence = f"{what} failed: {_sentence(error)}"
            self.request_failed.emit(action, subject, sentence)
            self.error.emit(sentence)

    # -- coroutines (on the loop) ---------------------------------------------------------------------------------
    async def open(self) -> None:
        """Open the transport, start the simulated fleet (simulated mode), the shared scanner and the acquisition.

        Emits ``opened``; on failure releases what was opened, emits ``open_failed`` and raises.
        """
        if self._opened.is_set():
            return
        if self._open_done.is_set():
            raise RuntimeError(f"Bluetooth could not be opened: {self.open_error}")
        self._loop = asyncio.get_running_loop()
        try:
            allow_sta_on_windows()
            self.transport = await open_transport(self.transport_spec)
            if self.simulated:
                self.fleet = SimulatedFleet(self.transport, self.fleet_kinds, speed=self.speed)
                await self.fleet.start()
            self.scanner = SharedScanner(self.transport)
            await self.scanner.start()
            self.acquisition = Acquisition(self.transport, [], clock=self.clock, scanner=self.scanner,
                                           ring_seconds=self.ring_seconds, on_state=self._on_state)
            await self.acquisition.start()
        except Exception as error:
            self.open_error = _sentence(error)
            self._open_done.set()
            await self._release()
            self.open_failed.emit(self.open_error)
            raise
        self._opened.set()
        self._open_done.set()
        self._battery_timer.start()
        self.opened.emit()

    async def wait_open(self, timeout: float | None = None) -> None:
        """Wait until :meth:`open` finished; raises if it failed (or if ``timeout`` s pass first)."""
        await asyncio.wait_for(self._open_done.wait(), timeout)
        if not self._opened.is_set():
            raise RuntimeError(f"Bluetooth could not be opened: {self.open_error}")
        if self._closing:
            raise RuntimeError("the sensors are closing; nothing more can be done with them")

    async def scan(self, seconds: float = SCAN_SECONDS) -> list[FoundDevice]:
        """Listen ``seconds`` to the shared scanner; returns every device advertising meanwhile (by address).

        Devices already connected do not advertise and are not in the list (they stay in :meth:`roles`).
        """
        if not seconds > 0:
            raise input_error("seconds", f"{seconds!r}", "scan for a positive number of seconds, e.g. 3")
        await self.wait_open()
        if self._scanning:
            raise input_error("scan", "a scan is already running", "wait for it to finish")
        scanner = self.scanner
        assert scanner is not None
        loop = asyncio.get_running_loop()
        self._scanning = True
        found: dict[str, FoundDevice] = {}

        def note(device: BLEDevice, adv: AdvertisementData) -> bool:
            row = found_device(device, adv)
            first = row.address not in found
            found[row.address] = self._found[row.address] = row
            if first:
                self.device_seen.emit(row)
            return False  # keep listening: scanner.find() then simply times out

        start = loop.time()
        self.scan_started.emit(float(seconds))
        try:
            while (left := seconds - (loop.time() - start)) > 0:
                await scanner.find(note, timeout=min(SCAN_TICK_S, left), fresh=True)
                self.scan_progress.emit(min(1.0, (loop.time() - start) / seconds))
        finally:
            self._scanning = False
        rows = [found[a] for a in sorted(found)]
        # what the last scan saw, and what is connected (connected devices do not advertise)
        connected = {a: self._found[a] for a in self._address_of.values() if a in self._found and a not in found}
        self._found = found | connected
        self.scan_progress.emit(1.0)
        self.scan_finished.emit(rows)
        return rows

    async def connect_device(self, address: str, *, role: str | None = None) -> str:
        """Connect the device at ``address`` (seen by a scan) under ``role`` (default :func:`role_for`).

        Returns the role at once: the link comes up in the background (``state_changed`` tells how it goes) and
        is kept up, reconnecting after a loss, until :meth:`disconnect_device`.
        """
        await self.wait_open()
        acq = self._require_acquisition()
        wanted = address.upper()
        existing = self.role_of(wanted)
        if existing is not None:
            raise input_error("device", f"{wanted} is already connected as {existing!r}", "disconnect it first")
        seen = self._found.get(wanted)
        if seen is None:
            raise input_error("device", f"{wanted} was not seen by a scan", "scan again and pick a device found")
        if seen.kind is None:
            raise input_error("device", f"{seen.name or wanted} is not a sensor Kinetics knows",
                              "connect one of the sensors listed with a kind")
        if role is None:
            role = role_for(seen.kind, seen.name, self.roles())
        elif role in self._address_of:
            raise input_error("role", f"{role!r} is taken by {self._address_of[role]}", "choose another role")
        self._address_of[role] = wanted  # reserved before any await: two quick connects never share a role
        try:
            await acq.add_device(DeviceSpec(role, seen.kind, wanted))
        except BaseException:
            self._address_of.pop(role, None)
            raise
        self.device_added.emit(role)
        return role

    async def disconnect_device(self, role: str) -> None:
        """Stop streaming, disconnect and forget ``role``."""
        await self.wait_open()
        acq = self._require_acquisition()
        if role not in self._address_of:
            raise input_error("role", f"no device plays {role!r}", f"use one of {self.roles()}")
        try:
            await acq.remove_device(role)
        finally:
            if role not in acq.kinds:
                self._address_of.pop(role, None)
        self.device_removed.emit(role)

    async def tare(self, role: str) -> None:
        """Zero the force channels of ``role`` (the device averages about half a second and subtracts it)."""
        await self.wait_open()
        await self._require_acquisition().supervisors[self._known(role)].tare()

    async def identify(self, role: str, seconds: int = 5) -> None:
        """Make ``role`` blink for ``seconds`` so that the clinician knows which sensor it is."""
        await self.wait_open()
        await self._require_acquisition().supervisors[self._known(role)].identify(seconds)

    async def read_battery(self, role: str) -> int | None:
        """Read the battery level (%) of ``role`` again; emits ``battery_changed``."""
        await self.wait_open()
        level = await self._require_acquisition().supervisors[self._known(role)].read_battery()
        if level is not None:
            self.battery_changed.emit(role, level)
        return level

    async def close(self) -> None:
        """Cancel what is in flight, disconnect every device, stop the scanner and the fleet, close the radio."""
        if self._closed or self._closing:
            return
        self._closing = True
        self._battery_timer.stop()
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current and not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self._release()
        self._closed = True
        self._open_done.set()
        self.closed.emit()

    async def _release(self) -> None:
        """Stop and close whatever exists, each step bounded in time; never raises."""
        steps: list[tuple[str, Any]] = []
        if self.acquisition is not None:
            steps.append(("acquisition", self.acquisition.stop))
        if self.scanner is not None:
            steps.append(("scanner", self.scanner.stop))
        if self.fleet is not None:
            steps.append(("simulated sensors", self.fleet.stop))
        if self.transport is not None:
            steps.append(("transport", self.transport.close))
        for what, step in steps:
            try:
                await asyncio.wait_for(step(), CLOSE_STEP_TIMEOUT_S)
            except Exception as error:  # closing goes on: the app must be able to quit
                logger.warning("closing the %s failed: %r", what, error)
        self._address_of.clear()

    # -- callbacks from the acquisition (on the loop) -------------------------------------------------------------
    def _on_state(self, role: str, state: LinkState) -> None:
        self.state_changed.emit(role, state.value)
        if state is LinkState.STREAMING and self.acquisition is not None:
            battery = self.acquisition.status(role).battery
            if battery is not None:
                self.battery_changed.emit(role, battery)


__all__ = ["SCAN_SECONDS", "DeviceSession", "FoundDevice", "role_for", "simulated_kinds"]
