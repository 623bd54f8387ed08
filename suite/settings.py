"""Configuration: a TOML file (`--config`) and `PROCSUITE_*` environment variables.

Environment variables win over the file. Nested sections use a double underscore:
`PROCSUITE_DICOM__AE_TITLE=PROCSUITE`. Every field has a docstring: it is the documentation
(docs/configuration.md lists them).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from suite.device_settings import DevicesSettings
from suite.errors import ConfigError
from suite.settings_clinical import AlarmSettings as AlarmSettings
from suite.settings_clinical import DoseSettings as DoseSettings
from suite.settings_clinical import WorkflowSettings as WorkflowSettings
from suite.settings_interfaces import DicomSettings as DicomSettings
from suite.settings_interfaces import Hl7Settings as Hl7Settings
from suite.settings_interfaces import MqttSettings as MqttSettings
from suite.settings_interfaces import Role as Role
from suite.settings_sdc import SdcSettings


class LeaseSettings(BaseModel):
    """Several instances on one database (docs/operations.md "Scale out"): each serves the
    rooms whose lease it holds; one of them holds the site-wide duties."""

    instance_id: str = "procsuite"
    """This instance's name in the lease table; unique per instance (a restarted instance with
    the same name gets its leases back at once). Keep it the same across restarts."""
    ttl_s: float = Field(default=15.0, ge=2)
    """A lease not renewed for this long expires and another instance may take the room over.
    Instances' clocks must agree to well within this (NTP)."""
    renew_s: float = Field(default=3.0, gt=0)
    """How often the leases are renewed, expired ones looked for, and rooms' cases changed by
    other instances picked up. Must be well under `ttl_s`."""
    takeover: list[str] = Field(default_factory=list)
    """Rooms of other instances this one takes over when their lease expires (`["*"]`: any).
    Empty: it serves its own `rooms` only."""
    site_duties: bool = True
    """Compete for the site-wide duties: the HL7 sender, the PACS forwarder, the site status
    topic and commands that name no room. One instance holds them at a time."""

    @field_validator("instance_id")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not value or len(value) > 64 or any(ch in value for ch in "/#+ "):
            raise ValueError(f"{value!r} is not an instance id (1-64 characters, no / # + space)")
        return value


class WatchdogSettings(BaseModel):
    """The event-loop watchdog (suite/watchdog.py)."""

    enabled: bool = True
    """Measure the event loop's lag and alarm when it stalls."""
    interval_s: float = Field(default=0.5, gt=0)
    """How often the lag is measured."""
    threshold_s: float = Field(default=1.0, gt=0)
    """A lag above this raises the `loop_stalled` site technical alarm."""
    clear_after_s: float = Field(default=60.0, gt=0)
    """The alarm clears after this long without a stall."""


# IEC 60601-1-8 burst intervals (docs/clinical-defaults.md "Dashboard sounds"); the same
# figures as tui/annunciator.py DEFAULT_REPEAT_S (a test checks they agree).
TUI_REPEAT_S: dict[Literal["high", "medium", "low"], float | None] = {
    "high": 10.0,
    "medium": 20.0,
    "low": None,
}


