"""Issue 16: the procedure report of a finished two-level kyphoplasty, from a real store.

The case is made by the domain from the commands of a whole case (with images on each
level's trocar and cement, the dose, an acknowledged alarm, a dose level crossed and vitals
every 30 s), stored with the store's own functions in SQLite, and the report is made with
`procsuite report` as a user runs it. Its HTML is checked for what a radiologist signs; with
Chromium installed, `--pdf` gives a valid PDF of at least one page.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from procsuite.cli import main
from suite.domain import commands as c
from suite.domain.alarms.model import (
    Alarm,
    AlarmAcknowledged,
    AlarmCleared,
    AlarmRaised,
    AlarmSource,
    Category,
    Priority,
)
from suite.domain.case import Case, replay
from suite.domain.envelope import Recorded, Source
from suite.domain.policy import DEFAULT_POLICY
from suite.domain.values import Leakage, Procedure
from suite.domain.workflow import decide
from suite.report.data import cumulative_kerma
from suite.store import alarms as alarm_store
from suite.store import cases as case_store
from suite.store import vitals as vitals_store
from suite.store.dicom import DicomDoseReportRow, DoseLevelAnnouncedRow
from suite.store.report_queries import StoredDoseReport
from suite.store.running import running_database
from tests.peers import missing
from tests.scenarios import full_case, schedule

START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
CASE = "k-report"
UID = "1.2.826.0.1.3680043.8.498.{}"


def commands() -> Iterator[c.Command]:
    """A whole two-level kyphoplasty, with images on each level and the dose report."""
    yield schedule(START, accession="ACC-REP-1", levels=("T12", "L1"))
    n = 0
    for command in full_case(START, procedure=Procedure.KYPHOPLASTY, levels=("T12", "L1")):
        if isinstance(command, c.InjectCement):
            command = c.InjectCement(
                at=command.at, level=command.level,
                volume_ml=3.5 if command.level == "T12" else 4.5,
                leakage=Leakage.VENOUS if command.level == "L1" else Leakage.NONE,
            )  # fmt: skip
        if isinstance(command, c.RecordImagingCheck):
            yield c.RecordDose(
                at=command.at - timedelta(seconds=5), fluoro_time_s=250.0, dap_gy_cm2=420.5,
                air_kerma_mgy=3180.0, source="rdsr",
            )  # fmt: skip
        yield command
        if isinstance(command, c.PlaceTrocar | c.InjectCement):
            n += 1
            yield c.LinkImage(
                at=command.at + timedelta(seconds=10), sop_instance_uid=UID.format(100 + n),
                modality="XA", level=str(command.level),
            )  # fmt: skip


def the_case() -> tuple[Case, list[Recorded]]:
    case: Case | None = None
    records: list[Recorded] = []
    for command in commands():
        for ev in decide(case, command, now=command.at, policy=DEFAULT_POLICY):
            case = replay(CASE, [ev]) if case is None else case.apply(ev)
            records.append(Recorded(CASE, len(records) + 1, ev, "tech1", Source.MQTT))
    assert case is not None and case.phase.value == "discharged"
    return case, records


def embolism_alarm(case: Case) -> Alarm:
    injected = case.level(case.order.levels[1]).injections[0].at
    raised = AlarmRaised(
        "a-emb", "IR1", injected + timedelta(seconds=40), kind="suspected_cement_embolism",
        category=Category.PHYSIOLOGICAL, priority=Priority.HIGH,
        message="Suspected cement embolism during injection at L1", source=AlarmSource("embolism"),
        latching=True, case_id=CASE,
    )  # fmt: skip
    alarm = Alarm.from_raised(raised)
    alarm.apply(AlarmAcknowledged("a-emb", "IR1", raised.at + timedelta(seconds=20), "nurse1"))
    alarm.apply(AlarmCleared("a-emb", "IR1", raised.at + timedelta(minutes=4)))
    return alarm


async def store_case(url: str) -> Case:
    case, records = the_case()
    async with running_database(url) as db, db.session() as session:
        await case_store.append(
            session, records=records, expected_version=0, state=case, recorded_at=START
        )
        await alarm_store.save(session, alarms=[(embolism_alarm(case), "test", None)],
                               events=[], now=START)  # fmt: skip
        rows = []
        t = START
        while t < case.phase_history[-1][1]:
            minute = (t - START).total_seconds() / 60
            rows.append(vitals_store.sample_row(
                room="IR1", device="mon1", case_id=CASE, at=t, received_at=t, seq=None,
                values={"hr": 80 + minute % 7, "spo2": 97.0, "nibp_sys": 125, "nibp_map": 90,
                        "rr": 14, "etco2": 36},
            ))  # fmt: skip
            t += timedelta(seconds=30)
        await vitals_store.insert_samples(session, rows)
        # Per-image reports (each image's own dose): 900 + 1200 + 1080 = 3180 mGy in all.
        for i, (at, kerma) in enumerate(((20, 900.0), (35, 1200.0), (50, 1080.0))):
            session.add(DicomDoseReportRow(
                case_id=CASE, source="image", device="FLUORO_IR1", report_key=f"img-{i}",
                object_uid=UID.format(i), air_kerma_mgy=kerma,
                dap_gy_cm2=10.0, reported_at=START + timedelta(minutes=at),
            ))  # fmt: skip
        session.add(DoseLevelAnnouncedRow(case_id=CASE, threshold_mgy=3000.0, air_kerma_mgy=3180.0,
                                          announced_at=START + timedelta(minutes=50)))  # fmt: skip
        await session.commit()
    return case


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "procsuite.db"
    monkeypatch.setenv("PROCSUITE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PROCSUITE_DB_URL", f"sqlite:///{db}")
    asyncio.run(store_case(f"sqlite:///{db}"))
    return tmp_path


def test_the_report_of_a_finished_two_level_kyphoplasty(stored: Path) -> None:
    out = stored / "report.html"
    assert main(["report", "ACC-REP-1", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    text = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)
    for shown in (
        "kyphoplasty T12, L1", "Test, Anna", "MRN0001", "ACC-REP-1",
        "Time-out signed by", "dr.rad", "midazolam", "1 mg", "fentanyl", "50 mcg",
        "transpedicular", "180 psi, 3 mL", "3.5 mL", "4.5 mL", "venous",
        "3180.0 mGy", "420.50 Gy·cm²", "250 s", "3 Gy",
        "suspected_cement_embolism", "nurse1 at", "satisfactory",
    ):  # fmt: skip
        assert shown in text, shown
    # Images per step: trocar and cement of each level.
    assert re.search(r"<td>trocar</td><td>T12</td><td>XA</td><td>1</td>", text), text
    # L1: ours and the one full_case links after the last cement (its level worked out).
    assert re.search(r"<td>cement</td><td>L1</td><td>XA</td><td>2</td>", text)
    # Both plots, inline SVG, self-contained: nothing is fetched.
    assert re.search(r"<figure class='vitals'><svg", page)
    assert re.search(r"<figure class='kerma'><svg", page)
    assert page.count("<svg") == 2
    vitals = re.search(r"<figure class='vitals'>(<svg.*?</svg>)", page, flags=re.S)
    kerma = re.search(r"<figure class='kerma'>(<svg.*?</svg>)", page, flags=re.S)
    assert vitals and kerma
    # The vitals plot: every parameter, the phases, the markers, the limits.
    for shown in ("HR", "SpO2", "NIBP sys", "RR", "EtCO2", "sedation", "cement T12",
                  "cement L1", "cement injection", "alarm limits"):  # fmt: skip
        assert shown in vitals.group(1), shown
    for shown in ("Ka,r mGy", "3 Gy", "Cumulative reference air kerma"):
        assert shown in kerma.group(1), shown
    assert not re.search(r"(src|href)=['\"]https?:", page)


def test_the_cumulative_air_kerma_counts_each_report_once() -> None:
    at = START
    reports = [
        StoredDoseReport("image", "i1", at, None, 1.0, 100.0),
        StoredDoseReport("image", "i1", at + timedelta(minutes=1), None, 1.0, 100.0),  # again
        StoredDoseReport("image", "i2", at + timedelta(minutes=2), None, 1.0, 50.0),
        StoredDoseReport("rdsr", "s", at + timedelta(minutes=3), 60.0, 2.0, 140.0),  # replaces
    ]
    assert [k for _, k in cumulative_kerma(reports)] == [100.0, 100.0, 150.0, 140.0]


def test_an_unknown_case_is_named(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "NOPE"]) == 1
    assert "no case NOPE" in capsys.readouterr().err


def test_the_report_prints_to_a_valid_pdf(stored: Path) -> None:
    if shutil.which("chromium") is None:
        missing("chromium")
    out = stored / "report.html"
    assert main(["report", CASE, "--out", str(out), "--pdf"]) == 0
    pdf = (stored / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 1


def test_pdf_without_chromium_says_so(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = stored / "report.html"
    assert (
        main(["report", CASE, "--out", str(out), "--pdf", "--chromium", "/nonexistent/chromium"])
        == 1
    )
    assert "no such program" in capsys.readouterr().err
    assert out.is_file()  # the HTML is there all the same
