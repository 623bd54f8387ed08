"""Plain-data form of domain values, events and commands (JSON-ready dicts), and back.

The store keeps events as JSON and the wire carries commands as JSON; both use this codec so
a round trip gives back an equal object. Unknown or missing fields raise `InvalidValue` naming
the field; times, dates and numbers outside suite/domain/bounds.py raise `OutOfRange` (an
`InvalidValue`), so nothing built here can overflow later.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from suite.domain.bounds import MAX_SEQ, bounded_date, bounded_time, number, whole
from suite.domain.commands import COMMAND_TYPES, Command
from suite.domain.errors import InvalidValue
from suite.domain.events import EVENT_TYPES, Event
from suite.domain.values import Level

T = TypeVar("T")


def to_data(value: Any) -> Any:
    """A JSON-ready form of a domain value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, Level):
            return value.name
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_data(cls: type[T], data: Any, *, where: str = "") -> T:
    """Build a `cls` from its plain-data form; `InvalidValue` names the field that is wrong."""
    return typing.cast(T, _convert(cls, data, where or cls.__name__))


def _convert(tp: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, data, where)
            except InvalidValue as exc:
                errors.append(exc.message)
        raise InvalidValue("; ".join(errors))
    if origin is tuple:
        if not isinstance(data, list | tuple):
            raise InvalidValue(f"{where}: expected a list, got {data!r}")
        (item, *_rest) = typing.get_args(tp)
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(data))
    if tp is Any:
        return data
    if tp is Level:
        if not isinstance(data, str):
            raise InvalidValue(f"{where}: expected a vertebral level, got {data!r}")
        try:
            return Level.parse(data)
        except InvalidValue as exc:
            raise InvalidValue(f"{where}: {exc.message}") from exc
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in tp)
            raise InvalidValue(f"{where}: {data!r} is not one of {allowed}") from None
    if tp is datetime:
        return _parse_datetime(data, where)
    if tp is date:
        if isinstance(data, datetime):
            return bounded_date(data.date(), where=where)
        if isinstance(data, date):
            return bounded_date(data, where=where)
        try:
            day = date.fromisoformat(str(data)[:40])
        except ValueError:
            raise InvalidValue(f"{where}: {data!r:.40} is not a date (YYYY-MM-DD)") from None
        return bounded_date(day, where=where)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(data, tp):
            return data
        if not isinstance(data, dict):
            raise InvalidValue(f"{where}: expected an object, got {data!r}")
        hints = _hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = set(data) - set(fields)
        if unknown:
            raise InvalidValue(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        kwargs = {}
        for name, f in fields.items():
            if name in data:
                kwargs[name] = _convert(hints[name], data[name], f"{where}.{name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InvalidValue(f"{where}.{name} is missing")
        return tp(**kwargs)
    if tp is float:
        return number(data, where=where)
    if tp is int:
        return whole(data, where=where, low=-MAX_SEQ, high=MAX_SEQ)
    if tp is bool:
        if not isinstance(data, bool):
            raise InvalidValue(f"{where}: expected true or false, got {data!r}")
        return data
    if tp is str:
        if not isinstance(data, str):
            raise InvalidValue(f"{where}: expected text, got {data!r}")
        return data
    raise InvalidValue(f"{where}: cannot read a {tp!r}")


def _parse_datetime(data: Any, where: str) -> datetime:
    if isinstance(data, datetime):
        value = data
    else:
        try:
            value = datetime.fromisoformat(str(data)[:64].replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValue(f"{where}: {data!r:.40} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise InvalidValue(f"{where}: time {data!r:.40} has no time zone")
    return bounded_time(value, where=where)


def event_to_data(event: Event) -> tuple[str, dict[str, Any]]:
    """The kind name and the payload of an event."""
    return type(event).__name__, typing.cast(dict[str, Any], to_data(event))


def event_from_data(kind: str, payload: dict[str, Any]) -> Event:
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise InvalidValue(f"unknown event kind {kind!r}")
    return from_data(cls, payload)


def command_from_data(kind: str, payload: dict[str, Any]) -> Command:
    cls = COMMAND_TYPES.get(kind)
    if cls is None:
        raise InvalidValue(f"unknown command {kind!r}")
    return from_data(cls, payload)
