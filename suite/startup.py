"""Checks before the service starts: every configuration, database, port and directory error
becomes one line naming the setting (`SettingsError`; the CLI exits 2) before "ready".

What is checked, in order: the data directory (not under a regular file; created only when
it is the configured one), the database URL (a known scheme; a SQLite file whose directory
exists, never created silently; a PostgreSQL server that answers), and the TCP ports of the
listeners that are enabled (free on their host).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from suite.settings import Settings, SettingsError

SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"})
POSTGRES_DRIVERS = frozenset(
    {"postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg2", "postgresql+psycopg"}
)
CONNECT_TIMEOUT_S = 5.0


def check_data_dir(settings: Settings) -> None:
    """The data directory exists or can be made (it is made: it is the configured path)."""
    path = settings.data_dir
    for parent in (path, *path.parents):
        if parent.exists() and not parent.is_dir():
            raise SettingsError(
                f"invalid setting PROCSUITE_DATA_DIR (data_dir): {path} is under {parent},"
                " which is a file, not a directory"
            )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"invalid setting PROCSUITE_DATA_DIR (data_dir): cannot create {path}: {exc.strerror}"
        ) from None


def check_database_url(settings: Settings) -> None:
    """A known scheme; a SQLite file's directory must exist (it is not created)."""
    where = "PROCSUITE_DB_URL (db_url)"
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        raise SettingsError(f"invalid setting {where}: not a database URL") from None
    if url.drivername in SQLITE_DRIVERS:
        if settings.db_url is None or not url.database or url.database == ":memory:":
            return  # the default file lives in data_dir, checked above
        directory = Path(url.database).parent
        if not directory.is_dir():
            raise SettingsError(
                f"invalid setting {where}: directory {directory} of the SQLite file does not"
                " exist (create it, or correct the path)"
            )
        return
    if url.drivername not in POSTGRES_DRIVERS:
        raise SettingsError(
            f"invalid setting {where}: unknown scheme {url.drivername!r}"
            " (sqlite:/// or postgresql://)"
        )
    host, port = url.host or "localhost", url.port or 5432
    try:
        asyncio.run(_reach(host, port))
    except (OSError, TimeoutError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SettingsError(
            f"invalid setting {where}: PostgreSQL at {host}:{port} cannot be reached ({reason})"
        ) from None


async def _reach(host: str, port: int) -> None:
    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        _reader, writer = await asyncio.open_connection(host, port)
    writer.close()


def check_ports(settings: Settings) -> None:
    """Every enabled listener's port is free (bound and released at once)."""
    wanted = []
    if settings.dicom.enabled:
        wanted.append(
            ("PROCSUITE_DICOM_PORT (dicom_port)", settings.dicom.host, settings.dicom_port)
        )
    if settings.hl7.enabled:
        wanted.append(("PROCSUITE_HL7_PORT (hl7_port)", settings.hl7.host, settings.hl7_port))
    for where, host, port in wanted:
        if port == 0:
            continue
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise SettingsError(f"invalid setting {where}: host {host!r}: {exc.strerror}") from None
        family, kind, proto, _name, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                why = "is in use" if exc.errno == errno.EADDRINUSE else f": {exc.strerror}"
                raise SettingsError(
                    f"invalid setting {where}: port {port} on {host} {why}"
                ) from None


def preflight(settings: Settings) -> None:
    """All the checks above; `SettingsError` (one line naming the setting) on the first."""
    check_data_dir(settings)
    check_database_url(settings)
    check_ports(settings)
