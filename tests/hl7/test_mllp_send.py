"""The `mllp_send` tool of the `hl7` package (an independent MLLP client) against the listener:
a registered patient and an order become a scheduled case; a cancel cancels it."""

from __future__ import annotations

import asyncio
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from adapters.dicom.worklist import WorklistConfig, on_worklist, worklist_item
from suite.domain.values import Level, Phase, Procedure, Sex
from suite.store import hl7 as store
from tests.hl7 import samples
from tests.hl7.conftest import Stack, msa

MLLP_SEND = Path(sys.executable).parent / "mllp_send"


def write_batch(tmp_path: Path, messages: tuple[str, ...], *, loose: bool) -> Path:
    path = tmp_path / f"batch{len(list(tmp_path.iterdir()))}.hl7"
    if loose:  # one message after the other, segments on their own lines
        path.write_bytes("".join(m.replace("\r", "\n") for m in messages).encode())
    else:
        path.write_bytes(b"".join(b"\x0b" + m.encode() + b"\x1c\r" for m in messages))
    return path


async def mllp_send(
    stack: Stack, tmp_path: Path, *messages: str, loose: bool = False
) -> list[bytes]:
    """Run the real `mllp_send` on a file of messages; the ACKs it printed, unframed."""
    path = write_batch(tmp_path, messages, loose=loose)
    args = [str(MLLP_SEND), "-p", str(stack.port), "-f", str(path), "127.0.0.1"]
    if loose:
        args.insert(1, "--loose")
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    acks = [chunk.strip(b"\x0b\r\n") for chunk in out.split(b"\x1c")]
    return [a for a in acks if a]


@pytest.mark.asyncio
async def test_patient_and_order_from_mllp_send_become_a_scheduled_case(stack, tmp_path):
    acks = await mllp_send(
        stack,
        tmp_path,
        samples.adt("A04", control="ADT1"),
        samples.orm(control="ORM1", reason="osteoporotic fracture"),
    )
    assert [msa(a)[:2] for a in acks] == [("AA", "ADT1"), ("AA", "ORM1")]
    case = stack.cases.by_accession("ACC0001")
    assert case is not None, msa(acks[1])
    assert case.phase is Phase.SCHEDULED
    assert case.patient.mrn == "MRN0001"
    assert case.patient.name == "TEST^ANNA"
    assert case.patient.birth_date == date(1944, 5, 6)
    assert case.patient.sex is Sex.FEMALE
    assert case.patient.allergies == ("LATEX",)  # from the registry (the ORM has no AL1)
    assert case.order.procedure is Procedure.KYPHOPLASTY
    assert case.order.levels == (Level("T12"), Level("L1"))
    assert case.order.ordering_physician == "WHO^ORDERING"
    assert case.order.indication.value == "osteoporotic"
    assert case.room == "IR1"
    assert case.scheduled_at == datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert f"scheduled case {case.case_id}" in msa(acks[1])[2]
    # ... and it is on the DICOM modality worklist the fluoroscopy unit queries
    assert on_worklist(case, final_mpps=set())
    item = worklist_item(case, WorklistConfig(tz=ZoneInfo("Europe/Berlin")))
    assert (item.AccessionNumber, item.PatientID) == ("ACC0001", "MRN0001")
    assert str(item.PatientName) == "TEST^ANNA" and item.PatientBirthDate == "19440506"
    assert str(item.ReferringPhysicianName) == "WHO^ORDERING"
    step = item.ScheduledProcedureStepSequence[0]
    assert (step.ScheduledProcedureStepStartDate, step.ScheduledProcedureStepStartTime) == (
        "20261124",
        "100000",
    )
    assert step.ScheduledStationName == "IR1"
    # the ACK is a valid v2.3.1 ACK for an independent parser
    ack = parse_message(acks[1].decode(), validation_level=VALIDATION_LEVEL.STRICT)
    assert ack.validate() is True
    async with stack.db.session() as session:
        rows = await store.recent_inbound(session, 10)
    assert [r.control_id for r in reversed(rows)] == ["ADT1", "ORM1"]
    assert rows[0].case_id == case.case_id and rows[0].raw.startswith(b"MSH|")

    acks = await mllp_send(stack, tmp_path, samples.orm("CA", control="ORM2"), loose=True)
    assert msa(acks[0])[:2] == ("AA", "ORM2")
    cancelled = stack.cases.by_accession("ACC0001")
    assert cancelled is not None and cancelled.phase is Phase.CANCELLED
    assert "cancelled by HIS" in cancelled.end_reason


@pytest.mark.asyncio
async def test_an_order_for_another_procedure_is_accepted_and_ignored(stack, tmp_path):
    acks = await mllp_send(
        stack, tmp_path, samples.orm(service="71045^CHEST XRAY 1 VIEW^CPT", accession="X1")
    )
    code, _, text = msa(acks[0])
    assert code == "AA"
    assert text == "ignored: not a vertebral augmentation order (OBR-4: 71045 CHEST XRAY 1 VIEW)"
    assert stack.cases.all() == []
