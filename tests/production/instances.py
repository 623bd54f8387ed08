"""`procsuite serve` as a separate process for the production tests (leases, faults), with
short lease and status times, and the monitor payload they send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.mqtt.conftest import FAST_ALARMS, USERS
from tests.peers import Mosquitto

ROOT = "procsuite/t"
TTL_S = 3.0


def vitals(at: datetime, seq: int, **values: float) -> str:
    """One monitor message: device time, sequence number, values."""
    ts = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"ts": ts, "seq": seq, "values": values})


def start(
    name: str,
    room: str,
    *,
    db_url: str,
    broker: Mosquitto,
    tmp: Path,
    rooms: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    """Instance `name` serving `room` (or `rooms`), logging to `tmp/<name>.log`."""
    env = {
        **os.environ,
        "PROCSUITE_SITE": "t",
        "PROCSUITE_DATA_DIR": str(tmp / name),
        "PROCSUITE_DB_URL": db_url,
        "PROCSUITE_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
        "PROCSUITE_ROOMS": json.dumps(rooms or [room]),
        "PROCSUITE_USERS": json.dumps(USERS),
        "PROCSUITE_ALARMS__CONFIG": json.dumps(FAST_ALARMS),
        "PROCSUITE_DICOM__ENABLED": "false",
        "PROCSUITE_HL7__ENABLED": "false",
        "PROCSUITE_MQTT__STATUS_INTERVAL_S": "0.5",
        "PROCSUITE_MQTT__RECONNECT_MIN_S": "0.2",
        "PROCSUITE_LEASE__INSTANCE_ID": name,
        "PROCSUITE_LEASE__TTL_S": str(TTL_S),
        "PROCSUITE_LEASE__RENEW_S": "0.5",
        "PROCSUITE_LEASE__TAKEOVER": '["*"]',
    }
    with (tmp / f"{name}.log").open("ab") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "procsuite.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
