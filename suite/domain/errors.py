"""The domain's error tree, drawn once.

    DomainError                      a command broke a rule of the case; nothing was applied
    ├── InvalidValue                 a value a person or device typed is impossible or absurd
    ├── InvalidTime                  a timestamp is in the future or before the last event
    ├── PhaseError                   the command does not fit the case's current phase
    ├── GuardError                   a clinical guard of the workflow refused the command
    └── CaseClosed                   the case is discharged, cancelled or aborted

Every message names the rule that was broken, in words a technologist can act on.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused; the case is unchanged."""

    rule: str = "domain"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(DomainError):
    rule = "invalid-value"


class InvalidTime(DomainError):
    rule = "invalid-time"


class PhaseError(DomainError):
    rule = "phase-order"


class GuardError(DomainError):
    rule = "guard"


class CaseClosed(DomainError):
    rule = "case-closed"
