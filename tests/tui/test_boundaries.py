"""The dashboard is a client of the service: loading it pulls in no adapter, store or service
code (import-linter checks the direct imports; this checks what actually gets loaded)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_dashboard_loads_no_adapter_store_or_service_code() -> None:
    probe = (
        "import json, sys\n"
        "import tui.app, tui.mqtt_client, tui.fake_client, tui.cli\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = json.loads(out.stdout)
    forbidden = (
        "adapters",
        "suite.store",
        "procsuite.bootstrap",
        "suite.app.case_service",
        "sqlmodel",
        "sqlalchemy",
        "pynetdicom",
        "hl7apy",
    )
    assert [m for m in loaded if m.split(".")[0] == "adapters" or m.startswith(forbidden)] == []
    assert "textual" in loaded and "aiomqtt" in loaded
