"""Sessions say whether they ran to the end: ``sessions.completed`` (boolean, not null, default true).

Every session stored before this revision reads as completed (the database default fills the existing rows);
an interrupted one is recognisable only by its notes, which began with "interrupted".

The column is added with a plain ``ALTER TABLE ... ADD COLUMN ... DEFAULT ... NOT NULL`` on both SQLite and
PostgreSQL. It is deliberately not done in batch mode: on SQLite that copies the table, drops the old one and
renames the copy, and dropping ``sessions`` with foreign keys on would cascade-delete every trial and result.
The database default stays (``sa.true()`` renders as ``1`` on SQLite, ``true`` on PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("completed", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    op.drop_column("sessions", "completed")
