"""Errors of the alarm engine, in the domain's one error tree.

DomainError
├── InvalidValue
│   └── LimitRefused         an adjusted limit is absurd, or who / why is missing
└── AlarmError               a nurse's action on an alarm cannot be applied
    ├── UnknownAlarm         no alarm has that id
    └── AlarmAlreadyCleared  the alarm is over; there is nothing to acknowledge
"""

from __future__ import annotations

from suite.domain.errors import DomainError, InvalidValue


class LimitRefused(InvalidValue):
    rule = "alarm-limit"


class AlarmError(DomainError):
    rule = "alarm"


class UnknownAlarm(AlarmError):
    rule = "unknown-alarm"


class AlarmAlreadyCleared(AlarmError):
    rule = "alarm-cleared"
