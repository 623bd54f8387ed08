"""The steps of a whole vertebroplasty or kyphoplasty, as a suite's team logs them: pure data.

`plan_case` gives every step from check-in to discharge, in order, each with the role that
logs it, its fields (the JSON `fields` of the MQTT `log_step` command: the names of
suite/steps.py) and the simulated seconds since the step before. Who logs what:

- the nurse: check-in, the pre-procedure checklist and labs, sedation, recovery, discharge;
- the radiologist: the time-out and the imaging check (they sign them; only radiologists may);
- the technologist: positioning and every step at the table (local, trocar, balloon, cement,
  closure), as the technologist does at the terminal while the radiologist works.

The pace (`Pace`, simulated seconds) is a typical, unhurried case: about 50 minutes from
check-in to recovery for two levels, then the stable-vitals time in recovery
(`recovery_stable_vitals_s`, 60 minutes by default) before discharge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

PROCEDURES = ("vertebroplasty", "kyphoplasty")


class Role(StrEnum):
    NURSE = "nurse"
    TECHNOLOGIST = "technologist"
    RADIOLOGIST = "radiologist"


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One step to log: `step` (a suite step name) by `role` with `fields`, `gap_s`
    simulated seconds after the previous step."""

    step: str
    role: Role
    fields: Mapping[str, Any] = field(default_factory=dict)
    gap_s: float = 60.0
    level: str | None = None
    # Fields to log instead when the service's guard refuses `fields` (e.g. pregnancy status
    # "not applicable" is refused for a woman under 60: then it is recorded as done).
    fallback: Mapping[str, Any] | None = None
    # When the guard refuses, wait this long (simulated) and try again, up to `retry_for_s`
    # (discharge: the vitals have not been stable long enough yet).
    retry_every_s: float | None = None
    retry_for_s: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.step} {self.level}" if self.level else self.step


@dataclass(frozen=True, slots=True)
class Pace:
    """Simulated seconds before each kind of step (after the one before it)."""

    checklist_s: float = 60.0  # each checklist item, the labs
    time_out_s: float = 180.0
    sedation_s: float = 120.0
    position_s: float = 180.0
    local_s: float = 180.0
    trocar_s: float = 240.0
    confirm_s: float = 120.0
    balloon_s: float = 180.0
    balloon_out_s: float = 150.0
    mix_s: float = 120.0
    cement_s: float = 180.0
    check_s: float = 180.0
    close_s: float = 300.0
    recovery_s: float = 300.0
    # From the start of recovery to discharge: the service's stable-vitals time (3600 s by
    # default, docs/clinical-defaults.md) and a minute more.
    discharge_s: float = 3660.0
    discharge_retry_s: float = 300.0
    discharge_retry_for_s: float = 2 * 3600.0

    def scaled(self, factor: float) -> Pace:
        """Every gap but the discharge ones multiplied by `factor` (a faster or slower team)."""
        if factor <= 0:
            raise ValueError(f"a pace factor must be > 0, got {factor}")
        keep = {"discharge_s", "discharge_retry_s", "discharge_retry_for_s"}
        values = {
            name: getattr(self, name) * (1 if name in keep else factor)
            for name in self.__dataclass_fields__
        }
        return Pace(**values)


CHECKLIST = ("consent", "allergies_reviewed", "anticoagulants_held", "npo", "iv_access")


@dataclass(frozen=True, slots=True)
class CasePlan:
    procedure: str
    levels: tuple[str, ...]
    steps: tuple[PlannedStep, ...]

    @property
    def duration_s(self) -> float:
        """Simulated seconds from the first step to the last, when nothing is refused."""
        return sum(s.gap_s for s in self.steps[1:])

    def index_of(self, step: str, level: str | None = None) -> int:
        for i, s in enumerate(self.steps):
            if s.step == step and (level is None or s.level == level):
                return i
        raise KeyError(f"no step {step} {level or ''} in the plan".rstrip())


