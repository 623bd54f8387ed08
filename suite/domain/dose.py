"""Radiation dose rules: a case's running totals and the levels that need people to act.

Pure: dose reports in, totals and reached levels out. The thresholds are configurable
defaults; their sources are in docs/clinical-defaults.md ("Radiation dose"):

- NCRP Report No. 168 (2010), table 4.3: notify the operator when the reference air kerma
  reaches 3 Gy and again at every further 1 Gy; 5 Gy is the substantial radiation dose level
  (SRDL), which calls for patient follow-up for skin injury.
- SIR guidelines for patient radiation dose management (Stecker et al., JVIR 2009) adopt the
  same levels and ask for a skin follow-up (2-4 weeks) after a substantial dose.

Where the totals come from, best evidence first: the X-Ray Radiation Dose SR (cumulative, so
a later report of the same scope replaces an earlier one), then MPPS (totals of a performed
procedure step), then the sum of per-image attributes. Each quantity is taken from the best
source that reports it for the case, summed over that source's reports. Sources are ranked,
never added: an RDSR and the images it describes must not count twice, even when they come
from different AE titles (a dose registry forwarding the RDSR). The price: two x-ray units in
one case, one with an RDSR and one with images only, count only the RDSR.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from suite.domain.alarms.model import AlarmRaised, AlarmSource, Category, Priority


class DoseSource(StrEnum):
    """Where a dose report came from, best evidence first."""

    RDSR = "rdsr"
    MPPS = "mpps"
    IMAGE = "image"

    @property
    def rank(self) -> int:
        return {"rdsr": 0, "mpps": 1, "image": 2}[self.value]


@dataclass(frozen=True, slots=True)
class DoseReport:
    """One report of dose; None means the report does not carry that quantity.

    `key` identifies what the report describes: the accumulation scope of an RDSR (the study),
    the MPPS instance, or the image. Reports with the same source and key replace each other.
    """

    source: DoseSource
    key: str
    fluoro_time_s: float | None = None
    dap_gy_cm2: float | None = None
    air_kerma_mgy: float | None = None


@dataclass(frozen=True, slots=True)
class DoseTotals:
    fluoro_time_s: float = 0.0
    dap_gy_cm2: float = 0.0
    air_kerma_mgy: float = 0.0
    source: str = ""
    """Which sources the totals are made of, e.g. "rdsr" or "mpps+image"."""

    def same_values(self, other: DoseTotals, *, tolerance: float = 1e-6) -> bool:
        return (
            abs(self.fluoro_time_s - other.fluoro_time_s) <= tolerance
            and abs(self.dap_gy_cm2 - other.dap_gy_cm2) <= tolerance
            and abs(self.air_kerma_mgy - other.air_kerma_mgy) <= tolerance
        )


_QUANTITIES = ("fluoro_time_s", "dap_gy_cm2", "air_kerma_mgy")
_MAX_STEPS = 1000


def case_totals(reports: Iterable[DoseReport]) -> DoseTotals:
    """The case's totals from every report received for it (see the module doc)."""
    # (source, key) -> field-wise maximum: a cumulative report only grows, and a repeated
    # report of the same thing must not count twice.
    merged: dict[tuple[DoseSource, str], dict[str, float]] = {}
    for report in reports:
        slot = merged.setdefault((report.source, report.key), {})
        for name in _QUANTITIES:
            value = getattr(report, name)
            if value is not None and value >= 0:
                slot[name] = max(slot.get(name, 0.0), float(value))
    # source -> quantity -> sum over the source's reports
    by_source: dict[DoseSource, dict[str, float]] = {}
    for (source, _key), values in merged.items():
        sums = by_source.setdefault(source, {})
        for name, value in values.items():
            sums[name] = sums.get(name, 0.0) + value
    totals = dict.fromkeys(_QUANTITIES, 0.0)
    used: set[DoseSource] = set()
    for name in _QUANTITIES:
        for source in sorted(by_source, key=lambda s: s.rank):
            if name in by_source[source]:
                totals[name] = by_source[source][name]
                used.add(source)
                break
    return DoseTotals(
        fluoro_time_s=totals["fluoro_time_s"],
        dap_gy_cm2=totals["dap_gy_cm2"],
        air_kerma_mgy=totals["air_kerma_mgy"],
        source="+".join(s.value for s in sorted(used, key=lambda s: s.rank)),
    )


class DoseQuantity(StrEnum):
    """A cumulative dose quantity with its own levels; the value is its `DoseTotals` field."""

    AIR_KERMA = "air_kerma_mgy"
    DAP = "dap_gy_cm2"
    FLUORO_TIME = "fluoro_time_s"


