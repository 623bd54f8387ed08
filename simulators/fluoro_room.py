"""The room's fluoroscopy unit working along with the case script (a `StepHook`).

What the radiographer does on the C-arm as the team logs the steps, over DICOM only:

    position          worklist query (this unit's station AE), MPPS IN PROGRESS, a survey image
    trocar L          a fluoroscopy run AP and one lateral, last image of each stored
    balloon L         a lateral run (kyphoplasty)
    cement L          a lateral run and a documentation exposure
    before imaging-check   two exposures (AP, lateral): the final check images
    imaging-check     the radiation dose SR, then MPPS COMPLETED with the dose

After each batch it waits (bounded) until the room snapshot shows the images linked to the
case, so that the next step does not take them (procsuite links an image to the step open
when it is linked), and after the dose report until the case shows the unit's dose totals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulators.case_plan import PlannedStep
from simulators.case_script import CaseScript, CaseScriptError
from simulators.fluoro_dose import View
from simulators.modality import Modality, PerformedStep
from simulators.mqtt_commands import CommandLink, Reply
from simulators.worklist import pick

log = logging.getLogger(__name__)


def dose_matches(dose: Mapping[str, Any], unit: Mapping[str, float]) -> bool:
    """Whether the case's dose totals are those the unit measured (fluoroscopy time to half a
    second, as the dose report rounds it; dose area product and air kerma to 0.1 %)."""
    try:
        fluoro = abs(float(dose["fluoro_time_s"]) - unit["fluoro_time_s"]) <= 0.5
        return fluoro and all(
            abs(float(dose[k]) - unit[k]) <= 1e-3 * max(abs(unit[k]), 1e-9)
            for k in ("dap_gy_cm2", "air_kerma_mgy")
        )
    except (KeyError, TypeError, ValueError):
        return False


@dataclass(kw_only=True)
class FluoroRoom:
    room: str
    accession: str
    modality: Modality
    watch: CommandLink  # with watch_rooms
    link_timeout_s: float = 30.0  # real seconds for images / dose to show on the case
    progress: Callable[[str], None] = field(default=lambda _text: None)
    performed: PerformedStep | None = None
    images_sent: int = 0
    rdsr_sent: bool = False
    mpps_completed: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def dose(self) -> dict[str, float] | None:
        """What the unit measured (the truth the case's dose must match)."""
        if self.performed is None:
            return None
        ledger = self.performed.ledger
        return {
            "fluoro_time_s": round(ledger.fluoro_time_s, 3),
            "dap_gy_cm2": ledger.dap_gym2 * 10_000,
            "air_kerma_mgy": ledger.kerma_gy * 1000,
        }

    async def before(self, step: PlannedStep, script: CaseScript) -> None:
        if step.step != "imaging-check" or self.performed is None:
            return
        levels = script.plan.levels
        middle = levels[len(levels) // 2]
        for view in (View.AP, View.LATERAL):
            await self.modality.spot(self.performed, level=middle, phase="check", view=view)
        await self._sent(2, "final check", script)

    async def after(self, step: PlannedStep, reply: Reply, script: CaseScript) -> None:
        unit, level = self.modality, step.level or ""
        if step.step == "position":
            await self._start(script)
            return
        performed = self.performed
        if performed is None:
            return
        if step.step == "trocar":
            await unit.fluoro(performed, level=level, phase="trocar", view=View.AP, seconds=30)
            await unit.fluoro(performed, level=level, phase="trocar", view=View.LATERAL, seconds=24)
            await self._sent(2, f"trocar {level}", script)
        elif step.step == "balloon":
            await unit.fluoro(
                performed, level=level, phase="balloon", view=View.LATERAL, seconds=15
            )
            await self._sent(1, f"balloon {level}", script)
        elif step.step == "cement":
            await unit.fluoro(performed, level=level, phase="cement", view=View.LATERAL, seconds=40)
            await unit.spot(performed, level=level, phase="cement", view=View.LATERAL)
            await self._sent(2, f"cement {level}", script)
        elif step.step == "imaging-check":
            await self._finish(script)

    async def _start(self, script: CaseScript) -> None:
        unit = self.modality
        day = unit.clock.now().astimezone(unit.zone).date()
        items = await unit.query_worklist(on=day)
        item = pick(items, accession=self.accession)
        if item is None:
            raise CaseScriptError(
                f"{self.room}: accession {self.accession} is not on the worklist of station"
                f" {unit.equipment.ae_title} ({len(items)} item(s))"
            )
        self.performed = await unit.start(item, location=self.room)
        self.progress(
            f"{self.room} modality {unit.equipment.ae_title}: worklist item {item.accession},"
            " MPPS in progress"
        )
        await unit.fluoro(
            self.performed, level=script.plan.levels[0], phase="survey", view=View.AP, seconds=10
        )
        await self._sent(1, "survey", script)

    async def _sent(self, count: int, what: str, script: CaseScript) -> None:
        self.images_sent += count
        want = self.images_sent
        ref = script.case_id or script.case_ref
        try:
            found = await self.watch.wait_state(
                lambda _s: self._case_images(ref) >= want, timeout_s=self.link_timeout_s
            )
        except TimeoutError:
            found = False
        linked = self._case_images(ref)
        self.progress(
            f"{self.room} DICOM: {count} XA image(s) stored ({what}); {linked} on the case"
        )
        if not found:
            self.problems.append(f"{what}: {want} images sent, {linked} linked")

    def _case_images(self, ref: str) -> int:
        found = self.watch.find_case(ref)
        return len(found[1].get("images") or ()) if found else 0

    def _case_dose(self, ref: str) -> dict[str, Any] | None:
        found = self.watch.find_case(ref)
        dose = found[1].get("dose") if found else None
        return dose if isinstance(dose, dict) else None

    async def _finish(self, script: CaseScript) -> None:
        assert self.performed is not None
        await self.modality.finish(self.performed)
        self.rdsr_sent = self.mpps_completed = True
        want = self.dose
        assert want is not None
        ref = script.case_id or script.case_ref

        def matches(_states: Any) -> bool:
            dose = self._case_dose(ref)
            return dose is not None and dose_matches(dose, want)

        try:
            await self.watch.wait_state(matches, timeout_s=self.link_timeout_s)
        except TimeoutError:
            self.problems.append("the case did not show the dose of the dose report in time")
        dose = self._case_dose(ref) or {}
        self.progress(
            f"{self.room} DICOM: dose report stored, MPPS completed; case dose:"
            f" fluoro {float(dose.get('fluoro_time_s', 0)):.0f} s,"
            f" DAP {float(dose.get('dap_gy_cm2', 0)):.2f} Gy·cm²,"
            f" Ka,r {float(dose.get('air_kerma_mgy', 0)):.1f} mGy"
        )
