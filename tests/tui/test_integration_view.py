"""The IT view: the service's status and counters, devices with their last sample, and the
interfaces as far as the service publishes them (it says so where it does not)."""

from __future__ import annotations

import pytest

from tests.tui.conftest import make_app, ready, shows, words
from tests.tui.suite_data import NOW, iso
from tui.fake_client import FakeSuiteClient
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
        fake.publish("status", {"online": False})  # the service's last will
        await shows(pilot, "SERVICE OFFLINE")


@pytest.mark.asyncio
async def test_published_interface_state_is_shown_and_an_image_can_be_assigned(
    fake: FakeSuiteClient,
) -> None:
    fake.publish(
        "status",
        {
            "online": True,
            "at": iso(NOW),
            "hl7": {"outbox": {"pending": 1, "quarantined": 1}},
            "dicom": {"unmatched": [{"sop_instance_uid": "1.2.3.9", "modality": "XA"}]},
        },
    )
    fake.answer = lambda action, fields: Reply(
        "", False, error=f"unknown action {action!r}", rule="unknown-action"
    )
    app = make_app(fake)
    async with app.run_test(size=(100, 40)) as pilot:
        await ready(pilot)
        await pilot.press("i")
        text = await shows(pilot, "outbox.quarantined: 1")
        assert "sop_instance_uid=1.2.3.9, modality=XA" in text
        await pilot.press("g", *"1.2.3.9", "enter", *"ACC-300", "enter")
        text = words(await shows(pilot, "REFUSED assign image"))
        assert "unknown action 'dicom_assign' [unknown-action]" in text
        assert fake.sent == [
            ("dicom_assign", {"sop_instance_uid": "1.2.3.9", "case_id": "ACC-300"})
        ]
