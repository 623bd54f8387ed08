"""What the dashboard knows about the suite: plain, frozen values decoded from the wire.

They mirror the service's public MQTT contract (docs/mqtt.md): the retained room snapshot,
alarm lifecycle events, vitals, device and service status, and command replies. Nothing here
is a service or store type; wire.py builds these from JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from suite.domain.alarms.model import Priority


class Link(StrEnum):
    """The dashboard's link to the service."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    link: Link
    at: datetime
    detail: str = ""
    attempt: int = 0
    resync: bool = False  # the dashboard should ask the service to republish everything


@dataclass(frozen=True, slots=True)
class Reply:
    """The service's answer to a command; `error` is the refusing rule in words."""

    id: str
    ok: bool
    result: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    rule: str = ""


@dataclass(frozen=True, slots=True)
class VitalsReading:
    """One sample of a monitor (`rooms/<room>/vitals/<device>`)."""

    room: str
    device: str
    at: datetime
    values: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's retained `online` / `offline` (None: the status was deleted)."""

    room: str
    device: str
    online: bool | None


Reading = VitalsReading | DeviceStatus


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """The service's own status topic: online or not, and whatever counters it publishes."""

    online: bool | None
    at: datetime | None
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AlarmView:
    alarm_id: str
    room: str
    kind: str
    priority: Priority
    message: str
    state: str  # active / acknowledged / cleared
    raised_at: datetime | None
    category: str = ""
    case_id: str | None = None
    latching: bool = False
    condition_active: bool = True
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    cleared_at: datetime | None = None
    audio_paused_by: str | None = None
    audio_paused_until: datetime | None = None  # service time its sound comes back

    @property
    def needs_ack(self) -> bool:
        return self.state == "active"


@dataclass(frozen=True, slots=True)
class LimitChange:
    """A nurse's limit for this room's patient, with who and why."""

    parameter: str
    low: float | None
    high: float | None
    user: str
    reason: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class AlarmUpdate:
    """One alarm lifecycle event from `alarms/<room>` (with the alarm's view after it)."""

    event: str  # raised / escalated / acknowledged / condition_ended / condition_returned /
    # cleared / limit_adjusted
    room: str
    at: datetime
    alarm: AlarmView | None
    user: str | None = None
    reason: str = ""
    event_id: int | None = None
    limit: LimitChange | None = None


@dataclass(frozen=True, slots=True)
class Injection:
    at: datetime | None
    volume_ml: float
    leakage: str


@dataclass(frozen=True, slots=True)
class LevelView:
    """One planned vertebral level with its trocar, balloon and cement."""

    level: str
    trocar: str | None = None  # "transpedicular, unipedicular"
    trocar_at: datetime | None = None
    trocar_confirmed_at: datetime | None = None
    balloon_pressure_psi: float | None = None
    balloon_volume_ml: float | None = None
    balloon_at: datetime | None = None
    balloon_removed_at: datetime | None = None
    injections: tuple[Injection, ...] = ()

    @property
    def cement_volume_ml(self) -> float:
        return sum(i.volume_ml for i in self.injections)


@dataclass(frozen=True, slots=True)
class ImageView:
    at: datetime | None
    sop_instance_uid: str
    modality: str
    step: str
    level: str | None


@dataclass(frozen=True, slots=True)
class ReceivedImage:
    """An image the service received for the case (DICOM), linked to a step or not."""

    sop_instance_uid: str
    series_uid: str
    modality: str
    received_at: datetime | None
    linked: bool


@dataclass(frozen=True, slots=True)
class DoseView:
    air_kerma_mgy: float
    dap_gy_cm2: float
    fluoro_time_s: float
    source: str
    at: datetime | None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    seq: int
    at: datetime | None
    what: str
    actor: str
    source: str


@dataclass(frozen=True, slots=True)
class CaseView:
    case_id: str
    room: str
    procedure: str
    levels: tuple[str, ...]
    phase: str
    version: int = 0  # how many events the case has; grows with every step
    mrn: str = ""
    patient_name: str = ""
    sex: str = ""
    accession: str = ""
    phase_since: datetime | None = None
    phase_history: tuple[tuple[str, datetime | None], ...] = ()
    checklist: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # item -> status, detail
    checklist_missing: tuple[str, ...] = ()
    labs: str = ""  # "INR 1.0, platelets 250 x10^9/L"
    time_out: str = ""  # "signed by dr.rad: T12, L1, bilateral"
    time_out_at: datetime | None = None
    sedation: tuple[str, ...] = ()
    local_anesthetics: tuple[str, ...] = ()
    level_views: tuple[LevelView, ...] = ()
    cement_product: str = ""
    cement_mixed_at: datetime | None = None
    cement_time_left_s: float | None = None
    cement_working_time_s: float | None = None
    procedure_elapsed_s: float | None = None
    images: tuple[ImageView, ...] = ()
    received_images: tuple[ReceivedImage, ...] = ()  # newest first
    dose: DoseView | None = None
    imaging_check: str = ""
    warnings: tuple[str, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    end_reason: str = ""
    phases: tuple[str, ...] = ()  # the procedure's phase sequence (board: "phase 10/14")
    procedure_overrun_s: float | None = None
    dose_next_level_mgy: float | None = None


@dataclass(frozen=True, slots=True)
class VitalView:
    value: float | None
    at: datetime | None
    device: str = ""


@dataclass(frozen=True, slots=True)
class Limits:
    low: float | None
    high: float | None
    allowed: tuple[float, float] | None = None  # what may be set for this patient


@dataclass(frozen=True, slots=True)
class DeviceView:
    name: str
    online: bool | None
    last_sample_at: datetime | None = None
    samples: int | None = None
    kind: str = ""  # how it reaches procsuite: mqtt, pcd01 (HL7 gateway) or sdc


@dataclass(frozen=True, slots=True)
class ScheduledCase:
    """A case booked for a room and not yet checked in."""

    case_id: str
    accession: str
    mrn: str
    patient_name: str
    procedure: str
    levels: tuple[str, ...]
    scheduled_at: datetime | None


@dataclass(frozen=True, slots=True)
class RoomState:
    """The retained snapshot of one room (`rooms/<room>/state`) as of `at` (service time)."""

    room: str
    at: datetime
    case: CaseView | None = None
    vitals: Mapping[str, VitalView] = field(default_factory=dict)
    limits: Mapping[str, Limits] = field(default_factory=dict)
    adjusted_limits: tuple[LimitChange, ...] = ()
    devices: tuple[DeviceView, ...] = ()
    alarms: tuple[AlarmView, ...] = ()
    vitals_stable_since: datetime | None = None
    faults: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # device -> kind -> n
    scheduled: tuple[ScheduledCase, ...] = ()  # booked, not checked in; earliest first
