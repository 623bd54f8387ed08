"""`procsuite dicom ...`: what IT needs at the terminal: the unmatched list, assigning an
instance to its case, the PACS queue, and C-ECHO to test a peer."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import click
from pynetdicom import AE

from adapters.dicom import sop
from adapters.dicom.dose import DoseKeeper
from adapters.dicom.linker import Linker
from suite.app.case_service import CaseService
from suite.app.image_assignment import AssignError, assign
from suite.bus import Bus
from suite.cli_settings import settings_of as _settings
from suite.domain.alarms.model import AlarmRaised
from suite.settings import Settings
from suite.store import dicom_forward, dicom_instances
from suite.store.database import Database
from suite.store.running import running_database

T = TypeVar("T")


async def _with_store(
    settings: Settings, fn: Callable[[CaseService, Database, Bus], Awaitable[T]]
) -> T:
    from suite.clock import utc_now

    async with running_database(settings.database_url) as database:
        bus = Bus()
        cases = CaseService(database, bus, clock=utc_now, policy=settings.workflow.policy())
        await cases.load()
        return await fn(cases, database, bus)


@click.group("dicom")
def dicom_group() -> None:
    """DICOM: unmatched instances, the PACS queue, C-ECHO."""


@dicom_group.command("unmatched")
@click.pass_context
def unmatched(ctx: click.Context) -> None:
    """Stored instances that match no case (oldest first)."""

    async def go(_cases: CaseService, database: Database, _bus: Bus) -> list[str]:
        return [
            f"{r.received_at:%Y-%m-%d %H:%M:%S}  {r.sop_instance_uid}  {r.modality or '-':<3}"
            f" {sop.storage_name(r.sop_class_uid)}  patient {r.patient_id or '-'}"
            f"  accession {r.accession or '-'}  from {r.calling_ae}"
            for r in await dicom_instances.unmatched(database)
        ]

    lines = asyncio.run(_with_store(_settings(ctx), go))
    click.echo("\n".join(lines) if lines else "no unmatched instances")


@dicom_group.command("assign")
@click.argument("sop_instance_uid")
@click.argument("case_id")
@click.option("--force", is_flag=True, help="Move an instance already matched to another case.")
@click.pass_context
def assign_command(ctx: click.Context, sop_instance_uid: str, case_id: str, force: bool) -> None:
    """Give a stored instance its case; the image is linked and the dose updated."""
    settings = _settings(ctx)

    async def go(cases: CaseService, database: Database, bus: Bus) -> str:
        from suite.clock import utc_now

        found = cases.get(case_id) or cases.by_accession(case_id)
        if found is None:
            raise click.ClickException(f"no case {case_id}")
        try:
            done = await assign(
                db=database,
                cases=cases,
                sop_instance_uid=sop_instance_uid,
                case_id=found.case_id,
                force=force,
                user=getpass.getuser(),
                source="cli",
                at=datetime.now().astimezone(),
            )
        except AssignError as exc:
            raise click.ClickException(str(exc)) from None
        alarms = bus.subscribe("cli-dose-alarms", AlarmRaised)
        dose = DoseKeeper(
            db=database,
            cases=cases,
            bus=bus,
            clock=utc_now,
            thresholds=settings.dose.thresholds(),
        )
        await Linker(db=database, cases=cases, dose=dose, clock=utc_now).link_pending()
        if done.previous_case_id and done.previous_case_id != found.case_id:
            await dose.update(done.previous_case_id, actor="cli")
        lines = [f"instance {sop_instance_uid} assigned to case {found.case_id}"]
        while not alarms.queue.empty():
            alarm = alarms.get_nowait()
            lines.append(f"dose alarm {alarm.kind}: {alarm.message}")
        return "\n".join(lines)

    click.echo(asyncio.run(_with_store(settings, go)))


@dicom_group.command("queue")
@click.pass_context
def queue(ctx: click.Context) -> None:
    """How the PACS forward queue stands."""

    async def go(_cases: CaseService, database: Database, _bus: Bus) -> str:
        state = await dicom_forward.queue_state(database)
        lines = [f"waiting {state.waiting} (failing {state.failing}), sent {state.sent}"]
        if state.oldest_waiting is not None:
            lines.append(f"oldest waiting since {state.oldest_waiting:%Y-%m-%d %H:%M:%S}")
        if state.last_error:
            lines.append(f"last error: {state.last_error}")
        return "\n".join(lines)

    click.echo(asyncio.run(_with_store(_settings(ctx), go)))


@dicom_group.command("echo")
@click.option("--host", default=None, help="Peer host (default: our own listener).")
@click.option("--port", type=int, default=None, help="Peer port (default: our own).")
@click.option("--aet", "called", default=None, help="Peer AE title (default: ours).")
@click.option("--calling", default=None, help="Our calling AE title (default: ours).")
@click.pass_context
def echo(
    ctx: click.Context, host: str | None, port: int | None, called: str | None, calling: str | None
) -> None:
    """C-ECHO a DICOM peer (the PACS, a modality, or procsuite itself)."""
    settings = _settings(ctx)
    host = host or settings.dicom.host
    port = port or settings.dicom_port
    ae = AE(ae_title=calling or settings.dicom.ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = settings.dicom.timeout_s
    ae.add_requested_context(sop.VERIFICATION)
    assoc = ae.associate(host, port, ae_title=called or settings.dicom.ae_title)
    if not assoc.is_established:
        why = "rejected the association" if assoc.is_rejected else "did not answer"
        raise click.ClickException(f"{host}:{port} {why}")
    try:
        answer = assoc.send_c_echo()
    finally:
        assoc.release()
    code = int(answer.Status) if "Status" in answer else None
    if code != 0:
        raise click.ClickException(f"C-ECHO to {host}:{port} failed: {answer}")
    click.echo(f"C-ECHO {host}:{port} ok")
