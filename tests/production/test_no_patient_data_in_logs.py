"""Ordinary logs (INFO and above) carry identifiers, never patient names: an HL7 order over
MLLP and a whole case run through the service with every logger at DEBUG, captured."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from suite.domain.envelope import Source
from suite.domain.values import Phase
from tests.hl7 import samples
from tests.hl7.conftest import make_settings, run_stack, send
from tests.scenarios import full_case

FAMILY, GIVEN = "ZYLBERSZTAJN", "MARGARETHA"


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_no_patient_name_in_info_logs_during_an_order_and_a_case(
    sqlite_url: str, tmp_path: Any, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    name = f"{FAMILY}^{GIVEN}"
    async with run_stack(sqlite_url, make_settings(tmp_path), clock) as stack:
        acks = await send(
            stack.port,
            samples.adt("A04", mrn="MRN7731", name=name),
            samples.orm(accession="ACC7731", mrn="MRN7731", name=name),
            b"MSH|^~\\&|HIS|HOSP|PROCSUITE|IR|20261124075500||ORM^O01|BAD1|P|2.3.1\r"
            + f"PID|1||MRN7731^^^HOSP^MR||{name}||19441399|F\r".encode(),
        )
        assert [a.split(b"MSA|")[1][:2] for a in acks][:2] == [b"AA", b"AA"]
        case = stack.cases.by_accession("ACC7731")
        assert case is not None and FAMILY in case.patient.name.upper()
        for command in full_case(clock()):
            clock.advance(max(0.0, (command.at - clock()).total_seconds()))
            await stack.cases.execute(case.case_id, command, actor="tech1", source=Source.TUI)
        final = stack.cases.get(case.case_id)
        assert final is not None and final.phase is Phase.DISCHARGED

    ordinary = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert ordinary, "the run logged nothing at INFO: the check would prove nothing"
    leaks = [
        f"{r.levelname} {r.name}: {r.getMessage()}"
        for r in ordinary
        if FAMILY in r.getMessage().upper() or GIVEN in r.getMessage().upper()
    ]
    assert leaks == []
