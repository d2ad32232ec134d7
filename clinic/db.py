"""The encrypted database: SQLite + SQLCipher (``sqlcipher3``) under SQLAlchemy 2, migrated with Alembic.

Key handling
------------
The key is a passphrase from ``$KINETICS_DB_KEY`` or typed at a hidden prompt. It is stretched exactly as
SQLCipher 4 itself does (PBKDF2-HMAC-SHA512, 256 000 iterations, 32-byte key, the 16-byte salt SQLCipher keeps
in the first bytes of the file), once per process and database, and handed to SQLCipher as a raw key with its
salt (``PRAGMA key = "x'<key><salt>'"``): every pooled connection then opens without paying the KDF again, and
the file stays readable by the stock ``sqlcipher`` shell with the same passphrase. A value of the form
``x'<64 hex digits>'`` is taken as a raw 256-bit key (no KDF).

Every connection issues ``PRAGMA cipher_log_level = NONE`` and the key first, then checks that the key opens the
file (a wrong key → :class:`~clinic.errors.StoreKeyError` "wrong key for <path>: ..."), then WAL journal,
``synchronous = FULL`` (a committed save survives power loss), foreign keys, ``secure_delete`` (deleted rows are
overwritten with zeros, see :mod:`clinic.privacy`) and a busy timeout. Transactions start with
``BEGIN IMMEDIATE`` (one writer at a time, readers never blocked in WAL mode), and DDL is transactional, so a
migration killed half-way leaves the previous schema.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from clinic.errors import ClinicError, StoreKeyError

#: Environment variable holding the database passphrase (tests, kiosks); otherwise the user is prompted.
ENV_KEY = "KINETICS_DB_KEY"
#: SQLCipher 4 defaults, reproduced so the file stays compatible with the sqlcipher shell.
KDF_ITERATIONS = 256_000
KDF_ALGORITHM = "sha512"
KEY_BYTES = 32
SALT_BYTES = 16
#: Seconds a connection waits for another writer before giving up.
BUSY_TIMEOUT_S = 30.0

_RAW_KEY = re.compile(r"^x'([0-9A-Fa-f]{64})'$")


@lru_cache(maxsize=32)
def derive_key(passphrase: str, salt: bytes) -> bytes:
    """The 256-bit key SQLCipher 4 derives from ``passphrase`` and the database ``salt`` (PBKDF2-HMAC-SHA512)."""
    match = _RAW_KEY.match(passphrase)
    if match:
        return bytes.fromhex(match.group(1))
    return hashlib.pbkdf2_hmac(KDF_ALGORITHM, passphrase.encode("utf-8"), salt, KDF_ITERATIONS, KEY_BYTES)


def database_salt(path: Path) -> bytes | None:
    """The salt stored in the first 16 bytes of an existing, non-empty database file (None for a new one)."""
    try:
        with open(path, "rb") as f:
            head = f.read(SALT_BYTES)
    except FileNotFoundError:
        return None
    return head if len(head) == SALT_BYTES else None


def passphrase_from_env_or_prompt(path: Path, *, interactive: bool | None = None) -> str:
    """``$KINETICS_DB_KEY``, else a hidden prompt (asked twice when the database is new).

    Raises :class:`StoreKeyError` when neither is possible (no terminal) or the passphrase is empty.
    """
    value = os.environ.get(ENV_KEY)
    if value:
        return value
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    if not interactive:
        raise StoreKeyError(
            f"no key for {path}: set {ENV_KEY} to the database passphrase or run the command in a terminal to type it"
        )
    import typer

    new = database_salt(path) is None
    text = "New database passphrase" if new else f"Passphrase for {path}"
    entered: str = typer.prompt(text, hide_input=True, confirmation_prompt=new)
    if not entered:
        raise StoreKeyError(f"empty passphrase for {path}: type the passphrase the database was created with")
    return entered


def _key_pragma(passphrase: str, salt: bytes) -> str:
    key = derive_key(passphrase, salt)
    return f"PRAGMA key = \"x'{key.hex()}{salt.hex()}'\""


def _wrong_key(path: Path, detail: str) -> StoreKeyError:
    return StoreKeyError(
        f"wrong key for {path}: {detail}; give the passphrase it was created with (${ENV_KEY} or the prompt), "
        "or point --data-dir elsewhere"
    )


def connect_raw(path: Path, passphrase: str, salt: bytes) -> Any:
    """One SQLCipher DB-API connection, keyed, checked and configured (autocommit; transactions are explicit)."""
    from sqlcipher3 import dbapi2

    conn = dbapi2.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(_key_pragma(passphrase, salt))
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except dbapi2.DatabaseError as err:
            raise _wrong_key(path, f"SQLCipher cannot decrypt it ({err})") from None
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    except BaseException:
        conn.close()
        raise
    return conn


def create_db_engine(path: Path, passphrase: str) -> Engine:
    """An engine on the encrypted database at ``path`` (created, empty, when missing).

    Checks the key on a first connection, so a wrong key fails here with :class:`StoreKeyError`.
    """
    if not passphrase:
        raise StoreKeyError(f"empty key for {path}: set {ENV_KEY} or type the passphrase")
    path = Path(path)
    if not path.parent.is_dir():
        raise StoreKeyError(f"cannot open {path}: folder {path.parent} does not exist; create it or fix --data-dir")
    salt = database_salt(path)
    if salt is None:
        if path.exists() and path.stat().st_size > 0:
            raise _wrong_key(path, "the file is too short to be a database")
        salt = os.urandom(SALT_BYTES)
    from sqlcipher3 import dbapi2

    first = connect_raw(path, passphrase, salt)  # fails early and clearly on a wrong key

    def creator() -> Any:
        nonlocal first
        if first is not None:
            conn, first = first, None
            return conn
        return connect_raw(path, passphrase, salt)

    engine = create_engine("sqlite://", creator=creator, module=dbapi2, poolclass=QueuePool, pool_size=2)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision, in one transaction on the encrypted connection."""
    from alembic import command

    from clinic.migrations import alembic_config

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The schema's Alembic revision (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn).get_current_revision()
        return rev


def head_revision() -> str:
    """The newest revision shipped with this version of Kinetics."""
    from alembic.script import ScriptDirectory

    from clinic.migrations import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def compact(engine: Engine, path: Path, passphrase: str) -> None:
    """VACUUM the database and truncate its WAL, so deleted rows leave the file's bytes too.

    Closes the engine's pooled connections first (an open reader would keep old WAL frames alive).
    """
    engine.dispose()
    salt = database_salt(path)
    assert salt is not None
    conn = connect_raw(path, passphrase, salt)
    try:
        conn.execute("VACUUM")
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise ClinicError(f"{path}: another program holds the database open; close it and erase again")
    finally:
        conn.close()
