"""The PCD-04 codec: which transition each alarm event is, and the ORU^R40 it becomes."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7
import pytest

from adapters.devices.pcd04.codec import Addressing, Transition, build_r40, transition_of

PAYLOAD = {
    "alarm_id": "a-1", "room": "IR1", "case_id": "C1", "kind": "spo2_low",
    "category": "physiological", "priority": "high", "message": "SpO2 low: 84 %",
    "latching": True, "state": "active", "condition_active": True, "at": "2026-12-04T10:00:00Z",
    "source": {"rule": "spo2_low", "device": "mon-7", "parameter": "spo2",
               "evidence": [["2026-12-04T09:59:59Z", 85], ["2026-12-04T10:00:00Z", 84]]},
}  # fmt: skip
TO = Addressing("PROCSUITE", "IR", "ACM", "HOSP", "IR", "main")


@pytest.mark.parametrize(
    ("event", "changes", "sent", "expected"),
    [
        ("raised", {}, [], Transition("start", "active", "enabled")),
        ("escalated", {}, ["start"], Transition("escalate", "active", "enabled")),
        ("acknowledged", {"state": "acknowledged"}, ["start"],
         Transition("update", "active", "alert-acknowledged")),
        ("acknowledged", {"state": "acknowledged", "condition_active": False}, ["start"],
         Transition("update", "latched", "alert-acknowledged")),
        ("condition_ended", {}, ["start"], Transition("update", "latched", "enabled")),
        ("condition_ended", {"latching": False}, ["start"], Transition("end", "inactive", "enabled")),
        ("condition_returned", {}, ["start"], Transition("continue", "active", "enabled")),
        ("audio_paused", {"audio_paused_until": "2026-12-04T10:02:00Z"}, ["start"],
         Transition("update", "active", "audio-paused")),
        ("escalated", {"audio_paused_until": "2026-12-04T09:59:00Z"}, ["start"],
         Transition("escalate", "active", "enabled")),  # the pause is over
        ("audio_paused", {"audio_paused_until": "2026-12-04T10:02:00Z", "state": "acknowledged"},
         ["start"], Transition("update", "active", "alert-acknowledged")),
        ("cleared", {"state": "cleared"}, ["start", "update"],
         Transition("end", "inactive", "enabled")),
        ("cleared", {"state": "cleared"}, ["start", "end"], None),  # already ended
        ("limit_adjusted", {}, [], None),
    ],
)  # fmt: skip
def test_transitions(event: str, changes: dict, sent: list[str], expected: Transition | None):
    assert transition_of(event, {**PAYLOAD, **changes}, sent) == expected


def test_the_r40_has_identity_facets_priority_and_location() -> None:
    text = build_r40(
        PAYLOAD, Transition("start", "active", "enabled"), control_id="PCD04-7",
        now=datetime(2026, 12, 4, 10, 0, 1, tzinfo=UTC), to=TO, bed="1", limits=(90, None),
    )  # fmt: skip
    msg = hl7.parse(text)
    assert str(msg.segment("MSH")(9)) == "ORU^R40^ORU_R40"
    assert str(msg.segment("MSH")(10)) == "PCD04-7"
    assert str(msg.segment("PV1")(3)) == "IR^IR1^1"
    obr = msg.segment("OBR")
    assert str(obr(3)) == "a-1^PROCSUITE" and str(obr(4)) == "196616^MDC_EVT_ALARM^MDC"
    obx = [s for s in msg if str(s(0)) == "OBX"]
    assert [str(s(4)) for s in obx] == [f"1.0.0.150456.{n}" for n in range(1, 6)]
    assert str(obx[0](3)) == "196670^MDC_EVT_LO^MDC" and str(obx[0](8)) == "L~PH~SP"
    assert str(obx[0](18)) == "mon-7"
    assert (str(obx[1](5)), str(obx[1](7))) == ("84", "90-")
    assert [str(s(5)) for s in obx[2:]] == ["start", "active", "enabled"]


def test_an_update_names_its_parent_in_obr_29_and_a_site_alarm_the_site() -> None:
    site = {**PAYLOAD, "room": "*", "kind": "alert_manager_unreachable", "category": "technical",
            "priority": "medium", "source": {"rule": "x", "device": "procsuite"}}  # fmt: skip
    text = build_r40(site, Transition("end", "inactive", "enabled"), control_id="c",
                     now=datetime(2026, 12, 4, tzinfo=UTC), to=TO)  # fmt: skip
    msg = hl7.parse(text)
    assert str(msg.segment("OBR")(29)) == "a-1&PROCSUITE"
    assert str(msg.segment("PV1")(3)) == "IR^main^"
    obx = [s for s in msg if str(s(0)) == "OBX"]
    assert str(obx[0](8)) == "A~PM~ST" and len(obx) == 4  # no metric facet
