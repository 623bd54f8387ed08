"""Outbound messages built with hl7apy (v2.5.1 groups): ORM^O01 order status and ORU^R01
procedure results. Pure: a case (replayed to the version the message reports on), the order's
HL7 keys and the vitals in, ER7 bytes (UTF-8) out. Field mappings: docs/hl7-interface.md.

hl7apy costs about a millisecond per segment, so these run off the event loop (the sender
builds each message once, in a worker thread, before its first attempt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hl7apy.core import Field, Message

from adapters.hl7.fields import format_ts
from adapters.hl7.wire import escape
from suite.domain.case import Case
from suite.domain.values import Phase, Procedure

VERSION = "2.5.1"
LOCAL = "99PSU"  # procsuite's local code system (HL7 "99zzz" convention)

# Order status (ORC-5, HL7 table 0038) per trigger.
IN_PROGRESS = "IP"
COMPLETED = "CM"
CANCELLED = "CA"
DISCONTINUED = "DC"

# DICOM codes (CID 10050) for the dose totals; HL7 accepts the DCM coding system.
FLUORO_TIME = ("113730", "Total Fluoro Time", "DCM")
DAP_TOTAL = ("113722", "Dose Area Product Total", "DCM")
DOSE_RP_TOTAL = ("113725", "Dose (RP) Total", "DCM")


@dataclass(frozen=True, slots=True)
class Party:
    """MSH-3 to MSH-6 of what we send."""

    application: str
    facility: str
    receiving_application: str
    receiving_facility: str


@dataclass(frozen=True, slots=True)
class OrderKeys:
    """The order's HL7 identity as the placer sent it (empty fields when it is unknown)."""

    accession: str
    placer_order: str = ""
    filler_order: str = ""
    service_code: str = ""
    service_text: str = ""
    service_system: str = ""
    ordering_provider: str = ""  # ER7 as received
    patient_ids: str = ""  # PID-3 as received (ER7, repetitions)
    visit_number: str = ""


@dataclass(frozen=True, slots=True)
class VitalPoint:
    """One vitals observation: LOINC code and name, UCUM unit, time, value, decimals."""

    loinc: str
    name: str
    ucum: str
    at: datetime
    value: float
    decimals: int = 0


def _put(seg: Any, name: str, *components: object) -> None:
    parts = ["" if c is None else escape(str(c)) for c in components]
    while parts and not parts[-1]:
        parts.pop()
    if parts:
        setattr(seg, name, "^".join(parts))


def _put_raw(seg: Any, name: str, er7: str) -> None:
    """Set a field to ER7 text as received (already escaped, maybe with repetitions)."""
    for rep in (r for r in er7.split("~") if r):
        field = Field(name.upper(), version=VERSION)
        field.value = rep
        seg.add(field)


def _msh(message: Message, party: Party, kind: str, control_id: str, now: datetime) -> None:
    msh = message.msh
    _put(msh, "msh_3", party.application)
    _put(msh, "msh_4", party.facility)
    _put(msh, "msh_5", party.receiving_application)
    _put(msh, "msh_6", party.receiving_facility)
    msh.msh_7 = format_ts(now)
    msh.msh_9 = kind
    _put(msh, "msh_10", control_id)
    msh.msh_11 = "P"
    msh.msh_12 = VERSION
    msh.msh_18 = "UNICODE UTF-8"


def _pid(pid: Any, case: Case, keys: OrderKeys) -> None:
    pid.pid_1 = "1"
    if keys.patient_ids:
        _put_raw(pid, "pid_3", keys.patient_ids)
    else:
        _put(pid, "pid_3", case.patient.mrn, "", "", "", "MR")
    family, _, given = case.patient.name.partition("^")
    _put(pid, "pid_5", family, given)
    if case.patient.birth_date is not None:
        pid.pid_7 = case.patient.birth_date.strftime("%Y%m%d")
    pid.pid_8 = case.patient.sex.value


def _pv1(pv1: Any, case: Case, keys: OrderKeys) -> None:
    pv1.pv1_1 = "1"
    pv1.pv1_2 = "O"
    _put(pv1, "pv1_3", case.room)
    if keys.visit_number:
        _put(pv1, "pv1_19", keys.visit_number)


