"""`make test-postgres`: the whole suite against a throwaway PostgreSQL server (each test
gets its own database on it through PROCSUITE_DB_URL; tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.peers import run_postgres


def main() -> int:
    with run_postgres() as server:
        env = {**os.environ, "PROCSUITE_DB_URL": server.url}
        return subprocess.call([sys.executable, "-m", "pytest", *sys.argv[1:]], env=env)


if __name__ == "__main__":
    sys.exit(main())
