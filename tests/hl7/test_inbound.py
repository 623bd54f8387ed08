"""Inbound messages change cases and patients as documented in docs/hl7-interface.md."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from suite.domain.values import CareTeam, Level, Phase, Procedure
from suite.store import cases as case_store
from suite.store import hl7 as store
from tests.hl7 import samples
from tests.hl7.conftest import make_settings, msa, run_stack, send

BERLIN = ZoneInfo("Europe/Berlin")


async def event_kinds(stack, case_id: str) -> list[str]:
    async with stack.db.session() as session:
        return [r.kind for r in await case_store.event_rows(session, case_id)]


@pytest.mark.asyncio
@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1"])
@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"])
async def test_every_version_and_segment_separator_is_understood(stack, version, sep):
    message = samples.adt("A04", version=version, sep=sep, name="O\\T\\BRIEN^MARY\\S\\ANN")
    acks = await send(stack.port, message)
    assert msa(acks[0])[0] == "AA", msa(acks[0])
    async with stack.db.session() as session:
        row = await session.get(store.Hl7PatientRow, "MRN0001")
    assert row is not None
    assert row.name == "O&BRIEN^MARY^ANN"  # escapes undone, components joined
    assert row.allergies == ["LATEX"]
    assert row.identifiers.startswith("MRN0001^^^HOSP^MR~")  # repeated PID-3 kept as sent


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("charset", "encoding"), [("8859/1", "latin-1"), ("UNICODE UTF-8", "utf-8"), ("", "utf-8")]
)
async def test_the_character_set_of_msh18_decodes_the_message(stack, charset, encoding):
    message = samples.adt("A04", name="MÜLLER^JÖRG")
    if charset:
        message = message.replace("|P|2.5.1", f"|P|2.5.1||||||{charset}", 1)
    acks = await send(stack.port, message.encode(encoding))
    assert msa(acks[0])[0] == "AA"
    async with stack.db.session() as session:
        row = await session.get(store.Hl7PatientRow, "MRN0001")
    assert row is not None and row.name == "MÜLLER^JÖRG"
    if charset:  # the ACK answers in the same character set and says so
        assert acks[0].split(b"\r")[0].endswith(charset.encode())


@pytest.mark.asyncio
async def test_a_repeated_control_id_gets_the_original_ack_and_is_applied_once(stack):
    first = await send(stack.port, samples.adt("A04"), samples.orm(control="ORD1"))
    again = await send(stack.port, samples.orm(control="ORD1", levels="L2"))
    assert again[0] == first[1]  # byte for byte the ACK sent the first time
    case = stack.cases.by_accession("ACC0001")
    assert case is not None and [str(lv) for lv in case.order.levels] == ["T12", "L1"]
    assert await event_kinds(stack, case.case_id) == ["CaseScheduled"]
    async with stack.db.session() as session:
        row = await store.inbound_by_key(session, "HIS", "HOSP", "ORD1")
    assert row is not None and row.repeats == 1


@pytest.mark.asyncio
async def test_the_same_message_on_two_connections_at_once_is_applied_once(stack):
    message = samples.orm(control="TWICE")
    a, b = await asyncio.gather(send(stack.port, message), send(stack.port, message))
    assert a == b and msa(a[0])[0] == "AA"
    assert len(stack.cases.all()) == 1
    assert await event_kinds(stack, stack.cases.all()[0].case_id) == ["CaseScheduled"]


@pytest.mark.asyncio
async def test_repeats_are_recognised_after_a_restart_and_beyond_the_memory(
    sqlite_url, tmp_path, clock
):
    settings = make_settings(tmp_path, duplicate_memory=100)
    async with run_stack(sqlite_url, settings, clock) as st:
        first = await send(st.port, samples.orm(control="OLD1"))
        await send(st.port, *(samples.adt("A04", mrn=f"P{i}") for i in range(150)))
    async with run_stack(sqlite_url, settings, clock) as st:
        # OLD1 is no longer in the 100 remembered keys: the unique key catches it
        again = await send(st.port, samples.orm(control="OLD1", levels="L4"))
        assert again == first
        case = st.cases.by_accession("ACC0001")
        assert case is not None and await event_kinds(st, case.case_id) == ["CaseScheduled"]
        # a recent one is answered from memory
        recent = await send(st.port, samples.adt("A04", mrn="P149", control="ZZ"))
        assert msa(recent[0])[0] == "AA"


@pytest.mark.asyncio
async def test_adt_updates_reach_open_cases_and_a_merge_moves_them(stack):
    await send(stack.port, samples.adt("A04"), samples.orm())
    case = stack.cases.by_accession("ACC0001")
    assert case is not None
    acks = await send(stack.port, samples.adt("A08", name="TEST^ANNA MARIA", allergies=()))
    assert msa(acks[0])[2] == "patient MRN0001 updated; 1 open case(s) updated"
    updated = stack.cases.get(case.case_id)
    assert updated is not None and updated.patient.name == "TEST^ANNA MARIA"
    assert updated.patient.allergies == ("LATEX",)  # an A08 without AL1 keeps them
    acks = await send(stack.port, samples.adt("A40", mrn="MRN0002", prior="MRN0001"))
    assert msa(acks[0]) == (
        "AA",
        msa(acks[0])[1],
        "patient MRN0001 merged into MRN0002; 1 open case(s) updated",
    )
    merged = stack.cases.get(case.case_id)
    assert merged is not None and merged.patient.mrn == "MRN0002"
    async with stack.db.session() as session:
        prior = await session.get(store.Hl7PatientRow, "MRN0001")
    assert prior is not None and prior.merged_into == "MRN0002"


@pytest.mark.asyncio
async def test_an_order_change_changes_the_case_and_a_repeat_changes_nothing(stack):
    await send(stack.port, samples.orm())
    acks = await send(
        stack.port, samples.orm("XO", levels="T11-L1", room="IR^IR2", when="202611251130")
    )
    case = stack.cases.by_accession("ACC0001")
    assert case is not None
    assert msa(acks[0])[2].startswith(f"changed case {case.case_id}")
    assert case.order.levels == (Level("T11"), Level("T12"), Level("L1"))
    assert case.room == "IR2"
    assert case.scheduled_at == datetime(2026, 11, 25, 11, 30, tzinfo=BERLIN)
    acks = await send(
        stack.port, samples.orm("NW", levels="T11-L1", room="IR^IR2", when="202611251130")
    )
    assert msa(acks[0])[2] == f"unchanged: case {case.case_id} already has this order"
    assert await event_kinds(stack, case.case_id) == ["CaseScheduled", "OrderChanged"]


@pytest.mark.asyncio
async def test_siu_schedules_reschedules_and_cancels_with_the_care_team(stack):
    acks = await send(stack.port, samples.siu("S12"))
    assert msa(acks[0])[0] == "AA", msa(acks[0])
    case = stack.cases.by_accession("ACC0200")
    assert case is not None
    assert case.order.procedure is Procedure.KYPHOPLASTY
    assert case.order.levels == (Level("L3"),)
    assert case.room == "IR2"
    assert case.scheduled_at == datetime(2026, 11, 24, 14, 0, tzinfo=BERLIN)
    assert case.care_team == CareTeam(radiologist="dr.rad", technologist="tech1")
    await send(stack.port, samples.siu("S14", start="202611241600", room="IR1"))
    moved = stack.cases.get(case.case_id)
    assert moved is not None and moved.room == "IR1" and moved.scheduled_at.hour == 16
    await send(stack.port, samples.siu("S15"))
    cancelled = stack.cases.get(case.case_id)
    assert cancelled is not None and cancelled.phase is Phase.CANCELLED


@pytest.mark.asyncio
async def test_omi_o23_uses_ipc_for_accession_and_room(stack):
    acks = await send(stack.port, samples.omi())
    assert msa(acks[0])[0] == "AA", msa(acks[0])
    case = stack.cases.by_accession("ACC0100")
    assert case is not None
    assert case.order.procedure is Procedure.VERTEBROPLASTY
    assert case.room == "IR2"
    assert case.scheduled_at == datetime(2026, 11, 24, 13, 0, tzinfo=BERLIN)


@pytest.mark.asyncio
async def test_the_message_row_is_written_with_the_case_in_one_step(stack):
    acks = await send(stack.port, samples.orm(control="ONE"))
    case = stack.cases.by_accession("ACC0001")
    assert case is not None
    async with stack.db.session() as session:
        row = await store.inbound_by_key(session, "HIS", "HOSP", "ONE")
        order = await session.get(store.Hl7OrderRow, "ACC0001")
    assert row is not None and row.case_id == case.case_id and row.ack_raw == acks[0]
    assert order is not None and order.placer_order == "PLACC0001"
    assert order.patient_ids.startswith("MRN0001^^^HOSP^MR")
    assert stack.listener.journal.stats.batches == 0  # no separate write was needed


@pytest.mark.asyncio
@pytest.mark.postgres
async def test_the_whole_inbound_flow_on_postgresql(pg_url, tmp_path, clock):
    async with run_stack(pg_url, make_settings(tmp_path), clock) as st:
        many = [samples.adt("A04", mrn=f"PG{i}") for i in range(20)] + [
            samples.adt("A04", mrn="PG1")
        ]
        results = await asyncio.gather(*(send(st.port, m) for m in many))
        assert all(msa(r[0])[0] == "AA" for r in results)
        acks = await send(
            st.port, samples.orm(control="PGO", mrn="PG1"), samples.orm(control="PGO"),
            samples.adt("A08", mrn="NOBODY"),
        )  # fmt: skip
        assert [msa(a)[0] for a in acks] == ["AA", "AA", "AE"]
        assert acks[0] == acks[1]
        assert len(st.cases.all()) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("message", "levels"),
    [
        (samples.orm(levels="", note="Planned levels: L1-L2"), ("L1", "L2")),
        (samples.orm(levels="", service="IR55^KYPHOPLASTY T12^LOCAL"), ("T12",)),
        (samples.orm(levels="T11/T12", note="L4 fusion 2019"), ("T11", "T12")),  # OBR-13 first
    ],
)
async def test_planned_levels_come_from_obr13_then_the_order_text_then_nte(stack, message, levels):
    acks = await send(stack.port, message)
    assert msa(acks[0])[0] == "AA", msa(acks[0])
    case = stack.cases.by_accession("ACC0001")
    assert case is not None and tuple(str(lv) for lv in case.order.levels) == levels
