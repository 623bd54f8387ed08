"""A pytest plugin: every log record of the whole test run is scanned for the names of the
test fixtures' patients; any found fails the run at its end, naming the tests that logged
them (issue 19: no patient data in any log, at any level that is enabled).

The handler sits on the root logger for the whole session, so it sees what every test's
service, listener and codec logs, with tracebacks rendered as the stdlib renders them.
"""

from __future__ import annotations

import logging

import pytest

# Patient names the fixtures use (tests/scenarios.py, tests/hl7/samples.py and the tests).
FIXTURE_NAMES = (
    "TEST^ANNA",
    "DOE^JANE",
    "YOUNG^EVA",
    "LATE^LOTTE",
    "ROE^RICHARD",
    "ZYLBERSZTAJN",
)


class PatientNameScanner(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.current = "(outside a test)"
        self.leaks: list[str] = []
        self._plain = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not format: not ours to judge here
            text = str(record.msg)
        if record.exc_info:
            text += self._plain.formatException(record.exc_info)
        upper = text.upper()
        found = [name for name in FIXTURE_NAMES if name in upper]
        if found:
            self.leaks.append(f"{self.current}: {record.name} {record.levelname}: {found[0]}")


_scanner = PatientNameScanner()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_scanner)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # type: ignore[no-untyped-def]
    _scanner.current = item.nodeid
    yield
    _scanner.current = "(outside a test)"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _scanner.leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["patient names in the logs of this run (issue 19):", *_scanner.leaks[:50]]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
