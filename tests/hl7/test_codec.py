"""The pure codec, without sockets: levels, procedures, times, escapes, character sets, ACKs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7.ack import Addressing, build_ack
from adapters.hl7.errors import ContentError, Location, Rejected
from adapters.hl7.fields import parse_date, parse_ts
from adapters.hl7.mapping import indication_of, levels_in, procedure_of, room_of
from adapters.hl7.messages import Service, Text
from adapters.hl7.outbound import Party, build_status
from adapters.hl7.wire import decode, escape, unescape
from suite.domain.values import Indication, Procedure
from tests.hl7 import samples

CODES = {"22511": "vertebroplasty", "22514": "kyphoplasty"}
WHERE = Location("OBR", 13)


@pytest.mark.parametrize(
    ("text", "levels"),
    [
        ("T12, L1", ["T12", "L1"]),
        ("Levels: t12 / l1", ["T12", "L1"]),
        ("T11-L1", ["T11", "T12", "L1"]),
        ("T11 to T12", ["T11", "T12"]),
        ("L2-4", ["L2", "L3", "L4"]),
        ("C7-T1", ["C7", "T1"]),
        ("KYPHOPLASTY S1", ["S1"]),
        ("ROUTINE KYPHOPLASTY", []),
        ("HBA1C1 pending", []),  # not a level inside a word
    ],
)
def test_levels_are_read_from_free_text(text, levels):
    assert levels_in(text) == levels


@pytest.mark.parametrize("text", ["T13", "L6", "C8", "T12-L6"])
def test_a_token_that_looks_like_a_level_but_is_none_is_an_error(text):
    with pytest.raises(ValueError, match="is not a vertebral level"):
        levels_in(text)


@pytest.mark.parametrize(
    ("service", "procedure"),
    [
        (Service(code="22511", text="whatever"), Procedure.VERTEBROPLASTY),
        (Service(code="X1", alt_code="22514"), Procedure.KYPHOPLASTY),
        (Service(code="IR123", text="Balloon Kyphoplasty L1"), Procedure.KYPHOPLASTY),
        (Service(code="IR124", text="PERC VERTEBROPLASTY"), Procedure.VERTEBROPLASTY),
        (Service(code="71045", text="CHEST XRAY"), None),
        (Service(), None),
    ],
)
def test_the_procedure_comes_from_the_code_table_or_the_text(service, procedure):
    assert procedure_of(service, CODES) is procedure


def test_the_room_is_the_first_candidate_that_is_a_site_room():
    candidates = [Text("4WEST", WHERE), Text("ir2", WHERE), Text("IR1", WHERE)]
    assert room_of(candidates, rooms=["IR1", "IR2"], default="IR1") == "IR2"
    assert room_of([Text("WARD", WHERE)], rooms=["IR1", "IR2"], default="IR9") == "IR9"


@pytest.mark.parametrize(
    ("reasons", "indication"),
    [
        (["M80.08XA"], Indication.OSTEOPOROTIC),
        (["Osteoporotic fracture T12"], Indication.OSTEOPOROTIC),
        (["C79.51", "bone metastasis"], Indication.MALIGNANT),
        (["multiple myeloma"], Indication.MALIGNANT),
        (["long-term steroid use"], Indication.STEROID_INDUCED),
        (["back pain"], Indication.OTHER),
    ],
)
def test_the_indication_comes_from_reason_and_diagnosis(reasons, indication):
    assert indication_of(reasons) is indication


def test_hl7_times_are_read_with_their_offset_or_the_site_zone():
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_ts("20261124", WHERE, zone=berlin) == datetime(2026, 11, 24, tzinfo=berlin)
    assert parse_ts("202611241015", WHERE, zone=berlin) == datetime(
        2026, 11, 24, 10, 15, tzinfo=berlin
    )
    value = parse_ts("20261124101530.25+0200", WHERE, zone=berlin)
    assert value == datetime(2026, 11, 24, 10, 15, 30, 250000, tzinfo=timezone(timedelta(hours=2)))
    assert parse_ts("", WHERE, zone=UTC) is None
    with pytest.raises(ContentError, match=r"^OBR-13: 2026-11-24 is not a date/time"):
        parse_ts("2026-11-24", WHERE, zone=UTC)
    with pytest.raises(ContentError, match=r"^PID-7: 19411399 is not a date$"):
        parse_date("19411399", Location("PID", 7))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")))
def test_escaped_text_is_read_back_by_python_hl7_unchanged(text):
    message = hl7.parse(f"MSH|^~\\&|A|B|C|D|20261124||ADT^A04|1|P|2.5.1\rNTE|1||{escape(text)}|END")
    raw = str(message.segment("NTE")(3))
    assert message.unescape(raw) == text  # an independent unescaper
    assert unescape(raw) == text  # and ours
    assert not any(ord(ch) < 0x20 for ch in escape(text))  # no <VT> / <FS> ever goes out raw


def test_unescape_knows_hex_line_breaks_and_drops_highlighting():
    assert unescape("A\\X0D0A\\B") == "A\r\nB"
    assert unescape("line1\\.br\\line2") == "line1\nline2"
    assert unescape("\\H\\bold\\N\\") == "bold"
    assert unescape("trailing \\") == "trailing \\"


@pytest.mark.parametrize(
    ("msh18", "encoding"), [("8859/1", "latin-1"), ("UNICODE UTF-8", "utf-8"), ("ASCII", "ascii")]
)
def test_msh18_chooses_the_decoder(msh18, encoding):
    name = "MULLER" if encoding == "ascii" else "MÜLLER"
    raw = samples.adt("A04", name=name).replace("|P|2.5.1", f"|P|2.5.1||||||{msh18}")
    decoded = decode(raw.encode(encoding), default_charset="UNICODE UTF-8")
    assert name in decoded.text and decoded.declared == msh18


def test_bytes_that_are_not_the_declared_set_are_rejected_with_the_offset():
    raw = samples.adt("A04", name="MÜLLER").encode("latin-1")
    with pytest.raises(
        Rejected, match=r"MSH-18: byte 0xDC at offset \d+ is not valid UNICODE UTF-8"
    ):
        decode(raw, default_charset="UNICODE UTF-8")


def test_ack_text_with_separators_is_escaped_and_errors_name_the_field():
    to = Addressing(sending_application="HIS", trigger="A04", control_id="C1", version="2.5.1")
    error = ContentError(Location("PID", 7), "1941|13|99 is not a date")
    ack = build_ack(
        to, code="AE", error=error, control_id="K1", now=datetime(2026, 11, 24, tzinfo=UTC),
        application="PROCSUITE", facility="IR",
    )  # fmt: skip
    message = hl7.parse(ack.decode())
    assert str(message.segment("MSA")(1)) == "AE"
    assert message.unescape(str(message.segment("MSA")(3))) == "PID-7: 1941|13|99 is not a date"
    err = message.segment("ERR")
    assert str(err(2)) == "PID^1^7^1" and str(err(3)) == "102^Data type error^HL70357"
    ok = build_ack(
        to, code="AA", text="fine", control_id="K2", now=datetime(2026, 11, 24, tzinfo=UTC),
        application="PROCSUITE", facility="IR",
    )  # fmt: skip
    assert b"ERR" not in ok


def test_a_status_message_escapes_patient_text():
    from suite.domain.case import start
    from suite.domain.events import CaseScheduled
    from tests.scenarios import schedule

    cmd = schedule(datetime(2026, 11, 24, 8, tzinfo=UTC))
    patient = cmd.patient.__class__(mrn="M|1", name="O'NEIL^A&B", sex=cmd.patient.sex)
    case = start("k1", CaseScheduled(cmd.at, patient, cmd.order, "IR1", cmd.scheduled_at))
    from adapters.hl7.outbound import OrderKeys

    raw = build_status(
        case, OrderKeys(accession="ACC|1"), status="IP", at=cmd.at, control_id="X1",
        now=cmd.at, party=Party("PROCSUITE", "IR", "HIS", "HOSP"),
    )  # fmt: skip
    message = hl7.parse(raw.decode())
    pid = message.segment("PID")
    assert message.unescape(str(pid(3)(1)(1))) == "M|1"
    assert message.unescape(str(pid(5)(1)(2))) == "A&B"
    assert message.unescape(str(message.segment("OBR")(18))) == "ACC|1"
