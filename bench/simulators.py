"""How much the simulators can drive from one process, each against an anchor.

- monitor model: ticks/s of `MonitorModel.tick` (physiology, noise, scenarios, the JSON
  payload) for one monitor over an hour with an embolism; anchor: `json.dumps` of a fixed
  payload of the same shape (the floor of producing any message in Python).
- monitors on MQTT against a real mosquitto, QoS 1: 20 monitors at 1 Hz and speed 120 (do
  they keep simulated time: 2,400 msg/s asked), and the same flat out (speed 10,000: how
  many messages/s the simulator process can publish); anchor: one aiomqtt client publishing
  as many payloads back to back.
- XA images: images/s built and encoded (512x512 16-bit pixels + attributes); anchor: the
  pixel generation alone.
- C-STORE: images/s sent to dcmtk's storescp, one association per image as the simulated
  unit does; anchor: the same images in one association.
- HL7: ADT/ORM messages/s from `HisSender` to `HisReceiver` over MLLP on loopback.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
from pydicom import dcmwrite
from pydicom.uid import generate_uid
from pynetdicom import AE

from bench._common import machine, save
from simulators.clock import SimClock
from simulators.day_list import default_day
from simulators.dicom_objects import Equipment, StudyContext, xa_image
from simulators.fluoro_dose import Technique, View, fluoroscopy
from simulators.his import HisSender
from simulators.his_receiver import HisReceiver
from simulators.monitor import Monitor
from simulators.monitor_model import MonitorModel
from simulators.scenarios import parse_all
from simulators.worklist import WorklistItem
from simulators.xray_pixels import spine_frame
from tests.peers import free_port, mosquitto_binary, run_mosquitto, wait_port

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


def model_figures() -> dict[str, Any]:
    m = MonitorModel(start_at=T0, scenarios=parse_all(["embolism@1800+300"]), seed=1)
    n = 3600
    t = time.perf_counter()
    for i in range(n):
        tick = m.tick(i)
        assert tick.message is not None
        tick.message.payload()
    model_s = time.perf_counter() - t
    fixed = {
        "ts": "2026-11-24T09:12:03.250Z",
        "seq": 1,
        "values": {"hr": 72, "spo2": 97, "rr": 14, "etco2": 36, "temp": 36.6},
    }
    t = time.perf_counter()
    for _ in range(n):
        json.dumps(fixed, separators=(",", ":")).encode()
    anchor_s = time.perf_counter() - t
    return {"model_ticks_per_s": rate(n, model_s), "anchor_json_dumps_per_s": rate(n, anchor_s)}


async def fleet_run(url: str, *, monitors: int, sim_s: float, speed: float) -> dict[str, Any]:
    clock = SimClock(start=T0, speed=speed)
    fleet = [
        Monitor(
            MonitorModel(start_at=clock.now(), seed=i),
            room=f"R{i}",
            device="mon1",
            clock=clock,
            mqtt_url=url,
        )
        for i in range(monitors)
    ]
    t = time.perf_counter()
    stats = await asyncio.gather(*(m.run(duration_s=sim_s) for m in fleet))
    wall = time.perf_counter() - t
    published = sum(s.published for s in stats)
    return {
        "published": published,
        "dropped": sum(s.dropped for s in stats),
        "wall_s": round(wall, 2),
        "real_time_needed_s": round(sim_s / speed, 2),
        "msgs_per_s": rate(published, wall),
    }


async def mqtt_figures() -> dict[str, Any]:
    if mosquitto_binary() is None:
        return {"mqtt": "skipped: mosquitto not installed"}
    with run_mosquitto() as broker:
        paced = await fleet_run(broker.url, monitors=20, sim_s=60, speed=120)
        flat_out = await fleet_run(broker.url, monitors=20, sim_s=300, speed=10_000)
        payload = MonitorModel(start_at=T0).tick(1).message.payload()  # type: ignore[union-attr]
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            n = flat_out["published"]
            t = time.perf_counter()
            for _ in range(n):
                await client.publish("bench/anchor", payload, qos=1)
            anchor = time.perf_counter() - t
    return {
        "mqtt_20_monitors_speed_120": paced,
        "mqtt_20_monitors_flat_out": flat_out,
        "anchor_one_client_qos1_msgs_per_s": rate(n, anchor),
    }


def study() -> StudyContext:
    item = WorklistItem("Keller^Ruth", "MRN1", "19410312", "F", "ACC1", generate_uid(), "RP1", "Kyphoplasty T12, L1",
                        "SPS1", "Kyphoplasty", T0, "FLUORO1", "IR1", "IR1", "XA", "", "", None)  # fmt: skip
    return StudyContext(item=item, equipment=Equipment(), started_at=T0, zone=UTC)


def image_figures(n: int = 12) -> tuple[dict[str, Any], list[Any]]:
    ctx, t0 = study(), Technique()
    t = time.perf_counter()
    for i in range(n):
        spine_frame(level="T12", view="AP", step="cement", seed=i)
    pixels = time.perf_counter() - t
    images = []
    t = time.perf_counter()
    for i in range(n):
        event = fluoroscopy(
            t0,
            uid=generate_uid(),
            started_at=T0 + timedelta(minutes=i),
            duration_s=20,
            view=View.AP,
            protocol="Cement T12",
            level="T12",
        )
        ds = xa_image(ctx, event, step="cement", instance_number=i + 1, pixel_seed=i)
        dcmwrite(io.BytesIO(), ds, enforce_file_format=True)
        images.append(ds)
    built = time.perf_counter() - t
    return {
        "xa_images_built_per_s": rate(n, built),
        "anchor_pixels_only_per_s": rate(n, pixels),
    }, images


def store_figures(images: list[Any]) -> dict[str, Any]:
    storescp = Path("/usr/bin/storescp")
    if not storescp.exists():
        return {"cstore": "skipped: dcmtk not installed"}
    port = free_port()
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.Popen([str(storescp), "-od", out, str(port)], env={**os.environ, "TCP_NODELAY": "1"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_port(port, proc=proc)

            def associate() -> Any:
                ae = AE(ae_title="FLUORO1")
                ae.add_requested_context("1.2.840.10008.5.1.4.1.1.12.1")
                return ae, ae.associate("127.0.0.1", port)

            t = time.perf_counter()
            for ds in images:
                ae, assoc = associate()
                assert int(assoc.send_c_store(ds).Status) == 0
                assoc.release()
                ae.shutdown()
            each = time.perf_counter() - t
            t = time.perf_counter()
            ae, assoc = associate()
            for ds in images:
                assert int(assoc.send_c_store(ds).Status) == 0
            assoc.release()
            ae.shutdown()
            one = time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait(10)
    return {
        "cstore_images_per_s_association_each": rate(len(images), each),
        "anchor_one_association_per_s": rate(len(images), one),
    }


async def hl7_figures(rounds: int = 50) -> dict[str, Any]:
    clock = SimClock(start=T0)
    receiver = HisReceiver(clock=clock, port=free_port())
    stop = asyncio.Event()
    task = asyncio.create_task(receiver.run(stop))
    await receiver.listening.wait()
    cases = default_day(date(2026, 11, 24), rooms=["IR1", "IR2"], per_room=2, zone=UTC)
    try:
        async with HisSender(clock=clock, port=receiver.port) as sender:
            t = time.perf_counter()
            for _ in range(rounds):
                await sender.send_day(cases)
            wall = time.perf_counter() - t
    finally:
        stop.set()
        await task
    n = rounds * len(cases) * 2
    return {"hl7_messages": n, "hl7_msgs_per_s_acked": rate(n, wall)}


def main() -> None:
    figures: dict[str, Any] = {"machine": machine()}
    figures.update(model_figures())
    figures.update(asyncio.run(mqtt_figures()))
    built, images = image_figures()
    figures.update(built)
    figures.update(store_figures(images))
    figures.update(asyncio.run(hl7_figures()))
    save("simulators", figures)
