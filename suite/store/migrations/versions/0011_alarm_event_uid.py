"""alarm events: the local alarm journal's id of each event (exactly-once reconciliation)

Revision ID: 0011_alarm_event_uid
Revises: 0002_vitals_alarms
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_alarm_event_uid"
down_revision = "0002_vitals_alarms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alarm_events") as batch:
        batch.add_column(sa.Column("event_uid", sa.String(40), nullable=True))
        batch.create_unique_constraint("uq_alarm_events_event_uid", ["event_uid"])


def downgrade() -> None:
    with op.batch_alter_table("alarm_events") as batch:
        batch.drop_constraint("uq_alarm_events_event_uid", type_="unique")
        batch.drop_column("event_uid")
