"""leases: which procsuite instance serves each room (and the site-wide duties) until when

Revision ID: 0009_leases
Revises: 0001_cases
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_leases"
down_revision = "0001_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lease",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("home", sa.String(64), nullable=True),
        sa.Column("wanted_by", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("lease")
