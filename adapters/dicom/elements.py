"""Reading element values from received datasets without pydicom's value conversion.

Modalities send values pydicom's validation complains about (a DS with 17 characters, a UID
with a trailing space). Converting them would warn or fail far from where it matters, so the
adapter reads the raw bytes of the few elements it needs and checks them itself.
"""

from __future__ import annotations

import math
import struct
from collections import abc
from collections.abc import Sequence
from typing import Any

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from suite.errors import WireError

_SPECIFIC_CHARACTER_SET = 0x00080005


class ElementError(WireError, ValueError):
    """An element's value cannot be read; the message names the element."""


def _raw_value(ds: Dataset, tag: int) -> Any:
    if tag not in ds:
        return None
    elem = ds.get_item(tag, keep_deferred=True)
    if isinstance(elem, RawDataElement):
        return elem.value
    return elem.value if elem is not None else None


def encodings(ds: Dataset) -> list[str]:
    """Python codecs for the dataset's Specific Character Set (ASCII when absent)."""
    value = _raw_value(ds, _SPECIFIC_CHARACTER_SET)
    if value is None:
        return ["iso8859"]
    if isinstance(value, bytes):
        terms = [t.strip() for t in value.decode("ascii", "replace").split("\\")]
    elif isinstance(value, str):
        terms = [value.strip()]
    else:
        terms = [str(t).strip() for t in value]
    try:
        return convert_encodings(terms) or ["iso8859"]
    except (LookupError, ValueError, UserWarning):
        return ["iso8859"]


def text(ds: Dataset, tag: int, *, charset: Sequence[str] | None = None) -> str:
    """The element's value as text with padding removed; "" when absent or empty."""
    value = _raw_value(ds, tag)
    if value is None:
        return ""
    if isinstance(value, bytes):
        try:
            decoded = decode_bytes(value, list(charset or ["iso8859"]), set())
        except (LookupError, ValueError, UserWarning):
            decoded = value.decode("latin-1")
        return decoded.strip("\x00 ")
    if isinstance(value, abc.Sequence) and not isinstance(value, str):
        return "\\".join(str(v) for v in value).strip("\x00 ")
    return str(value).strip("\x00 ")


def uid(ds: Dataset, tag: int) -> str:
    """A UI value without its padding ("" when absent)."""
    value = _raw_value(ds, tag)
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip("\x00 ")
    if isinstance(value, abc.Sequence) and not isinstance(value, str):
        return "\\".join(str(v) for v in value).strip("\x00 ")
    return str(value).strip("\x00 ")


def number(ds: Dataset, tag: int, *, what: str) -> float | None:
    """A DS / IS / US / FL value as a float; None when absent or empty.

    Raises `ElementError` naming `what` for a value that is not a finite number.
    """
    value = _raw_value(ds, tag)
    if value is None:
        return None
    if isinstance(value, bytes):
        vr = ds.get_item(tag, keep_deferred=True).VR
        if vr in ("US", "SS", "UL", "SL", "FL", "FD"):
            fmt = {"US": "<H", "SS": "<h", "UL": "<L", "SL": "<l", "FL": "<f", "FD": "<d"}[vr]
            size = struct.calcsize(fmt)
            if len(value) < size:
                return None
            result = float(struct.unpack(fmt, value[:size])[0])
        else:
            textual = value.decode("ascii", "replace").strip("\x00 ").split("\\")[0]
            if not textual:
                return None
            try:
                result = float(textual)
            except ValueError as exc:
                raise ElementError(f"{what}: {textual!r} is not a number") from exc
    else:
        if isinstance(value, abc.Sequence) and not isinstance(value, str):
            value = value[0] if value else None
            if value is None:
                return None
        try:
            result = float(value)
        except (TypeError, ValueError) as exc:
            raise ElementError(f"{what}: {value!r} is not a number") from exc
    if not math.isfinite(result):
        raise ElementError(f"{what}: {result!r} is not a finite number")
    return result


def items(ds: Dataset, tag: int) -> list[Dataset]:
    """The items of a sequence element ([] when absent or empty)."""
    if tag not in ds:
        return []
    value = ds[tag].value
    if value is None:
        return []
    return [item for item in value if isinstance(item, Dataset)]


def code_value(ds: Dataset, tag: int) -> tuple[str, str]:
    """(CodeValue, CodingSchemeDesignator) of the first item of a code sequence."""
    for item in items(ds, tag):
        return (text(item, 0x00080100), text(item, 0x00080102))
    return ("", "")
