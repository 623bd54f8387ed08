"""Room leases between instances sharing one database (suite/leases.py): who serves a room,
takeover when an instance stops renewing, the fence on the room's writes, and the hand-back
when the room's home instance returns. SQLite and PostgreSQL; time is simulated."""

from __future__ import annotations

from datetime import datetime

import pytest

from suite.app.case_service import CaseService
from suite.app.leases import RoomLeases, RoomNotServed
from suite.bus import Bus
from suite.domain import commands as c
from suite.domain.checklist import ChecklistItem
from suite.domain.envelope import Source
from suite.domain.values import Phase
from suite.settings import LeaseSettings
from suite.store import leases as lease_store
from suite.store.database import Database
from tests.conftest import FakeClock
from tests.scenarios import schedule

TTL = 10.0


def consent(at: datetime) -> c.Command:
    return c.RecordChecklistItem(at=at, item=ChecklistItem.CONSENT)


def instance(
    db: Database, clock: FakeClock, name: str, rooms: list[str], **kw: object
) -> RoomLeases:
    settings = LeaseSettings(instance_id=name, ttl_s=TTL, renew_s=1, **kw)  # type: ignore[arg-type]
    return RoomLeases(db, settings, home_rooms=rooms, clock=clock)


async def home_and_standby(db: Database, clock: FakeClock) -> tuple[RoomLeases, RoomLeases]:
    """a serves IR1 (and the site duties); b serves IR2 and may take any room over."""
    a = instance(db, clock, "a", ["IR1"])
    b = instance(db, clock, "b", ["IR2"], takeover=["*"])
    await a.start()
    await b.start()
    return a, b


@pytest.mark.asyncio
async def test_each_instance_serves_its_rooms_and_one_holds_the_site_duties(
    database: Database, clock: FakeClock
) -> None:
    a = instance(database, clock, "a", ["IR1", "IR2"])
    b = instance(database, clock, "b", ["IR3", "IR2"])
    await a.start()
    await b.start()
    assert a.rooms == ["IR1", "IR2"] and a.site
    assert b.rooms == ["IR3"] and not b.site  # IR2 is a's: never two owners
    assert b.owner_of("IR2") == "a" and b.owner_of("IR9") is None
    # Renewals keep them apart however long they run.
    for _ in range(5):
        clock.advance(TTL / 2)
        await a.round()
        await b.round()
    assert (a.rooms, b.rooms) == (["IR1", "IR2"], ["IR3"])
    async with database.session() as session:
        held = {x.name: (x.owner, x.epoch) for x in await lease_store.all_leases(session)}
    assert held == {
        "room:IR1": ("a", 1),
        "room:IR2": ("a", 1),
        "room:IR3": ("b", 1),
        "site": ("a", 1),
    }


@pytest.mark.asyncio
async def test_a_dead_instances_rooms_are_taken_over_only_after_the_lease_time(
    database: Database, clock: FakeClock
) -> None:
    a = instance(database, clock, "a", ["IR1"])
    b = instance(database, clock, "b", ["IR2"], takeover=["*"])
    c_ = instance(database, clock, "c", ["IR4"], takeover=["IR9"], site_duties=False)
    for x in (a, b, c_):
        await x.start()
    b.mark_built()
    # a stops renewing (it died). Just before its lease ends, nothing moves.
    clock.advance(TTL - 0.5)
    await b.round()
    await c_.round()
    assert b.rooms == ["IR2"] and not b.changed.is_set()
    clock.advance(1)
    await c_.round()
    await b.round()
    assert b.rooms == ["IR2", "IR1"] and b.site and b.changed.is_set()
    assert c_.rooms == ["IR4"] and not c_.site
    async with database.session() as session:
        taken = await lease_store.get(session, "room:IR1")
    assert taken is not None and (taken.owner, taken.epoch, taken.home) == ("b", 2, "a")


@pytest.mark.asyncio
async def test_an_instance_that_lost_its_room_can_no_longer_write_to_the_rooms_cases(
    database: Database, clock: FakeClock
) -> None:
    a, b = await home_and_standby(database, clock)
    cases_a = CaseService(database, Bus(), clock=clock)
    cases_a.fence = a.fence
    await cases_a.execute("k1", schedule(clock(), room="IR1"), actor="his", source=Source.HL7)
    await cases_a.execute("k1", c.CheckIn(at=clock()), actor="tech1", source=Source.MQTT)

    # a stalls past its lease (a long pause, a partition); b takes IR1 over.
    clock.advance(TTL + 1)
    await b.round()
    assert "IR1" in b.rooms
    a.mark_built()
    # a still believes it serves IR1: the fence in the write's transaction says otherwise.
    with pytest.raises(RoomNotServed, match="IR1 has been taken over.*held by b"):
        await cases_a.execute("k1", consent(clock()), actor="tech1", source=Source.MQTT)
    assert a.changed.is_set() and "IR1" not in a.rooms
    # Nothing was stored; b carries on from the log.
    cases_b = CaseService(database, Bus(), clock=clock)
    cases_b.fence = b.fence
    await cases_b.load()
    case = cases_b.get("k1")
    assert case is not None and case.phase is Phase.CHECKED_IN and case.version == 2
    await cases_b.execute(
        "k1",
        consent(clock()),
        actor="tech1",
        source=Source.MQTT,
    )
    # A room a serves no more, asked of a (after its next round): refused, naming who does.
    await a.round()
    with pytest.raises(RoomNotServed, match="IR1 is served by instance b, not a"):
        await cases_a.execute("k1", consent(clock()), actor="tech1", source=Source.MQTT)
    # Orders from the hospital are not the room's work: they are not fenced.
    await cases_a.execute("k2", schedule(clock(), room="IR1", accession="A-2"), actor="his",
                          source=Source.HL7)  # fmt: skip


@pytest.mark.asyncio
async def test_a_taken_over_room_goes_back_to_its_home_instance_when_it_returns(
    database: Database, clock: FakeClock
) -> None:
    a, b = await home_and_standby(database, clock)
    clock.advance(TTL + 1)
    await b.round()
    assert b.rooms == ["IR2", "IR1"]
    # a restarts: IR1 is b's for now; a asks for it back.
    a_again = instance(database, clock, "a", ["IR1"])
    await a_again.start()
    assert a_again.rooms == [] and not a_again.site
    await b.round()  # b hands IR1 back (and keeps the site duties it holds)
    assert b.rooms == ["IR2"] and b.site
    await a_again.round()
    assert a_again.rooms == ["IR1"]
    # A clean stop lets go at once; an instance without takeover rights leaves the room be.
    await b.release_all()
    await a_again.round()
    assert a_again.rooms == ["IR1"] and a_again.site and a_again.owner_of("IR2") is None


@pytest.mark.asyncio
async def test_an_instance_restarted_under_the_same_name_gets_its_rooms_back_at_once(
    database: Database, clock: FakeClock
) -> None:
    a = instance(database, clock, "a", ["IR1"])
    await a.start()
    clock.advance(1)
    again = instance(database, clock, "a", ["IR1"])
    await again.start()
    assert again.rooms == ["IR1"] and again.site
    async with database.session() as session:
        lease = await lease_store.get(session, "room:IR1")
    assert lease is not None and lease.epoch == 1  # the same holder: no new epoch
