"""Order messages (ORM^O01, OMI^O23, SIU^S12-S15) -> a plan of case commands.

`plan_order` is pure given the current cases: it decides whether an order schedules a new
case, changes one, cancels one, changes nothing, or is not ours, and raises a `ContentError`
naming the field when the order cannot be applied. The processor executes the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.hl7.errors import (
    APPLICATION_RECORD_LOCKED,
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    UNKNOWN_KEY_IDENTIFIER,
    ContentError,
    Location,
    Rejected,
)
from adapters.hl7.mapping import map_order, merge_patient, procedure_of
from adapters.hl7.messages import Header, OrderRequest, PatientData
from adapters.hl7.registry import PatientRecord
from suite.domain import commands as c
from suite.domain.bounds import OutOfRange, time_near
from suite.domain.case import Case
from suite.domain.values import CareTeam, Patient, Phase

CANCEL_ACTIONS = ("CA", "DC", "OC")


@dataclass(slots=True)
class Plan:
    """What one order does: commands to run (in order), and the words of the answer."""

    text: str
    result: str = "applied"  # applied | unchanged | ignored
    commands: list[tuple[str, c.Command]] = field(default_factory=list)
    case_id: str | None = None
    order_row: dict[str, Any] | None = None
    patient: PatientRecord | None = None
    where: Location = Location("ORC", 1)


@dataclass(frozen=True, slots=True)
class OrderRules:
    codes: dict[str, str]
    rooms: Sequence[str]
    default_room: str
    # An order scheduled further than this from the service clock is refused (AE): a year
    # 9999 date would otherwise sit in the room state for good (suite/domain/bounds.py).
    window: timedelta = timedelta(days=366)


def plan_order(
    request: OrderRequest,
    *,
    header: Header,
    patient_data: PatientData,
    patient: Patient,
    rules: OrderRules,
    by_accession: Callable[[str], Case | None],
    new_case_id: Callable[[], str],
    now: datetime,
) -> Plan:
    """The plan for one order (`ContentError` / `Rejected` naming the field when refused)."""
    action = "CA" if request.action in CANCEL_ACTIONS else request.action
    if action not in ("NW", "XO", "CA"):
        raise Rejected(
            request.action_where,
            f"order control {request.action} is not supported (NW, XO, CA, DC, OC)",
            code=TABLE_VALUE_NOT_FOUND,
        )
    procedure = procedure_of(request.service, rules.codes)
    accession = request.accession
    case = by_accession(accession.value) if accession is not None else None
    where = request.action_where
    if action == "CA":
        return _cancel(request, header, procedure is not None, case, now)
    if procedure is None:
        if case is not None and not case.phase.is_final:
            raise ContentError(
                request.service.where,
                f"{request.service.description} is not a vertebral augmentation; cancel case"
                f" {case.case_id} (ORC-1 CA) rather than changing it",
                code=TABLE_VALUE_NOT_FOUND,
            )
        return Plan(
            text="ignored: not a vertebral augmentation order"
            f" ({request.service.where}: {request.service.description})",
            result="ignored",
            where=where,
        )
    if accession is None:
        raise ContentError(
            _accession_where(header),
            "accession number is missing",
            code=REQUIRED_FIELD_MISSING,
        )
    _check_accession(accession.value, accession.where)
    mapped = map_order(
        request,
        procedure,
        accession=accession.value,
        rooms=rules.rooms,
        default_room=rules.default_room,
        patient_locations=patient_data.locations,
        fallback_time=header.sent_at or now,
    )
    try:
        time_near(mapped.scheduled_at, now=now, window=rules.window, where="scheduled time")
    except OutOfRange as exc:
        raise ContentError(Location("ORC", 7, 4), exc.message, code=DATA_TYPE_ERROR) from None
    order_row = _order_row(request, header, patient_data, accession.value, now)
    levels = ",".join(str(lv) for lv in mapped.order.levels)
    if case is None:
        if action == "XO":
            raise ContentError(
                accession.where,
                f"no case with accession {accession.value} to change",
                code=UNKNOWN_KEY_IDENTIFIER,
            )
        case_id = new_case_id()
        order_row["case_id"] = case_id
        command = c.ScheduleCase(
            at=now,
            patient=patient,
            order=mapped.order,
            room=mapped.room,
            scheduled_at=mapped.scheduled_at,
            care_team=mapped.care_team or CareTeam(),
        )
        return Plan(
            text=f"scheduled case {case_id}: {procedure.value} {levels} in {mapped.room}"
            f" at {mapped.scheduled_at:%Y-%m-%d %H:%M}",
            commands=[(case_id, command)],
            case_id=case_id,
            order_row=order_row,
            patient=_record(patient, patient_data),
            where=where,
        )
    if case.phase.is_final:
        raise ContentError(
            accession.where,
            f"accession {accession.value} belongs to case {case.case_id}, which is"
            f" {case.phase.value}",
            code=APPLICATION_RECORD_LOCKED,
        )
    order_row["case_id"] = case.case_id
    at = max(now, case.last_at)
    commands: list[tuple[str, c.Command]] = []
    merged = merge_patient(patient, case.patient)
    if merged != case.patient:
        commands.append((case.case_id, c.UpdatePatient(at=at, patient=merged)))
    if (mapped.order, mapped.room, mapped.scheduled_at) != (
        case.order,
        case.room,
        case.scheduled_at,
    ):
        commands.append(
            (
                case.case_id,
                c.ChangeOrder(
                    at=at, order=mapped.order, room=mapped.room, scheduled_at=mapped.scheduled_at
                ),
            )
        )
    if mapped.care_team is not None and mapped.care_team != case.care_team:
        commands.append((case.case_id, c.AssignCareTeam(at=at, care_team=mapped.care_team)))
    if not commands:
        return Plan(
            text=f"unchanged: case {case.case_id} already has this order",
            result="unchanged",
            case_id=case.case_id,
            where=where,
        )
    return Plan(
        text=f"changed case {case.case_id}: {procedure.value} {levels} in {mapped.room}"
        f" at {mapped.scheduled_at:%Y-%m-%d %H:%M}",
        commands=commands,
        case_id=case.case_id,
        order_row=order_row,
        where=where,
    )


def _check_accession(value: str, where: Location) -> None:
    """The accession goes to the worklist as a DICOM SH (Accession Number): at most 16
    characters, none of them a backslash (the DICOM value separator: `\\E\\` in HL7 would
    make it two values) or a control character."""
    bad = next((ch for ch in value if ch == "\\" or not ch.isprintable()), None)
    if bad is not None or len(value) > 16:
        why = f"contains {bad!r}" if bad is not None else f"has {len(value)} characters"
        raise ContentError(
            where,
            f"accession number {why}; DICOM allows at most 16 printable characters, no backslash",
            code=DATA_TYPE_ERROR,
        )


def _cancel(
    request: OrderRequest, header: Header, ours: bool, case: Case | None, now: datetime
) -> Plan:
    where = request.action_where
    if case is None:
        if not ours:
            return Plan(
                text="ignored: cancel of an order that is not a vertebral augmentation"
                f" ({request.service.where}: {request.service.description})",
                result="ignored",
                where=where,
            )
        if request.accession is None:
            raise ContentError(
                _accession_where(header), "accession number is missing", code=REQUIRED_FIELD_MISSING
            )
        raise ContentError(
            request.accession.where,
            f"no case with accession {request.accession.value} to cancel",
            code=UNKNOWN_KEY_IDENTIFIER,
        )
    if case.phase is Phase.CANCELLED:
        return Plan(
            text=f"unchanged: case {case.case_id} is already cancelled",
            result="unchanged",
            case_id=case.case_id,
            where=where,
        )
    if case.phase.is_final:
        raise ContentError(
            where,
            f"case {case.case_id} is {case.phase.value}: it cannot be cancelled",
            code=APPLICATION_RECORD_LOCKED,
        )
    reason = request.cancel_reason or f"cancelled by {header.sending_application or 'the HIS'}"
    at = max(now, case.last_at)
    return Plan(
        text=f"cancelled case {case.case_id}",
        commands=[(case.case_id, c.CancelCase(at=at, reason=reason))],
        case_id=case.case_id,
        where=where,
    )


def _accession_where(header: Header) -> Location:
    if header.code == "SIU":
        return Location("SCH", 27)
    if header.code == "OMI":
        return Location("IPC", 1)
    return Location("OBR", 18)


def _record(patient: Patient, data: PatientData) -> PatientRecord:
    return PatientRecord(
        mrn=patient.mrn,
        name=patient.name,
        birth_date=patient.birth_date,
        sex=patient.sex.value,
        allergies=patient.allergies,
        identifiers=data.identifiers,
    )


def _order_row(
    request: OrderRequest, header: Header, data: PatientData, accession: str, now: datetime
) -> dict[str, Any]:
    return {
        "accession": accession[:64],
        "case_id": "",
        "placer_order": request.placer_order[:64],
        "filler_order": request.filler_order[:64],
        "service_code": request.service.code[:64],
        "service_text": request.service.text[:256],
        "service_system": request.service.system[:32],
        "ordering_provider": request.ordering_provider_raw[:256],
        "patient_ids": data.identifiers[:512],
        "visit_number": data.visit_number[:64],
        "sending_application": header.sending_application[:64],
        "sending_facility": header.sending_facility[:64],
        "updated_at": now,
    }
