"""Configuration: a TOML file (`--config`) and `PROCSUITE_*` environment variables.

Environment variables win over the file. Nested sections use a double underscore:
`PROCSUITE_DICOM__AE_TITLE=PROCSUITE`. Every field has a docstring: it is the documentation
(docs/configuration.md lists them).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from suite.domain.policy import DEFAULT_POLICY, WorkflowPolicy


class Role(StrEnum):
    TECHNOLOGIST = "technologist"
    NURSE = "nurse"
    RADIOLOGIST = "radiologist"
    IT = "it"
    ADMIN = "admin"


class MqttSettings(BaseModel):
    embedded: bool = False
    """Run an in-process broker on the host and port of `mqtt_url` (the demo default)."""
    username: str | None = None
    """User name procsuite connects to the broker with."""
    password: str | None = None
    """Password for `username`."""
    client_id: str = "procsuite-service"
    """MQTT client identifier of the service."""


class DicomSettings(BaseModel):
    enabled: bool = True
    """Run the DICOM listener."""
    ae_title: str = "PROCSUITE"
    """Our Application Entity title."""
    host: str = "127.0.0.1"
    """Address the DICOM listener binds to."""
    allowed_callers: dict[str, str] = Field(default_factory=dict)
    """Calling AE titles allowed to associate, each with the host it must come from ('*' for any).
    Empty allows every caller."""


class Hl7Settings(BaseModel):
    enabled: bool = True
    """Run the HL7 MLLP listener."""
    host: str = "127.0.0.1"
    """Address the MLLP listener binds to."""
    outbound_host: str | None = None
    """Host of the hospital system that receives our ORM / ORU messages (none: no outbound)."""
    outbound_port: int = 2576
    """Port of the outbound MLLP receiver."""


class WorkflowSettings(BaseModel):
    cement_working_time_s: float = DEFAULT_POLICY.cement_working_time_s
    """Seconds PMMA cement stays workable after mixing (docs/clinical-defaults.md)."""
    procedure_overrun_s: float = DEFAULT_POLICY.procedure_overrun_s
    """Seconds after the time-out at which the procedure counts as overrunning."""
    fracture_max_age_days: int = DEFAULT_POLICY.fracture_max_age_days
    """Fracture age in days above which the time-out shows a warning."""
    recovery_stable_vitals_s: float = DEFAULT_POLICY.recovery_stable_vitals_s
    """Seconds of stable vitals in recovery before discharge is allowed."""
    imaging_check_requires_image: bool = DEFAULT_POLICY.imaging_check_requires_image
    """Refuse the imaging check until an image arrived after the last cement injection."""

    def policy(self) -> WorkflowPolicy:
        return WorkflowPolicy(**self.model_dump())


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
    hl7: Hl7Settings = Field(default_factory=Hl7Settings)
    workflow: WorkflowSettings = Field(default_factory=WorkflowSettings)

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


class SettingsError(Exception):
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
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "__".join(str(p) for p in first["loc"] if p != "__root__")
        env = f"PROCSUITE_{name.upper()}"
        raise SettingsError(f"invalid setting {env} ({name}): {first['msg']}") from None
