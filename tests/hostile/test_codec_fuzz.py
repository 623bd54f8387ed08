"""Property tests (hypothesis) of every codec at the boundary: extreme and malformed values go
in, and only the codec's own error comes out; whatever is accepted is within
suite/domain/bounds.py and serialisable, so nothing downstream can raise on it. A bounded
number of examples each, so they run in `make test`."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.devices.hl7v2 import MessageError
from adapters.devices.pcd01.codec import decode as pcd01_decode
from adapters.dicom.instance import BrokenObject, read_instance
from adapters.dicom.wildcard import wildcard_match
from adapters.hl7.errors import Hl7Error
from adapters.hl7.header import read_header
from adapters.hl7.parse import read_body
from adapters.mqtt import codec
from suite.clock import iso
from suite.domain import bounds
from suite.domain.codec import command_from_data
from suite.domain.commands import COMMAND_TYPES
from suite.domain.errors import InvalidValue
from tests.dicom import samples as dicom_samples
from tests.hl7 import samples as hl7_samples

EXAMPLES = settings(max_examples=150, deadline=None)

# JSON values as attackers write them: huge and negative integers, floats at the edges,
# times at the ends of the calendar with extreme offsets.
EXTREME_INTS = st.one_of(
    st.integers(),
    st.sampled_from([2**63, 2**63 - 1, -(2**63), 10**400, -(10**400), 2**66 + 1]),
)
EXTREME_FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0]),
)
EXTREME_TIMES = st.one_of(
    st.sampled_from(
        [
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "0001-01-01T00:00:00Z",
            "2026-11-24T09:12:03",
            "2026-02-30T00:00:00Z",
            "",
            "Z",
        ]
    ),  # fmt: skip
    st.builds(
        lambda d, h, m, sign: d.isoformat() + f"{sign}{h:02d}:{m:02d}",
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
        st.integers(0, 23),
        st.integers(0, 59),
        st.sampled_from("+-"),
    ),
)
JSON_LEAF = st.one_of(
    st.none(), st.booleans(), EXTREME_INTS, EXTREME_FLOATS, EXTREME_TIMES, st.text(max_size=20)
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def _dumps(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@EXAMPLES
@given(
    ts=st.one_of(EXTREME_TIMES, JSON_LEAF),
    seq=st.one_of(st.none(), EXTREME_INTS, JSON_LEAF),
    values=st.dictionaries(
        st.sampled_from(["hr", "spo2", "temp", "nibp_sys", "glucose"]),
        st.one_of(EXTREME_INTS, EXTREME_FLOATS, JSON),
        max_size=4,
    ),
)
def test_mqtt_vitals_codec_raises_only_payload_errors_and_accepts_only_bounded_values(
    ts: object, seq: object, values: dict[str, object]
) -> None:
    payload = _dumps({"ts": ts, "seq": seq, "values": values})
    try:
        decoded = codec.decode_vitals("IR1", "mon-1", payload, max_bytes=65_536)
    except codec.PayloadError:
        return
    sample = decoded.sample
    assert bounds.EARLIEST_TIME <= sample.at < bounds.LATEST_TIME
    assert sample.at + timedelta(days=3650) > sample.at  # arithmetic cannot overflow
    assert sample.seq is None or 0 <= sample.seq <= bounds.MAX_SEQ
    assert all(v is None or math.isfinite(v) for v in sample.values.values())
    assert iso(sample.at)
    json.dumps({k.value: v for k, v in sample.values.items()}, allow_nan=False)


@EXAMPLES
@given(body=st.dictionaries(st.sampled_from(["id", "action", "low", "high", "at", "room"]), JSON))
def test_mqtt_command_codec_raises_only_command_errors(body: dict[str, object]) -> None:
    try:
        request = codec.decode_command(_dumps(body), max_bytes=65_536)
    except codec.CommandError:
        return
    assert isinstance(request.action, str) and request.action
    for key in ("low", "high"):
        try:
            from adapters.mqtt.command_codec import _number

            number = _number(request.body, key, action="adjust_limit")
        except codec.CommandError:
            continue
        assert number is None or math.isfinite(number)
    try:
        at = codec.parse_time(request.body.get("at"), where="at")
    except codec.PayloadError:
        return
    assert bounds.EARLIEST_TIME <= at < bounds.LATEST_TIME


@EXAMPLES
@given(kind=st.sampled_from(sorted(COMMAND_TYPES)), payload=st.dictionaries(
    st.sampled_from(["at", "level", "volume_ml", "text", "count", "reason", "order", "room"]),
    JSON, max_size=5))  # fmt: skip
def test_domain_command_codec_raises_only_invalid_value(kind: str, payload: dict) -> None:
    try:
        command = command_from_data(kind, payload)
    except InvalidValue:
        return
    at = getattr(command, "at", None)
    if isinstance(at, datetime):
        assert bounds.EARLIEST_TIME <= at.astimezone(UTC) < bounds.LATEST_TIME


# ---- HL7 inbound --------------------------------------------------------------------------

HL7_PIECES = st.sampled_from([
    "|", "^", "~", "\\", "&", "\r", "\n", "MSH", "PID", "ORC", "OBR", "PV1", "EVN", "\\E\\",
    "\\X0D\\", "99991231235959-2359", "00010101", "20261124", "DOE^JANE", "NW", "A04", "\x00",
    "é", "\udcff"[:0], "2.5.1", "P", "ADT^A04", "ORM^O01",
])  # fmt: skip


def _hl7_message(base: str, cuts: list[tuple[int, str]]) -> bytes:
    text = base
    for position, piece in cuts:
        at = position % (len(text) + 1)
        text = text[:at] + piece + text[at + 1 :]
    return text.encode("utf-8", "surrogatepass")


@EXAMPLES
@given(
    base=st.sampled_from(
        [
            hl7_samples.adt("A04", name="DOE^JANE"),
            hl7_samples.orm(),
            hl7_samples.siu(),
            hl7_samples.omi(),
            hl7_samples.adt("A40", prior="MRN9"),
        ]
    ),  # fmt: skip
    cuts=st.lists(st.tuples(st.integers(0, 2000), HL7_PIECES), max_size=6),
)
def test_hl7_inbound_codec_raises_only_hl7_errors(base: str, cuts: list[tuple[int, str]]) -> None:
    raw = _hl7_message(base, cuts)
    zone = ZoneInfo("Europe/Berlin")
    try:
        header, segs = read_header(raw, default_charset="UNICODE UTF-8", zone=zone)
        message = read_body(header, segs, zone=zone)
    except Hl7Error:
        return
    assert message is not None


# ---- DICOM datasets -------------------------------------------------------------------------


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(0, 70_000),
    columns=st.integers(0, 70_000),
    pixels=st.integers(0, 10_000),
    accession=st.text(st.characters(min_codepoint=48, max_codepoint=90), max_size=16),
    cut=st.one_of(st.none(), st.integers(0, 4000)),
    flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
)
def test_dicom_dataset_reader_raises_only_broken_object(
    tmp_path: Path, rows: int, columns: int, pixels: int, accession: str, cut: int | None,
    flips: list[tuple[int, int]],
) -> None:  # fmt: skip
    ds = dicom_samples.image(rows=8, columns=8, accession=accession[:16])
    ds.Rows, ds.Columns = rows % 65_536, columns % 65_536
    ds.PixelData = b"\0" * (pixels * 2)
    path = dicom_samples.save(ds, tmp_path / "fuzz.dcm")
    data = bytearray(path.read_bytes())
    for position, value in flips:
        data[132 + position % max(1, len(data) - 132)] = value  # after the preamble + DICM
    if cut is not None:
        data = data[: 132 + cut]
    path.write_bytes(bytes(data))
    try:
        facts = read_instance(
            path, sent_as_class=str(ds.SOPClassUID), sent_as_instance=str(ds.SOPInstanceUID),
            max_bytes=10_000_000,
        )  # fmt: skip
    except BrokenObject:
        return
    assert facts.sop_instance_uid


# ---- the worklist's wildcard matcher ------------------------------------------------------


def _reference(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


@settings(max_examples=300, deadline=None)
@given(pattern=st.text("ab*?", max_size=8), value=st.text("ab", max_size=10))
def test_the_linear_wildcard_matcher_agrees_with_the_regex_it_replaced(
    pattern: str, value: str
) -> None:
    assert wildcard_match(pattern, value) == _reference(pattern, value)


def test_many_stars_against_a_long_value_are_cheap() -> None:
    # The regex version needed over a minute for this; the matcher makes at most
    # len(pattern) * len(value) steps.
    assert not wildcard_match("*" * 40 + "Z", "A" * 64)
    assert wildcard_match("*" * 40 + "Z", "A" * 64 + "Z")


@pytest.mark.parametrize(
    ("value", "ok"),
    [(2**63 - 1, True), (2**63, False), (-1, False), (True, False), (1.0, False)],
)
def test_sequence_numbers_are_unsigned_63_bit(value: object, ok: bool) -> None:
    if ok:
        assert bounds.sequence(value, where="seq") == value
    else:
        with pytest.raises(bounds.OutOfRange, match="seq"):
            bounds.sequence(value, where="seq")


def test_a_time_that_overflows_in_utc_is_out_of_range_not_an_overflow() -> None:
    extreme = datetime.fromisoformat("9999-12-31T23:59:59-23:59")
    with pytest.raises(bounds.OutOfRange, match="out of range"):
        bounds.utc_time(extreme, where="ORC-7.4")
    assert bounds.wire_time(extreme).startswith("9999-12-31")  # renders, never raises


# ---- PCD-01 (ORU^R01 from monitor gateways) ------------------------------------------------

PCD01 = (
    "MSH|^~\\&|GW|ACME|||20250301101500+0100||ORU^R01^ORU_R01|M1|P|2.6\r"
    "PV1||I|IR^IR1^1\r"
    "OBR|1|||182777000^monitoring of patient^SCT|||20250301101500+0100\r"
    "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||MON9^X^00AA^EUI-64\r"
    "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.150456|97|262688^MDC_DIM_PERCENT^MDC|90-100"
    "||||R|||20250301101500+0100\r"
)
PCD01_PIECES = st.one_of(
    HL7_PIECES,
    st.sampled_from(
        [
            "99991231235959-2359",
            "00010101000000+2359",
            "20250301+9959",
            "1e400",
            "-1e400",
            "nan",
            "inf",
            "9" * 400,
            "90-",
            "-",
            "0-0",
            "1.1.1.1.1.1",
            "",
            "NM",
            "ST",
        ]
    ),  # fmt: skip
)


@EXAMPLES
@given(cuts=st.lists(st.tuples(st.integers(0, 600), PCD01_PIECES), max_size=6))
def test_pcd01_codec_raises_only_message_errors(cuts: list[tuple[int, str]]) -> None:
    raw = _hl7_message(PCD01, cuts)
    try:
        report = pcd01_decode(raw)
    except MessageError:
        return
    for device in report.devices:
        for value in device.values().values():
            assert value is None or math.isfinite(value)
        for reading in device.readings:
            at = getattr(reading, "at", None)
            if isinstance(at, datetime):
                assert bounds.EARLIEST_TIME <= at < bounds.LATEST_TIME
