"""Driving a qasync loop from a test: run one scenario coroutine, and wait on conditions inside it.

``qtbot.waitUntil`` processes Qt events while asyncio's loop is not running, so tasks stepped then fail with
"no running event loop"; a test therefore runs a single coroutine and polls with :func:`until` inside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import qasync

#: Default wait (s): generous, the two cores are shared with other test runs.
TIMEOUT = 30.0


def run(loop: qasync.QEventLoop, scenario: Callable[[], Any], timeout: float = 100.0) -> None:
    """Run ``scenario()`` to completion on ``loop``, failing after ``timeout`` seconds."""
    loop.run_until_complete(asyncio.wait_for(scenario(), timeout))


async def until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``condition`` (Qt and asyncio keep running) until it holds; fail saying ``what`` did not happen."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for: {what}")
        await asyncio.sleep(0.02)
