"""dose levels of DAP and fluoroscopy time beside reference air kerma

Revision ID: 0011_dose_quantities
Revises: 0003_dicom
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_dose_quantities"
down_revision = "0003_dicom"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dicom_dose_levels") as batch:
        batch.add_column(
            sa.Column(
                "quantity", sa.String(16), nullable=False, server_default="air_kerma_mgy"
            )
        )
        batch.drop_constraint("uq_dicom_dose_level", type_="unique")
        batch.create_unique_constraint(
            "uq_dicom_dose_level", ["case_id", "quantity", "threshold_mgy"]
        )


def downgrade() -> None:
    op.execute("DELETE FROM dicom_dose_levels WHERE quantity <> 'air_kerma_mgy'")
    with op.batch_alter_table("dicom_dose_levels") as batch:
        batch.drop_constraint("uq_dicom_dose_level", type_="unique")
        batch.create_unique_constraint("uq_dicom_dose_level", ["case_id", "threshold_mgy"])
        batch.drop_column("quantity")
