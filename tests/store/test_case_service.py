import asyncio

import pytest

from suite.app.case_service import CaseChanged, CaseService
from suite.bus import Bus
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.domain.errors import GuardError
from suite.domain.values import Phase, Procedure
from suite.store import cases as case_store
from suite.store.database import ConcurrencyError
from tests.scenarios import full_case, schedule


async def drive(cases: CaseService, clock, case_id: str, procedure: Procedure, levels) -> None:
    await cases.execute(
        case_id,
        schedule(clock(), procedure=procedure, levels=levels, accession=f"ACC-{case_id}"),
        actor="his",
        source=Source.HL7,
    )
    for command in full_case(clock(), procedure=procedure, levels=levels):
        clock.now = command.at
        await cases.execute(case_id, command, actor="tech1", source=Source.TUI)


@pytest.mark.asyncio
async def test_cases_are_stored_and_rebuilt_from_the_event_log(cases, database, clock):
    await drive(cases, clock, "k1", Procedure.KYPHOPLASTY, ("T12", "L1"))
    await drive(cases, clock, "v1", Procedure.VERTEBROPLASTY, ("L2",))
    fresh = CaseService(database, Bus(), clock=clock)
    assert await fresh.load() == 2
    assert fresh.get("k1") == cases.get("k1")
    assert fresh.get("v1").phase is Phase.DISCHARGED
    async with database.session() as s:
        rows = await case_store.event_rows(s, "k1")
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert {r.source for r in rows} == {"hl7", "tui"}


@pytest.mark.asyncio
async def test_a_refused_command_stores_nothing_and_names_the_rule(cases, database, clock):
    await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
    with pytest.raises(GuardError, match="locked until the time-out"):
        await cases.execute(
            "k1", c.PlaceTrocar(at=clock(), level="L1"), actor="t", source=Source.CLI
        )
    async with database.session() as s:
        assert len(await case_store.event_rows(s, "k1")) == 1


@pytest.mark.asyncio
async def test_a_second_writer_on_the_same_case_is_detected_and_the_loser_reloads(database, clock):
    bus = Bus()
    a = CaseService(database, bus, clock=clock)
    await a.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
    b = CaseService(database, bus, clock=clock)
    await b.load()
    await a.execute("k1", c.CheckIn(at=clock()), actor="a", source=Source.TUI)
    # b's in-memory case is stale: its append conflicts, it reloads, and the command is refused
    # on the fresh state (already checked in) rather than interleaving events.
    from suite.domain.errors import PhaseError

    with pytest.raises(PhaseError):
        await b.execute("k1", c.CheckIn(at=clock()), actor="b", source=Source.TUI)
    assert b.get("k1").version == 2


@pytest.mark.asyncio
async def test_a_stale_append_raises_concurrency_error(database, clock, cases):
    await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
    case = cases.get("k1")
    from suite.domain.envelope import Recorded
    from suite.domain.workflow import decide

    events = decide(case, c.CheckIn(at=clock()), now=clock())
    new = case.apply(events[0])

    async def job(session):
        await case_store.append(
            session,
            records=[Recorded("k1", 2, events[0], "x", Source.CLI)],
            expected_version=0,
            state=new,
            recorded_at=clock(),
        )

    with pytest.raises(ConcurrencyError):
        await database.write(job)


@pytest.mark.asyncio
async def test_committed_changes_are_published_in_order(cases, clock):
    sub = cases.bus.subscribe("test", CaseChanged)
    await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
    await cases.execute("k1", c.CheckIn(at=clock()), actor="t", source=Source.TUI)
    first, second = sub.get_nowait(), sub.get_nowait()
    assert [r.seq for r in first.records + second.records] == [1, 2]
    assert second.case.phase is Phase.CHECKED_IN


@pytest.mark.asyncio
async def test_concurrent_commands_on_many_cases_are_group_committed(cases, database, clock):
    await asyncio.gather(
        *(
            cases.execute(
                f"k{i}", schedule(clock(), accession=f"A{i}"), actor="his", source=Source.HL7
            )
            for i in range(50)
        )
    )
    assert len(cases.all()) == 50
    assert database.batches < 50


@pytest.mark.asyncio
async def test_execute_each_stores_a_run_of_commands_in_one_commit_and_refuses_one_alone(
    cases, database, clock
):
    await cases.execute("k1", schedule(clock()), actor="his", source=Source.HL7)
    hooked: list[list[int]] = []

    async def hook(session, records, case):
        hooked.append([r.seq for r in records])

    cases.add_hook(hook)
    marked: list[int] = []

    def also(outcomes):
        async def part(session, records, case):
            marked.extend(i for i, o in enumerate(outcomes) if isinstance(o, list) and o)

        return [part]

    batches = database.batches
    outcomes = await cases.execute_each(
        "k1",
        [
            c.CheckIn(at=clock()),
            c.PlaceTrocar(at=clock(), level="L1"),  # locked until the time-out: refused
            c.CheckIn(at=clock()),  # checked in already: refused or nothing to do
        ],
        actor="tech1",
        source=Source.TUI,
        also=also,
    )
    assert database.batches == batches + 1  # one commit for the whole run
    assert isinstance(outcomes[0], list) and len(outcomes[0]) == 1
    assert isinstance(outcomes[1], GuardError) and "time-out" in outcomes[1].message
    assert not isinstance(outcomes[2], list) or outcomes[2] == []
    assert marked == [0]  # `also` saw which commands recorded events
    assert hooked == [[2]]  # the hook ran once, for the one command with events
    fresh = CaseService(database, Bus(), clock=clock)
    await fresh.load()
    assert fresh.get("k1") == cases.get("k1")  # memory and store agree: version 2, checked in
    assert cases.get("k1").version == 2
