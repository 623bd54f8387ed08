"""Real peers for tests, started on free loopback ports and stopped afterwards.

A test that needs a peer that is not installed is skipped with the reason, unless
PROCSUITE_REQUIRE_PEERS=1 (as in CI), where it fails: CI always has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on 127.0.0.1:`port` now."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def stop_as_it_starts_listening(run: Coroutine[Any, Any, Any], port: int) -> None:
    """Run a server's `run()` and cancel it at the first moment its port accepts a connection,
    as a service stopped while starting does; the server must then have let go of the port."""
    task = asyncio.create_task(run)
    async with asyncio.timeout(10):
        while not task.done():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                await asyncio.sleep(0)
    assert not task.done(), f"the server stopped before it listened: {task}"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def missing(what: str) -> None:
    """Skip (or fail in CI) because a real peer is not installed."""
    message = f"{what} is not installed (.ci/run installs it)"
    if os.environ.get("PROCSUITE_REQUIRE_PEERS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def wait_port(
    port: int, *, timeout_s: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def mosquitto_binary() -> str | None:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class Mosquitto:
    """A private mosquitto on loopback; `restart()` keeps its port and persistence."""

    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    extra_config: str = ""
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = mosquitto_binary()
        assert binary
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "max_queued_messages 100000\n"
            # As root, mosquitto drops to its own user and then cannot save its database in
            # our private directory: retained messages and sessions would not survive restart().
            + ("user root\n" if os.geteuid() == 0 and "user " not in self.extra_config else "")
            + f"{self.extra_config}"
        )
        self._log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=self._log, stderr=self._log)
        wait_port(self.port, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def run_mosquitto(extra_config: str = "") -> Iterator[Mosquitto]:
    if mosquitto_binary() is None:
        missing("mosquitto (Debian package mosquitto)")
    with tempfile.TemporaryDirectory(prefix="mosq-") as tmp:
        broker = Mosquitto(port=free_port(), workdir=Path(tmp), extra_config=extra_config)
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    port: int
    datadir: Path
    bindir: Path

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True)

    def start(self) -> None:
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-w",
            "-t",
            "30",
            "-o",
            f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-l",
            str(self.datadir / "server.log"),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._as_postgres(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"
            )

    def create_database(self, name: str) -> str:
        self._as_postgres(
            str(self.bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            name,
        )
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def run_postgres() -> Iterator[Postgres]:
    bindir = postgres_bin()
    if bindir is None:
        missing("PostgreSQL (Debian package postgresql)")
    assert bindir is not None
    tmp = Path(tempfile.mkdtemp(prefix="pg-"))
    datadir = tmp / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        shutil.chown(datadir, "postgres")
    server = Postgres(port=free_port(), datadir=datadir, bindir=bindir)
    server._as_postgres(
        str(bindir / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres", "--no-sync"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(tmp, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """CREATE DATABASE `name` on the PostgreSQL server of `server_url`; its URL."""
    import asyncio
    import concurrent.futures

    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)

    async def create() -> None:
        conn = await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password,
            database=url.database or "postgres",
        )  # fmt: skip
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # whatever loop the caller runs
        pool.submit(asyncio.run, create()).result()
    return url.set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def small_disk(directory: Path, *, size_mib: int = 64) -> Iterator[Any]:
    """`directory` on a tmpfs of `size_mib` that `set(True)` fills (a filler file takes the
    rest of it) and `set(False)` frees: a real full disk (ENOSPC), as SQLite or a file meets it."""
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        missing(f"a small tmpfs to fill (mount as root failed: {mounted.stderr.strip()})")
    filler = directory / "filler"

    def full(on: bool) -> None:
        if not on:
            filler.unlink(missing_ok=True)
            return
        with filler.open("wb") as f:
            chunk = b"\0" * (1 << 20)
            with contextlib.suppress(OSError):  # ENOSPC: the disk is full now
                while True:
                    f.write(chunk)
                    f.flush()

    try:
        yield full
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True, check=False)
