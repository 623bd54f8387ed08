"""Issue 16: `procsuite web`, the read-only wall display, in the system Chromium (playwright)
against a running demo.

The demo runs headless (its own embedded broker); `procsuite web` runs beside it with an
access token, as a user starts them. The browser opens the page with the token and sees every
room and an open alarm appear; the page has no input, button, link or form; whatever it sends
(keys, clicks, a message written to its WebSocket by hand) reaches no command topic of the
broker, which the test watches all along. Without the token, the page and the WebSocket are
refused (401). Skips when Chromium or playwright is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from tests.peers import free_port, missing

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CHROMIUM = "/usr/bin/chromium"
PROCSUITE = [sys.executable, "-c", "import sys; from procsuite.cli import main; sys.exit(main())"]
TOKEN = "wall-test-token-7f3a"

playwright_api = pytest.importorskip("playwright.async_api")


async def _until_line(stream: asyncio.StreamReader, start: str, seen: list[str]) -> None:
    async for raw in stream:
        line = raw.decode().rstrip("\n")
        seen.append(line)
        if line.startswith(start):
            return
    raise AssertionError(f"no line starting {start!r}:\n" + "\n".join(seen[-20:]))


@contextlib.asynccontextmanager
async def process(*args: str, cwd: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(20):
                    await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _watch_commands(port: int, seen: list[str], ready: asyncio.Event) -> None:
    with contextlib.suppress(aiomqtt.MqttError):  # the demo's broker goes first at the end
        async with aiomqtt.Client("127.0.0.1", port, identifier="wall-test-cmd-watch") as client:
            await client.subscribe("procsuite/main/cmd/#", qos=1)
            ready.set()
            async for message in client.messages:
                seen.append(f"{message.topic.value} {bytes(message.payload)!r}")  # type: ignore[arg-type]


async def _drain(stream: asyncio.StreamReader, seen: list[str]) -> None:
    async for raw in stream:
        seen.append(raw.decode().rstrip("\n"))


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.asyncio
async def test_the_wall_shows_the_demo_read_only_and_refuses_without_the_token(
    tmp_path: Path,
) -> None:
    if shutil.which(CHROMIUM) is None:
        missing("chromium")
    mqtt_port, web_port = free_port(), free_port()
    demo_args = [*PROCSUITE, "demo", "--headless", "--speed", "30", "--mqtt-port", str(mqtt_port),
                 "--dicom-port", "0", "--hl7-port", "0", "--his-port", "0"]  # fmt: skip
    web_args = [*PROCSUITE, "web", "--port", str(web_port), "--token", TOKEN,
                "--mqtt-url", f"mqtt://127.0.0.1:{mqtt_port}"]  # fmt: skip
    lines: list[str] = []
    commands: list[str] = []
    async with process(*demo_args, cwd=tmp_path) as demo:
        assert demo.stdout is not None
        async with asyncio.timeout(60):
            await _until_line(demo.stdout, "procsuite demo ready", lines)
        drain = asyncio.create_task(_drain(demo.stdout, lines))
        watch_ready = asyncio.Event()
        watcher = asyncio.create_task(_watch_commands(mqtt_port, commands, watch_ready))
        await asyncio.wait_for(watch_ready.wait(), 10)
        async with process(*web_args, cwd=tmp_path) as web:
            assert web.stdout is not None
            async with asyncio.timeout(30):
                await _until_line(web.stdout, "wall display on", lines)
            base = f"http://127.0.0.1:{web_port}/"
            # Refused without the token (page and WebSocket), served with it.
            for url, headers in ((base, {}), (base + "ws", {}), (base + "?token=wrong", {}),
                                 (base, {"Authorization": "Bearer wrong"})):  # fmt: skip
                assert await asyncio.to_thread(_get, url, headers) == 401, (url, headers)
            assert await asyncio.to_thread(_get, base, {"Authorization": f"Bearer {TOKEN}"}) == 200

            async with playwright_api.async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=CHROMIUM,
                    args=[
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                    ],  # fmt: skip
                )
                try:
                    page = await browser.new_page()
                    await page.goto(f"{base}?token={TOKEN}")
                    rooms = page.locator("table.rooms tr[data-room]")
                    for room in ("IR1", "IR2", "IR3", "IR4"):
                        await page.locator(f"tr[data-room='{room}']").wait_for(timeout=60_000)
                    assert await rooms.count() == 4
                    assert "BOOKED" in await page.locator("tr[data-room='IR4']").inner_text()
                    alarm = page.locator("#alarms li", has_text="!")
                    await alarm.first.wait_for(timeout=120_000)
                    shown_alarm = await alarm.first.inner_text()
                    vitals = await page.locator(".vitals section").count()
                    assert vitals >= 1
                    # Nothing to operate: no input, button, link, form or editable element.
                    controls = await page.locator(
                        "input, button, select, textarea, form, a[href], [contenteditable]"
                    ).count()
                    assert controls == 0
                    # Keys, clicks and a hand-written WebSocket message send no command.
                    await page.keyboard.press("a")
                    await page.keyboard.press("Enter")
                    await page.mouse.click(100, 200)
                    sent = await page.evaluate(
                        """async () => {
                          const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws');
                          await new Promise(r => ws.onopen = r);
                          ws.send(JSON.stringify({action: 'ack_alarm', alarm_id: 'x'}));
                          await new Promise(r => setTimeout(r, 1000));
                          ws.close();
                          return true;
                        }"""
                    )
                    assert sent is True
                    await page.wait_for_timeout(1000)
                finally:
                    await browser.close()
        watcher.cancel()
        drain.cancel()
        for task in (watcher, drain):
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError, AssertionError):
                await task
    # Every command on the broker came from the demo's own people, none from the wall.
    users = {c.split(" ")[0].split("/")[-1] for c in commands}
    assert users <= {"tech1", "nurse1", "rad1", "demo-observer"}, users
    assert not any("'x'" in c or '"x"' in c for c in commands), commands
    assert shown_alarm.strip(), json.dumps(lines[-20:])
