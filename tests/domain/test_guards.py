"""Every guard of the workflow, broken on purpose: the error names the rule and nothing changes."""

from dataclasses import replace

import pytest

from suite.domain import commands as c
from suite.domain.checklist import ChecklistItem, ChecklistStatus
from suite.domain.errors import CaseClosed, GuardError, InvalidTime, InvalidValue, PhaseError
from suite.domain.events import DrugDose
from suite.domain.values import (
    ImagingModality,
    ImagingResult,
    Leakage,
    Phase,
    Procedure,
    Sex,
    Side,
)
from suite.domain.workflow import decide
from tests.domain.helpers import T0, apply, before, case_until, later
from tests.scenarios import schedule


def refuse(case, command, error, match):
    with pytest.raises(error, match=match) as info:
        decide(case, command, now=command.at)
    return info.value


def time_out(case, **kw):
    args = dict(
        signed_by="dr.rad",
        patient_confirmed=True,
        procedure=case.procedure.value,
        levels=tuple(str(lv) for lv in case.order.levels),
        side=Side.BILATERAL,
    )
    args.update(kw)
    return c.SignTimeOut(at=later(case), **args)


def test_time_out_needs_the_checklist_complete_and_names_what_is_missing():
    case = case_until(before(c.RecordChecklistItem, item=ChecklistItem.NPO))
    refuse(
        case,
        time_out(case),
        GuardError,
        "checklist complete: missing anticoagulants_held, npo, pregnancy_status, labs, iv_access",
    )


def test_anticoagulants_recorded_as_not_held_keep_the_time_out_locked():
    case = case_until(before(c.SignTimeOut))
    case = apply(
        case,
        c.RecordChecklistItem(
            at=later(case),
            item=ChecklistItem.ANTICOAGULANTS_HELD,
            status=ChecklistStatus.NOT_DONE,
            detail="apixaban today",
        ),
    )
    refuse(case, time_out(case), GuardError, "missing anticoagulants_held")


def test_consent_cannot_be_not_applicable():
    case = case_until(before(c.RecordChecklistItem))
    refuse(
        case,
        c.RecordChecklistItem(
            at=later(case), item=ChecklistItem.CONSENT, status=ChecklistStatus.NOT_APPLICABLE
        ),
        InvalidValue,
        "consent cannot be 'not applicable'",
    )


def test_pregnancy_status_is_needed_for_a_woman_under_60():
    case = case_until(before(c.RecordChecklistItem))
    young = replace(case.patient, sex=Sex.FEMALE, birth_date=T0.date().replace(year=1990))
    case = replace(case, patient=young)
    refuse(
        case,
        c.RecordChecklistItem(
            at=later(case),
            item=ChecklistItem.PREGNANCY_STATUS,
            status=ChecklistStatus.NOT_APPLICABLE,
        ),
        GuardError,
        "pregnancy status is required",
    )


def test_time_out_levels_must_match_the_order():
    case = case_until(before(c.SignTimeOut))
    refuse(
        case,
        time_out(case, levels=("T12",)),
        GuardError,
        r"time-out levels \(T12\) do not match the order \(T12, L1\)",
    )


def test_time_out_procedure_and_identity_must_be_confirmed():
    case = case_until(before(c.SignTimeOut))
    refuse(case, time_out(case, procedure="vertebroplasty"), GuardError, "does not match the order")
    refuse(case, time_out(case, patient_confirmed=False), GuardError, "identity confirmed")
    refuse(case, time_out(case, signed_by=" "), InvalidValue, "signer must not be empty")


def test_no_needle_before_the_time_out():
    case = case_until(before(c.SignTimeOut))
    refuse(
        case,
        c.PlaceTrocar(at=later(case), level="L1"),
        GuardError,
        "trocar placement is locked until the time-out is signed",
    )
    refuse(
        case,
        c.GiveSedation(at=later(case), drugs=(DrugDose("midazolam", 1, "mg"),)),
        GuardError,
        "sedation needs the time-out signed first",
    )


