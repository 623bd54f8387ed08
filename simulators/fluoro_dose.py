"""Radiation dose of a simulated fluoroscopy unit: irradiation events and their totals.

Pure: an event's dose follows from its kind, duration and technique; `DoseLedger` sums them
the way an RDSR's accumulated dose data and an MPPS's dose attributes do, so every total the
modality reports (per image, in MPPS, in the RDSR) is the sum of the same events.

Units follow DICOM: dose-area product in Gy·m² (SR, UCUM "Gy.m2"; 1 Gy·m² = 10 000 Gy·cm²),
reference-point air kerma in Gy, times in seconds. The defaults are illustrative figures of
the order reported for vertebral augmentation under single-plane fluoroscopy (see
docs/clinical-defaults.md, "Simulated fluoroscopy dose"); they are not measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class EventKind(StrEnum):
    FLUOROSCOPY = "fluoroscopy"  # continuous/pulsed screening (RDSR: 44491008 SCT Fluoroscopy)
    ACQUISITION = "acquisition"  # a radiographic exposure (RDSR: 113611 Stationary Acquisition)


class View(StrEnum):
    AP = "AP"
    LATERAL = "LAT"

    @property
    def primary_angle_deg(self) -> float:
        return 0.0 if self is View.AP else 90.0


@dataclass(frozen=True, slots=True)
class Technique:
    """How the unit irradiates; rates are per minute of beam-on time."""

    kvp: float = 80.0
    tube_current_ma: float = 4.0
    pulse_rate_per_s: float = 7.5
    pulse_width_ms: float = 8.0
    fluoro_dap_gycm2_per_min: float = 1.2
    fluoro_kerma_mgy_per_min: float = 12.0
    acquisition_kvp: float = 85.0
    acquisition_tube_current_ma: float = 250.0
    acquisition_exposure_ms: float = 80.0
    acquisition_dap_gycm2: float = 0.3
    acquisition_kerma_mgy: float = 1.5
    source_detector_mm: float = 1100.0
    source_patient_mm: float = 750.0

    def scaled(self, factor: float) -> Technique:
        """The same technique with every dose rate multiplied by `factor` (a heavy patient,
        a long procedure, or a demo that must reach the dose notification levels)."""
        if factor <= 0:
            raise ValueError(f"dose scale must be > 0, got {factor}")
        return replace(
            self,
            fluoro_dap_gycm2_per_min=self.fluoro_dap_gycm2_per_min * factor,
            fluoro_kerma_mgy_per_min=self.fluoro_kerma_mgy_per_min * factor,
            acquisition_dap_gycm2=self.acquisition_dap_gycm2 * factor,
            acquisition_kerma_mgy=self.acquisition_kerma_mgy * factor,
        )


@dataclass(frozen=True, slots=True)
class IrradiationEvent:
    """One irradiation event (a press of the fluoroscopy pedal, or one exposure)."""

    uid: str
    kind: EventKind
    started_at: datetime
    duration_s: float
    view: View
    kvp: float
    tube_current_ma: float
    pulse_rate_per_s: float | None
    pulse_width_ms: float | None
    dap_gym2: float
    kerma_gy: float
    protocol: str  # e.g. "Trocar L1", "Cement T12"
    level: str = ""

    @property
    def dap_gycm2(self) -> float:
        return self.dap_gym2 * 10_000.0

    @property
    def dap_dgycm2(self) -> float:
        """In dGy·cm², the unit of (0018,115E) Image and Fluoroscopy Area Dose Product."""
        return self.dap_gym2 * 100_000.0

    @property
    def pulses(self) -> int:
        if self.pulse_rate_per_s is None:
            return 1
        return max(1, round(self.duration_s * self.pulse_rate_per_s))


def fluoroscopy(
    technique: Technique,
    *,
    uid: str,
    started_at: datetime,
    duration_s: float,
    view: View,
    protocol: str,
    level: str = "",
) -> IrradiationEvent:
    minutes = duration_s / 60.0
    return IrradiationEvent(
        uid=uid,
        kind=EventKind.FLUOROSCOPY,
        started_at=started_at,
        duration_s=duration_s,
        view=view,
        kvp=technique.kvp,
        tube_current_ma=technique.tube_current_ma,
        pulse_rate_per_s=technique.pulse_rate_per_s,
        pulse_width_ms=technique.pulse_width_ms,
        dap_gym2=technique.fluoro_dap_gycm2_per_min * minutes / 10_000.0,
        kerma_gy=technique.fluoro_kerma_mgy_per_min * minutes / 1000.0,
        protocol=protocol,
        level=level,
    )


def acquisition(
    technique: Technique,
    *,
    uid: str,
    started_at: datetime,
    view: View,
    protocol: str,
    level: str = "",
) -> IrradiationEvent:
    return IrradiationEvent(
        uid=uid,
        kind=EventKind.ACQUISITION,
        started_at=started_at,
        duration_s=technique.acquisition_exposure_ms / 1000.0,
        view=view,
        kvp=technique.acquisition_kvp,
        tube_current_ma=technique.acquisition_tube_current_ma,
        pulse_rate_per_s=None,
        pulse_width_ms=None,
        dap_gym2=technique.acquisition_dap_gycm2 / 10_000.0,
        kerma_gy=technique.acquisition_kerma_mgy / 1000.0,
        protocol=protocol,
        level=level,
    )


@dataclass
class DoseLedger:
    """The events of one procedure step and their totals."""

    events: list[IrradiationEvent] = field(default_factory=list)

    def add(self, event: IrradiationEvent) -> IrradiationEvent:
        self.events.append(event)
        return event

    def _of(self, kind: EventKind) -> list[IrradiationEvent]:
        return [e for e in self.events if e.kind is kind]

    @property
    def fluoro_dap_gym2(self) -> float:
        return sum(e.dap_gym2 for e in self._of(EventKind.FLUOROSCOPY))

    @property
    def fluoro_kerma_gy(self) -> float:
        return sum(e.kerma_gy for e in self._of(EventKind.FLUOROSCOPY))

    @property
    def fluoro_time_s(self) -> float:
        return sum(e.duration_s for e in self._of(EventKind.FLUOROSCOPY))

    @property
    def acquisition_dap_gym2(self) -> float:
        return sum(e.dap_gym2 for e in self._of(EventKind.ACQUISITION))

    @property
    def acquisition_kerma_gy(self) -> float:
        return sum(e.kerma_gy for e in self._of(EventKind.ACQUISITION))

    @property
    def acquisition_time_s(self) -> float:
        return sum(e.duration_s for e in self._of(EventKind.ACQUISITION))

    @property
    def acquisitions(self) -> int:
        return len(self._of(EventKind.ACQUISITION))

    @property
    def dap_gym2(self) -> float:
        return self.fluoro_dap_gym2 + self.acquisition_dap_gym2

    @property
    def kerma_gy(self) -> float:
        return self.fluoro_kerma_gy + self.acquisition_kerma_gy

    @property
    def radiographic_frames(self) -> int:
        """Frames of radiographic acquisitions (fluoroscopy frames are not counted)."""
        return self.acquisitions

    def first_start(self) -> datetime | None:
        return min((e.started_at for e in self.events), default=None)

    def last_end(self) -> datetime | None:
        return max(
            (e.started_at + timedelta(seconds=e.duration_s) for e in self.events), default=None
        )
