"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import suite.store.all_tables  # noqa: F401
from procsuite.cli import main
from suite.store.database import make_engine


@pytest.mark.asyncio
async def test_migrations_match_the_tables(db_url):
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


def test_db_upgrade_is_idempotent(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PROCSUITE_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0
    assert "is up to date" in capsys.readouterr().out
