"""Fixtures of the simulator tests: real peers (mosquitto, dcmtk) on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peers import missing, wait_port

DCMTK = Path("/usr/bin")


def dcmtk(tool: str) -> str:
    """Full path of a dcmtk tool (pynetdicom's venv scripts shadow some names)."""
    path = DCMTK / tool
    if not os.access(path, os.X_OK):
        missing(f"dcmtk's {tool} (Debian package dcmtk)")
    return str(path)


def dcmtk_env() -> dict[str, str]:
    # dcmtk tools are ~20x slower without TCP_NODELAY (Nagle); see DEPENDENCIES.md.
    return {**os.environ, "TCP_NODELAY": "1"}


@contextlib.contextmanager
def dcmtk_server(args: list[str], *, port: int, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a dcmtk server (storescp, wlmscpfs) on `port` until the block ends."""
    log_path = cwd / f"{Path(args[0]).name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, env=dcmtk_env(), stdout=log, stderr=log, cwd=cwd)
        try:
            wait_port(port, proc=proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_tool(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        env=dcmtk_env(),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
        **kw,
    )


@pytest.fixture
def dciodvfy() -> str:
    """dicom3tools' IOD validator (optional peer: skipped where not installed)."""
    found = shutil.which("dciodvfy") or "/usr/bin/dciodvfy"
    if not os.access(found, os.X_OK):
        missing("dicom3tools' dciodvfy (Debian package dicom3tools)")
    return found
