"""The error tree of procsuite, for the layers outside the domain (drawn in
suite/domain/errors.py, where the domain's own refusals live too).
"""

from suite.domain.errors import (
    CaseClosed,
    ConfigError,
    DomainError,
    Forbidden,
    GuardError,
    InvalidTime,
    InvalidValue,
    PhaseError,
    ProcsuiteError,
    StoreError,
    WireError,
)

__all__ = [
    "CaseClosed",
    "ConfigError",
    "DomainError",
    "Forbidden",
    "GuardError",
    "InvalidTime",
    "InvalidValue",
    "PhaseError",
    "ProcsuiteError",
    "StoreError",
    "WireError",
]