@dataclass(frozen=True, slots=True)
class LevelScheme:
    """The levels of one quantity: a first notification, one every `step` after it, and the
    substantial radiation dose level (SRDL), all in the quantity's unit."""

    first: float
    step: float
    substantial: float

    def __post_init__(self) -> None:
        if not (self.first > 0 and self.step > 0):
            raise ValueError("dose notification levels must be positive")
        if not self.substantial > 0:
            raise ValueError("the substantial radiation dose level must be positive")

    def levels_up_to(self, value: float) -> list[float]:
        """Every level (notifications and the SRDL) at or below `value`, ascending."""
        found: set[float] = set()
        if value >= self.substantial:
            found.add(self.substantial)
        if value >= self.first:
            # An absurd total (a unit error upstream) must not make millions of levels.
            steps = min(int((value - self.first) // self.step), _MAX_STEPS)
            for n in range(steps + 1):
                found.add(round(self.first + n * self.step, 6))
        return sorted(found)

    def next_level(self, value: float) -> float:
        """The lowest notification level or SRDL above `value`."""
        candidates = [self.substantial] if self.substantial > value else []
        if value < self.first:
            candidates.append(self.first)
        else:
            steps = int((value - self.first) // self.step) + 1
            candidates.append(round(self.first + steps * self.step, 6))
        return min(candidates)


@dataclass(frozen=True, slots=True)
class DoseThresholds:
    """Dose levels of each quantity; sources in docs/clinical-defaults.md."""

    first_notification_mgy: float = 3000.0  # NCRP 168: first notification at 3 Gy
    notification_step_mgy: float = 1000.0  # NCRP 168: then every further 1 Gy
    substantial_mgy: float = 5000.0  # NCRP 168 / SIR: substantial radiation dose level
    dap_first_gy_cm2: float = 300.0  # NCRP 168 table 4.3 (assumes a 100 cm2 field)
    dap_step_gy_cm2: float = 100.0
    dap_substantial_gy_cm2: float = 500.0  # SIR (Stecker 2009) / NCRP 168 SRDL
    fluoro_first_s: float = 30 * 60.0  # NCRP 168: 30 min
    fluoro_step_s: float = 15 * 60.0  # NCRP 168: then every 15 min
    fluoro_substantial_s: float = 60 * 60.0  # SIR (Stecker 2009) / NCRP 168 SRDL: 60 min

    def __post_init__(self) -> None:
        for quantity in DoseQuantity:
            self.scheme(quantity)  # raises ValueError on a bad level

    def scheme(self, quantity: DoseQuantity) -> LevelScheme:
        if quantity is DoseQuantity.DAP:
            return LevelScheme(
                self.dap_first_gy_cm2, self.dap_step_gy_cm2, self.dap_substantial_gy_cm2
            )
        if quantity is DoseQuantity.FLUORO_TIME:
            return LevelScheme(self.fluoro_first_s, self.fluoro_step_s, self.fluoro_substantial_s)
        return LevelScheme(
            self.first_notification_mgy, self.notification_step_mgy, self.substantial_mgy
        )

    def levels_up_to(self, air_kerma_mgy: float) -> list[float]:
        """Every air kerma level (notifications and the SRDL) at or below `air_kerma_mgy`."""
        return self.scheme(DoseQuantity.AIR_KERMA).levels_up_to(air_kerma_mgy)


def next_level_mgy(air_kerma_mgy: float, thresholds: DoseThresholds) -> float:
    """The lowest notification level or SRDL above `air_kerma_mgy` (what the board shows the
    dose against)."""
    return thresholds.scheme(DoseQuantity.AIR_KERMA).next_level(air_kerma_mgy)


_UNIT = {DoseQuantity.AIR_KERMA: "Gy", DoseQuantity.DAP: "Gy·cm²", DoseQuantity.FLUORO_TIME: "min"}
_KIND = {DoseQuantity.AIR_KERMA: "", DoseQuantity.DAP: "dap_", DoseQuantity.FLUORO_TIME: "fluoro_"}


def _shown(quantity: DoseQuantity, value: float, *, decimals: int = 0) -> float:
    """A value in the unit people read: Gy for air kerma, minutes for fluoroscopy time."""
    if quantity is DoseQuantity.AIR_KERMA:
        return value / 1000
    if quantity is DoseQuantity.FLUORO_TIME:
        return value / 60
    return value


@dataclass(frozen=True, slots=True)
class DoseLevel:
    """A level a case's dose quantity has reached (in that quantity's unit)."""

    threshold_mgy: float  # the threshold, in the quantity's own unit (mGy, Gy·cm², s)
    substantial: bool
    quantity: DoseQuantity = DoseQuantity.AIR_KERMA

    @property
    def kind(self) -> str:
        shown = f"{_shown(self.quantity, self.threshold_mgy):g}"
        unit = {"Gy": "gy", "Gy·cm²": "gycm2", "min": "min"}[_UNIT[self.quantity]]
        srdl = "srdl_" if self.substantial else ""
        return f"dose_{_KIND[self.quantity]}{srdl}{shown}{unit}"


@dataclass(frozen=True, slots=True)
class DoseLevelsReached:
    """What a new total means: the levels passed now, and which of them to announce.

    Every level in `passed` is recorded as announced; only `announce` raises alarms, so a
    single report that jumps from 0 to 5.2 Gy raises one notification-or-SRDL alarm each,
    not one per gray.
    """

    passed: tuple[DoseLevel, ...]
    announce: tuple[DoseLevel, ...]

    @property
    def substantial_reached(self) -> bool:
        return any(level.substantial for level in self.passed)


def levels_reached(
    air_kerma_mgy: float,
    *,
    announced_mgy: Iterable[float],
    thresholds: DoseThresholds,
    quantity: DoseQuantity = DoseQuantity.AIR_KERMA,
) -> DoseLevelsReached:
    """The levels of `quantity` (reference air kerma unless said) at or below the value
    `air_kerma_mgy` not announced before.

    Of the notification levels passed now only the highest is announced; the SRDL is always
    announced on its own when passed (it replaces a notification at the same level).
    """
    scheme = thresholds.scheme(quantity)
    done = {round(v, 6) for v in announced_mgy}
    new = [lv for lv in scheme.levels_up_to(air_kerma_mgy) if round(lv, 6) not in done]
    passed = tuple(DoseLevel(lv, lv == scheme.substantial, quantity) for lv in new)
    notifications = [lv for lv in passed if not lv.substantial]
    substantial = [lv for lv in passed if lv.substantial]
    announce = list(substantial)
    if notifications:
        top = notifications[-1]
        if not substantial or top.threshold_mgy > substantial[0].threshold_mgy:
            announce.insert(0, top)
    return DoseLevelsReached(passed=passed, announce=tuple(announce))


_WHAT = {
    DoseQuantity.AIR_KERMA: "reference air kerma",
    DoseQuantity.DAP: "kerma-area product (DAP)",
    DoseQuantity.FLUORO_TIME: "fluoroscopy time",
}


def dose_alarm(
    level: DoseLevel,
    *,
    totals: DoseTotals,
    case_id: str,
    room: str,
    at: datetime,
) -> AlarmRaised:
    """The alarm announcing `level` for a case; its id is stable per case and level."""
    quantity = level.quantity
    unit, what = _UNIT[quantity], _WHAT[quantity]
    value = _shown(quantity, getattr(totals, quantity.value))
    threshold = _shown(quantity, level.threshold_mgy)
    shown = f"{value:.1f} {unit}" if quantity is not DoseQuantity.AIR_KERMA else f"{value:.2f} Gy"
    if level.substantial:
        message = (
            f"Substantial radiation dose level reached: {what} {shown}"
            f" (SRDL {threshold:g} {unit}). Skin follow-up needed."
            if quantity is DoseQuantity.AIR_KERMA
            else f"Substantial radiation dose level reached: {what} {shown}"
            f" (SRDL {threshold:g} {unit}). Consider skin follow-up."
        )
        priority = Priority.HIGH
    else:
        message = f"Radiation dose notification: {what} {shown} (level {threshold:g} {unit})."
        priority = Priority.MEDIUM
    rule = "dose_srdl" if level.substantial else "dose_notification"
    if quantity is not DoseQuantity.AIR_KERMA:
        rule = f"{rule}.{quantity.value}"
    return AlarmRaised(
        alarm_id=f"{case_id}-{level.kind}",
        room=room,
        at=at,
        kind=level.kind,
        category=Category.PROCEDURE,
        priority=priority,
        message=message,
        source=AlarmSource(
            rule=rule,
            parameter=(
                "reference_air_kerma_mgy" if quantity is DoseQuantity.AIR_KERMA else quantity.value
            ),
            evidence=(
                ("air_kerma_mgy", totals.air_kerma_mgy),
                (
                    "threshold_mgy"
                    if quantity is DoseQuantity.AIR_KERMA
                    else f"threshold_{quantity.value}",
                    level.threshold_mgy,
                ),
                ("dap_gy_cm2", totals.dap_gy_cm2),
                ("fluoro_time_s", totals.fluoro_time_s),
            ),
        ),
        latching=True,
        case_id=case_id,
    )


def follow_up_task_text(totals: DoseTotals, thresholds: DoseThresholds) -> str:
    """The text of the skin follow-up task created when the SRDL is passed."""
    return (
        f"Skin follow-up: reference air kerma {totals.air_kerma_mgy / 1000:.2f} Gy reached the"
        f" substantial radiation dose level ({thresholds.substantial_mgy / 1000:g} Gy);"
        f" DAP {totals.dap_gy_cm2:.1f} Gy·cm², fluoroscopy {totals.fluoro_time_s / 60:.1f} min."
        " Tell the patient, note the dose in the record, and check the skin at the beam"
        " entrance at 2-4 weeks (SIR / NCRP 168)."
    )
