"""A whole case driven step by step through the service's MQTT command channel, as the suite's
team would log it from their terminals (the channel the dashboard uses: `log_step` with the
step's fields and its time `at`, each as the user of the role that logs it).

Time. Every step is stamped on the script's simulated clock at its planned time, `gap_s`
(case_plan.py) after the previous step (or when it is sent, when a hook held the team up
longer than that), so all the `at` of one run are consistent and in order. The
service refuses a step stamped more than two minutes ahead of its own clock (its future-time
guard), so the clock the script stamps with must not run ahead of the service's:

- in the demo, the service runs on the same `SimClock`: any speed works;
- against a real-time `procsuite serve`, `ServicePacedClock` runs at `--speed` only while it
  is behind the service's clock (as the service reports it on MQTT) and at the service's
  pace once it has caught up. Start the timeline in the past (`--start -90m`) to run a case
  fast that was scheduled earlier: it finishes at about the service's present.

Refusals. A step refused because an event of the case (an image linked by the DICOM side)
came in between its stamp and its arrival is stamped again and resent; a step without an
answer is resent with the same command id (the service answers a repeated id once); a guard
refusal takes the step's `fallback` or waits and retries (discharge); anything else stops the
script with `CaseScriptError` naming the step, the user and the service's words.

Hooks (`StepHook`) run before and after each step: the demo's fluoroscopy unit sends its
images there, the scripted patient events start there, and `ImagesByScript` provides the
image the imaging check needs when no modality is present.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from simulators.case_plan import CasePlan, PlannedStep, Role
from simulators.clock import SimClock
from simulators.mqtt_commands import OFFLINE, TIMEOUT, CommandLink, Reply

log = logging.getLogger(__name__)


class CaseScriptError(Exception):
    """The case cannot go on: the message names the step, the user and why."""


class ScriptClock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, at: datetime, *, stop: asyncio.Event | None = None) -> bool: ...


class StepHook(Protocol):
    """Something that happens around the steps (devices, patient events)."""

    async def before(self, step: PlannedStep, script: CaseScript) -> None: ...

    async def after(self, step: PlannedStep, reply: Reply, script: CaseScript) -> None: ...


@dataclass(frozen=True, slots=True)
class LoggedStep:
    """A step the service accepted."""

    label: str
    user: str
    at: datetime
    phase: str
    previous_phase: str | None
    events: tuple[str, ...] = ()


class ServicePacedClock:
    """The simulated clock of a script run against a service on real time: `sim` (at its
    speed) while behind the service's clock, never more than `max_ahead_s` ahead of it."""

    def __init__(
        self,
        sim: SimClock,
        service_now: Callable[[], datetime],
        *,
        max_ahead_s: float = 60.0,
        poll_s: float = 1.0,
    ) -> None:
        self.sim = sim
        self.service_now = service_now
        self.max_ahead_s = max_ahead_s
        self.poll_s = poll_s
        self.caught_up = False

    def now(self) -> datetime:
        sim_now = self.sim.now()
        cap = self.service_now() + timedelta(seconds=self.max_ahead_s)
        if sim_now >= cap:
            if not self.caught_up:
                self.caught_up = True
                log.info("case script: caught up with the service's clock; real time from now")
            return cap
        return sim_now

    async def sleep_until(self, at: datetime, *, stop: asyncio.Event | None = None) -> bool:
        while True:
            now = self.now()
            if now >= at:
                return False
            rate = 1.0 if self.caught_up else self.sim.speed
            delay = min((at - now).total_seconds() / rate, self.poll_s)
            if stop is None:
                await asyncio.sleep(delay)
                continue
            try:
                async with asyncio.timeout(delay):
                    await stop.wait()
                return True
            except TimeoutError:
                continue


def wire_time(at: datetime) -> str:
    """ISO 8601 with the zone, microseconds kept (the service compares times exactly)."""
    return at.isoformat()


