"""Ring buffers keep the newest samples in order, across wrap-around and from another thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from drivers.ringbuffer import RingBuffer


def test_wraps_and_returns_newest_in_order() -> None:
    rb = RingBuffer(2, 10)
    for start in range(0, 37, 3):
        t = np.arange(start, start + 3, dtype=float)
        rb.extend(t, np.vstack([t, -t]))
    times, values = rb.latest()
    np.testing.assert_array_equal(times, np.arange(29, 39))
    np.testing.assert_array_equal(values[1], -np.arange(29, 39))
    assert rb.total == 39


def test_block_larger_than_capacity_keeps_its_tail() -> None:
    rb = RingBuffer(1, 5)
    rb.extend(np.arange(3.0), np.zeros((1, 3)))
    rb.extend(np.arange(100.0, 112.0), np.arange(12.0)[None])
    times, _ = rb.latest()
    np.testing.assert_array_equal(times, np.arange(107.0, 112.0))


def test_since_bookmark_and_window() -> None:
    rb = RingBuffer(1, 100)
    rb.extend(np.arange(10) / 10, np.arange(10.0)[None])
    _, _, mark = rb.since(0)
    rb.extend(np.arange(10, 15) / 10, np.arange(10.0, 15.0)[None])
    t, v, mark2 = rb.since(mark)
    np.testing.assert_array_equal(v[0], np.arange(10.0, 15.0))
    assert mark2 == 15
    t, _ = rb.window(0.25)
    np.testing.assert_allclose(t, [1.2, 1.3, 1.4])


def test_shape_errors_are_clear() -> None:
    rb = RingBuffer(4, 10)
    with pytest.raises(ValueError, match=r"expected \(4, 3\)"):
        rb.extend(np.zeros(3), np.zeros((2, 3)))


def test_reader_thread_never_sees_a_torn_block() -> None:
    rb = RingBuffer(1, 64)
    stop = threading.Event()
    torn: list[np.ndarray] = []

    def read() -> None:
        while not stop.is_set():
            t, v = rb.latest()
            if t.size and not (np.all(np.diff(t) == 1.0) and np.array_equal(t, v[0])):
                torn.append(t)

    reader = threading.Thread(target=read)
    reader.start()
    for start in range(0, 20000, 7):
        t = np.arange(start, start + 7, dtype=float)
        rb.extend(t, t[None])
    stop.set()
    reader.join()
    assert not torn
