import subprocess
import sys

import pytest

from suite.settings import Role, SettingsError, load_settings


def test_defaults_are_the_embedded_ones(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROCSUITE_DB_URL", raising=False)  # set by `make test-postgres`
    s = load_settings()
    assert s.dicom_port == 11112 and s.hl7_port == 2575
    assert s.database_url == "sqlite:///var/procsuite.db"
    assert s.topic_root == "procsuite/main"


def test_file_then_environment_with_environment_winning(monkeypatch, tmp_path):
    config = tmp_path / "procsuite.toml"
    config.write_text(
        'site = "north"\nhl7_port = 3000\nrooms = ["A", "B", "C"]\n'
        '[users]\nanna = "nurse"\n[dicom]\nae_title = "SUITE1"\n[workflow]\ncement_working_time_s = 900\n'
    )
    monkeypatch.setenv("PROCSUITE_HL7_PORT", "4000")
    monkeypatch.setenv("PROCSUITE_DB_URL", "postgresql://u@db/procsuite")
    monkeypatch.setenv("PROCSUITE_DICOM__AE_TITLE", "ENV_AE")
    s = load_settings(config)
    assert (s.site, s.hl7_port, s.rooms) == ("north", 4000, ["A", "B", "C"])
    assert s.users == {"anna": Role.NURSE}
    assert s.dicom.ae_title == "ENV_AE"
    assert s.database_url == "postgresql://u@db/procsuite"
    assert s.workflow.policy().cement_working_time_s == 900


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("PROCSUITE_DICOM_PORT", "70000", "PROCSUITE_DICOM_PORT"),
        ("PROCSUITE_HL7_PORT", "abc", "PROCSUITE_HL7_PORT"),
        ("PROCSUITE_SITE", "a/b", "PROCSUITE_SITE"),
        (
            "PROCSUITE_WORKFLOW__CEMENT_WORKING_TIME_S",
            "soon",
            "PROCSUITE_WORKFLOW__CEMENT_WORKING_TIME_S",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(monkeypatch, env, value, named):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError, match=f"invalid setting {named}") as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(SettingsError, match="config file .*nope.toml does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_serve_refuses_to_start_on_a_bad_setting(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "procsuite.cli", "serve"],
        env={"PROCSUITE_DICOM_PORT": "-1", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "invalid setting PROCSUITE_DICOM_PORT" in proc.stderr
    assert proc.stderr.count("PROCSUITE_DICOM_PORT") == 1


def test_the_domain_imports_nothing_of_io():
    code = (
        "import sys, suite.domain.workflow, suite.domain.timers, suite.domain.codec\n"
        "import pathlib\n"
        "import suite.domain as d\n"
        "for sub in pathlib.Path(d.__file__).parent.rglob('*.py'):\n"
        "    name = 'suite.domain.' + '.'.join(sub.relative_to(pathlib.Path(d.__file__).parent).with_suffix('').parts)\n"
        "    __import__(name.removesuffix('.__init__'))\n"
        "bad = {'asyncio', 'logging', 'sqlalchemy', 'sqlmodel', 'aiomqtt', 'pynetdicom', 'pydicom',"
        " 'hl7', 'hl7apy', 'textual', 'socket', 'adapters', 'suite.store', 'procsuite.bootstrap'}\n"
        "print(sorted(m for m in bad if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
