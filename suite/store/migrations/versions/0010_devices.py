"""devices: the PCD-01 inbound journal and the PCD-04 outbound outbox

Revision ID: 0010_devices
Revises: 0001_cases
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_devices"
down_revision = "0001_cases"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pcd01_messages",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("sending_application", sa.String(64), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("location", sa.String(128), nullable=False),
        sa.Column("room", sa.String(64), nullable=True),
        sa.Column("devices", sa.String(256), nullable=False),
        sa.Column("ack_code", sa.String(2), nullable=False),
        sa.Column("error", sa.String(500), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("unknown_codes", sa.Integer(), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
    )
    op.create_index("ix_pcd01_messages_received_at", "pcd01_messages", ["received_at"])
    op.create_index("ix_pcd01_messages_control_id", "pcd01_messages", ["control_id"])
    op.create_index("ix_pcd01_messages_room", "pcd01_messages", ["room"])
    op.create_table(
        "pcd04_messages",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", _ID, nullable=False, unique=True),
        sa.Column("alarm_id", sa.String(64), nullable=False),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("queued_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("ack_code", sa.String(4), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
    )
    op.create_index("ix_pcd04_messages_alarm_id", "pcd04_messages", ["alarm_id"])
    op.create_index("ix_pcd04_messages_sent_at", "pcd04_messages", ["sent_at"])


def downgrade() -> None:
    op.drop_table("pcd04_messages")
    op.drop_table("pcd01_messages")
