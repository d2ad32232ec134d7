"""The clinic's tables (SQLAlchemy 2 declarative models), portable between SQLite and PostgreSQL.

- ``patients``: the pseudonymous id (``P-7F3A2C``) that every other table, file and export uses.
- ``patient_identities``: name, birth date and sex, kept apart so that nothing else ever holds them.
- ``sessions``: one protocol run: protocol id and the exact definition run (TOML), start/end, notes, and whether
  it ran to the end (``completed``; false for a run stopped by Ctrl-C, an error or a lost sensor).
- ``trials``: one HDF5 trial file per row: path relative to the data directory, SHA-256, protocol, side.
- ``results``: one metric value per row (SI ``unit``), of a trial or of the whole session.
- ``audit_entries``: the append-only, hash-chained audit log (see :mod:`clinic.audit`).

Times are stored as naive UTC (``DateTime`` without zone, the portable subset) and read back as aware UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Constraint names fixed by convention, so migrations can name them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC; refuses naive input (a local time would be silently wrong)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass an aware time such as datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    involved_side: Mapped[str] = mapped_column(String(8), default="none")
    #: ``local`` or the tablet/bundle it was imported from (``import``).
    origin: Mapped[str] = mapped_column(String(16), default="local")

    identity: Mapped[PatientIdentity | None] = relationship(back_populates="patient", uselist=False)
    sessions: Mapped[list[SessionRow]] = relationship(back_populates="patient", order_by="SessionRow.started_at")


class PatientIdentity(Base):
    """Who the patient is. Only this table holds identifying data; erase deletes the row."""

    __tablename__ = "patient_identities"

    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date(), nullable=True)
    sex: Mapped[str] = mapped_column(String(16), default="")

    patient: Mapped[Patient] = relationship(back_populates="identity")


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    protocol_id: Mapped[str] = mapped_column(String(64), index=True)
    #: The protocol definition exactly as run (TOML), so a later library change cannot rewrite history.
    protocol_toml: Mapped[str] = mapped_column(Text(), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    notes: Mapped[str] = mapped_column(Text(), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    origin: Mapped[str] = mapped_column(String(16), default="local")
    #: False when the run stopped before its end (Ctrl-C, an error, a sensor lost); migration 0002.
    completed: Mapped[bool] = mapped_column(Boolean(), default=True, server_default=true())

    patient: Mapped[Patient] = relationship(back_populates="sessions")
    trials: Mapped[list[TrialRecord]] = relationship(back_populates="session", order_by="TrialRecord.position")
    results: Mapped[list[Result]] = relationship(back_populates="session", order_by="Result.position")


class TrialRecord(Base):
    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("session_id", "trial_id", name="uq_trials_session_trial"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    trial_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer())
    #: Relative to the data directory, '/' separators (``trials/P-…/<session>/001-<trial>.h5``).
    path: Mapped[str] = mapped_column(String(400), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer())
    protocol: Mapped[str] = mapped_column(String(64), default="")
    side: Mapped[str] = mapped_column(String(16), default="none")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    complete: Mapped[bool] = mapped_column(Boolean(), default=True)

    session: Mapped[SessionRow] = relationship(back_populates="trials")


class Result(Base):
    """One metric value. ``value`` is NULL for NaN (SQLite cannot store NaN); infinities are stored as such."""

    __tablename__ = "results"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    trial_pk: Mapped[int | None] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), nullable=True)
    position: Mapped[int] = mapped_column(Integer())
    key: Mapped[str] = mapped_column(String(64), index=True)
    value: Mapped[float | None] = mapped_column(Double(), nullable=True)
    unit: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(16), default="none")
    protocol: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(64), default="")
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime())

    session: Mapped[SessionRow] = relationship(back_populates="results")
    trial: Mapped[TrialRecord | None] = relationship()


class AuditEntry(Base):
    """One audit log entry; ``hash`` = SHA-256 of the canonical JSON of every other field (see clinic.audit)."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text(), default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
