"""Finding 1 of issue 19: one MQTT message with an out-of-range value ended the process.
Each is sent with mosquitto_pub from a device's or a user's own topic; the service refuses
it (counted, a technical alarm, a refused command), stays up and still alarms."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.hostile.conftest import ROOT, alive, hostile_stack
from tests.mqtt.conftest import pub

pytestmark = [pytest.mark.asyncio, pytest.mark.mosquitto]


async def test_extreme_seq_and_ts_in_vitals_are_refused_and_the_room_still_alarms(
    tmp_path: Path,
) -> None:
    async with hostile_stack(tmp_path) as stack:
        topic = f"{ROOT}/rooms/IR1/vitals/mon-evil"
        await pub(
            stack.broker.port,
            topic,
            json.dumps(
                {"ts": "2026-11-24T09:12:03Z", "seq": 9223372036854775808, "values": {"hr": 70}}
            ),
        )
        await pub(
            stack.broker.port,
            topic,
            json.dumps({"ts": "9999-12-31T23:59:59Z", "seq": 1, "values": {"hr": 70}}),
        )
        await pub(
            stack.broker.port,
            topic,
            json.dumps({"ts": "9999-12-31T23:59:59-23:59", "seq": 2, "values": {"hr": 70}}),
        )
        now = datetime.now(UTC).isoformat()
        await pub(stack.broker.port, topic, '{"ts": "' + now + '", "seq": 3, '
                  '"values": {"hr": ' + "9" * 400 + "}}")  # fmt: skip
        await alive(stack)
        ingest = stack.run.runner.ingest
        faults = ingest.samples.faults[("IR1", "mon-evil")]
        assert faults["out_of_range"] == 3 and faults["bad_value"] == 1
        assert any(c.name == "loop-watchdog" for c in stack.run.ctx.components)
        kinds = {a.kind for a in stack.run.alarms.active("IR1")}
        assert "out_of_range" in kinds  # the nurse hears that readings are discarded


async def test_extreme_numbers_and_times_in_commands_are_refused_in_words(
    tmp_path: Path,
) -> None:
    async with hostile_stack(tmp_path) as stack:
        huge = int("9" * 400)
        reply = await stack.watch.send("nurse1", {
            "id": "a1", "action": "adjust_limit", "room": "IR1", "parameter": "spo2",
            "low": huge, "high": 100, "reason": "test"})  # fmt: skip
        assert reply["ok"] is False and "low" in reply["error"], reply
        reply = await stack.watch.send("tech1", {
            "id": "s1", "action": "log_step", "case_id": stack.case_id, "step": "note",
            "fields": {"text": "x"}, "at": "9999-12-31T23:59:59-23:59"})  # fmt: skip
        assert reply["ok"] is False and "at" in reply["error"], reply
        reply = await stack.watch.send("tech1", {
            "id": "s2", "action": "log_step", "case_id": stack.case_id, "step": "note",
            "fields": {"text": "x"}, "at": "0001-01-01T00:00:00+23:59"})  # fmt: skip
        assert reply["ok"] is False, reply
        await alive(stack)
