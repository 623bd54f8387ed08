"""Schema migrations with Alembic: `procsuite db upgrade` and the service's start-up check."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from suite.store.database import async_url

_HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return cfg


def upgrade_sync(url: str, revision: str = "heads") -> None:
    """Bring the schema at `url` to `revision` (every branch head by default)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "heads") -> None:
    # Alembic's env.py runs its own event loop, so it runs in a worker thread.
    await asyncio.to_thread(upgrade_sync, url, revision)
