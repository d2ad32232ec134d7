"""Alembic migrations of the clinic database, run programmatically by :func:`clinic.db.upgrade` (no alembic.ini).

``env.py`` takes the open, already-decrypted connection from ``config.attributes["connection"]``. To write a new
revision, see docs/clinic.md ("Migrations").
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

#: Folder of env.py and versions/.
SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config() -> Config:
    """An Alembic configuration pointing at this package (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config
