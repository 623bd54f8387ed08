"""HL7: inbound message log, outbound outbox, patient registry, orders

Revision ID: 0004_hl7
Revises: 0001_cases
Create Date: 2026-11-24
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_hl7"
down_revision = "0001_cases"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tz(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "hl7_inbound",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _tz("received_at"),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("sending_application", sa.String(64), nullable=False),
        sa.Column("sending_facility", sa.String(64), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("accepted_control_id", sa.String(64), nullable=True),
        sa.Column("message_type", sa.String(32), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("ack_code", sa.String(2), nullable=True),
        sa.Column("ack_text", sa.String(1024), nullable=False),
        sa.Column("ack_raw", sa.LargeBinary(), nullable=True),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=True),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.UniqueConstraint(
            "sending_application",
            "sending_facility",
            "accepted_control_id",
            name="uq_hl7_inbound_key",
        ),
    )
    op.create_table(
        "hl7_outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("destination", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("accession", sa.String(64), nullable=False),
        sa.Column("message_type", sa.String(32), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(1024), nullable=False),
        sa.Column("ack_code", sa.String(2), nullable=True),
        sa.Column("ack_raw", sa.LargeBinary(), nullable=True),
        _tz("created_at"),
        _tz("updated_at"),
        _tz("sent_at", nullable=True),
    )
    op.create_index("ix_hl7_outbox_case_id", "hl7_outbox", ["case_id"])
    op.create_index(
        "ix_hl7_outbox_dest_status_seq", "hl7_outbox", ["destination", "status", "seq"]
    )
    op.create_table(
        "hl7_patients",
        sa.Column("mrn", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("allergies", sa.JSON(), nullable=False),
        sa.Column("identifiers", sa.String(512), nullable=False),
        sa.Column("merged_into", sa.String(64), nullable=True),
        _tz("updated_at"),
    )
    op.create_table(
        "hl7_orders",
        sa.Column("accession", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("placer_order", sa.String(64), nullable=False),
        sa.Column("filler_order", sa.String(64), nullable=False),
        sa.Column("service_code", sa.String(64), nullable=False),
        sa.Column("service_text", sa.String(256), nullable=False),
        sa.Column("service_system", sa.String(32), nullable=False),
        sa.Column("ordering_provider", sa.String(256), nullable=False),
        sa.Column("patient_ids", sa.String(512), nullable=False),
        sa.Column("visit_number", sa.String(64), nullable=False),
        sa.Column("sending_application", sa.String(64), nullable=False),
        sa.Column("sending_facility", sa.String(64), nullable=False),
        _tz("updated_at"),
    )
    op.create_index("ix_hl7_orders_case_id", "hl7_orders", ["case_id"])


def downgrade() -> None:
    op.drop_table("hl7_orders")
    op.drop_table("hl7_patients")
    op.drop_table("hl7_outbox")
    op.drop_table("hl7_inbound")
