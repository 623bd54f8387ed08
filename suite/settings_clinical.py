"""The clinical sections of the settings: alarms, dose levels and the workflow (re-exported
by suite.settings; every default's source is in docs/clinical-defaults.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from suite.domain.dose import DoseThresholds
from suite.domain.policy import DEFAULT_POLICY, WorkflowPolicy


class DoseSettings(BaseModel):
    """Dose notification levels of reference air kerma, kerma-area product (DAP) and
    fluoroscopy time (docs/clinical-defaults.md, "Radiation dose")."""

    first_notification_mgy: float = Field(default=3000.0, gt=0)
    """First notification of the operator (NCRP Report 168: 3 Gy)."""
    notification_step_mgy: float = Field(default=1000.0, gt=0)
    """Further notifications every this much (NCRP Report 168: 1 Gy)."""
    substantial_mgy: float = Field(default=5000.0, gt=0)
    """Substantial radiation dose level: a high-priority alarm and a skin follow-up task
    (NCRP Report 168 / SIR: 5 Gy)."""
    dap_first_gy_cm2: float = Field(default=300.0, gt=0)
    """First DAP notification (NCRP Report 168 table 4.3: 300 Gy·cm²)."""
    dap_step_gy_cm2: float = Field(default=100.0, gt=0)
    """Further DAP notifications every this much (NCRP Report 168: 100 Gy·cm²)."""
    dap_substantial_gy_cm2: float = Field(default=500.0, gt=0)
    """DAP substantial radiation dose level (NCRP Report 168 / SIR: 500 Gy·cm²)."""
    fluoro_first_s: float = Field(default=1800.0, gt=0)
    """First fluoroscopy time notification (NCRP Report 168: 30 min)."""
    fluoro_step_s: float = Field(default=900.0, gt=0)
    """Further fluoroscopy time notifications every this much (NCRP Report 168: 15 min)."""
    fluoro_substantial_s: float = Field(default=3600.0, gt=0)
    """Fluoroscopy time substantial radiation dose level (NCRP Report 168 / SIR: 60 min)."""

    def thresholds(self) -> DoseThresholds:
        return DoseThresholds(**self.model_dump())


class AlarmSettings(BaseModel):
    config: dict[str, Any] = Field(default_factory=dict)
    """Overrides of the vital-sign alarm defaults (docs/clinical-defaults.md), e.g.
    {"stale_feed_s": 20, "limits": {"spo2": {"low": 92, "delay_s": 15}},
    "capnography": {"apnea_s": 30, "hypoventilation_rise_mmhg": 8}}."""
    tick_s: float = Field(default=1.0, gt=0, le=5)
    """How often the alarm engine checks time-based rules (stale feeds, escalation)."""
    journal_dir: Path | None = None
    """Where the local alarm journal lives (default `<data_dir>/alarm-journal`): alarm events
    are fsync'd there before they are announced, and reach the database from there. Put it on
    a local disk, ideally not the database's."""

    @field_validator("config")
    @classmethod
    def _alarm_config(cls, value: dict[str, Any]) -> dict[str, Any]:
        from suite.domain.alarms.config_mapping import config_from_mapping
        from suite.domain.errors import InvalidValue

        try:
            config_from_mapping(value)
        except InvalidValue as exc:
            raise ValueError(exc.message) from None
        return value

    def engine_config(self) -> Any:
        """The `AlarmConfig` these settings describe."""
        from suite.domain.alarms.config_mapping import config_from_mapping

        return config_from_mapping(self.config)


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
