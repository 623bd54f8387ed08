"""Findings 7 and 9 of issue 19: patient data in tracebacks, and start-up errors that were
50-180 line tracebacks with exit 1."""

from __future__ import annotations

import io
import logging
import socket
import sys
from pathlib import Path

import pytest

from procsuite.cli import main
from suite import logs
from tests.hl7 import samples
from tests.hl7.conftest import msa, run_stack, send
from tests.peers import free_port

NAME = "DOE^JANE"


def _fails_with_a_patient_in_scope() -> None:
    patient_name = NAME  # a local variable, as in a parser's frame
    raise ValueError(f"bad field of length {len(patient_name)}")


@pytest.mark.parametrize("as_json", [False, True])
def test_tracebacks_never_render_local_variables(as_json: bool, monkeypatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    try:
        logs.configure("INFO", json=as_json)
        try:
            _fails_with_a_patient_in_scope()
        except ValueError:
            logging.getLogger("adapters.hl7.listener").exception("hl7: processing failed")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    text = out.getvalue()
    assert "_fails_with_a_patient_in_scope" in text  # the traceback is there
    assert "DOE" not in text and "JANE" not in text


@pytest.mark.asyncio
async def test_a_malformed_message_with_a_patient_leaves_no_name_in_any_log(
    sqlite_url: str, tmp_path: Path, clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The message of finding 7 (`MSH|^~\\\\` then a PID with DOE^JANE) and broken variants of
    it are answered AR/AE naming the field; no log record at any level holds the name."""
    from tests.hl7.conftest import make_settings

    caplog.set_level(logging.DEBUG)
    broken = [
        b"MSH|^~\\\rPID|1||MRN1^^^HOSP^MR||DOE^JANE||19440506|F\r",
        b"MSH|^^~\\&|HIS|HOSP|PROCSUITE|IR|20261124||ADT^A04|X1|P|2.5.1\rPID|1||M||DOE^JANE\r",
        samples.adt("A04", mrn="MRN1", name=NAME, birth="19441399").encode(),
        samples.orm(accession="ACC1", name=NAME, when="99991231235959-2359").encode(),
    ]
    async with run_stack(sqlite_url, make_settings(tmp_path), clock) as stack:
        acks = await send(stack.port, *broken)
    assert [msa(a)[0] for a in acks] == ["AR", "AR", "AE", "AE"]
    assert not any(b"internal error" in a for a in acks)
    records = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert records, "nothing was logged: the check would prove nothing"
    assert [r for r in records if "DOE" in r or "JANE" in r] == []


# ---- start-up fails in one line, exit 2, naming the setting ------------------------------


def _serve(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--config", str(config), "serve"])
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ('db_url = "sqlite:////nonexistent/dir/x.db"\n', "PROCSUITE_DB_URL"),
        ('db_url = "mongodb://127.0.0.1/x"\n', "unknown scheme"),
        (f'db_url = "postgresql://127.0.0.1:{free_port()}/x"\n', "cannot be reached"),
    ],
)
def test_database_errors_fail_in_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, words: str
) -> None:
    config = tmp_path / "procsuite.toml"
    config.write_text(f'data_dir = "{tmp_path / "var"}"\n{setting}')
    code, err = _serve(config, capsys)
    assert code == 2, err
    assert len(err.splitlines()) == 1 and words in err and "db_url" in err, err
    assert not Path("/nonexistent/dir").exists()


def test_toml_syntax_and_encoding_errors_fail_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "procsuite.toml"
    config.write_text('site = "unterminated\n')
    code, err = _serve(config, capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "is not TOML" in err, err
    config.write_bytes(b'site = "caf\xe9"\n')
    code, err = _serve(config, capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "UTF-8" in err, err


def test_a_data_dir_under_a_file_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain-file").write_text("x")
    config = tmp_path / "procsuite.toml"
    config.write_text(f'data_dir = "{tmp_path / "plain-file" / "var"}"\n')
    code, err = _serve(config, capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "PROCSUITE_DATA_DIR" in err, err


def test_a_dicom_port_in_use_fails_in_one_line_before_ready(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "procsuite.toml"
        config.write_text(f'data_dir = "{tmp_path / "var"}"\ndicom_port = {port}\n')
        code, err = _serve(config, capsys)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "PROCSUITE_DICOM_PORT" in err and str(port) in err and "in use" in err
    assert "ready" not in err
