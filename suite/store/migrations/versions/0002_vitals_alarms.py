"""vital-sign samples, alarms and the alarm event log (the alarm topic's outbox)

Revision ID: 0002_vitals_alarms
Revises: 0001_cases
Create Date: 2026-11-24
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_vitals_alarms"
down_revision = "0001_cases"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PARAMS = ("hr", "spo2", "nibp_sys", "nibp_dia", "nibp_map", "rr", "etco2", "temp")


def _tz(name: str, nullable: bool = False) -> "sa.Column[Any]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "vital_samples",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=True),
        _tz("at"),
        _tz("received_at"),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        *(sa.Column(p, sa.Float(), nullable=True) for p in PARAMS),
    )
    op.create_index("ix_vital_samples_case_at", "vital_samples", ["case_id", "at"])
    op.create_index("ix_vital_samples_room_at", "vital_samples", ["room", "at"])

    op.create_table(
        "alarms",
        sa.Column("alarm_id", sa.String(64), primary_key=True),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("parameter", sa.String(32), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("latching", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("condition_active", sa.Boolean(), nullable=False),
        _tz("raised_at"),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
        _tz("acknowledged_at", True),
        _tz("condition_ended_at", True),
        _tz("cleared_at", True),
        _tz("updated_at"),
    )
    op.create_index("ix_alarms_case_id", "alarms", ["case_id"])
    op.create_index("ix_alarms_room_state", "alarms", ["room", "state"])

    op.create_table(
        "alarm_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("alarm_id", sa.String(64), nullable=False),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        _tz("at"),
        sa.Column("user", sa.String(128), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        _tz("recorded_at"),
        _tz("published_at", True),
    )
    op.create_index("ix_alarm_events_alarm_id", "alarm_events", ["alarm_id"])
    op.create_index("ix_alarm_events_room", "alarm_events", ["room"])
    op.create_index("ix_alarm_events_case_id", "alarm_events", ["case_id"])
    op.create_index("ix_alarm_events_unpublished", "alarm_events", ["published_at", "id"])


def downgrade() -> None:
    op.drop_table("alarm_events")
    op.drop_table("alarms")
    op.drop_table("vital_samples")
