"""An IT user's broker account reads only the redacted room state (`rooms/<room>/state/it`,
docs/mqtt.md): the dashboard shows the rooms from it, without names; a user who reads the
full state never falls back to the redacted one."""

from __future__ import annotations

import json

from adapters.mqtt.redacted import redacted_snapshot
from tests.tui.suite_data import NOW, suite_states
from tui.inbox import Inbox


def test_the_redacted_state_shows_the_room_until_a_full_one_is_read() -> None:
    full = suite_states()["IR1"]
    inbox = Inbox(user="it1", clock=lambda: NOW)
    inbox.handle("rooms/IR1/state/it", json.dumps(redacted_snapshot(full)).encode())
    (shown,) = inbox.states.drain()
    assert shown.case is not None and shown.case.phase == "cement_injection"
    assert shown.case.patient_name == "" and not shown.vitals  # nothing of the patient

    inbox.handle("rooms/IR1/state", json.dumps(full).encode())
    inbox.handle("rooms/IR1/state/it", json.dumps(redacted_snapshot(full)).encode())
    (shown,) = inbox.states.drain()
    assert shown.case is not None and shown.case.patient_name  # the full one stays