class CaseScript:
    """Runs a `CasePlan` on the case `case_ref` (its id or its accession number)."""

    def __init__(
        self,
        plan: CasePlan,
        *,
        case_ref: str,
        links: Mapping[Role, CommandLink],
        clock: ScriptClock,
        hooks: Sequence[StepHook] = (),
        on_step: Callable[[LoggedStep], None] | None = None,
        label: str = "",
        attempts: int = 8,
    ) -> None:
        missing = {s.role for s in plan.steps} - set(links)
        if missing:
            raise ValueError(f"no user for role(s) {', '.join(sorted(missing))}")
        self.plan = plan
        self.case_ref = case_ref
        self.links = links
        self.clock = clock
        self.hooks = list(hooks)
        self.on_step = on_step
        self.label = label or case_ref
        self.attempts = attempts
        self.case_id: str | None = None
        self.phase: str | None = None
        self.last_at: datetime | None = None
        self.logged: list[LoggedStep] = []
        self.resent = 0
        self.restamped = 0
        self._sent_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.phase == "discharged"

    async def run(self, stop: asyncio.Event | None = None) -> list[LoggedStep]:
        """Log every step of the plan in order; returns what was logged (fewer steps when
        `stop` was set first). `CaseScriptError` when the service refuses for good."""
        for step in self.plan.steps:
            for hook in self.hooks:
                await hook.before(step, self)
            planned: datetime | None = None
            if self.last_at is not None:
                target = self.last_at + timedelta(seconds=step.gap_s)
                # On time, the step happens at its planned time; held up (a hook waited for
                # a device or the patient), it happens now.
                planned = target if self.clock.now() < target else None
                if await self.clock.sleep_until(target, stop=stop):
                    break
            if stop is not None and stop.is_set():
                break
            reply = await self.log_planned(step, stop=stop, at=planned)
            if reply is None:
                break
            for hook in self.hooks:
                await hook.after(step, reply, self)
        return self.logged

    async def log_planned(
        self, step: PlannedStep, *, stop: asyncio.Event | None = None, at: datetime | None = None
    ) -> Reply | None:
        """Log one planned step stamped `at` (default: now), handling refusals as the module
        docstring says (None when `stop` was set while waiting to retry)."""
        fields: Mapping[str, Any] = step.fields
        waited_s = 0.0
        restamps = 0
        while True:
            reply = await self.log(step.step, fields, role=step.role, at=at)
            at = None  # any attempt after the first is stamped when it is sent
            if reply.ok:
                self._logged(step.label, step.role, reply)
                return reply
            if reply.rule == "invalid-time" and restamps < self.attempts:
                # An event of the case (an image linked) came after our stamp: stamp again.
                restamps += 1
                self.restamped += 1
                await asyncio.sleep(0.02 * restamps)
                continue
            if reply.rule == "guard" and step.fallback is not None and fields is not step.fallback:
                log.info(
                    "%s: %s refused (%s); logging the fallback", self.label, step.label, reply.error
                )
                fields = step.fallback
                continue
            if reply.rule == "guard" and step.retry_every_s and waited_s < step.retry_for_s:
                log.info(
                    "%s: %s refused (%s); again in %.0f s",
                    self.label,
                    step.label,
                    reply.error,
                    step.retry_every_s,
                )
                waited_s += step.retry_every_s
                target = self.clock.now() + timedelta(seconds=step.retry_every_s)
                if await self.clock.sleep_until(target, stop=stop):
                    return None
                continue
            raise CaseScriptError(
                f"{self.label}: {step.label} by {self.links[step.role].user} refused"
                f" ({reply.rule}): {reply.error}"
            )

    async def log(
        self, step: str, fields: Mapping[str, Any], *, role: Role, at: datetime | None = None
    ) -> Reply:
        """Send one `log_step` as the user of `role`, stamped `at` (default: the clock now).
        A command left without an answer is sent again with the same id (never done twice)."""
        link = self.links[role]
        stamp = at or self.clock.now()
        self._sent_at = stamp
        command_id = f"{link.user}-{uuid.uuid4().hex[:12]}"
        reply = Reply(command_id, False, rule=OFFLINE)
        for _ in range(self.attempts):
            reply = await link.send(
                "log_step",
                command_id=command_id,
                case_id=self.case_ref,
                step=step,
                fields=dict(fields),
                at=wire_time(stamp),
            )
            if reply.rule not in (OFFLINE, TIMEOUT):
                return reply
            self.resent += 1
            log.warning("%s: %s: %s; sending it again", self.label, step, reply.error)
        return reply

    async def log_extra(self, step: str, fields: Mapping[str, Any], *, role: Role) -> Reply:
        """Log a step that is not in the plan (a hook's: the image the check needs), stamped
        now; an accepted one is recorded like the plan's steps."""
        reply = await self.log(step, fields, role=role)
        if reply.ok:
            self._logged(step, role, reply)
        return reply

    def _logged(self, label: str, role: Role, reply: Reply) -> None:
        result = reply.result
        previous = self.phase
        self.case_id = str(result.get("case_id") or self.case_id or "")
        self.phase = str(result.get("phase") or previous or "")
        at = self._sent_at or self.clock.now()
        self.last_at = at if self.last_at is None or at > self.last_at else self.last_at
        entry = LoggedStep(
            label,
            self.links[role].user,
            self.last_at,
            self.phase,
            previous,
            tuple(str(e) for e in result.get("events", ())),
        )
        self.logged.append(entry)
        if self.on_step is not None:
            self.on_step(entry)


