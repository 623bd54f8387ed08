"""`CaseService.execute(..., also=[...])`: what an adapter records with a case command commits
in the same transaction as the command's events, or not at all."""

import asyncio

import pytest
from sqlmodel import select

from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.domain.errors import GuardError
from suite.store import audit_log
from suite.store import cases as case_store
from suite.store.audit_log import AuditLogRow
from tests.scenarios import schedule


def audit_part(clock, seen: list):
    async def part(session, records, case):
        seen.append(([r.seq for r in records], case.version))
        await audit_log.record(
            session, at=clock(), user="his", source="hl7", action="test", subject=case.case_id
        )

    return part


async def audit_rows(database) -> list[str]:
    async with database.session() as s:
        return [r.subject for r in await s.exec(select(AuditLogRow))]


@pytest.mark.asyncio
async def test_a_part_commits_with_the_events_and_sees_them(cases, database, clock):
    seen: list = []
    records = await cases.execute(
        "k1", schedule(clock()), actor="his", source=Source.HL7, also=[audit_part(clock, seen)]
    )
    assert seen == [([r.seq for r in records], cases.get("k1").version)]
    assert await audit_rows(database) == ["k1"]
    async with database.session() as s:
        assert len(await case_store.event_rows(s, "k1")) == len(records)


@pytest.mark.asyncio
async def test_a_failing_part_stores_neither_the_events_nor_itself(cases, database, clock):
    await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)

    async def failing(session, records, case):
        await audit_log.record(
            session, at=clock(), user="x", source="hl7", action="test", subject="lost"
        )
        raise LookupError("the adapter's row could not be written")

    with pytest.raises(LookupError, match="could not be written"):
        await cases.execute(
            "k1", c.CheckIn(at=clock()), actor="his", source=Source.HL7, also=[failing]
        )
    assert cases.get("k1").version == 1
    assert await audit_rows(database) == []
    async with database.session() as s:
        assert len(await case_store.event_rows(s, "k1")) == 1


@pytest.mark.asyncio
async def test_a_refused_command_runs_no_part(cases, database, clock):
    await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
    seen: list = []
    with pytest.raises(GuardError):
        await cases.execute(
            "k1",
            c.PlaceTrocar(at=clock(), level="L1"),
            actor="t",
            source=Source.CLI,
            also=[audit_part(clock, seen)],
        )
    assert seen == [] and await audit_rows(database) == []


@pytest.mark.asyncio
async def test_a_part_is_only_for_its_own_command(cases, database, clock):
    seen: list = []
    await cases.execute(
        "k1", schedule(clock()), actor="his", source=Source.HL7, also=[audit_part(clock, seen)]
    )
    await cases.execute("k1", c.CheckIn(at=clock()), actor="his", source=Source.HL7)
    assert len(seen) == 1 and await audit_rows(database) == ["k1"]


@pytest.mark.asyncio
async def test_commands_on_different_cases_at_once_commit_in_one_job(cases, database, clock):
    jobs = database.jobs
    await asyncio.gather(
        *(
            cases.execute(
                f"k{i}",
                schedule(clock(), accession=f"ACC{i}", mrn=f"MRN{i}"),
                actor="his",
                source=Source.HL7,
            )
            for i in range(5)
        )
    )
    assert database.jobs - jobs == 1  # one group, one writer job
    async with database.session() as s:
        for i in range(5):
            assert len(await case_store.event_rows(s, f"k{i}")) == 1
    assert [cases.get(f"k{i}").version for i in range(5)] == [1] * 5


@pytest.mark.asyncio
async def test_a_failing_command_in_a_group_fails_alone(cases, database, clock):
    seen: list = []

    async def failing(session, records, case):
        raise LookupError("the adapter's row could not be written")

    results = await asyncio.gather(
        *(
            cases.execute(
                f"k{i}",
                schedule(clock(), accession=f"ACC{i}", mrn=f"MRN{i}"),
                actor="his",
                source=Source.HL7,
                also=[failing] if i == 2 else [audit_part(clock, seen)],
            )
            for i in range(4)
        ),
        return_exceptions=True,
    )
    assert isinstance(results[2], LookupError)
    assert all(isinstance(r, list) and r for i, r in enumerate(results) if i != 2)
    assert cases.get("k2") is None
    assert sorted(await audit_rows(database)) == ["k0", "k1", "k3"]
    async with database.session() as s:
        assert await case_store.event_rows(s, "k2") == []
        assert len(await case_store.event_rows(s, "k3")) == 1