def _orc(orc: Any, case: Case, keys: OrderKeys, control: str, status: str, at: datetime) -> None:
    orc.orc_1 = control
    _put(orc, "orc_2", keys.placer_order)
    _put(orc, "orc_3", keys.filler_order or keys.accession)
    orc.orc_5 = status
    orc.orc_9 = format_ts(at)
    if keys.ordering_provider:
        _put_raw(orc, "orc_12", keys.ordering_provider)


def _obr(obr: Any, case: Case, keys: OrderKeys) -> None:
    obr.obr_1 = "1"
    _put(obr, "obr_2", keys.placer_order)
    _put(obr, "obr_3", keys.filler_order or keys.accession)
    code = keys.service_code or case.procedure.value.upper()
    text = keys.service_text or case.procedure.value
    _put(obr, "obr_4", code, text, keys.service_system or LOCAL)
    _put(obr, "obr_18", keys.accession)


def build_status(
    case: Case,
    keys: OrderKeys,
    *,
    status: str,
    at: datetime,
    control_id: str,
    now: datetime,
    party: Party,
) -> bytes:
    """ORM^O01 with ORC-1 SC and ORC-5 `status` (IP, CM, CA, DC) for the case's order."""
    message = Message("ORM_O01", version=VERSION)
    _msh(message, party, "ORM^O01^ORM_O01", control_id, now)
    patient = message.add_group("ORM_O01_PATIENT")
    _pid(patient.pid, case, keys)
    _pv1(patient.add_group("ORM_O01_PATIENT_VISIT").pv1, case, keys)
    order = message.add_group("ORM_O01_ORDER")
    _orc(order.orc, case, keys, "SC", status, at)
    detail = order.add_group("ORM_O01_ORDER_DETAIL")
    _obr(detail.add_group("ORM_O01_OBRRQDRQ1RXOODSODT_SUPPGRP").obr, case, keys)
    return _bytes(message)


def build_result(
    case: Case,
    keys: OrderKeys,
    *,
    vitals: Sequence[VitalPoint],
    control_id: str,
    now: datetime,
    party: Party,
) -> bytes:
    """ORU^R01 with the procedure summary and the vitals of a discharged or aborted case."""
    message = Message("ORU_R01", version=VERSION)
    _msh(message, party, "ORU^R01^ORU_R01", control_id, now)
    result = message.add_group("ORU_R01_PATIENT_RESULT")
    patient = result.add_group("ORU_R01_PATIENT")
    _pid(patient.pid, case, keys)
    _pv1(patient.add_group("ORU_R01_VISIT").pv1, case, keys)
    observation = result.add_group("ORU_R01_ORDER_OBSERVATION")
    status = DISCONTINUED if case.phase is Phase.ABORTED else COMPLETED
    _orc(observation.orc, case, keys, "RE", status, case.last_at)
    obr = observation.obr
    _obr(obr, case, keys)
    start = case.phase_started_at(Phase.CHECKED_IN)
    if start is not None:
        obr.obr_7 = format_ts(start)
    obr.obr_8 = format_ts(case.last_at)
    obr.obr_22 = format_ts(now)
    obr.obr_24 = "RAD"
    obr.obr_25 = "F"
    if case.care_team.radiologist:
        _put(obr, "obr_32", case.care_team.radiologist)
    if case.care_team.technologist:
        _put(obr, "obr_34", case.care_team.technologist)
    rows = summary_rows(case) + vital_rows(vitals)
    for n, (value_type, code, sub_id, value, unit, at) in enumerate(rows, 1):
        obx = observation.add_group("ORU_R01_OBSERVATION").obx
        obx.obx_1 = str(n)
        obx.obx_2 = value_type
        _put(obx, "obx_3", *code)
        if sub_id:
            _put(obx, "obx_4", sub_id)
        _put(obx, "obx_5", value)
        if unit:
            _put(obx, "obx_6", unit, unit, "UCUM")
        obx.obx_11 = "F"
        if at is not None:
            obx.obx_14 = format_ts(at)
    return _bytes(message)


Row = tuple[str, tuple[str, str, str], str, str, str, datetime | None]


