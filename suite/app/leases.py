"""Which rooms this instance serves, kept in the shared database (suite/store/leases.py).

At start the instance takes the leases of its own rooms (`rooms`) that nobody else holds,
and the site-wide duties if it competes for them. Then, every `lease.renew_s`, it renews
what it holds, takes over the expired leases of the rooms it may take over
(`lease.takeover`), asks for its own rooms back from whoever took them over while it was
away, and hands back a taken-over room whose home instance asks for it. When what it holds
changes, `changed` is set: the service rebuilds its adapters for the new set of rooms and
carries on from the event log (suite/service.py).

A lease that cannot be renewed because the database is unreachable is kept: no other
instance can take it without the database, and no write can pass the fence meanwhile. The
first round that succeeds shows whether the room moved (a partition that cut off only this
instance), and the adapters are rebuilt if it did.

Writes that act for a room (commands from the room's terminals) are fenced: the case
service checks the room's lease in the same transaction (`fence`), so an instance that lost a
room can no longer write to its cases.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from suite.app.case_service import Fence
from suite.clock import utc_now
from suite.domain.case import Case
from suite.domain.envelope import Source
from suite.domain.errors import DomainError
from suite.settings import LeaseSettings
from suite.store import leases as store
from suite.store.database import Database, StoreError
from suite.store.leases import SITE, Lease, LeaseLost, room_lease

log = logging.getLogger(__name__)

ROOM_PREFIX = "room:"
# Commands from the room's own terminals are the room's work; HL7 orders and DICOM objects
# reach whichever instance the hospital sends them to and are safe there (optimistic
# concurrency on the case version).
FENCED_SOURCES = frozenset({Source.MQTT, Source.TUI})


class RoomNotServed(DomainError):
    rule = "room-not-served"


class RoomLeases:
    def __init__(
        self,
        db: Database,
        settings: LeaseSettings,
        *,
        home_rooms: list[str],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.db = db
        self.settings = settings
        self.me = settings.instance_id
        self.home_rooms = list(home_rooms)
        self.clock = clock
        self.held: dict[str, Lease] = {}
        self.seen: list[Lease] = []  # every lease as of the last round (for status, routing)
        self.changed = asyncio.Event()
        self.failures = 0
        self._built: tuple[frozenset[str], bool] = (frozenset(), False)

    # ---- what this instance serves ----------------------------------------------------------

    @property
    def rooms(self) -> list[str]:
        """The rooms served now: own rooms first in configured order, then taken-over ones."""
        held = {n.removeprefix(ROOM_PREFIX) for n in self.held if n.startswith(ROOM_PREFIX)}
        own = [r for r in self.home_rooms if r in held]
        return own + sorted(held - set(own))

    @property
    def site(self) -> bool:
        return SITE in self.held

    def owner_of(self, room: str) -> str | None:
        """The instance serving `room` as of the last round (None: nobody)."""
        now = self.clock()
        for lease in self.seen:
            if lease.name == room_lease(room) and lease.live(now):
                return lease.owner
        return None

    async def current_owner(self, room: str) -> str | None:
        """The instance serving `room` now, read from the database (None: nobody)."""
        async with self.db.session() as session:
            lease = await store.get(session, room_lease(room))
        return lease.owner if lease is not None and lease.live(self.clock()) else None

    def mark_built(self) -> None:
        """The adapters now run for what is held; `changed` fires when that differs."""
        self._built = (frozenset(self.held), self.site)
        self.changed.clear()

    def _note_change(self) -> None:
        if (frozenset(self.held), self.site) != self._built:
            self.changed.set()

    # ---- rounds -------------------------------------------------------------------------------

    async def start(self) -> None:
        """The first round, before the adapters are built."""
        await self.round()
        log.info(
            "leases: instance %s serves rooms %s%s",
            self.me,
            ",".join(self.rooms) or "none",
            " and the site-wide duties" if self.site else "",
        )

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.renew_s)
            await self.round()

    async def round(self) -> None:
        now = self.clock()
        try:
            held, seen = await self.db.write(lambda session: self._round(session, now))
        except (StoreError, OSError) as exc:
            # The database is away. Another instance cannot take our rooms without it
            # either, and no write of ours can pass the fence: keep serving (alarms go on in
            # memory) and learn at the first round that succeeds whether a room moved.
            self.failures += 1
            log.warning("leases: renewal failed (%s); still serving %s", exc, self.rooms)
        else:
            before = set(self.held)
            self.held, self.seen = held, seen
            for name in sorted(set(held) - before):
                log.info("leases: %s now served by %s", name, self.me)
            for name in sorted(before - set(held)):
                log.warning("leases: %s no longer served by %s", name, self.me)
        self._note_change()

    async def _round(
        self, session: AsyncSession, now: datetime
    ) -> tuple[dict[str, Lease], list[Lease]]:
        s = self.settings
        held: dict[str, Lease] = {}
        home = {room_lease(r) for r in self.home_rooms}
        for name in sorted(home):
            lease = await store.acquire(session, name, owner=self.me, now=now, ttl_s=s.ttl_s,
                                        home=self.me)  # fmt: skip
            if lease is not None:
                held[name] = lease
            else:
                await store.want_back(session, name, by=self.me)
        if s.site_duties:
            lease = await store.acquire(session, SITE, owner=self.me, now=now, ttl_s=s.ttl_s)
            if lease is not None:
                held[SITE] = lease
        anyone = "*" in s.takeover
        for other in await store.all_leases(session):
            name = other.name
            if name in held or not name.startswith(ROOM_PREFIX):
                continue
            room = name.removeprefix(ROOM_PREFIX)
            mine = other.owner == self.me
            if not mine and not (anyone or room in s.takeover):
                continue
            if not mine and other.live(now):
                continue
            if mine and other.wanted_by and other.wanted_by != self.me:
                # Its home instance is back and asks for it: hand it over.
                await store.release(session, other, now=now)
                log.info("leases: handing %s back to %s", name, other.wanted_by)
                continue
            lease = await store.acquire(session, name, owner=self.me, now=now, ttl_s=s.ttl_s)
            if lease is not None:
                held[name] = lease
        return held, await store.all_leases(session)

    async def release_all(self) -> None:
        """On a clean stop: let the other instances take over at once."""
        if not self.held:
            return
        now = self.clock()
        leases = list(self.held.values())

        async def job(session: AsyncSession) -> None:
            for lease in leases:
                await store.release(session, lease, now=now)

        try:
            await self.db.write(job)
            log.info("leases: released %s", ",".join(sorted(self.held)))
        except StoreError as exc:
            log.warning("leases: could not release (%s); they expire on their own", exc)
        self.held = {}

    # ---- fencing ------------------------------------------------------------------------------

    async def fence(self, session: AsyncSession, case: Case, source: Source) -> None:
        """Refuse a room's write unless this instance holds the room's lease (case service
        hook, inside the write's transaction)."""
        if source not in FENCED_SOURCES:
            return
        lease = self.held.get(room_lease(case.room))
        if lease is None:
            owner = self.owner_of(case.room)
            where = f"instance {owner}" if owner else "no instance at the moment"
            raise RoomNotServed(f"room {case.room} is served by {where}, not {self.me}")
        try:
            await store.check(session, lease)
        except LeaseLost as exc:
            self.held.pop(lease.name, None)
            self.changed.set()
            raise RoomNotServed(
                f"room {case.room} has been taken over ({exc}); this instance no longer serves it"
            ) from None


def outside_live_leases(clock: Callable[[], datetime]) -> Fence:
    """A fence for a process that serves no room (the command line working on the database
    alone): it refuses a room's write while an instance holds the room's lease, since that
    instance's memory (alarms, cases) would not see it and its fence would be bypassed."""

    async def fence(session: AsyncSession, case: Case, source: Source) -> None:
        lease = await store.get(session, room_lease(case.room))
        if lease is not None and lease.live(clock()):
            raise RoomNotServed(
                f"room {case.room} is served by the running instance {lease.owner}; send the"
                " command through it (its MQTT broker did not answer), nothing was written"
            )

    return fence
