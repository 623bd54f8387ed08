"""Device ingest: PCD-01 samples per second over one MLLP connection into the whole service
(decode, location map, the validated sample path with the alarm engine, the vitals store and
the raw journal), next to a bare python-hl7 asyncio MLLP server that parses and ACKs the same
messages without doing anything with them, in the same run. Then, when the SDC helper's
`bench/_sdc_ingest.py` is present, its SDC figures (metric updates/s from one provider
against a bare sdc11073 consumer).

Each PCD-01 message is a GE-style ORU^R01 of one monitor with eight numerics (one sample).
The sender runs in a child process (bench/hl7_ingest.py's) so its CPU does not count
against the service's event loop.

    .venv/bin/python -m bench device_ingest     (DEVICE_BENCH_N=... to change the count)
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._common import save
from bench.hl7_ingest import _ceiling_server, send_from_child

N = int(os.environ.get("DEVICE_BENCH_N", "3000"))
VALUES = {"hr": 72, "spo2": 97, "nibp_sys": 120, "nibp_dia": 80, "nibp_map": 93, "rr": 14,
          "etco2": 38, "temp": 36.8}  # fmt: skip


def _messages(n: int, tag: str) -> list[bytes]:
    from simulators.pcd01_gateway import encode_oru

    t0 = datetime.now(UTC)
    # 20 ms apart in device time: 50 samples per device-second, inside the flood guard (100)
    return [
        encode_oru(
            location="IR^IR1^1",
            device=f"mon-{tag}",
            at=t0 + timedelta(seconds=i / 50),
            values=VALUES,
            control_id=f"{tag}{i}",
        )  # fmt: skip
        for i in range(n)
    ]


async def _echo_server() -> Any:
    """The socket ceiling: reads each frame and answers a fixed ACK, parsing nothing."""
    ack = b"\x0bMSH|^~\\&|X|X|||20260101||ACK|1|P|2.6\rMSA|AA|1\r\x1c\r"

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\x1c\r")
                writer.write(ack)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(client, "127.0.0.1", 0)


async def _pcd01() -> dict[str, Any]:
    from adapters.devices.pcd01.listener import Pcd01Listener
    from procsuite.bootstrap import Service
    from suite.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="devbench-") as tmp:
        settings = load_settings(
            data_dir=Path(tmp), mqtt_url="mqtt://127.0.0.1:9", rooms=["IR1", "IR2"],
            dicom={"enabled": False}, hl7={"enabled": False},
            devices={"pcd01": {"enabled": True, "port": 0}},
        )  # fmt: skip
        service = Service(settings)
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await service.ready.wait()
        assert service.ctx is not None
        listener = next(c for c in service.ctx.components if isinstance(c, Pcd01Listener))
        await listener.ready.wait()
        ceiling = await _ceiling_server()
        ceiling_port = ceiling.sockets[0].getsockname()[1]
        try:
            await asyncio.to_thread(send_from_child, listener.port, _messages(200, "W"), 1)
            ours = _messages(N, "P")
            elapsed, answered, accepted = await asyncio.to_thread(
                send_from_child, listener.port, ours, 1
            )
            if answered != N or accepted != N:
                raise RuntimeError(f"pcd01: {answered} answered, {accepted} AA of {N}")
            bare_elapsed, bare_answered, _ = await asyncio.to_thread(
                send_from_child, ceiling_port, _messages(N, "B"), 1
            )
            if bare_answered != N:
                raise RuntimeError(f"ceiling: {bare_answered} answered of {N}")
            echo = await _echo_server()
            echo_elapsed, _, _ = await asyncio.to_thread(
                send_from_child, echo.sockets[0].getsockname()[1], _messages(N, "E"), 1
            )
            echo.close()
            ingest = service.ctx.samples
            await ingest.recorder.flushed()
            stored = ingest.devices[("IR1", "mon-P")].samples
        finally:
            ceiling.close()
            await ceiling.wait_closed()
            stop.set()
            await task
    ours_rate, bare_rate, echo_rate = N / elapsed, N / bare_elapsed, N / echo_elapsed
    print(
        f"PCD-01, 1 connection: {ours_rate:8.0f} samples/s  bare python-hl7 MLLP receiver"
        f" {bare_rate:8.0f} msg/s  ({ours_rate / bare_rate:.0%}); fixed-ACK echo (no parse)"
        f" {echo_rate:8.0f} msg/s; {stored} samples accepted"
    )
    return {
        "messages": N,
        "procsuite_samples_per_s": round(ours_rate),
        "bare_python_hl7_msg_per_s": round(bare_rate),
        "ratio": round(ours_rate / bare_rate, 2),
        "echo_no_parse_msg_per_s": round(echo_rate),
        "accepted": stored,
    }


def _sdc() -> dict[str, Any] | None:
    if importlib.util.find_spec("bench._sdc_ingest") is None:
        print("SDC: bench/_sdc_ingest.py not present (the SDC consumer is not on this branch)")
        return None
    figures: dict[str, Any] = importlib.import_module("bench._sdc_ingest").measure()
    print(f"SDC: {figures}")
    return figures


def main() -> None:
    figures: dict[str, Any] = {"pcd01": asyncio.run(_pcd01())}
    sdc = _sdc()
    if sdc is not None:
        figures["sdc"] = sdc
    save("device_ingest", figures)
