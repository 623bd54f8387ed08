"""The IT view: the service's status and counters, devices with their last sample, and the
interfaces as far as the service publishes them (it says so where it does not)."""

from __future__ import annotations

import pytest

from tests.tui.conftest import make_app, ready, shows, words
from tests.tui.suite_data import NOW, iso
from tui.fake_client import FakeSuiteClient
from tui.it_lists import segments
from tui.views import Reply


@pytest.mark.asyncio
async def test_devices_status_and_missing_interfaces_are_shown(fake: FakeSuiteClient) -> None:
    fake.publish(
        "status",
        {
            "online": True,
            "at": iso(NOW),
            "site": "main",
            "ingest": {"received": 1200, "faults": {"malformed": 2}},
        },
    )
    app = make_app(fake)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("i")
        text = await shows(pilot, "Integration (IT)")
        assert "ONLINE  as of 10:00:00" in text and "ingest.faults.malformed: 2" in text
        ir3 = next(line for line in text.splitlines() if " IR3 " in line)
        assert "mon-3" in ir3 and "OFFLINE" in ir3 and "09:57:00 (3:00 ago)" in ir3
        assert "no HL7 data published yet" in text and "no DICOM data published yet" in text
        assert "ingest.received: 1200" in text
        fake.publish("status", {"online": False})  # the service's last will
        await shows(pilot, "SERVICE OFFLINE")


ORU = "MSH|^~\\&|PROCSUITE|IR|HIS|HOSP|20261124100000||ORU^R01|9001|P|2.5\rPID|1||MRN0001||TEST^ANNA\rOBX|1|TX|NOTE||cement on L1: 3.5 mL, leakage none"
ACK_AE = "MSH|^~\\&|HIS|HOSP|PROCSUITE|IR|20261124100001||ACK|A1|P|2.5\rMSA|AE|9001|unknown patient"
ADT = (
    "MSH|^~\\&|HIS|HOSP|PROCSUITE|IR|20261124095900||ADT^A01|H-17|P|2.5\rPID|1||MRN0001||TEST^ANNA"
)


def it_status() -> dict[str, object]:
    return {
        "online": True,
        "at": iso(NOW),
        "hl7": {
            "inbound": {
                "total": 1,
                "recent": [
                    {"id": 3, "received_at": iso(NOW), "peer": "his:2575", "type": "ADT^A01",
                     "control_id": "H-17", "ack": "AA", "result": "patient updated",
                     "case_id": "K-100", "raw": ADT, "ack_raw": ""},
                ],
            },
            "outbox": {
                "pending": 0, "sent": 0, "quarantined": 1,
                "recent": [
                    {"id": 12, "at": iso(NOW), "type": "ORU^R01", "control_id": "9001",
                     "status": "quarantined", "ack": "AE", "attempts": 1,
                     "reason": "AE: unknown patient", "case_id": "K-100", "accession": "ACC-K-100",
                     "destination": "his", "raw": ORU, "ack_raw": ACK_AE},
                ],
            },
            "quarantine": [{"id": 12, "type": "ORU^R01", "case_id": "K-100", "ack": "AE",
                            "reason": "AE: unknown patient", "attempts": 1, "at": iso(NOW)}],
        },
        "dicom": {
            "instances": {"stored": 4, "linked": 3, "unmatched": 1},
            "associations": {"active": 0, "rejected": 1, "recent": [
                {"calling_ae": "FLUORO_IR1", "address": "10.0.0.5:40112", "opened_at": iso(NOW),
                 "closed_at": iso(NOW), "outcome": "released", "asked": {"C-STORE": 3},
                 "refused": {"C-STORE 0xA700": 1}},
                {"calling_ae": "ROGUE", "address": "10.0.0.9:5000", "opened_at": iso(NOW),
                 "closed_at": iso(NOW), "outcome": "rejected", "asked": {}, "refused": {}},
            ]},
            "unmatched": [{"sop_instance_uid": "1.2.3.9", "patient_id": "MRN0009",
                           "accession": "", "modality": "XA", "received_at": iso(NOW)}],
        },
    }  # fmt: skip


@pytest.mark.asyncio
async def test_messages_open_into_their_raw_text_and_ack_and_replay_names_the_message(
    fake: FakeSuiteClient,
) -> None:
    fake.publish("status", it_status())
    fake.answer = lambda action, fields: Reply(
        "", True, {"message_id": 12, "message_type": "ORU^R01", "control_id": "9002"}
    )
    app = make_app(fake)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("i")
        text = await shows(pilot, "HL7 messages  showing all (2 of 2; 1 with a problem)")
        assert "ADT^A01" in text and "ORU^R01" in text and "quarantined" in text
        await pilot.press("f")  # only the problems
        await shows(pilot, "showing problems (1 of 2")
        screen = app.screen
        screen.query_one("#hl7").focus()
        await pilot.press("enter")  # open the quarantined ORU
        text = await shows(pilot, "outbound #12 ORU^R01 (control id 9001)")
        # One segment a line, the ACK under it.
        assert "█ OBX|1|TX|NOTE||cement on L1: 3.5 mL, leakage none " in text
        assert "█ MSA|AE|9001|unknown patient " in text
        await pilot.press("r")  # replay from the detail view
        text = words(await shows(pilot, "queued again as control id 9002"))
        assert "DONE replay outbound #12 ORU^R01 (control id 9001)" in text
        assert fake.sent == [("hl7_replay", {"message_id": 12})]


@pytest.mark.asyncio
async def test_an_unmatched_image_is_assigned_by_picking_a_case(fake: FakeSuiteClient) -> None:
    fake.publish("status", it_status())
    app = make_app(fake)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("i")
        text = await shows(pilot, "DICOM: unmatched images  1 listed")
        fluoro = next(line for line in text.splitlines() if "FLUORO_IR1" in line)
        assert "RELEASED" in fluoro and "C-STORE 3" in fluoro and "C-STORE 0xA700 1" in fluoro
        assert "REJECTED" in next(line for line in text.splitlines() if "ROGUE" in line)
        app.screen.query_one("#images").focus()
        await pilot.press("g")
        await shows(pilot, "to which case? Enter picks")
        await pilot.press("down", "enter")  # IR1's case is first, IR2's second
        await shows(pilot, "DONE assign image XA")
        assert fake.sent == [("dicom_assign", {"sop_instance_uid": "1.2.3.9", "case_id": "V-200"})]


def test_a_long_segment_breaks_only_between_fields() -> None:
    raw = "OBX|1|TX|NOTE||" + "x" * 30 + "|" + "y" * 30 + "|F"
    lines = segments(raw, 40)
    assert lines == ["OBX|1|TX|NOTE|", "    |" + "x" * 30, "    |" + "y" * 30 + "|F"]
    assert "".join(line.strip() for line in lines) == raw
