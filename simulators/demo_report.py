"""What the demo shows while it runs and what it says at the end.

- `Progress`: one line per notable event, stamped with the simulated time.
- `AlarmTally`: the alarm events seen on the wire (`procsuite/<site>/alarms/<room>`), one
  line each, and per alarm its kind, priority, who acknowledged it and whether it cleared.
- `Hl7Tally`: the HL7 messages the simulated HIS sent (with the ACK procsuite answered) and
  received (with the ACK it answered).
- `DemoSummary`: per case its phases, images, dose report and dose against what the unit
  measured; the alarms; the HL7 messages; and the problems found (none on a good run).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import hl7
from hl7.exceptions import HL7Exception

from simulators.clock import SimClock
from simulators.his import Sent
from simulators.his_receiver import Message

log = logging.getLogger(__name__)


class Progress:
    """Writes `HH:MM:SS text` (simulated time in `zone`) through `write`."""

    def __init__(self, clock: SimClock, write: Callable[[str], None], *, zone: tzinfo) -> None:
        self.clock = clock
        self.write = write
        self.zone = zone
        self.lines = 0

    def __call__(self, text: str) -> None:
        self.lines += 1
        self.write(f"{self.clock.now().astimezone(self.zone):%H:%M:%S} {text}")


@dataclass
class AlarmRecord:
    alarm_id: str
    room: str
    kind: str
    priority: str
    category: str
    raised_at: str
    acknowledged_by: str | None = None
    cleared: bool = False
    escalated_to: str | None = None


SEEN_MAX = 10_000  # event ids remembered to drop repeats (the oldest are forgotten first)


@dataclass
class AlarmTally:
    progress: Callable[[str], None]
    alarms: dict[str, AlarmRecord] = field(default_factory=dict)
    _seen: dict[Any, None] = field(default_factory=dict)

    def take(self, event: Mapping[str, Any]) -> None:
        key = event.get("event_id") or (event.get("alarm_id"), event.get("event"), event.get("at"))
        if key in self._seen:
            return  # delivery is at least once
        self._seen[key] = None
        if len(self._seen) > SEEN_MAX:
            del self._seen[next(iter(self._seen))]
        name = str(event.get("event") or "")
        alarm_id = str(event.get("alarm_id") or "")
        room, kind = str(event.get("room") or ""), str(event.get("kind") or "")
        record = self.alarms.get(alarm_id)
        if name == "raised" or record is None:
            record = self.alarms.setdefault(
                alarm_id,
                AlarmRecord(
                    alarm_id, room, kind, str(event.get("priority") or ""),
                    str(event.get("category") or ""), str(event.get("at") or ""),
                ),
            )  # fmt: skip
        if name == "raised":
            self.progress(
                f"{room} ALARM {record.priority} {kind}: {event.get('message') or ''}".rstrip()
            )
        elif name == "acknowledged":
            record.acknowledged_by = str(event.get("user") or event.get("acknowledged_by") or "")
            self.progress(f"{room} alarm {kind} acknowledged by {record.acknowledged_by}")
        elif name == "condition_ended":
            self.progress(f"{room} alarm {kind}: condition ended")
        elif name == "cleared":
            record.cleared = True
            self.progress(f"{room} alarm {kind} cleared")
        elif name == "escalated":
            record.escalated_to = str(event.get("priority") or "")
            self.progress(f"{room} alarm {kind} escalated to {record.escalated_to}")


def order_status(text: str) -> str:
    """ORC-5 (IP, CM, CA, DC) of an outbound ORM, or "" when there is none."""
    try:
        return str(hl7.parse(text).segment("ORC")[5])
    except (KeyError, IndexError, ValueError, HL7Exception):
        return ""


@dataclass
class Hl7Tally:
    progress: Callable[[str], None]
    accessions: Sequence[str]
    sent: list[dict[str, str]] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)

    def accession_in(self, text: str) -> str:
        return next((a for a in self.accessions if a in text), "")

    def took_sent(self, item: Sent) -> None:
        self.sent.append({"kind": item.kind, "accession": item.accession, "ack": item.ack.code})
        self.progress(f"HL7 in  {item.kind:<11} {item.accession} -> procsuite ACK {item.ack.code}")

    def took_received(self, message: Message) -> None:
        kind = message.kind.split("^")
        name = "^".join(kind[:2])
        status = order_status(message.text) if name == "ORM^O01" else ""
        accession = self.accession_in(message.text)
        self.received.append(
            {"kind": name, "status": status, "accession": accession, "ack": message.ack}
        )
        what = f"{name} {status}".rstrip()
        self.progress(f"HL7 out {what:<11} {accession} -> HIS ACK {message.ack}")


@dataclass
class CaseReport:
    room: str
    accession: str
    procedure: str
    levels: list[str]
    case_id: str | None
    phase: str | None
    phases: list[str]
    expected_phases: list[str]
    images_sent: int
    images_linked: int
    rdsr_stored: bool
    dose_on_case: dict[str, float] | None
    dose_measured: dict[str, float] | None

    def problems(self) -> list[str]:
        found = []
        if self.phase != "discharged":
            found.append(f"{self.room} case {self.accession} ended in {self.phase}, not discharged")
        elif self.phases != self.expected_phases:
            found.append(f"{self.room} case {self.accession} phases {self.phases}")
        if self.images_linked != self.images_sent:
            found.append(
                f"{self.room}: {self.images_sent} images sent, {self.images_linked} on the case"
            )
        if not self.rdsr_stored:
            found.append(f"{self.room}: no dose report stored")
        if self.dose_measured and self.dose_on_case:
            for key, value in self.dose_measured.items():
                got = float(self.dose_on_case.get(key, -1.0))
                if abs(got - value) > max(
                    1e-3 * abs(value), 0.5 if key == "fluoro_time_s" else 1e-6
                ):
                    found.append(f"{self.room}: case {key} {got:g}, the unit measured {value:g}")
        elif self.dose_measured:
            found.append(f"{self.room}: no dose on the case")
        return found


@dataclass
class DemoSummary:
    speed: float
    started_at: str
    finished_at: str
    interrupted: bool
    cases: list[CaseReport]
    alarms: list[AlarmRecord]
    expected_alarms: dict[str, list[str]]  # room -> kinds the story should raise
    hl7_in: list[dict[str, str]]
    hl7_out: list[dict[str, str]]
    extra_problems: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = [p for c in self.cases for p in c.problems()]
        for room, kinds in self.expected_alarms.items():
            for kind in kinds:
                seen = [a for a in self.alarms if a.room == room and a.kind == kind]
                if not seen:
                    found.append(f"{room}: no {kind} alarm raised")
                elif not all(a.acknowledged_by and a.cleared for a in seen):
                    found.append(f"{room}: a {kind} alarm was not acknowledged and cleared")
        for case in self.cases:
            got = {
                (m["kind"], m["status"])
                for m in self.hl7_out
                if m["accession"] == case.accession and m["ack"] == "AA"
            }
            for want in (("ORM^O01", "IP"), ("ORM^O01", "CM"), ("ORU^R01", "")):
                if want not in got:
                    found.append(
                        f"HIS did not receive {' '.join(want).strip()} for {case.accession}"
                    )
        found += [
            f"HL7 in {m['kind']} {m['accession']}: ACK {m['ack']}"
            for m in self.hl7_in
            if m["ack"] != "AA"
        ]
        return found + self.extra_problems

    @property
    def ok(self) -> bool:
        return not self.interrupted and not self.problems()

    def lines(self) -> list[str]:
        out = [
            f"== procsuite demo summary (speed {self.speed:g}x, simulated"
            f" {self.started_at[11:16]} to {self.finished_at[11:16]})"
            + (" INTERRUPTED" if self.interrupted else "")
        ]
        out.append("cases:")
        for c in self.cases:
            out.append(
                f"  {c.room} {c.accession} {c.procedure} {','.join(c.levels)}: {c.phase}"
                f" ({len(c.phases)} of {len(c.expected_phases)} phases) case {c.case_id}"
            )
            out.append(
                f"      images {c.images_linked} linked / {c.images_sent} sent,"
                f" dose report {'stored' if c.rdsr_stored else 'missing'}"
            )
            d = c.dose_on_case or {}
            m = c.dose_measured or {}
            out.append(
                f"      dose fluoro {d.get('fluoro_time_s', 0):.0f} s,"
                f" DAP {d.get('dap_gy_cm2', 0):.3f} Gy·cm², Ka,r {d.get('air_kerma_mgy', 0):.2f} mGy"
                f" (unit: {m.get('fluoro_time_s', 0):.0f} s, {m.get('dap_gy_cm2', 0):.3f} Gy·cm²,"
                f" {m.get('air_kerma_mgy', 0):.2f} mGy)"
            )
        raised = len(self.alarms)
        acked = sum(1 for a in self.alarms if a.acknowledged_by)
        cleared = sum(1 for a in self.alarms if a.cleared)
        out.append(f"alarms: {raised} raised, {acked} acknowledged, {cleared} cleared")
        for a in sorted(self.alarms, key=lambda a: a.raised_at):
            out.append(
                f"  {a.room} {a.kind} ({a.priority}) raised {a.raised_at[11:19]},"
                f" acknowledged by {a.acknowledged_by or '-'}, {'cleared' if a.cleared else 'OPEN'}"
            )
        acks_in = _count(msg["ack"] for msg in self.hl7_in)
        acks_out = _count(msg["ack"] for msg in self.hl7_out)
        out.append(f"HL7 in (HIS -> procsuite): {len(self.hl7_in)} messages, ACKs {acks_in}")
        out.append(f"HL7 out (procsuite -> HIS): {len(self.hl7_out)} messages, ACKs {acks_out}")
        for msg in self.hl7_out:
            what = f"{msg['kind']} {msg['status']}".rstrip()
            out.append(f"  {what:<11} {msg['accession']} {msg['ack']}")
        problems = self.problems()
        if self.interrupted:
            out.append("result: interrupted before the day was over")
        elif problems:
            out.append(f"result: {len(problems)} problem(s)")
            out += [f"  - {p}" for p in problems]
        else:
            out.append("result: ok")
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = self.problems()
        data["ok"] = self.ok
        return data

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")


def _count(codes: Any) -> str:
    tally: dict[str, int] = {}
    for code in codes:
        tally[code] = tally.get(code, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(tally.items())) or "none"


def local_time(at: datetime) -> str:
    return at.isoformat(timespec="seconds")
