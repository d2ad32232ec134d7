"""Shared fixtures: the public reference data sets in ../shared/data (never copied into the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$KINETICS_SHARED_DATA`` or ``<project>/../shared/data``; a missing directory fails loudly."""
    path = Path(os.environ.get("KINETICS_SHARED_DATA", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        raise RuntimeError(
            f"reference data not found at {path}; clone the project next to shared/ or set KINETICS_SHARED_DATA"
        )
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Directory holding balance-bds/, jumps-bmc/ and imu-broad/."""
    return shared_data_dir()
