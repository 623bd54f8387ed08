"""`procsuite simulate his ...`: the simulated hospital information system's commands."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path

import click

from simulators.cli_common import run_until_signal
from simulators.clock import SimClock
from simulators.day_list import default_day, load_day, save_day
from simulators.his import HisError, HisSender
from simulators.his_receiver import Behaviour, HisReceiver


@click.group()
def his() -> None:
    """The hospital information system: sends ADT and orders, receives status and results."""


@his.command("send-day")
@click.option("--host", default="127.0.0.1", show_default=True, help="procsuite's HL7 host.")
@click.option("--port", default=2575, show_default=True, help="procsuite's HL7 (MLLP) port.")
@click.option("--date", "on", default=None, help="Day of the list (YYYY-MM-DD; default today).")
@click.option("--rooms", default="IR1,IR2", show_default=True, help="Rooms, comma-separated.")
@click.option("--per-room", default=2, show_default=True, help="Cases per room.")
@click.option(
    "--seed", default=1, show_default=True, help="Which fictional patients and accessions."
)
@click.option(
    "--day-file",
    default=None,
    type=click.Path(exists=True, path_type=Path),
    help="Read the list from this JSON file.",
)
@click.option(
    "--save-day",
    "save_to",
    default=None,
    type=click.Path(path_type=Path),
    help="Write the list sent to this JSON file.",
)
@click.option(
    "--cancel",
    "cancels",
    multiple=True,
    help="Then cancel the order with this accession (repeatable).",
)
@click.option("--pace", default=0.0, show_default=True, help="Simulated seconds between two cases.")
@click.option("--speed", default=1.0, show_default=True, help="Simulated seconds per real second.")
def send_day(
    host: str,
    port: int,
    on: str | None,
    rooms: str,
    per_room: int,
    seed: int,
    day_file: Path | None,
    save_to: Path | None,
    cancels: tuple[str, ...],
    pace: float,
    speed: float,
) -> None:
    """Register the day's patients (ADT^A04) and send their orders (ORM^O01 NW)."""
    clock = SimClock(speed=speed)
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    if day_file is not None:
        cases = load_day(day_file)
    else:
        try:
            day = date.fromisoformat(on) if on else clock.now().astimezone(zone).date()
        except ValueError:
            raise click.BadParameter(f"{on!r} is not YYYY-MM-DD", param_hint="--date") from None
        cases = default_day(
            day,
            rooms=[r.strip() for r in rooms.split(",") if r.strip()],
            per_room=per_room,
            zone=zone,
            seed=seed,
        )
    by_accession = {c.accession: c for c in cases}
    unknown = [a for a in cancels if a not in by_accession]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)}: not on the day's list", param_hint="--cancel"
        )
    if save_to is not None:
        save_day(save_to, cases)

    async def main(stop: asyncio.Event) -> int:
        failures = 0
        async with HisSender(clock=clock, host=host, port=port) as sender:
            for sent in await sender.send_day(cases, pace_s=pace):
                failures += not sent.ack.accepted
                click.echo(
                    f"{sent.kind:<12} {sent.accession}  {sent.ack.code} {sent.ack.text}".rstrip()
                )
            for accession in cancels:
                sent = await sender.cancel(by_accession[accession])
                failures += not sent.ack.accepted
                click.echo(
                    f"{sent.kind:<12} {sent.accession}  {sent.ack.code} {sent.ack.text}".rstrip()
                )
        return failures

    try:
        failures = run_until_signal(main)
    except HisError as exc:
        raise click.ClickException(str(exc)) from None
    if failures:
        raise click.ClickException(f"{failures} message(s) were not accepted (AE/AR)")


@his.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2576, show_default=True, help="MLLP port procsuite sends to.")
@click.option("--down", is_flag=True, help="Do not listen (procsuite must queue and retry).")
@click.option(
    "--down-for", default=None, type=float, help="With --down: come up after this many seconds."
)
@click.option("--slow", default=0.0, show_default=True, help="Seconds to wait before each ACK.")
@click.option(
    "--ae", "ae_count", default=0, show_default=True, help="Answer AE to the first N messages."
)
@click.option("--ae-for", default=None, type=float, help="Answer AE for this many seconds.")
@click.option(
    "--journal",
    default=None,
    type=click.Path(path_type=Path),
    help="Append every message to this JSONL file.",
)
@click.option(
    "--duration", default=None, type=float, help="Stop after this many seconds (default: Ctrl-C)."
)
@click.option("--speed", default=1.0, show_default=True, help="Simulated seconds per real second.")
def receive(
    host: str,
    port: int,
    down: bool,
    down_for: float | None,
    slow: float,
    ae_count: int,
    ae_for: float | None,
    journal: Path | None,
    duration: float | None,
    speed: float,
) -> None:
    """Receive procsuite's order status and result messages and ACK them."""
    clock = SimClock(speed=speed)
    receiver = HisReceiver(
        clock=clock,
        host=host,
        port=port,
        journal=journal,
        behaviour=Behaviour(slow_s=slow, ae_next=ae_count),
    )
    if down:
        receiver.go_down(for_s=down_for)
    if ae_for:
        receiver.answer_ae(count=ae_count, for_s=ae_for)

    async def main(stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(receiver.run(stop))
            if duration is not None:
                try:
                    async with asyncio.timeout(duration / speed):
                        await stop.wait()
                except TimeoutError:
                    stop.set()

    run_until_signal(main)
    acks = ", ".join(f"{k} {v}" for k, v in sorted(receiver.stats.acks.items())) or "none"
    click.echo(f"HIS receiver: {receiver.stats.received} message(s) received; ACKs: {acks}")