def test_trocar_on_a_level_not_on_the_order_or_unknown():
    case = case_until(before(c.PlaceTrocar))
    refuse(
        case,
        c.PlaceTrocar(at=later(case), level="L3"),
        GuardError,
        r"level L3 is not on the order \(planned: T12, L1\)",
    )
    refuse(
        case,
        c.PlaceTrocar(at=later(case), level="L9"),
        InvalidValue,
        "unknown vertebral level 'L9'",
    )


def test_cement_needs_a_confirmed_trocar_on_that_level():
    case = case_until(before(c.ConfirmTrocar), procedure=Procedure.VERTEBROPLASTY, levels=("L1",))
    refuse(
        case,
        c.InjectCement(at=later(case), level="L1", volume_ml=3),
        GuardError,
        "cement on L1 needs a confirmed trocar on L1",
    )


def test_kyphoplasty_cement_needs_the_balloon_removed():
    case = case_until(before(c.RemoveBalloon, level="T12"))
    case = apply(case, c.MixCement(at=later(case)))
    refuse(
        case,
        c.InjectCement(at=later(case), level="T12", volume_ml=3),
        GuardError,
        "cement on T12 needs the balloon on T12 deflated and removed first",
    )


def test_balloon_only_in_kyphoplasty_and_after_confirmed_trocar():
    vp = case_until(before(c.MixCement), procedure=Procedure.VERTEBROPLASTY, levels=("L1",))
    refuse(
        vp,
        c.InflateBalloon(at=later(vp), level="L1", pressure_psi=100, volume_ml=2),
        GuardError,
        "only used in kyphoplasty",
    )
    kp = case_until(before(c.ConfirmTrocar, level="T12"))
    refuse(
        kp,
        c.InflateBalloon(at=later(kp), level="T12", pressure_psi=100, volume_ml=2),
        GuardError,
        "balloon on T12 needs a confirmed trocar on T12",
    )


def test_cement_needs_the_mix_time_logged():
    case = case_until(before(c.MixCement), procedure=Procedure.VERTEBROPLASTY, levels=("L1",))
    refuse(
        case,
        c.InjectCement(at=later(case), level="L1", volume_ml=3),
        GuardError,
        "needs the cement mixed first",
    )


@pytest.mark.parametrize(
    ("command", "match"),
    [
        (lambda at: c.InjectCement(at=at, level="T12", volume_ml=-2), "cement volume on T12 -2"),
        (lambda at: c.InjectCement(at=at, level="T12", volume_ml=80), "cement volume on T12 80"),
        (lambda at: c.InjectCement(at=at, level="T12", volume_ml=float("nan")), "cement volume"),
    ],
)
def test_absurd_cement_volumes_are_refused(command, match):
    case = case_until(before(c.InjectCement))
    refuse(case, command(later(case)), InvalidValue, match)


@pytest.mark.parametrize(
    ("pressure", "volume", "match"),
    [
        (-10, 3, "balloon pressure -10"),
        (900, 3, "balloon pressure 900"),
        (200, 0, "balloon volume 0"),
        (200, 12, "balloon volume 12"),
    ],
)
def test_absurd_balloon_values_are_refused(pressure, volume, match):
    case = case_until(before(c.InflateBalloon, level="T12"))
    refuse(
        case,
        c.InflateBalloon(at=later(case), level="T12", pressure_psi=pressure, volume_ml=volume),
        InvalidValue,
        match,
    )


def test_imaging_check_needs_cement_on_every_planned_level():
    case = case_until(before(c.InjectCement, level="L1"))
    refuse(
        case,
        c.RecordImagingCheck(
            at=later(case),
            modality=ImagingModality.FLUOROSCOPY,
            result=ImagingResult.SATISFACTORY,
            signed_by="dr.rad",
        ),
        GuardError,
        "cement on every planned level: none on L1",
    )


def test_imaging_check_needs_an_image_after_the_last_injection():
    case = case_until(before(c.LinkImage))
    refuse(
        case,
        c.RecordImagingCheck(
            at=later(case),
            modality=ImagingModality.FLUOROSCOPY,
            result=ImagingResult.SATISFACTORY,
            signed_by="dr.rad",
        ),
        GuardError,
        "image received after the last cement injection",
    )


