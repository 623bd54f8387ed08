"""Fixtures of the simulator tests: real peers (mosquitto, dcmtk) on free loopback ports."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.peers import Mosquitto, free_port, missing, mosquitto_binary, wait_port


class ClosingMosquitto(Mosquitto):
    """tests.peers.Mosquitto whose log file is closed when the broker stops (the base class
    leaves it to the garbage collector, a ResourceWarning under `-W error`)."""

    _log: IO[bytes] | None = None

    def start(self) -> None:
        binary = mosquitto_binary()
        assert binary
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            f"{self.extra_config}"
        )
        self._log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=self._log, stderr=self._log)
        wait_port(self.port, proc=self.proc)

    def stop(self) -> None:
        super().stop()
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """A private mosquitto on a free port (shadows the root fixture: closes its log)."""
    if mosquitto_binary() is None:
        missing("mosquitto (Debian package mosquitto)")
    with tempfile.TemporaryDirectory(prefix="mosq-") as tmp:
        broker = ClosingMosquitto(port=free_port(), workdir=Path(tmp))
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


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
