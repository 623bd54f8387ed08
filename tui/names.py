"""Patient names for people (the rule lives in suite/domain/names.py, shared with the report)."""

from __future__ import annotations

from suite.domain.names import family_name, person_name

__all__ = ["family_name", "person_name"]