class TuiSettings(BaseModel):
    """The terminal dashboard (`procsuite tui`); it reads `mqtt_url` and `site` above."""

    username: str | None = None
    """Broker user name the dashboard connects with (none: anonymous)."""
    password: str | None = None
    """Password for `username`."""
    reply_timeout_s: float = Field(default=10.0, gt=0)
    """How long the dashboard waits for the service to answer a command."""
    stale_after_s: float = Field(default=30.0, gt=0)
    """A room whose last snapshot is older than this is shown STALE (the service republishes
    every room at least every `mqtt.state_refresh_s`)."""
    sound: Literal["bell", "command", "off"] = "bell"
    """How the dashboard sounds unacknowledged alarms: the terminal bell, `sound_commands`,
    or not at all (`procsuite tui --sound`)."""
    sound_commands: dict[Literal["high", "medium", "low"], str] = Field(default_factory=dict)
    """With `sound = "command"`: the command line per priority (e.g. `aplay high.wav`); a
    priority without one rings the bell."""
    repeat_s: dict[Literal["high", "medium", "low"], float | None] = Field(
        default_factory=lambda: dict(TUI_REPEAT_S)
    )
    """Service seconds between repeats of an unacknowledged alarm's sound, per priority (none:
    it sounds once); docs/clinical-defaults.md "Dashboard sounds"."""
    sound_timeout_s: float = Field(default=10.0, gt=0)
    """A sound command still running after this is stopped (and the bell rings)."""

    @field_validator("repeat_s")
    @classmethod
    def _repeat_over_defaults(
        cls, value: dict[Literal["high", "medium", "low"], float | None]
    ) -> dict[Literal["high", "medium", "low"], float | None]:
        # A site that sets one priority keeps the defaults of the others.
        merged = {**TUI_REPEAT_S, **value}
        if any(v is not None and v <= 0 for v in merged.values()):
            raise ValueError("repeat intervals are positive seconds (or none: sound once)")
        return merged


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PROCSUITE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    site: str = "main"
    """Site name: the MQTT topic root is `procsuite/<site>`."""
    data_dir: Path = Path("var")
    """Where the SQLite database, DICOM files and other data live."""
    db_url: str | None = None
    """SQLAlchemy database URL; default: SQLite at `<data_dir>/procsuite.db`."""
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    """Broker URL (mqtt:// or mqtts://)."""
    dicom_port: int = 11112
    """TCP port of the DICOM listener."""
    hl7_port: int = 2575
    """TCP port of the HL7 MLLP listener."""
    rooms: list[str] = Field(default_factory=lambda: ["IR1", "IR2"])
    """The procedure rooms this instance serves."""
    users: dict[str, Role] = Field(default_factory=dict)
    """User name to role (technologist, nurse, radiologist, it, admin)."""
    log_level: str = "INFO"
    """Logging level (DEBUG, INFO, WARNING, ERROR)."""
    log_json: bool = False
    """Write logs as JSON lines instead of key=value text."""
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    dicom: DicomSettings = Field(default_factory=DicomSettings)
    dose: DoseSettings = Field(default_factory=DoseSettings)
    hl7: Hl7Settings = Field(default_factory=Hl7Settings)
    sdc: SdcSettings = Field(default_factory=SdcSettings)
    workflow: WorkflowSettings = Field(default_factory=WorkflowSettings)
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    tui: TuiSettings = Field(default_factory=TuiSettings)
    lease: LeaseSettings = Field(default_factory=LeaseSettings)
    watchdog: WatchdogSettings = Field(default_factory=WatchdogSettings)
    devices: DevicesSettings = Field(default_factory=DevicesSettings)

    @field_validator("dicom_port", "hl7_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 <= value <= 65535:
            raise ValueError(f"{value} is not a TCP port (0-65535)")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"{value} is not a logging level")
        return value

    @field_validator("site")
    @classmethod
    def _site(cls, value: str) -> str:
        if not value or any(ch in value for ch in "/#+ "):
            raise ValueError(f"{value!r} cannot be part of an MQTT topic")
        return value

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'procsuite.db').as_posix()}"

    @property
    def alarm_journal_path(self) -> Path:
        """This instance's local alarm journal (`alarms.journal_dir`, else
        `<data_dir>/alarm-journal`): one file per instance id."""
        folder = self.alarms.journal_dir or self.data_dir / "alarm-journal"
        return folder / f"{self.lease.instance_id}.jsonl"

    @property
    def topic_root(self) -> str:
        return f"procsuite/{self.site}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


class SettingsError(ConfigError):
    """A setting has a bad value; the message is one line naming it."""


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `config` (TOML), the environment and `overrides`, in rising priority."""
    if config is not None and not config.is_file():
        raise SettingsError(f"config file {config} does not exist")
    cls: type[Settings] = Settings
    if config is not None:
        cls = type(
            "FileSettings",
            (Settings,),
            {"model_config": {**Settings.model_config, "toml_file": config}},
        )
    try:
        return cls(**overrides)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # One line naming the file; not the 50-line traceback of the TOML parser.
        what = "is not UTF-8" if isinstance(exc, UnicodeDecodeError) else f"is not TOML: {exc}"
        raise SettingsError(f"config file {config} {what}") from None
    except OSError as exc:
        raise SettingsError(f"config file {config} cannot be read: {exc.strerror}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "__".join(str(p) for p in first["loc"] if p != "__root__")
        env = f"PROCSUITE_{name.upper()}"
        raise SettingsError(f"invalid setting {env} ({name}): {first['msg']}") from None
