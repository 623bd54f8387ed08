"""Stopping the demo: Ctrl-C ends everything cleanly, headless and with the dashboard.

Headless, SIGINT (what Ctrl-C sends) must end the process within a bounded wait, with the
summary saying it was interrupted, exit 130 and no traceback. With the dashboard the
terminal is in raw mode, so Ctrl-C arrives as a key: the test runs the demo on a pseudo-
terminal, waits until the dashboard draws the rooms, types Ctrl-C, and expects exit 0.
A second data directory check: the demo refuses to wipe a directory it did not make.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from procsuite.cli import main
from tests.peers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PROCSUITE = [sys.executable, "-c", "import sys; from procsuite.cli import main; sys.exit(main())"]


def _ports() -> list[str]:
    return ["--mqtt-port", str(free_port()), "--dicom-port", "0", "--hl7-port", "0",
            "--his-port", "0"]  # fmt: skip


def test_ctrl_c_stops_the_headless_demo_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*PROCSUITE, "demo", "--headless", "--speed", "60", *_ports()],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "phase checked_in" in line:  # the day is under way
                break
        assert any("phase checked_in" in s for s in seen), "".join(seen)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err, err
    assert "INTERRUPTED" in out and "result: interrupted" in out
    assert "interrupted before the day was over" in err


def _read(fd: int, until: float) -> bytes:
    got = b""
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        got += chunk
    return got


def _why_not_drawn(
    screen: bytes, proc: subprocess.Popen[bytes], waited_s: float, tmp_path: Path
) -> str:
    """What the terminal showed (escape codes stripped), whether the demo still ran, and
    the end of its log: enough to tell a slow opening from a dashboard that drew nothing."""
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b" ", screen).decode(errors="replace")
    log = tmp_path / "var" / "demo" / "demo.log"
    tail = log.read_text(errors="replace").splitlines()[-25:] if log.is_file() else []
    return (
        f"after {waited_s:.0f} s, demo exit code {proc.poll()}\n"
        f"screen text: {' '.join(text.split())[-1500:]}\n"
        "demo.log:\n" + "\n".join(tail)
    )


@pytest.mark.timeout(180)
def test_ctrl_c_in_the_dashboard_stops_the_demo(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    proc = subprocess.Popen(
        [*PROCSUITE, "demo", "--speed", "60", *_ports()],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,  # Textual draws on stderr
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        screen = b""
        # Every room of the board, not just one name: an alarm banner ("!!! HIGH IR2 ...")
        # can be drawn before the rooms' states arrive. Longer than the demo's own wait for
        # the day to open (60 s) before it shows the dashboard anyway.
        rooms = (b"IR1", b"IR2", b"IR3")
        started = time.monotonic()
        while (
            not all(r in screen for r in rooms)
            and time.monotonic() < started + 100
            and proc.poll() is None
        ):
            screen += _read(master, time.monotonic() + 1)
        assert all(r in screen for r in rooms), _why_not_drawn(
            screen, proc, time.monotonic() - started, tmp_path
        )
        os.write(master, b"\x03")  # Ctrl-C, as the terminal sends it in raw mode
        tail = b""
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            tail += _read(master, time.monotonic() + 0.5)
        proc.wait(timeout=5)
        tail += _read(master, time.monotonic() + 1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    after = tail.decode(errors="replace")
    assert proc.returncode == 0, after[-3000:]
    assert "Traceback" not in after, after[-3000:]
    assert "summary" in after  # printed on the restored terminal
    assert (tmp_path / "var" / "demo" / "summary.json").is_file()
    assert (tmp_path / "var" / "demo" / "demo.log").is_file()  # the service logged there


def test_the_demo_will_not_wipe_a_directory_it_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "mine"
    data.mkdir()
    (data / "notes.txt").write_text("keep me")
    code = main(["demo", "--headless", "--data-dir", str(data), *_ports()])
    assert code == 1
    assert "will not wipe it" in capsys.readouterr().err
    assert (data / "notes.txt").read_text() == "keep me"
