"""The case tables: a projection row per case and the append-only event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


class CaseRow(SQLModel, table=True):
    """The latest state of a case, kept beside its events for listing and lookup."""

    __tablename__ = "cases"

    case_id: str = Field(primary_key=True, max_length=64)
    accession: str = Field(index=True, max_length=64)
    mrn: str = Field(index=True, max_length=64)
    room: str = Field(index=True, max_length=64)
    procedure: str = Field(max_length=32)
    phase: str = Field(index=True, max_length=32)
    version: int
    scheduled_at: datetime = utc_column()
    updated_at: datetime = utc_column()


class CaseEventRow(SQLModel, table=True):
    """One event of a case; (case_id, seq) is unique, so two writers can never interleave."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_case_seq"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    case_id: str = Field(index=True, max_length=64)
    seq: int
    at: datetime = utc_column()
    kind: str = Field(max_length=64)
    actor: str = Field(max_length=128)
    source: str = Field(max_length=16)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    recorded_at: datetime = utc_column()
