"""A whole procedure on the simulated fluoroscopy unit, paced in simulated time.

`perform` runs what a radiographer does on the C-arm for one vertebroplasty or kyphoplasty:
start the procedure step, a survey, per level the trocar runs (AP and lateral), the balloon
(kyphoplasty), the cement runs with a documentation exposure, a final check, then the dose
report and the end of the step. The lead's case script can instead call `Modality.fluoro` /
`Modality.spot` itself at each logged step; this is for `procsuite simulate modality`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from simulators.fluoro_dose import View
from simulators.modality import Modality, PerformedStep
from simulators.worklist import WorklistItem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do: the levels, whether balloons are used, and how fast."""

    levels: tuple[str, ...]
    kyphoplasty: bool = False
    pace_s: float = 60.0  # simulated seconds between two steps
    trocar_fluoro_s: float = 30.0
    balloon_fluoro_s: float = 15.0
    cement_fluoro_s: float = 40.0
    discontinue_after_level: int | None = None  # stop (DISCONTINUED) after this many levels


Progress = Callable[[str], Awaitable[None] | None]


async def perform(
    modality: Modality,
    item: WorklistItem,
    plan: Plan,
    *,
    location: str = "",
    operator: str = "",
    progress: Progress | None = None,
) -> PerformedStep:
    """Run the procedure on `item`; returns the finished step (images, dose, files)."""

    async def say(text: str) -> None:
        log.info("%s: %s", item.accession, text)
        if progress is not None:
            result = progress(text)
            if result is not None:
                await result

    clock = modality.clock
    step = await modality.start(item, location=location, operator=operator)
    await say(f"MPPS in progress ({step.ctx.pps_uid})")
    first = plan.levels[0]
    await modality.fluoro(step, level=first, phase="survey", view=View.AP, seconds=10)
    await say(f"survey image of {first}")
    discontinued: str | None = None
    for index, level in enumerate(plan.levels, start=1):
        await clock.sleep(plan.pace_s)
        await modality.fluoro(
            step, level=level, phase="trocar", view=View.AP, seconds=plan.trocar_fluoro_s
        )
        await modality.fluoro(
            step, level=level, phase="trocar", view=View.LATERAL, seconds=plan.trocar_fluoro_s * 0.8
        )
        await say(f"trocar {level}: 2 images")
        if plan.kyphoplasty:
            await clock.sleep(plan.pace_s)
            await modality.fluoro(
                step, level=level, phase="balloon", view=View.LATERAL, seconds=plan.balloon_fluoro_s
            )
            await say(f"balloon {level}: 1 image")
        await clock.sleep(plan.pace_s)
        await modality.fluoro(
            step, level=level, phase="cement", view=View.LATERAL, seconds=plan.cement_fluoro_s
        )
        await modality.spot(step, level=level, phase="cement", view=View.LATERAL)
        await say(f"cement {level}: 2 images")
        if plan.discontinue_after_level is not None and index >= plan.discontinue_after_level:
            discontinued = "patient_condition"
            break
    if discontinued is None:
        await clock.sleep(plan.pace_s)
        for view in (View.AP, View.LATERAL):
            await modality.spot(
                step, level=plan.levels[len(plan.levels) // 2], phase="check", view=view
            )
        await say("imaging check: 2 images")
    await modality.finish(step, discontinued=discontinued)
    ledger = step.ledger
    await say(
        f"MPPS {'DISCONTINUED' if discontinued else 'COMPLETED'}: {len(step.ctx.images)} images,"
        f" fluoro {ledger.fluoro_time_s:.0f} s, DAP {ledger.dap_gym2 * 10_000:.2f} Gy.cm2,"
        f" air kerma {ledger.kerma_gy * 1000:.1f} mGy"
    )
    return step
