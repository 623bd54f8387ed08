"""Every bad message gets the right answer: AE with an ERR naming the field for content errors,
AR for what cannot be parsed or is not supported; nothing is applied; the raw is kept."""

from __future__ import annotations

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.parser import parse_message, parse_segments

from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.store import hl7 as store
from tests.hl7 import samples
from tests.hl7.conftest import msa, send

ADT = samples.adt("A04")

CASES = [
    # (id, message, code, text fragment, ERR-2 location in v2.5.1 or ERR-1 in older)
    ("bad birth date", samples.adt("A04", birth="19411399"), "AE",
     "PID-7: 19411399 is not a date", "PID^1^7^1"),
    ("unknown patient on update", samples.adt("A08", mrn="NOBODY"), "AE",
     "PID-3: patient NOBODY is not registered", "PID^1^3^1"),
    ("unknown prior patient of a merge", samples.adt("A40", mrn="NEW1", prior="GONE1"), "AE",
     "MRG-1: patient GONE1 is not registered", "MRG^1^1^1"),
    ("bad sex", samples.adt("A04", sex="X"), "AE", "PID-8: X is not an administrative sex",
     "PID^1^8^1"),
    ("missing accession", samples.orm(accession=""), "AE", "OBR-18: accession number is missing",
     "OBR^1^18"),
    ("not a level", samples.orm(levels="T13"), "AE", "OBR-13: T13 is not a vertebral level",
     "OBR^1^13"),
    ("no level at all", samples.orm(levels="", service="22511^VERTEBROPLASTY^CPT"), "AE",
     "OBR-13: no planned vertebral level", "OBR^1^13"),
    ("change of an unknown order", samples.orm("XO", accession="NOPE1"), "AE",
     "OBR-18: no case with accession NOPE1 to change", "OBR^1^18"),
    ("bad scheduled time", samples.orm(when="2026133110"), "AE",
     "ORC-7.4: 2026133110 is not a date/time", "ORC^1^7"),
    ("unsupported order control", samples.orm("SC"), "AR",
     "ORC-1: order control SC is not supported", "ORC^1^1"),
    ("unsupported message type", ADT.replace("ADT^A04^ADT_A01", "ORU^R01^ORU_R01"), "AR",
     "MSH-9.1: message type ORU is not supported", "MSH^1^9"),
    ("unsupported event", ADT.replace("ADT^A04^ADT_A01", "ADT^A03^ADT_A03"), "AR",
     "MSH-9.2: event ADT^A03 is not supported", "MSH^1^9"),
    ("unsupported version", ADT.replace("|P|2.5.1", "|P|2.2"), "AR",
     "MSH-12: version 2.2 is not supported", "MSH^1^12"),
    ("training message in production", ADT.replace("|P|2.5.1", "|T|2.5.1"), "AR",
     "MSH-11: processing ID T is not accepted here", "MSH^1^11"),
    ("missing control id", samples.adt("A04", control=""), "AR",
     "MSH-10: message control ID is missing", "MSH^1^10"),
    ("not HL7 at all", "HELLO WORLD", "AR", "does not start with MSH", "MSH"),
    ("unknown character set", samples.adt("A04").replace("|P|2.5.1", "|P|2.5.1||||||KLINGON"),
     "AR", "MSH-18: character set 'KLINGON' is not supported", "MSH^1^18"),
]  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("message", "code", "text", "where"),
    [pytest.param(m, c, t, w, id=i) for i, m, c, t, w in CASES],
)
async def test_bad_input_gets_the_right_answer_and_changes_nothing(
    stack, message, code, text, where
):
    acks = await send(stack.port, message)
    got, _, msa3 = msa(acks[0])
    assert got == code, msa3
    assert text in msa3
    err = hl7.parse(acks[0].decode()).segment("ERR")
    location = str(err(2)) if len(err) > 2 and str(err(2)) else str(err(1))
    assert location.startswith(where)
    assert stack.cases.all() == []
    async with stack.db.session() as session:
        rows = await store.recent_inbound(session, 5)
    assert len(rows) == 1 and rows[0].ack_code == code and rows[0].raw


@pytest.mark.asyncio
async def test_declared_ascii_with_latin1_bytes_is_rejected(stack):
    raw = samples.adt("A04", name="MÜLLER^JÖRG").replace("|P|2.5.1", "|P|2.5.1||||||ASCII")
    acks = await send(stack.port, raw.encode("latin-1"))
    code, _, text = msa(acks[0])
    assert code == "AR" and "is not valid ASCII" in text


@pytest.mark.asyncio
async def test_a_v23_ack_puts_location_and_code_in_err_1(stack):
    acks = await send(stack.port, samples.adt("A04", birth="19411399", version="2.3"))
    text = acks[0].decode()
    assert "\rERR|PID^1^7^102&Data type error&HL70357\r" in text
    assert "|ACK^A04|" in text  # v2.3 MSH-9 has two components
    # v2.3 has no message structure in MSH-9, so hl7apy is told it is an ACK
    parsed = Message("ACK", version="2.3", validation_level=VALIDATION_LEVEL.STRICT)
    parsed.children = parse_segments(text, version="2.3", validation_level=VALIDATION_LEVEL.STRICT)
    assert parsed.validate() is True
    assert [c.value for c in parsed.err.err_1.children] == [
        "PID",
        "1",
        "7",
        "102&Data type error&HL70357",
    ]


@pytest.mark.asyncio
async def test_a_v251_error_ack_is_valid_for_an_independent_parser(stack):
    acks = await send(stack.port, samples.adt("A08", mrn="NOBODY"))
    parsed = parse_message(acks[0].decode(), validation_level=VALIDATION_LEVEL.STRICT)
    assert parsed.validate() is True
    assert parsed.err.err_3.err_3_1.value == "204"
    assert parsed.err.err_4.value == "E"


@pytest.mark.asyncio
async def test_an_order_change_after_the_time_out_is_refused_with_the_rule(stack, clock):
    await send(stack.port, samples.adt("A04"), samples.orm())
    case = stack.cases.by_accession("ACC0001")
    assert case is not None
    from tests.scenarios import full_case

    for command in full_case(clock()):
        clock.now = command.at
        await stack.cases.execute(case.case_id, command, actor="t", source=Source.TUI)
        if isinstance(command, c.SignTimeOut):
            break
    acks = await send(stack.port, samples.orm("XO", levels="L2"))
    code, _, text = msa(acks[0])
    assert code == "AE"
    assert "ORC-1: case" in text and "changing the order needs the case in scheduled" in text
    assert "\rERR|ORC^1^1^206&Application record locked&HL70357\r" in acks[0].decode()
    assert [str(lv) for lv in stack.cases.get(case.case_id).order.levels] == ["T12", "L1"]


@pytest.mark.asyncio
async def test_an_ae_is_not_remembered_so_the_fixed_resend_is_processed(stack):
    acks = await send(stack.port, samples.adt("A08", mrn="LATE1", control="UPD1"))
    assert msa(acks[0])[0] == "AE"
    acks = await send(
        stack.port,
        samples.adt("A04", mrn="LATE1", control="REG1"),
        samples.adt("A08", mrn="LATE1", control="UPD1", name="LATE^LOTTE"),
    )
    assert [msa(a)[0] for a in acks] == ["AA", "AA"]
