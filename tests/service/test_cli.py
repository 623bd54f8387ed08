"""The command line against a real store: a whole kyphoplasty and a vertebroplasty."""

from datetime import UTC, datetime, timedelta

import pytest

from procsuite.cli import main
from suite.domain.values import Procedure
from tests.scenarios import full_case
from tests.service.cli_words import words


@pytest.fixture
def env(monkeypatch, tmp_path, db_url):
    monkeypatch.setenv("PROCSUITE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PROCSUITE_DB_URL", db_url)
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    ("procedure", "levels"),
    [(Procedure.KYPHOPLASTY, ("T12", "L1")), (Procedure.VERTEBROPLASTY, ("L2",))],
)
def test_a_case_runs_from_order_to_discharge_through_the_cli(env, capsys, procedure, levels):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    code, out, _ = run(
        capsys,
        "case",
        "schedule",
        "--mrn",
        "MRN77",
        "--name",
        "DOE^JANE",
        "--sex",
        "F",
        "--birth-date",
        "1940-02-03",
        "--accession",
        "ACC77",
        "--procedure",
        procedure.value,
        "--levels",
        ",".join(levels),
        "--room",
        "IR1",
        "--fracture-date",
        "2026-11-01",
        "--ordered-at",
        start.isoformat(),
    )
    assert code == 0, out
    case_id = out.strip()
    for command in full_case(start, procedure=procedure, levels=levels):
        code, out, err = run(capsys, "case", "log", case_id, *words(command), "--actor", "tech1")
        assert code == 0, (command, out, err)
    code, out, _ = run(capsys, "case", "list", "--all")
    assert "discharged" in out and case_id in out
    code, out, _ = run(capsys, "case", "show", "ACC77")
    assert code == 0
    assert f"case {case_id}  {procedure.value}" in out
    assert "phase discharged" in out
    for line in (
        "checked in",
        "time-out signed by dr.rad",
        f"cement on {levels[-1]}: 4 mL, leakage none",
        "discharged",
    ):
        assert line in out
    if procedure is Procedure.KYPHOPLASTY:
        assert "balloon on T12: 180 psi, 3 mL" in out
    assert "tech1 (cli)" in out


def test_a_refused_step_prints_the_rule_and_fails(env, capsys):
    code, out, _ = run(
        capsys,
        "case",
        "schedule",
        "--mrn",
        "M",
        "--accession",
        "A1",
        "--procedure",
        "kyphoplasty",
        "--levels",
        "L1",
        "--room",
        "IR1",
    )
    case_id = out.strip()
    code, out, err = run(capsys, "case", "log", case_id, "cement", "level=L1", "volume_ml=3")
    assert code == 1
    assert "refused: cement injection is locked until the time-out is signed" in err
    code, out, err = run(
        capsys,
        "case",
        "schedule",
        "--mrn",
        "M",
        "--accession",
        "A2",
        "--procedure",
        "kyphoplasty",
        "--levels",
        "L1,L7",
        "--room",
        "IR1",
    )
    assert code == 1 and "unknown vertebral level 'L7'" in err
    code, out, err = run(capsys, "case", "show", "nope")
    assert code == 1 and "no case nope" in err


def test_every_command_has_help(capsys):
    for argv in (
        ["--help"],
        ["serve", "--help"],
        ["demo", "--help"],
        ["db", "upgrade", "--help"],
        ["case", "list", "--help"],
        ["case", "show", "--help"],
        ["case", "log", "--help"],
    ):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and "Usage:" in out