def plan_case(
    procedure: str,
    levels: tuple[str, ...] | list[str],
    *,
    radiologist: str,
    pace: Pace | None = None,
) -> CasePlan:
    """Every step of a case of `procedure` on `levels`, check-in to discharge.

    `radiologist` is the user name that signs the time-out and the imaging check.
    """
    if procedure not in PROCEDURES:
        raise ValueError(f"procedure {procedure!r} is not one of {', '.join(PROCEDURES)}")
    chosen = tuple(lv.strip().upper() for lv in levels if lv.strip())
    if not chosen:
        raise ValueError("a case needs at least one vertebral level")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"levels {', '.join(chosen)} name a level twice")
    p = pace or Pace()
    kypho = procedure == "kyphoplasty"
    nurse, tech, rad = Role.NURSE, Role.TECHNOLOGIST, Role.RADIOLOGIST
    steps: list[PlannedStep] = [PlannedStep("check-in", nurse, gap_s=0.0)]
    steps += [
        PlannedStep("checklist", nurse, {"item": item, "status": "done"}, p.checklist_s)
        for item in CHECKLIST
    ]
    steps.append(
        PlannedStep(
            "checklist",
            nurse,
            {"item": "pregnancy_status", "status": "not_applicable", "detail": "postmenopausal"},
            p.checklist_s,
            fallback={"item": "pregnancy_status", "status": "done", "detail": "test negative"},
        )
    )
    steps.append(
        PlannedStep("labs", nurse, {"inr": 1.0, "platelets_10e9_per_l": 240}, p.checklist_s)
    )
    steps.append(
        PlannedStep(
            "time-out",
            rad,
            {
                "signed_by": radiologist,
                "patient_confirmed": True,
                "procedure": procedure,
                "levels": list(chosen),
                "side": "bilateral" if kypho else "left",
            },
            p.time_out_s,
        )
    )
    steps.append(
        PlannedStep(
            "sedation",
            nurse,
            {
                "drugs": [
                    {"drug": "midazolam", "dose": 1, "unit": "mg"},
                    {"drug": "fentanyl", "dose": 50, "unit": "mcg"},
                ]
            },
            p.sedation_s,
        )
    )
    steps.append(PlannedStep("position", tech, {"position": "prone"}, p.position_s))
    steps.append(PlannedStep("local", tech, {"drug": "lidocaine 1%", "volume_ml": 10}, p.local_s))
    pedicles = "bipedicular" if kypho else "unipedicular"
    for i, level in enumerate(chosen):
        steps.append(
            PlannedStep(
                "trocar",
                tech,
                {"level": level, "approach": "transpedicular", "pedicles": pedicles},
                p.trocar_s,
                level=level,
            )
        )
        steps.append(PlannedStep("confirm-trocar", tech, {"level": level}, p.confirm_s, level))
        if kypho:
            steps.append(
                PlannedStep(
                    "balloon",
                    tech,
                    {"level": level, "pressure_psi": 180 - 20 * (i % 2), "volume_ml": 3.0},
                    p.balloon_s,
                    level,
                )
            )
            steps.append(PlannedStep("balloon-out", tech, {"level": level}, p.balloon_out_s, level))
    steps.append(PlannedStep("mix", tech, {"product": "PMMA"}, p.mix_s))
    for i, level in enumerate(chosen):
        steps.append(
            PlannedStep(
                "cement",
                tech,
                {"level": level, "volume_ml": (4.0, 3.5, 4.5)[i % 3], "leakage": "none"},
                p.cement_s,
                level,
            )
        )
    steps.append(
        PlannedStep(
            "imaging-check",
            rad,
            {"modality": "fluoroscopy", "result": "satisfactory", "signed_by": radiologist},
            p.check_s,
        )
    )
    steps.append(PlannedStep("close", tech, gap_s=p.close_s))
    steps.append(PlannedStep("recovery", nurse, gap_s=p.recovery_s))
    steps.append(
        PlannedStep(
            "discharge",
            nurse,
            gap_s=p.discharge_s,
            retry_every_s=p.discharge_retry_s,
            retry_for_s=p.discharge_retry_for_s,
        )
    )
    return CasePlan(procedure, chosen, tuple(steps))


def with_gap(plan: CasePlan, index: int, gap_s: float) -> CasePlan:
    """The plan with step `index` coming `gap_s` after the one before it."""
    steps = list(plan.steps)
    steps[index] = replace(steps[index], gap_s=gap_s)
    return replace(plan, steps=tuple(steps))


def played_quickly(plan: CasePlan, through: str, *, gap_s: float = 1.0) -> CasePlan:
    """The plan with every step up to the one labelled `through` (e.g. "cement T12") coming
    `gap_s` after the one before it: a case already under way when a simulated day opens.
    KeyError when no step has that label."""
    labels = [s.label for s in plan.steps]
    if through not in labels:
        raise KeyError(f"no step {through!r} in the plan ({', '.join(labels)})")
    last = labels.index(through)
    steps = [replace(s, gap_s=min(s.gap_s, gap_s)) if i <= last else s
             for i, s in enumerate(plan.steps)]  # fmt: skip
    return replace(plan, steps=tuple(steps))
