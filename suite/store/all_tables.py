"""Imports every table module so `SQLModel.metadata` knows them all (for Alembic and tests).

Each feature that adds tables adds its module here.
"""

from suite.store import tables  # noqa: F401
