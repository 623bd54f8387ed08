"""DICOM: instance index, dose reports and announced levels, MPPS records, PACS forward queue

Revision ID: 0003_dicom
Revises: 0001_cases
Create Date: 2026-11-24
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003_dicom"
down_revision = "0001_cases"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tz(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "dicom_instances",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False, unique=True),
        sa.Column("sop_class_uid", sa.String(64), nullable=False),
        sa.Column("study_uid", sa.String(64), nullable=False),
        sa.Column("series_uid", sa.String(64), nullable=False),
        sa.Column("modality", sa.String(16), nullable=False),
        sa.Column("accession", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("path", sa.String(400), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("transfer_syntax", sa.String(64), nullable=False),
        sa.Column("calling_ae", sa.String(16), nullable=False),
        _tz("received_at"),
        sa.Column("case_id", sa.String(64), nullable=True),
        sa.Column("match_rule", sa.String(16), nullable=True),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("link_note", sa.String(400), nullable=False),
    )
    op.create_index("ix_dicom_instances_study_uid", "dicom_instances", ["study_uid"])
    op.create_index("ix_dicom_instances_case_id", "dicom_instances", ["case_id"])
    op.create_index("ix_dicom_instances_linked", "dicom_instances", ["linked"])

    op.create_table(
        "dicom_dose_reports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("report_key", sa.String(128), nullable=False),
        sa.Column("object_uid", sa.String(64), nullable=False),
        sa.Column("fluoro_time_s", sa.Float(), nullable=True),
        sa.Column("dap_gy_cm2", sa.Float(), nullable=True),
        sa.Column("air_kerma_mgy", sa.Float(), nullable=True),
        _tz("reported_at"),
        sa.UniqueConstraint("source", "report_key", name="uq_dicom_dose_source_key"),
    )
    op.create_index("ix_dicom_dose_reports_case_id", "dicom_dose_reports", ["case_id"])
    op.create_index("ix_dicom_dose_reports_object_uid", "dicom_dose_reports", ["object_uid"])

    op.create_table(
        "dicom_dose_levels",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("threshold_mgy", sa.Float(), nullable=False),
        sa.Column("air_kerma_mgy", sa.Float(), nullable=False),
        _tz("announced_at"),
        sa.UniqueConstraint("case_id", "threshold_mgy", name="uq_dicom_dose_level"),
    )
    op.create_index("ix_dicom_dose_levels_case_id", "dicom_dose_levels", ["case_id"])

    op.create_table(
        "dicom_mpps",
        sa.Column("mpps_uid", sa.String(64), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=True),
        sa.Column("match_rule", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("calling_ae", sa.String(16), nullable=False),
        sa.Column("station_ae", sa.String(16), nullable=False),
        sa.Column("accession", sa.String(64), nullable=False),
        sa.Column("study_uid", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("fluoro_time_s", sa.Float(), nullable=True),
        sa.Column("dap_gy_cm2", sa.Float(), nullable=True),
        sa.Column("air_kerma_mgy", sa.Float(), nullable=True),
        sa.Column("exposures", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        _tz("created_at"),
        _tz("updated_at"),
    )
    op.create_index("ix_dicom_mpps_case_id", "dicom_mpps", ["case_id"])

    op.create_table(
        "dicom_forward_queue",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False),
        sa.Column("sop_class_uid", sa.String(64), nullable=False),
        sa.Column("transfer_syntax", sa.String(64), nullable=False),
        sa.Column("path", sa.String(400), nullable=False),
        sa.Column("destination", sa.String(128), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _tz("next_attempt_at"),
        sa.Column("last_error", sa.String(400), nullable=False),
        _tz("created_at"),
        _tz("sent_at", nullable=True),
        sa.UniqueConstraint("sop_instance_uid", "destination", name="uq_dicom_forward_instance"),
    )
    op.create_index("ix_dicom_forward_due", "dicom_forward_queue", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("dicom_forward_queue")
    op.drop_table("dicom_mpps")
    op.drop_table("dicom_dose_levels")
    op.drop_table("dicom_dose_reports")
    op.drop_table("dicom_instances")
