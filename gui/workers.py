"""Run slow calls (the clinic store: key derivation ≈0.2 s, queries, file writes) off the GUI thread.

A :class:`TaskRunner` owns a private ``QThreadPool`` of one thread, so store calls run one after another in the
order they were submitted (the store is then never used from two threads at once), and hands each result back
on the GUI thread::

    runner = TaskRunner(parent=page)
    runner.submit(lambda: ClinicStore.open(data_dir, key=key, interactive=False),
                  on_done=page.store_opened, on_error=page.show_error)

``busy_changed(bool)`` tells the page when to show its busy indicator. An exception in the call goes to
``on_error`` (on the GUI thread); without ``on_error`` it is raised again on the GUI thread, where Qt's
exception hook (and pytest-qt) report it — it is never swallowed. Callbacks of a runner that was deleted (its
page closed) are dropped with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

T = TypeVar("T")


class _Relay(QObject):
    """Lives on the GUI thread: the worker thread emits, and because the receiving slots belong to this object,
    Qt queues the call to the GUI thread (a plain Python callable as receiver would run on the worker thread)."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(self, runner: TaskRunner, ident: int, on_done: Callable[[Any], None] | None,
                 on_error: Callable[[BaseException], None] | None) -> None:
        super().__init__(runner)
        self.runner = runner
        self.ident = ident
        self.on_done = on_done
        self.on_error = on_error
        self.done.connect(self._deliver_result)
        self.failed.connect(self._deliver_error)

    @Slot(object)
    def _deliver_result(self, result: Any) -> None:
        self.runner._delivered(self.ident)
        if self.on_done is not None:
            self.on_done(result)

    @Slot(object)
    def _deliver_error(self, err: Any) -> None:
        self.runner._delivered(self.ident)
        if self.on_error is None:
            raise err
        self.on_error(err)


class Task(QRunnable, Generic[T]):
    """One call to run on the pool; emits its result (or exception) through its relay."""

    def __init__(self, fn: Callable[[], T], relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps the Python object until the result is delivered
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as err:  # handed to the GUI thread, never lost
            self._emit(self.relay.failed, err)
        else:
            self._emit(self.relay.done, result)

    @staticmethod
    def _emit(signal: Any, value: object) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the relay was deleted with its page: nobody is waiting for this result
            pass


class TaskRunner(QObject):
    """Submit callables to run one at a time on a worker thread; results come back on the GUI thread.

    Signals
    -------
    busy_changed(bool) : True when the first task starts waiting, False when the last one has been delivered.
    """

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 1) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, int(max_threads)))
        self.pool.setExpiryTimeout(-1)  # keep the thread: no thread start per call
        self._tasks: dict[int, tuple[Task[Any], _Relay]] = {}
        self._next = 0

    @property
    def busy(self) -> bool:
        """True while a submitted task has not been delivered yet."""
        return bool(self._tasks)

    def pending(self) -> int:
        """Tasks submitted and not yet delivered."""
        return len(self._tasks)

    def submit(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``fn()`` on the worker thread; call ``on_done(result)`` or ``on_error(exception)`` on this thread."""
        ident = self._next
        self._next += 1
        relay = _Relay(self, ident, on_done, on_error)
        task: Task[T] = Task(fn, relay)
        was_busy = self.busy
        self._tasks[ident] = (task, relay)
        if not was_busy:
            self.busy_changed.emit(True)
        self.pool.start(task)

    def _delivered(self, ident: int) -> None:
        entry = self._tasks.pop(ident, None)
        if entry is not None:
            entry[1].deleteLater()
        if not self._tasks:
            self.busy_changed.emit(False)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the worker thread is idle (results may still be queued for delivery); for shutdown."""
        return bool(self.pool.waitForDone(timeout_ms))
