"""`procsuite simulate ...` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from procsuite.cli import main
from tests.peers import Mosquitto, free_port, wait_port
from tests.simulators.conftest import dcmtk, dcmtk_server
from tests.simulators.dicom_peers import make_worklist, worklist_dump


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["simulate", "--help"], "monitor"),
        (["simulate", "monitor", "--help"], "--scenario"),
        (["simulate", "modality", "--help"], "--station"),
        (["simulate", "his", "--help"], "send-day"),
        (["simulate", "his", "send-day", "--help"], "--day-file"),
        (["simulate", "his", "receive", "--help"], "--slow"),
    ],
)
def test_every_command_has_help(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 0
    assert says in capsys.readouterr().out


def test_a_bad_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "monitor", "--room", "IR1", "--scenario", "bradycardia"]) == 2
    assert "unknown scenario 'bradycardia'" in capsys.readouterr().err


@pytest.mark.mosquitto
def test_monitor_runs_for_a_simulated_duration(
    mosquitto: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", "--log-level", "WARNING", "monitor", "--room", "IR1", "--mqtt-url", mosquitto.url,
                 "--speed", "50", "--duration", "20", "--scenario", "dropout@5+5"])  # fmt: skip
    assert code == 0
    assert (
        "monitor IR1/mon1: 15 published, 5 hidden by scenarios, 0 dropped"
        in capsys.readouterr().out
    )


def test_send_day_to_the_his_receiver_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    journal = tmp_path / "his.jsonl"
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "procsuite.cli",
            "simulate",
            "--log-level",
            "WARNING",
            "his",
            "receive",
            "--port",
            str(port),
            "--journal",
            str(journal),
            "--ae",
            "1",
            "--duration",
            "30",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_port(port, proc=receiver)  # type: ignore[arg-type]
        code = main(["simulate", "--log-level", "WARNING", "his", "send-day", "--port", str(port),
                     "--date", "2026-11-24", "--rooms", "IR1", "--per-room", "2",
                     "--save-day", str(tmp_path / "day.json")])  # fmt: skip
    finally:
        receiver.terminate()
        out, err = receiver.communicate(timeout=20)
    printed = capsys.readouterr()
    assert code == 1  # the first message got AE: the command says so
    assert "1 message(s) were not accepted" in printed.err
    lines = printed.out.splitlines()
    assert lines[0].startswith("ADT^A04") and lines[0].endswith(
        "AE simulated HIS application error"
    )
    assert [line.split()[-1] for line in lines[1:]] == ["AA", "AA", "AA"]
    kept = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [k["kind"] for k in kept] == ["ADT^A04^ADT_A01", "ORM^O01^ORM_O01"] * 2
    assert "HIS receiver: 4 message(s) received; ACKs: AA 3, AE 1" in out
    day = json.loads((tmp_path / "day.json").read_text())
    assert [d["room"] for d in day] == ["IR1", "IR1"]


@pytest.mark.dcmtk
def test_modality_lists_the_worklist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_worklist(tmp_path / "wl", "PROCSUITE", [
        worklist_dump(accession="ACC7", study_uid="1.2.3.7", patient="Keller^Ruth", mrn="MRN7",
                      station="FLUORO1", room="IR1", day="20261124", at="093000", description="Vertebroplasty L2"),
    ])  # fmt: skip
    port = free_port()
    with dcmtk_server([dcmtk("wlmscpfs"), "-dfp", str(root), str(port)], port=port, cwd=tmp_path):
        code = main(
            [
                "simulate",
                "--log-level",
                "WARNING",
                "modality",
                "--port",
                str(port),
                "--date",
                "2026-11-24",
                "--list",
            ]
        )
    assert code == 0
    assert (
        capsys.readouterr().out.strip().startswith("ACC7 / SPS SPS-ACC7 at 2026-11-24 09:30 in IR1")
    )
