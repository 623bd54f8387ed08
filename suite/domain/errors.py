"""procsuite's error tree, drawn once (suite/errors.py re-exports it for the outer layers).

    ProcsuiteError                   every error procsuite raises on purpose; `.message` is for people
    ├── DomainError                  a request broke a rule; nothing was applied (`.rule` names it)
    │   ├── InvalidValue             a value a person or device gave is impossible or absurd
    │   ├── InvalidTime              a timestamp is in the future or before the last event
    │   ├── PhaseError               the command does not fit the case's current phase
    │   ├── GuardError               a clinical guard of the workflow refused the command
    │   ├── CaseClosed               the case is discharged, cancelled or aborted
    │   ├── Forbidden                the user's role may not do this (suite/app/roles.py)
    │   └── (alarm, lease, replay and assignment refusals of suite/app and suite/domain/alarms)
    ├── StoreError                   the store could not read or write; driver and connection
    │                                errors are mapped to it in one place (suite/store/database.py)
    ├── WireError                    input on a wire cannot be read: an MQTT payload, an HL7
    │                                message, a DICOM object, a TLS or MLLP frame (adapters/*)
    └── ConfigError                  a setting, file or port given at start-up is wrong

Foreign errors (sqlalchemy, asyncpg, hl7, pydicom, paho) are mapped at the edge that meets
them, with `raise ... from exc`. Every message names the rule or the field that is wrong,
in words the person reading it can act on.
"""

from __future__ import annotations


class ProcsuiteError(Exception):
    """The root: an error procsuite raises on purpose, with a message for people."""

    rule: str = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class DomainError(ProcsuiteError):
    """A command was refused; the case is unchanged."""

    rule = "domain"


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


class Forbidden(DomainError):
    """A user may not do an action; the message says who, what, and which roles may."""

    rule = "forbidden"

    def __init__(self, message: str, *, rule: str = "forbidden") -> None:
        super().__init__(message)
        self.rule = rule


class StoreError(ProcsuiteError):
    """The store could not do what was asked (closed, overloaded, or the database failed)."""

    rule = "store"


class WireError(ProcsuiteError):
    """Input on a wire cannot be read or applied (the adapter names the field)."""

    rule = "wire"


class ConfigError(ProcsuiteError):
    """A setting, file, address or port given at start-up is wrong (names the setting)."""

    rule = "config"
