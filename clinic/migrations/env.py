"""Alembic environment: migrate the connection handed over by :func:`clinic.db.upgrade`.

The database is encrypted, so Alembic never opens it itself: the caller passes a connection that already
issued ``PRAGMA key`` in ``config.attributes["connection"]``. Offline mode (``--sql``) renders the SQL for
PostgreSQL or SQLite from ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context

from clinic.models import Base

config = context.config
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or "sqlite://",
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("clinic migrations run on an open connection: call clinic.db.upgrade(engine)")
    # render_as_batch: SQLite alters tables by copy-and-move; PostgreSQL runs the same ops as plain ALTERs.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