class ImageMode(StrEnum):
    LOG = "log"  # the technologist logs an `image` step (no modality in the room)
    WAIT = "wait"  # a modality sends one over DICOM: wait until the case shows it
    NONE = "none"  # do nothing (the service may have the image check guard switched off)


def has_image_after_last_injection(case: Mapping[str, Any]) -> bool:
    """Whether a case snapshot (rooms/<room>/state `case`) shows an image linked at or after
    its last cement injection (what the imaging check needs)."""
    injections = [
        str(inj.get("at"))
        for level in case.get("levels") or ()
        for inj in (level.get("injections") or ())
        if inj.get("at")
    ]
    if not injections:
        return False
    last = max(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in injections)
    for image in case.get("images") or ():
        at = image.get("at")
        if at and datetime.fromisoformat(str(at).replace("Z", "+00:00")) >= last:
            return True
    return False


@dataclass
class ImagesByScript:
    """Provides the image the imaging check needs, before that step (see `ImageMode`)."""

    mode: ImageMode
    watch: CommandLink | None = None  # with watch_rooms, for WAIT
    timeout_s: float = 600.0  # real seconds to wait for the modality's image
    logged: list[str] = field(default_factory=list)

    async def before(self, step: PlannedStep, script: CaseScript) -> None:
        if step.step != "imaging-check" or self.mode is ImageMode.NONE:
            return
        if self.mode is ImageMode.LOG:
            uid = f"2.25.{uuid.uuid4().int}"
            reply = await script.log_extra(
                "image", {"sop_instance_uid": uid, "modality": "XA"}, role=Role.TECHNOLOGIST
            )
            if not reply.ok:
                raise CaseScriptError(
                    f"{script.label}: image refused ({reply.rule}): {reply.error}"
                )
            self.logged.append(uid)
            return
        if self.watch is None:
            raise CaseScriptError("waiting for the modality's image needs the room snapshots")
        ref = script.case_id or script.case_ref

        def shown(_states: dict[str, Any]) -> bool:
            found = self.watch.find_case(ref) if self.watch else None
            return found is not None and has_image_after_last_injection(found[1])

        log.info("%s: waiting for an image after the last cement injection", script.label)
        try:
            await self.watch.wait_state(shown, timeout_s=self.timeout_s)
        except TimeoutError:
            raise CaseScriptError(
                f"{script.label}: no image after the last cement injection reached the case"
                f" within {self.timeout_s:g} s (is a modality sending to procsuite?)"
            ) from None

    async def after(self, step: PlannedStep, reply: Reply, script: CaseScript) -> None:
        return None