def test_discharge_needs_stable_vitals_for_the_configured_time():
    case = case_until(before(c.Discharge))
    start = case.phase_started_at(Phase.RECOVERY)
    from datetime import timedelta

    refuse(
        case,
        c.Discharge(at=start + timedelta(minutes=30)),
        GuardError,
        "vitals stable in recovery for 60 min; stable for 30 min",
    )
    # an alarm in recovery restarts the clock: stable since 40 min in, 60 min in is too soon
    refuse(
        case,
        c.Discharge(
            at=start + timedelta(minutes=60), vitals_stable_since=start + timedelta(minutes=40)
        ),
        GuardError,
        "stable for 20 min",
    )
    done = apply(case, c.Discharge(at=start + timedelta(minutes=61)))
    assert done.phase is Phase.DISCHARGED


def test_phases_cannot_be_skipped():
    case = case_until(before(c.CheckIn))
    refuse(
        case,
        c.RecordChecklistItem(at=later(case), item=ChecklistItem.CONSENT),
        PhaseError,
        "checklist needs the case in checked_in or pre_procedure; it is in scheduled",
    )
    case = case_until(before(c.CloseWound))
    refuse(case, c.StartRecovery(at=later(case)), PhaseError, "recovery needs the case in closure")


@pytest.mark.parametrize("kind", [c.CancelCase, c.AbortCase])
def test_cancel_and_abort_need_a_reason_and_end_the_case(kind):
    case = case_until(before(c.InjectCement))
    refuse(case, kind(at=later(case), reason=""), InvalidValue, "reason")
    ended = apply(case, kind(at=later(case), reason="patient unstable"))
    assert ended.phase in (Phase.CANCELLED, Phase.ABORTED)
    assert ended.end_reason == "patient unstable"
    refuse(ended, c.CheckIn(at=later(ended)), CaseClosed, "no further steps")
    # a late image or dose report is still recorded
    assert (
        apply(
            ended,
            c.RecordDose(
                at=later(ended), fluoro_time_s=60, dap_gy_cm2=1, air_kerma_mgy=10, source="RDSR"
            ),
        ).dose
        is not None
    )


def test_no_cancel_after_discharge():
    case = case_until(lambda _c: False)
    assert case.phase is Phase.DISCHARGED
    refuse(case, c.CancelCase(at=later(case), reason="oops"), CaseClosed, "discharged")


def test_timestamps_in_the_future_or_out_of_order_are_refused():
    case = case_until(before(c.SignTimeOut))
    from datetime import timedelta

    future = c.CheckIn(at=case.last_at + timedelta(hours=1))
    with pytest.raises(InvalidTime, match="in the future"):
        decide(case, future, now=case.last_at)
    with pytest.raises(InvalidTime, match="before the case's last step"):
        decide(
            case,
            c.AddNote(at=case.last_at - timedelta(seconds=1), kind="n", text="x"),
            now=case.last_at,
        )
    naive = c.AddNote(at=case.last_at.replace(tzinfo=None), kind="n", text="x")
    with pytest.raises(InvalidTime, match="no time zone"):
        decide(case, naive, now=case.last_at)


def test_scheduling_validates_the_order():
    bad = schedule(T0)
    with pytest.raises(InvalidValue, match="accession number must not be empty"):
        decide(None, replace(bad, order=replace(bad.order, accession="")), now=T0)
    with pytest.raises(InvalidValue, match="at least one planned vertebral level"):
        decide(None, replace(bad, order=replace(bad.order, levels=())), now=T0)
    with pytest.raises(GuardError, match="needs a scheduled case"):
        decide(None, c.CheckIn(at=T0), now=T0)


def test_leakage_is_recorded_per_level():
    case = case_until(before(c.InjectCement, level="L1"))
    case = apply(
        case, c.InjectCement(at=later(case), level="L1", volume_ml=3.5, leakage=Leakage.VENOUS)
    )
    state = case.level(case.order.levels[1])
    assert state.injections[-1].leakage is Leakage.VENOUS and state.cement_volume_ml == 3.5
