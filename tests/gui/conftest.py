"""Fixtures of the GUI tests that run the app's asyncio work inside Qt."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import qasync
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from gui.theme import apply_theme


@pytest.fixture
def loop(qtbot: QtBot, qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop for this test (after qtbot, so that qtbot's teardown runs once the loop is closed)."""
    apply_theme(qapp, "light")
    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    try:
        yield event_loop
    finally:
        event_loop.close()
        asyncio.set_event_loop(None)
