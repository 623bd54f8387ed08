"""Things that happen to the simulated patient during a case, when the case gets there.

A monitor's scenarios (scenarios.py) are fixed when it starts, on the monitor's own time.
In a scripted case the moment is a step, not a time: the embolism comes with the cement,
the oversedation after the sedation. `EventfulMonitorModel` lets a scenario start during the
run; `PatientEvent` is the case-script hook that starts it after its step, and then holds the
case (as a team would) until the room has no open patient alarm left: raised, acknowledged
by the nurse, and cleared once the patient recovered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulators.case_plan import PlannedStep
from simulators.case_script import CaseScript
from simulators.clock import SimClock
from simulators.monitor_model import MonitorModel
from simulators.mqtt_commands import CommandLink, Reply
from simulators.scenarios import DEFAULT_DURATION_S, DEFAULT_VALUE, Kind, Scenario

log = logging.getLogger(__name__)

# What each event is called on the progress lines.
EVENT_WORDS = {
    Kind.EMBOLISM: "cement embolism",
    Kind.OVERSEDATION: "oversedation (respiratory depression, then desaturation)",
    Kind.VASOVAGAL: "vasovagal reaction",
}


class EventfulMonitorModel(MonitorModel):
    """A `MonitorModel` whose patient can get a scenario while the monitor runs."""

    def start_scenario(
        self, kind: Kind, *, at: datetime, duration_s: float | None = None
    ) -> Scenario:
        """Add `kind` from `at` (device time without skew) for `duration_s` (default: the
        kind's). Ticks before `at` are unchanged: the model is a pure function of time."""
        start_s = max(0.0, (at - self.start_at).total_seconds())
        scenario = Scenario(
            kind,
            start_s=start_s,
            duration_s=duration_s if duration_s is not None else DEFAULT_DURATION_S[kind],
            value=DEFAULT_VALUE.get(kind),
        )
        # The constructor derives the patient and the cuff's stat times from the scenarios.
        MonitorModel.__init__(
            self,
            start_at=self.start_at,
            scenarios=(*self.scenarios, scenario),
            seed=self.seed,
            rate_hz=self.rate_hz,
            nibp_interval_s=self.nibp_interval_s,
            nibp_measure_s=self.nibp_measure_s,
            baseline=self.baseline,
        )
        return scenario


def patient_alarms(state: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The open alarms about the patient (not the devices) in a room snapshot."""
    if not state:
        return []
    return [a for a in state.get("alarms") or () if a.get("category") != "technical"]


@dataclass(kw_only=True)
class PatientEvent:
    """Starts `kind` on the room's monitor after `step` (on `level`), then holds the case
    until the alarms it caused are over (bounded by `hold_max_s` simulated seconds)."""

    room: str
    step: str
    kind: Kind
    model: EventfulMonitorModel
    watch: CommandLink  # with watch_rooms
    clock: SimClock
    level: str | None = None
    duration_s: float | None = None
    hold_max_s: float = 1800.0
    progress: Callable[[str], None] = field(default=lambda _text: None)
    started_at: datetime | None = None
    alarms_seen: int = 0

    async def before(self, step: PlannedStep, script: CaseScript) -> None:
        return None

    async def after(self, step: PlannedStep, reply: Reply, script: CaseScript) -> None:
        if step.step != self.step or (self.level and step.level != self.level):
            return
        if self.started_at is not None:
            return
        self.started_at = self.clock.now()
        scenario = self.model.start_scenario(
            self.kind, at=self.started_at, duration_s=self.duration_s
        )
        self.progress(
            f"{self.room} patient: {EVENT_WORDS.get(self.kind, self.kind.value)} begins"
            f" (simulated, {scenario.duration_s or 0:.0f} s)"
        )
        limit_s = self.hold_max_s / self.clock.speed + 10.0
        try:
            await self.watch.wait_state(
                lambda states: patient_alarms(states.get(self.room)), timeout_s=limit_s
            )
            self.alarms_seen = len(patient_alarms(self.watch.state(self.room)))
            # The episode runs its course before the team goes on (alarms may come in waves).
            end = self.started_at + timedelta(seconds=scenario.duration_s or 0.0)
            await self.clock.sleep_until(end)
            await self.watch.wait_state(
                lambda states: not patient_alarms(states.get(self.room)), timeout_s=limit_s
            )
        except TimeoutError:
            log.warning(
                "%s: the alarms of the %s did not come and go within %.0f s; going on",
                self.room,
                self.kind.value,
                limit_s,
            )
            self.progress(f"{self.room} patient: the {self.kind.value} alarms did not settle")
            return
        self.progress(f"{self.room} patient: stable again, no patient alarm open; case goes on")
