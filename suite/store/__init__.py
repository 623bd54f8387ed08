"""Persistence: SQLModel tables, the database handle with its single writer, and repositories."""
