"""Migration 0011 on a database that already has reference air kerma levels announced: they
stay air kerma levels, and a DAP or fluoroscopy level with the same number is a new level."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from suite.domain.dose import DoseQuantity
from suite.store import dicom_dose, migrate
from suite.store.database import Database, make_engine
from tests.conftest import _db_names


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'procsuite.db'}"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"t{os.getpid()}_{next(_db_names)}"))


@pytest.mark.asyncio
async def test_levels_announced_before_the_upgrade_stay_air_kerma_levels(fresh_url: str) -> None:
    await migrate.upgrade(fresh_url, "0003_dicom")
    engine = make_engine(fresh_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO dicom_dose_levels (case_id, threshold_mgy, air_kerma_mgy,"
                    " announced_at) VALUES ('k1', 3000, 3100, :at)"
                ),
                {"at": datetime(2026, 12, 1, 9, 0, tzinfo=UTC)},
            )
    finally:
        await engine.dispose()
    await migrate.upgrade(fresh_url)

    db = Database.from_url(fresh_url)
    writer = asyncio.create_task(db.run())
    try:
        before = await dicom_dose.case_dose(db, "k1")
        assert before.announced_mgy == {3000.0}
        assert before.announced_of(DoseQuantity.DAP) == set()
        # 3000 Gy·cm² is a DAP level of its own, not the 3 Gy air kerma level again.
        await dicom_dose.announce_levels(
            db, "k1", thresholds_mgy=[3000.0], air_kerma_mgy=3100.0,
            at=datetime(2026, 12, 1, 9, 5, tzinfo=UTC), quantity=DoseQuantity.DAP,
        )  # fmt: skip
        after = await dicom_dose.case_dose(db, "k1")
        assert after.announced_mgy == {3000.0}
        assert after.announced_of(DoseQuantity.DAP) == {3000.0}
    finally:
        db.close()
        await writer
        await db.dispose()
