"""The case script: a whole case driven through the service's MQTT command channel.

The plan is checked against the domain's own rules first (no I/O); then the script runs
against a real service (procsuite.bootstrap.Service, its MQTT adapter on a real mosquitto) on a
simulated clock shared with it, and the store says what happened: every step by the right
user from MQTT, at the times the script stamped. The command-line client runs against a
service on real time with its timeline in the past.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.mqtt.command_codec import field_word
from procsuite.bootstrap import Service
from procsuite.cli import main
from simulators.case_plan import Pace, Role, plan_case, with_gap
from simulators.case_script import (
    CaseScript,
    CaseScriptError,
    ImageMode,
    ImagesByScript,
    ServicePacedClock,
    has_image_after_last_injection,
)
from simulators.clock import SimClock
from simulators.mqtt_commands import CommandLink, Reply
from suite.app.steps import parse_step
from suite.domain import commands as c
from suite.domain.case import Case, replay
from suite.domain.envelope import Source
from suite.domain.values import Patient, Phase, Procedure, Sex, phases_for
from suite.domain.workflow import decide
from suite.settings import load_settings
from suite.store import cases as case_store
from tests.peers import Mosquitto
from tests.scenarios import schedule

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
USERS = {"tech1": "technologist", "nurse1": "nurse", "rad1": "radiologist"}
FAST = Pace(discharge_s=660.0).scaled(0.25)  # the service below: 600 s of stable vitals


# ---- the plan, against the domain's rules (no I/O) ------------------------------------------


def _commands(plan_steps: Any, start: datetime) -> list[tuple[str, c.Command]]:
    """The commands the service makes of the plan's steps (the MQTT adapter's word form)."""
    at, out = start, []
    for step in plan_steps:
        at += timedelta(seconds=step.gap_s)
        if step.step == "imaging-check":  # the image the check needs (ImagesByScript LOG)
            out.append(("tech1", c.LinkImage(at=at, sop_instance_uid="2.25.1", modality="XA")))
        words = [field_word(k, v) for k, v in step.fields.items()]
        out.append((step.role.value, parse_step(step.step, words, at=at)))
    return out


@pytest.mark.parametrize(
    ("procedure", "levels"),
    [("kyphoplasty", ("T12", "L1")), ("vertebroplasty", ("L2",)), ("kyphoplasty", ("L1",))],
)
def test_the_plan_passes_every_workflow_guard_to_discharge(
    procedure: str, levels: tuple[str, ...]
) -> None:
    plan = plan_case(procedure, levels, radiologist="rad1")
    case: Case | None = replay(
        "k1", [e for e in decide(None, schedule(T0, procedure=Procedure(procedure), levels=levels), now=T0)]
    )  # fmt: skip
    commands = _commands(plan.steps, T0)
    for _role, command in commands:
        assert case is not None
        for event in decide(case, command, now=command.at):
            case = case.apply(event)
    assert case is not None and case.phase is Phase.DISCHARGED
    assert [p for p, _ in case.phase_history] == list(phases_for(Procedure(procedure)))
    assert {str(lv) for lv, s in case.levels if s.has_cement} == set(levels)


def test_each_step_is_logged_by_the_role_that_does_it() -> None:
    plan = plan_case("kyphoplasty", ("T12", "L1"), radiologist="rad1")
    roles = {s.step: s.role for s in plan.steps}
    assert roles["time-out"] is roles["imaging-check"] is Role.RADIOLOGIST
    assert roles["check-in"] is roles["sedation"] is roles["discharge"] is Role.NURSE
    assert roles["trocar"] is roles["cement"] is roles["balloon"] is Role.TECHNOLOGIST
    assert plan.steps[plan.index_of("time-out")].fields["signed_by"] == "rad1"
    vertebro = plan_case("vertebroplasty", ("L2",), radiologist="rad1")
    assert not {"balloon", "balloon-out"} & {s.step for s in vertebro.steps}
    # About 50 minutes to recovery for two levels, then the stable-vitals hour.
    assert 100 * 60 < plan.duration_s < 130 * 60


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("lithotripsy", ("L1",)), "not one of"),
        (("kyphoplasty", ()), "at least one"),
        (("kyphoplasty", ("L1", "l1")), "twice"),
    ],
)
def test_a_bad_plan_says_what_is_wrong(args: tuple[str, tuple[str, ...]], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        plan_case(*args, radiologist="rad1")


def test_the_script_never_stamps_ahead_of_the_service_clock() -> None:
    real = [0.0]
    sim = SimClock(start=T0 - timedelta(minutes=10), speed=60, monotonic=lambda: real[0])
    paced = ServicePacedClock(sim, lambda: T0 + timedelta(seconds=real[0]), max_ahead_s=60)
    assert paced.now() == T0 - timedelta(minutes=10)
    real[0] = 5.0  # 5 min simulated: still in the past, at full speed
    assert paced.now() == T0 - timedelta(minutes=5) and not paced.caught_up
    real[0] = 12.0  # it would be 2 min ahead: held at the service's clock + 60 s
    assert paced.now() == T0 + timedelta(seconds=72) and paced.caught_up
    real[0] = 100.0
    assert paced.now() == T0 + timedelta(seconds=160)


def test_an_image_after_the_last_injection_is_what_the_check_needs() -> None:
    case = {
        "levels": [{"injections": [{"at": "2026-11-24T09:00:00Z"}]}, {"injections": []}],
        "images": [{"at": "2026-11-24T08:59:00Z"}],
    }
    assert not has_image_after_last_injection(case)
    case["images"].append({"at": "2026-11-24T09:00:00.000Z"})
    assert has_image_after_last_injection(case)


# ---- the script against the service -------------------------------------------------------------


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, broker: Mosquitto, clock: Any, **workflow: Any
) -> AsyncIterator[Service]:
    settings = load_settings(
        data_dir=tmp_path / "var",
        mqtt_url=broker.url,
        site="cs",
        rooms=["IR1", "IR2"],
        users=USERS,
        dicom={"enabled": False},
        hl7={"enabled": False},
        mqtt={"state_interval_s": 0.1},
        workflow={"recovery_stable_vitals_s": 600, **workflow},
    )
    service = Service(settings, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with asyncio.timeout(30):
            await service.ready.wait()
        yield service
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await task


@contextlib.asynccontextmanager
async def team(broker: Mosquitto, *, rad: str = "rad1") -> AsyncIterator[dict[Role, CommandLink]]:
    async with (
        CommandLink(broker.url, site="cs", user="tech1", watch_rooms=True) as tech,
        CommandLink(broker.url, site="cs", user="nurse1") as nurse,
        CommandLink(broker.url, site="cs", user=rad) as radiologist,
    ):
        yield {Role.TECHNOLOGIST: tech, Role.NURSE: nurse, Role.RADIOLOGIST: radiologist}


async def scheduled(
    service: Service, clock: Any, *, accession: str = "ACC1", birth: date | None = None
) -> str:
    assert service.ctx is not None
    command = schedule(clock.now(), accession=accession)
    if birth is not None:
        patient = Patient(mrn="MRN9", name="YOUNG^EVA", birth_date=birth, sex=Sex.FEMALE)
        command = c.ScheduleCase(
            at=command.at, patient=patient, order=command.order, room="IR1",
            scheduled_at=command.scheduled_at,
        )  # fmt: skip
    case_id = service.ctx.cases.new_case_id()
    await service.ctx.cases.execute(case_id, command, actor="his", source=Source.HL7)
    return case_id


async def history(service: Service, case_id: str) -> list[Any]:
    assert service.ctx is not None
    async with service.ctx.db.session() as session:
        return await case_store.load(session, case_id)


@pytest.mark.mosquitto
@pytest.mark.asyncio
async def test_a_whole_case_runs_through_the_command_channel_as_its_team(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = SimClock(start=T0, speed=300)
    async with running(tmp_path, mosquitto, clock) as service, team(mosquitto) as links:
        case_id = await scheduled(service, clock)
        plan = plan_case("kyphoplasty", ("T12", "L1"), radiologist="rad1", pace=FAST)
        seen: list[str] = []
        script = CaseScript(
            plan,
            case_ref="ACC1",  # the accession number is enough
            links=links,
            clock=clock,
            hooks=[ImagesByScript(ImageMode.LOG)],
            on_step=lambda s: seen.append(s.label),
        )
        async with asyncio.timeout(60):
            await script.run()
        assert script.done and script.case_id == case_id
        records = await history(service, case_id)
    case = replay(case_id, [r.event for r in records])
    assert case is not None and case.phase is Phase.DISCHARGED
    assert [p for p, _ in case.phase_history] == list(phases_for(Procedure.KYPHOPLASTY))
    steps = records[1:]  # after the HIS's scheduling
    assert {r.source for r in steps} == {Source.MQTT}
    actor = {type(r.event).__name__: r.actor for r in steps}
    assert actor["TimeOutSigned"] == actor["ImagingCheckRecorded"] == "rad1"
    assert actor["CheckedIn"] == actor["SedationGiven"] == actor["PatientDischarged"] == "nurse1"
    assert actor["TrocarPlaced"] == actor["CementInjected"] == actor["ImageLinked"] == "tech1"
    # Every event carries the time the script stamped, in order, the plan's gaps apart.
    stamps = [s.at for s in script.logged]
    assert [r.event.at for r in steps] == stamps
    assert stamps == sorted(stamps) and stamps[0] >= T0
    # A step is never earlier than its planned gap after the one before (later only when the
    # service's answer to the previous one took longer than the gap).
    planned = [s for s in script.logged if s.label != "image"]
    for step, before, after in zip(plan.steps[1:], planned[:-1], planned[1:], strict=True):
        assert (after.at - before.at).total_seconds() >= step.gap_s - 1e-3, step.label
    assert planned[-1].label == "discharge"
    assert (planned[-1].at - planned[-2].at).total_seconds() >= 660  # stable-vitals time
    assert len(seen) == len(plan.steps) + 1  # and the image


@pytest.mark.mosquitto
@pytest.mark.asyncio
async def test_refusals_take_the_fallback_wait_for_discharge_and_stop_with_the_reason(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = SimClock(start=T0, speed=300)
    async with (
        running(tmp_path, mosquitto, clock, recovery_stable_vitals_s=900) as service,
        team(mosquitto) as links,
    ):
        # A woman of 40: "pregnancy status not applicable" is refused; the script records it
        # done. Discharge comes 660 s after recovery but 900 s are needed: it waits, retries.
        case_id = await scheduled(service, clock, birth=date(1986, 5, 1))
        plan = plan_case("kyphoplasty", ("T12", "L1"), radiologist="rad1", pace=FAST)
        script = CaseScript(
            plan, case_ref=case_id, links=links, clock=clock, hooks=[ImagesByScript(ImageMode.LOG)]
        )
        async with asyncio.timeout(60):
            await script.run()
        assert script.done
        case = service.ctx.cases.get(case_id)  # type: ignore[union-attr]
        assert case is not None
        assert ("pregnancy_status", "done") in {(i.value, s.value) for i, s, _ in case.checklist}
        recovery = case.phase_started_at(Phase.RECOVERY)
        discharged = case.phase_started_at(Phase.DISCHARGED)
        assert recovery is not None and discharged is not None
        assert (discharged - recovery).total_seconds() >= 900

        # The time-out signed by someone who is not a radiologist stops the script, in words.
        await scheduled(service, clock, accession="ACC2")
        wrong = {**links, Role.RADIOLOGIST: links[Role.TECHNOLOGIST]}
        script = CaseScript(plan, case_ref="ACC2", links=wrong, clock=clock, label="IR1 ACC2")
        with pytest.raises(CaseScriptError) as refused:
            async with asyncio.timeout(60):
                await script.run()
        assert "IR1 ACC2: time-out by tech1 refused (permission)" in str(refused.value)
        assert script.phase == "pre_procedure"


@pytest.mark.mosquitto
@pytest.mark.asyncio
async def test_a_step_overtaken_by_another_event_is_stamped_again(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    clock = SimClock(start=T0, speed=300)

    class NoteAhead:
        """Before closure, someone logs a note stamped a little later than now."""

        async def before(self, step: Any, script: CaseScript) -> None:
            if step.step == "close":
                reply = await script.log(
                    "note",
                    {"kind": "comment", "text": "family waiting"},
                    role=Role.NURSE,
                    at=clock.now() + timedelta(seconds=100),
                )
                assert reply.ok, reply

        async def after(self, step: Any, reply: Reply, script: CaseScript) -> None:
            return None

    async with running(tmp_path, mosquitto, clock) as service, team(mosquitto) as links:
        case_id = await scheduled(service, clock)
        plan = plan_case("kyphoplasty", ("T12", "L1"), radiologist="rad1", pace=FAST)
        # The closure comes right after the imaging check here, before the note's time.
        plan = with_gap(plan, plan.index_of("close"), 0.0)
        script = CaseScript(
            plan, case_ref=case_id, links=links, clock=clock,
            hooks=[ImagesByScript(ImageMode.LOG), NoteAhead()],
        )  # fmt: skip
        async with asyncio.timeout(60):
            await script.run()
        assert script.done and script.restamped >= 1


# ---- the command-line client against a service on real time --------------------------------


@pytest.mark.mosquitto
@pytest.mark.slow
@pytest.mark.asyncio
async def test_simulate_case_replays_an_earlier_case_fast_against_a_real_time_service(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    real_now = datetime.now(UTC)
    async with running(tmp_path, mosquitto, lambda: datetime.now(UTC)) as service:
        assert service.ctx is not None
        case_id = service.ctx.cases.new_case_id()
        await service.ctx.cases.execute(
            case_id,
            schedule(real_now - timedelta(hours=1), accession="ACC7"),
            actor="his",
            source=Source.HL7,
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; from procsuite.cli import main; sys.exit(main())",
            "simulate", "--log-level", "WARNING", "case", "--accession", "ACC7",
            "--procedure", "kyphoplasty", "--levels", "T12,L1", "--mqtt-url", mosquitto.url,
            "--site", "cs", "--start", "-50m", "--speed", "600", "--pace", "0.2",
            "--recovery-s", "600",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
        text = out.decode()
        assert proc.returncode == 0, text + err.decode()
        assert f"case {case_id} discharged" in text
        assert "time-out" in text and "by rad1 -> time_out" in text
        records = await history(service, case_id)
    ats = [r.event.at for r in records[1:]]
    # The whole case lies in the past, 50 minutes back from the service's clock on.
    assert min(ats) >= real_now - timedelta(minutes=51)
    assert max(ats) <= datetime.now(UTC)
    assert records[-1].event.__class__.__name__ == "PatientDischarged"


def test_simulate_case_has_help_and_checks_its_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["simulate", "case", "--help"]) == 0
    assert "--max-ahead" in capsys.readouterr().out
    code = main(["simulate", "case", "--procedure", "kyphoplasty", "--levels", "L1"])
    assert code == 2 and "--case-id or by --accession" in capsys.readouterr().err
