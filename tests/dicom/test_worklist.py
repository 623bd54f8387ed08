"""Modality Worklist against dcmtk's findscu -W, with query files made by dump2dcm."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from adapters.dicom.uids import study_uid_for_case
from suite.domain import commands as c
from suite.domain.envelope import Source
from suite.domain.values import CareTeam, Patient, Procedure, Sex
from tests.dicom.conftest import AE_TITLE, MODALITY_AE, RunningScp, run_dcmtk
from tests.scenarios import order, schedule

pytestmark = pytest.mark.dcmtk

# A modality's usual question: its own station, today, and the keys it shows.
STATION_QUERY = """\
(0008,0005) CS [ISO_IR 100]
(0008,0050) SH []
(0010,0010) PN []
(0010,0020) LO []
(0010,0040) CS []
(0020,000d) UI []
(0032,1060) LO []
(0032,1064) SQ
(fffe,e000) -
(0008,0100) SH []
(0008,0102) SH []
(0008,0104) LO []
(fffe,e00d) -
(fffe,e0dd) -
(0040,0100) SQ
(fffe,e000) -
(0008,0060) CS [XA]
(0040,0001) AE [{station}]
(0040,0002) DA [{day}]
(0040,0003) TM []
(0040,0009) SH []
(0040,0020) CS []
(fffe,e00d) -
(fffe,e0dd) -
(0040,1001) SH []
"""

# A search by name with wildcards and a date range, asking for few keys.
NAME_QUERY = """\
(0008,0005) CS [ISO_IR 100]
(0008,0050) SH []
(0010,0010) PN [{name}]
(0010,0020) LO []
(0040,0100) SQ
(fffe,e000) -
(0040,0001) AE []
(0040,0002) DA [{days}]
(fffe,e00d) -
(fffe,e0dd) -
"""


async def findscu(scp: RunningScp, tmp_path: Path, query: str, **fields: str) -> list[Dataset]:
    """Ask the worklist with `query` (dump2dcm text); returns the answers, as sent."""
    work = tmp_path / f"find-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    dump = work / "query.dump"
    dump.write_text(query.format(**fields), encoding="latin-1")
    made = await run_dcmtk("dump2dcm", str(dump), str(work / "query.wl"))
    assert made.returncode == 0, made.stderr
    result = await run_dcmtk(
        "findscu", "-W", "-X", "-od", str(work), "-aet", MODALITY_AE, "-aec", AE_TITLE,
        "127.0.0.1", str(scp.port), str(work / "query.wl"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [dcmread(p) for p in sorted(work.glob("rsp*.dcm"))]


async def schedule_cases(scp: RunningScp) -> None:
    at = scp.clock()
    await scp.cases.execute("k1", schedule(at), actor="his", source=Source.HL7)
    await scp.cases.execute(
        "k2",
        c.ScheduleCase(
            at=at,
            patient=Patient(
                mrn="MRN0002", name="MÜLLER^GRETA", birth_date=date(1950, 1, 2), sex=Sex.FEMALE
            ),
            order=order(Procedure.VERTEBROPLASTY, ("L2",), accession="ACC0002"),
            room="IR2",
            scheduled_at=at + timedelta(hours=3),
            care_team=CareTeam(radiologist="DR^WHO"),
        ),
        actor="his",
        source=Source.HL7,
    )
    await scp.cases.execute(
        "k3", schedule(at, accession="ACC0003", mrn="MRN0003"), actor="his", source=Source.HL7
    )
    await scp.cases.execute(
        "k3", c.CancelCase(at=at, reason="INR too high"), actor="his", source=Source.HL7
    )


@pytest.mark.asyncio
async def test_a_modality_gets_its_rooms_cases_with_the_keys_it_asked_for(
    scp: RunningScp, tmp_path: Path
) -> None:
    await schedule_cases(scp)
    answers = await findscu(scp, tmp_path, STATION_QUERY, station=MODALITY_AE, day="20261124")
    assert len(answers) == 1
    item = answers[0]
    assert item.AccessionNumber == "ACC0001"
    assert item.PatientName == "TEST^ANNA"
    assert item.PatientID == "MRN0001"
    assert item.PatientSex == "F"
    assert item.StudyInstanceUID == study_uid_for_case("k1")
    assert item.RequestedProcedureDescription == "Kyphoplasty T12, L1"
    assert item.RequestedProcedureID == "k1"
    code = item.RequestedProcedureCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("KYPHOPLASTY", "99PROCSUITE")
    step = item.ScheduledProcedureStepSequence[0]
    assert step.Modality == "XA"
    assert step.ScheduledStationAETitle == MODALITY_AE
    assert step.ScheduledProcedureStepStartDate == "20261124"
    assert step.ScheduledProcedureStepStartTime == "090000"
    assert step.ScheduledProcedureStepID == "k1"
    assert step.ScheduledProcedureStepStatus == "SCHEDULED"
    # Only the keys asked for: no birth date, no allergies, no description in the step.
    assert "PatientBirthDate" not in item and "Allergies" not in item
    assert "ScheduledProcedureStepDescription" not in step

    assert await findscu(scp, tmp_path, STATION_QUERY, station="FLUORO9", day="20261124") == []
    assert await findscu(scp, tmp_path, STATION_QUERY, station=MODALITY_AE, day="20261125") == []


@pytest.mark.parametrize(
    ("name", "days", "expected"),
    [
        ("TEST*", "20261124", {"ACC0001"}),  # the cancelled ACC0003 is no longer on the list
        ("test^an?a", "20261124", {"ACC0001"}),  # names match case-insensitively
        ("*", "20261124-20261124", {"ACC0001", "ACC0002"}),
        ("M*LLER*", "", {"ACC0002"}),
        ("", "20261125-", set()),
        ("", "-20261123", set()),
        ("NOBODY*", "", set()),
    ],
)
@pytest.mark.asyncio
async def test_names_match_with_wildcards_and_dates_by_range(
    scp: RunningScp, tmp_path: Path, name: str, days: str, expected: set[str]
) -> None:
    await schedule_cases(scp)
    answers = await findscu(scp, tmp_path, NAME_QUERY, name=name, days=days)
    assert {a.AccessionNumber for a in answers} == expected
    for answer in answers:
        assert set(answer.dir()) <= {
            "AccessionNumber", "PatientName", "PatientID", "ScheduledProcedureStepSequence",
            "SpecificCharacterSet",
        }  # fmt: skip


@pytest.mark.asyncio
async def test_a_name_outside_ascii_comes_back_in_the_character_set_asked(
    scp: RunningScp, tmp_path: Path
) -> None:
    await schedule_cases(scp)
    answers = await findscu(scp, tmp_path, NAME_QUERY, name="M*", days="")
    assert len(answers) == 1
    assert answers[0].SpecificCharacterSet == "ISO_IR 100"
    assert str(answers[0].PatientName) == "MÜLLER^GRETA"


@pytest.mark.asyncio
async def test_an_item_leaves_the_worklist_when_the_case_is_completed(
    scp: RunningScp, tmp_path: Path
) -> None:
    from tests.scenarios import full_case

    await schedule_cases(scp)
    for command in full_case(scp.clock()):
        scp.clock.now = command.at
        await scp.cases.execute("k1", command, actor="tech1", source=Source.TUI)
        if isinstance(command, c.CheckIn):
            answers = await findscu(
                scp, tmp_path, STATION_QUERY, station=MODALITY_AE, day="20261124"
            )
            assert [
                a.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus for a in answers
            ] == ["ARRIVED"]
        if isinstance(command, c.CloseWound):
            break
    assert await findscu(scp, tmp_path, STATION_QUERY, station=MODALITY_AE, day="20261124") == []
