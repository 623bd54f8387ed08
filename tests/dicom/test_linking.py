"""The linker's unit of work (an image link or a dose record and the instance row it comes
from commit together) and its sweep through a store that fails, without pynetdicom or dcmtk:
rows are recorded through the store API as the SCP records them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlmodel import select

from adapters.dicom import sop
from adapters.dicom.dose import DoseKeeper
from adapters.dicom.linker import Linker
from suite.app.case_service import CaseService
from suite.app.image_assignment import assign
from suite.bus import Bus
from suite.domain import commands as c
from suite.domain.case import Case
from suite.domain.dose import DoseReport, DoseSource, DoseThresholds
from suite.domain.envelope import Recorded, Source
from suite.store import cases as case_store
from suite.store import dicom_instances, migrate
from suite.store.database import Database, StoreError
from suite.store.dicom import DicomInstanceRow
from tests.conftest import FakeClock
from tests.dicom.conftest import MODALITY_AE, eventually
from tests.scenarios import schedule


def instance(uid: str, *, case_id: str | None, sop_class: str = sop.XA_IMAGE, clock: FakeClock):
    return dicom_instances.NewInstance(
        sop_instance_uid=uid, sop_class_uid=sop_class, study_uid="1.2.3", series_uid="1.2.3.1",
        modality="XA" if sop_class == sop.XA_IMAGE else "SR", accession="ACC0001",
        patient_id="MRN0001", path=f"{uid}.dcm", size_bytes=1, transfer_syntax=sop.EXPLICIT_LE,
        calling_ae=MODALITY_AE, received_at=clock(), case_id=case_id,
        match_rule="accession" if case_id else None,
    )  # fmt: skip


BOTH_DATABASES = pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def linker(cases: CaseService, clock: FakeClock, **kw: float) -> Linker:
    dose = DoseKeeper(
        db=cases.db, cases=cases, bus=cases.bus, clock=clock, thresholds=DoseThresholds()
    )
    return Linker(db=cases.db, cases=cases, dose=dose, clock=clock, **kw)


async def stored_rows(db: Database) -> dict[str, DicomInstanceRow]:
    async with db.session() as session:
        return {r.sop_instance_uid: r for r in await session.exec(select(DicomInstanceRow))}


class PartFailed(Exception):
    pass


@BOTH_DATABASES
@pytest.mark.asyncio
async def test_an_image_is_linked_and_its_row_marked_in_one_transaction(
    cases: CaseService, database: Database, clock: FakeClock
) -> None:
    await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
    await dicom_instances.record_instance(
        database, instance("1.9.1", case_id="k1", clock=clock), report=None, forward_to=None
    )
    [pending] = await dicom_instances.pending_links(database, limit=10)
    link = c.LinkImage(at=clock(), sop_instance_uid="1.9.1", modality="XA")
    mark = dicom_instances.marking_linked([dicom_instances.LinkOutcome(pending.row_id, "")])

    async def fails(_session: object, records: Sequence[Recorded], _case: Case) -> None:
        assert [type(r.event).__name__ for r in records] == ["ImageLinked"]
        raise PartFailed("the row cannot be written")

    # A part of the transaction fails: the image is not linked either, in memory or stored.
    with pytest.raises(PartFailed):
        await cases.execute("k1", link, actor=MODALITY_AE, source=Source.DICOM, also=[mark, fails])
    assert cases.get("k1").images == ()
    async with database.session() as session:
        assert len(await case_store.event_rows(session, "k1")) == 1
    assert (await stored_rows(database))["1.9.1"].linked is False

    # The linker links it and marks its row together.
    assert await linker(cases, clock).link_pending() == 1
    assert [i.sop_instance_uid for i in cases.get("k1").images] == ["1.9.1"]
    row = (await stored_rows(database))["1.9.1"]
    assert row.linked is True and row.link_note == ""

    # Moved to another case and back by hand: the first case has the image already, so
    # LinkImage records nothing (and `also` runs only with events); the row is marked on its
    # own, and the linker does not come back to it.
    await cases.execute("k2", schedule(clock(), accession="ACC2"), actor="his", source=Source.HL7)
    work = linker(cases, clock)
    for case_id in ("k2", "k1"):
        await assign(
            db=database, cases=cases, sop_instance_uid="1.9.1", case_id=case_id, force=True,
            user="it1", source="cli", at=clock(),
        )  # fmt: skip
        version = cases.get("k1").version
        assert await work.link_pending() == 1
    assert cases.get("k1").version == version  # nothing recorded the second time
    assert [i.sop_instance_uid for i in cases.get("k2").images] == ["1.9.1"]
    row = (await stored_rows(database))["1.9.1"]
    assert (row.case_id, row.linked) == ("k1", True)
    assert await work.link_pending() == 0


@BOTH_DATABASES
@pytest.mark.asyncio
async def test_a_dose_object_is_marked_with_the_dose_it_brought_and_a_refusal_alone(
    cases: CaseService, database: Database, clock: FakeClock
) -> None:
    await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
    await cases.execute("k2", schedule(clock(), accession="ACC0002"), actor="h", source=Source.HL7)
    linker_clock = FakeClock(clock())
    clock.advance(600)
    await cases.execute("k2", c.CheckIn(at=clock()), actor="nurse1", source=Source.TUI)
    report = DoseReport(source=DoseSource.RDSR, key="1.2.3|FLUORO1", fluoro_time_s=60,
                        dap_gy_cm2=12.5, air_kerma_mgy=80)  # fmt: skip
    await dicom_instances.record_instance(
        database, instance("1.9.2", case_id="k1", sop_class=sop.XRAY_DOSE_SR, clock=clock),
        report=report, forward_to=None,
    )  # fmt: skip
    await dicom_instances.record_instance(
        database, instance("1.9.3", case_id="k2", clock=clock), report=None, forward_to=None
    )
    work = linker(cases, linker_clock)  # its images are older than the case's last step
    assert await work.link_pending() == 2
    dose = cases.get("k1").dose
    assert dose is not None and dose.air_kerma_mgy == pytest.approx(80)
    rows = await stored_rows(database)
    assert rows["1.9.2"].linked is True and rows["1.9.2"].link_note == ""
    # The case refuses the image: its row is marked with the reason, nothing is linked.
    assert rows["1.9.3"].linked is True
    assert rows["1.9.3"].link_note.startswith("not linked: time ")
    assert "before the case's last step" in rows["1.9.3"].link_note
    assert cases.get("k2").images == () and (work.linked, work.failed) == (0, 1)
    assert await work.link_pending() == 0


@pytest.mark.asyncio
async def test_the_sweep_outlives_a_database_it_cannot_read_and_links_once_it_can(
    tmp_path: Path, clock: FakeClock
) -> None:
    # A database without its tables: every read fails in the driver ("no such table").
    url = f"sqlite:///{tmp_path / 'not-yet.db'}"
    db = Database.from_url(url)
    writer = asyncio.create_task(db.run())
    cases = CaseService(db, Bus(), clock=clock)
    work = linker(cases, clock, sweep_s=0.02, quiet_s=0.0, max_delay_s=0.0)
    with pytest.raises(StoreError, match="the database could not be read") as failed:
        await dicom_instances.pending_links(db, limit=1)
    assert failed.value.__cause__ is not None  # the driver's error, kept as the cause
    sweep = asyncio.create_task(work.run())
    try:
        # Several sweeps fail; the loop goes on (before, the driver error ended it).
        await eventually(lambda: work.store_failures >= 3, what="three failed sweeps")
        assert not sweep.done()
        await migrate.upgrade(url)
        await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
        await dicom_instances.record_instance(
            db, instance("1.9.4", case_id="k1", clock=clock), report=None, forward_to=None
        )
        work.wake()
        await eventually(lambda: cases.get("k1").images, what="the image on its case")
        assert (await stored_rows(db))["1.9.4"].linked is True
        assert not sweep.done()
    finally:
        sweep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweep
        db.close()
        await writer
        await db.dispose()
