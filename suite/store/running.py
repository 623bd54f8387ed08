"""A database for a short-lived process (a CLI command): migrated, its writer running, closed after."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from suite.store import migrate
from suite.store.database import Database


@contextlib.asynccontextmanager
async def running_database(url: str) -> AsyncIterator[Database]:
    """The database at `url`, brought up to date, with its writer task running; on exit the
    writer finishes what was queued and the engine is disposed."""
    await migrate.upgrade(url)
    database = Database.from_url(url)
    writer = asyncio.create_task(database.run())
    try:
        yield database
    finally:
        database.close()
        await writer
        await database.dispose()
