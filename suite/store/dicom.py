"""DICOM tables: the instance index with its case link, dose reports and the levels announced,
MPPS records, and the durable queue of instances to forward to the PACS.

"Unmatched" instances are index rows without a case (`case_id` NULL); IT assigns them later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from suite.store.tables import BigId, utc_column


class DicomInstanceRow(SQLModel, table=True):
    """One stored SOP instance: where its file is and which case it belongs to."""

    __tablename__ = "dicom_instances"

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    sop_instance_uid: str = Field(max_length=64, unique=True)
    sop_class_uid: str = Field(max_length=64)
    study_uid: str = Field(max_length=64, index=True)
    series_uid: str = Field(max_length=64)
    modality: str = Field(default="", max_length=16)
    accession: str = Field(default="", max_length=64)
    patient_id: str = Field(default="", max_length=64)
    path: str = Field(max_length=400)
    """Relative to `<data_dir>/dicom`."""
    size_bytes: int
    transfer_syntax: str = Field(max_length=64)
    calling_ae: str = Field(max_length=16)
    received_at: datetime = utc_column()
    case_id: str | None = Field(default=None, max_length=64, index=True)
    match_rule: str | None = Field(default=None, max_length=16)
    """accession, study_uid, procedure_id, patient_id or manual; NULL while unmatched."""
    linked: bool = Field(default=False, index=True)
    """The case has been told (image linked, dose updated); False while that is pending."""
    link_note: str = Field(default="", max_length=400)
    """Why linking to the case did not work, if it did not."""


class DicomDoseReportRow(SQLModel, table=True):
    """A dose report from an RDSR, an MPPS or an image (see suite/domain/dose.py)."""

    __tablename__ = "dicom_dose_reports"
    __table_args__ = (UniqueConstraint("source", "report_key", name="uq_dicom_dose_source_key"),)

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    case_id: str | None = Field(default=None, max_length=64, index=True)
    source: str = Field(max_length=8)
    device: str = Field(max_length=128)
    report_key: str = Field(max_length=128)
    object_uid: str = Field(max_length=64, index=True)
    """The SOP instance (image, RDSR) or MPPS instance the report came in."""
    fluoro_time_s: float | None = None
    dap_gy_cm2: float | None = None
    air_kerma_mgy: float | None = None
    reported_at: datetime = utc_column()


class DoseLevelAnnouncedRow(SQLModel, table=True):
    """A dose level already announced for a case (never twice): reference air kerma, DAP or
    fluoroscopy time (`quantity`, a `suite.domain.dose.DoseQuantity`; the threshold is in
    that quantity's unit despite the column's name)."""

    __tablename__ = "dicom_dose_levels"
    __table_args__ = (
        UniqueConstraint("case_id", "quantity", "threshold_mgy", name="uq_dicom_dose_level"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    case_id: str = Field(max_length=64, index=True)
    quantity: str = Field(default="air_kerma_mgy", max_length=16)
    threshold_mgy: float
    air_kerma_mgy: float
    announced_at: datetime = utc_column()


class MppsRow(SQLModel, table=True):
    """A Modality Performed Procedure Step as the modality last set it."""

    __tablename__ = "dicom_mpps"

    mpps_uid: str = Field(primary_key=True, max_length=64)
    case_id: str | None = Field(default=None, max_length=64, index=True)
    match_rule: str | None = Field(default=None, max_length=16)
    status: str = Field(max_length=16)
    calling_ae: str = Field(max_length=16)
    station_ae: str = Field(default="", max_length=16)
    accession: str = Field(default="", max_length=64)
    study_uid: str = Field(default="", max_length=64)
    patient_id: str = Field(default="", max_length=64)
    fluoro_time_s: float | None = None
    dap_gy_cm2: float | None = None
    air_kerma_mgy: float | None = None
    exposures: int | None = None
    attributes: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """Every attribute the modality sent (DICOM JSON model), for audit."""
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()


class ForwardRow(SQLModel, table=True):
    """An instance waiting to be sent to the PACS; kept until the PACS accepted it."""

    __tablename__ = "dicom_forward_queue"
    __table_args__ = (
        UniqueConstraint("sop_instance_uid", "destination", name="uq_dicom_forward_instance"),
        Index("ix_dicom_forward_due", "sent_at", "next_attempt_at"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    sop_instance_uid: str = Field(max_length=64)
    sop_class_uid: str = Field(max_length=64)
    transfer_syntax: str = Field(max_length=64)
    path: str = Field(max_length=400)
    destination: str = Field(max_length=128)
    """`AE@host:port` of the PACS."""
    attempts: int = 0
    next_attempt_at: datetime = utc_column()
    last_error: str = Field(default="", max_length=400)
    created_at: datetime = utc_column()
    sent_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