def _num(value: float, decimals: int = 1) -> str:
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def summary_rows(case: Case) -> list[Row]:
    """The procedure summary as OBX rows: (type, code, sub-ID, value, UCUM unit, time)."""
    rows: list[Row] = []

    def add(kind: str, code: str, text: str, value: str, *, sub: str = "", unit: str = "",
            at: datetime | None = None) -> None:  # fmt: skip
        rows.append((kind, (code, text, LOCAL), sub, value, unit, at))

    add("ST", "PROCEDURE", "Procedure performed", case.procedure.value)
    outcome = "completed" if case.phase is Phase.DISCHARGED else case.phase.value
    if case.end_reason:
        outcome += f": {case.end_reason}"
    add("ST", "OUTCOME", "Case outcome", outcome, at=case.last_at)
    for phase, at in case.phase_history:
        add("TS", "PHASE_START", "Phase started", format_ts(at), sub=phase.value)
    add("ST", "LEVELS", "Treated vertebral levels", ", ".join(map(str, case.order.levels)))
    if case.time_out is not None:
        add("ST", "TIME_OUT_BY", "Time-out signed by", case.time_out.signed_by, at=case.time_out.at)
        add("ST", "SIDE", "Side", case.time_out.side.value)
    for i, drug in enumerate(case.sedation, 1):
        add(
            "ST",
            "SEDATION",
            "Sedation",
            f"{drug.drug} {_num(drug.dose, 2)} {drug.unit}",
            sub=str(i),
        )
    for i, local in enumerate(case.local_anesthetics, 1):
        add("NM", "LOCAL_ANESTHETIC_VOL", f"Local anaesthetic {local.drug}",
            _num(local.volume_ml), sub=str(i), unit="mL", at=local.at)  # fmt: skip
    if case.cement_mixed is not None:
        add("ST", "CEMENT_PRODUCT", "Cement product", case.cement_mixed.product,
            at=case.cement_mixed.at)  # fmt: skip
    for level, state in case.levels:
        sub = str(level)
        if state.trocar is not None:
            approach = f"{state.trocar.approach.value}, {state.trocar.pedicles.value}"
            add("ST", "TROCAR", "Trocar approach", approach, sub=sub, at=state.trocar.at)
        if state.balloon is not None:
            add("NM", "BALLOON_PRESSURE", "Balloon inflation pressure",
                _num(state.balloon.pressure_psi), sub=sub, unit="[psi]", at=state.balloon.at)  # fmt: skip
            add("NM", "BALLOON_VOLUME", "Balloon inflation volume",
                _num(state.balloon.volume_ml, 2), sub=sub, unit="mL", at=state.balloon.at)  # fmt: skip
        if state.injections:
            last = state.injections[-1]
            add("NM", "CEMENT_VOLUME", "Cement volume", _num(state.cement_volume_ml, 2),
                sub=sub, unit="mL", at=last.at)  # fmt: skip
            leaks = sorted({i.leakage.value for i in state.injections})
            leak = ", ".join(x for x in leaks if x != "none") or "none"
            add("ST", "CEMENT_LEAKAGE", "Cement leakage", leak, sub=sub, at=last.at)
    check = case.imaging_check
    if check is not None:
        add("ST", "IMAGING_CHECK", "Imaging check result", check.result.value, at=check.at)
        add("ST", "IMAGING_MODALITY", "Imaging check modality", check.modality.value)
        add("ST", "IMAGING_SIGNED_BY", "Imaging check signed by", check.signed_by)
        if check.note:
            add("ST", "IMAGING_NOTE", "Imaging check note", check.note)
    if case.dose is not None:
        d = case.dose
        rows.append(("NM", FLUORO_TIME, "", _num(d.fluoro_time_s), "s", d.at))
        rows.append(("NM", DAP_TOTAL, "", _num(d.dap_gy_cm2, 3), "Gy.cm2", d.at))
        rows.append(("NM", DOSE_RP_TOTAL, "", _num(d.air_kerma_mgy, 2), "mGy", d.at))
    if case.procedure is Procedure.KYPHOPLASTY and not any(s.balloon for _, s in case.levels):
        add("ST", "BALLOON", "Balloon tamp", "not recorded")
    return rows


def vital_rows(vitals: Sequence[VitalPoint]) -> list[Row]:
    return [
        ("NM", (v.loinc, v.name, "LN"), "", _num(v.value, v.decimals), v.ucum, v.at) for v in vitals
    ]


def _bytes(message: Message) -> bytes:
    er7: str = message.to_er7()
    return (er7 + "\r").encode("utf-8")
