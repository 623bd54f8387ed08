"""What any device source (MQTT JSON, PCD-01, SDC) hands the sample path: a sample, and the
values of it that were dropped, and why.

Kinds of bad input are shared by every source; the counters and technical alarms of
`suite.app.sample_intake` use these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from suite.domain.alarms.engine import VitalSample
from suite.domain.alarms.parameters import Param

OVERSIZE = "oversize"
MALFORMED = "malformed"
BAD_VALUE = "bad_value"
UNKNOWN_PARAMETER = "unknown_parameter"
WRONG_UNIT = "wrong_unit"
IMPLAUSIBLE = "implausible"
MALFORMED_STATUS = "malformed_status"
OUT_OF_RANGE = "out_of_range"  # a time or sequence number outside suite/domain/bounds.py


@dataclass(frozen=True, slots=True)
class Problem:
    """One value of a readable message that was dropped, and why (for people)."""

    kind: str
    param: Param | None
    key: str
    detail: str


@dataclass(frozen=True, slots=True)
class DecodedVitals:
    """A readable message: its sample and the problems of its values."""

    sample: VitalSample
    problems: tuple[Problem, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
