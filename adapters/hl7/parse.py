"""Inbound message bytes -> neutral messages (python-hl7 parses; this reads the fields).

`read_header` (header.py) decodes the bytes per MSH-18 and checks what MSH must say (AR when
it cannot); `read_body` reads the segments of a supported message (AE naming the field when content is
wrong). Z-segments and segments procsuite does not use are skipped.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from adapters.hl7.errors import (
    REQUIRED_FIELD_MISSING,
    TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_EVENT_CODE,
    ContentError,
    Location,
)
from adapters.hl7.fields import Seg, parse_date, parse_ts, person_name, provider
from adapters.hl7.messages import (
    AdtMessage,
    Header,
    Inbound,
    OrderMessage,
    OrderRequest,
    PatientData,
    Service,
    Text,
)

SEXES = {"F": "F", "M": "M", "O": "O", "U": "U", "A": "O", "N": "U", "": "U"}
SIU_ACTIONS = {"S12": "NW", "S13": "XO", "S14": "XO", "S15": "CA"}


def read_body(header: Header, segs: list[Seg], *, zone: tzinfo) -> Inbound:
    """The neutral message; `ContentError` (AE) naming the field when content is wrong."""
    if header.code == "ADT":
        return _adt(header, segs)
    if header.code == "SIU":
        return _siu(header, segs, zone)
    return _order(header, segs, zone)


# ---- patient ------------------------------------------------------------------------------


def _first(segs: list[Seg], name: str) -> Seg | None:
    return next((s for s in segs if s.name == name), None)


def _patient(segs: list[Seg]) -> PatientData:
    pid = _first(segs, "PID")
    if pid is None:
        raise ContentError(Location("PID"), "PID segment is missing", code=REQUIRED_FIELD_MISSING)
    mrn, where = _mrn(pid)
    sex_code = pid.get(8).upper()
    if sex_code not in SEXES:
        raise ContentError(
            pid.at(8),
            f"{sex_code} is not an administrative sex (F, M, O, U, A, N)",
            code=TABLE_VALUE_NOT_FOUND,
        )
    allergies = tuple(
        text for s in segs if s.name == "AL1" for text in [s.get(3, 2) or s.get(3, 1)] if text
    )
    pv1 = _first(segs, "PV1")
    locations: tuple[Text, ...] = ()
    visit = ""
    if pv1 is not None:
        locations = (Text(pv1.get(3, 1), pv1.at(3, 1)), Text(pv1.get(3, 2), pv1.at(3, 2)))
        visit = pv1.get(19, 1)
    return PatientData(
        mrn=mrn,
        mrn_where=where,
        name=person_name(pid, 5),
        birth_date=parse_date(pid.get(7), pid.at(7)),
        sex=SEXES[sex_code],
        allergies=allergies,
        identifiers=pid.raw_text(3),
        visit_number=visit or pid.get(18, 1),
        locations=locations,
    )


def _mrn(pid: Seg) -> tuple[str, Location]:
    """The MRN: the PID-3 repetition of type MR, else the first one; PID-2 in old messages."""
    chosen = ""
    for rep in range(1, pid.repetitions(3) + 1):
        ident = pid.get(3, 1, rep=rep)
        if ident and (pid.get(3, 5, rep=rep).upper() == "MR" or not chosen):
            chosen = ident
            if pid.get(3, 5, rep=rep).upper() == "MR":
                break
    if chosen:
        return chosen, pid.at(3)
    if pid.get(2, 1):
        return pid.get(2, 1), pid.at(2)
    raise ContentError(
        pid.at(3), "patient identifier (MRN) is missing", code=REQUIRED_FIELD_MISSING
    )


def _adt(header: Header, segs: list[Seg]) -> AdtMessage:
    patient = _patient(segs)
    prior = None
    if header.trigger == "A40":
        mrg = _first(segs, "MRG")
        if mrg is None or not mrg.get(1, 1):
            raise ContentError(
                Location("MRG", 1),
                "prior patient identifier is missing",
                code=REQUIRED_FIELD_MISSING,
            )
        prior = Text(mrg.get(1, 1), mrg.at(1))
    return AdtMessage(header=header, event=header.trigger, patient=patient, prior_mrn=prior)


# ---- orders (ORM^O01, OMI^O23) --------------------------------------------------------------


def _order(header: Header, segs: list[Seg], zone: tzinfo) -> OrderMessage:
    patient = _patient(segs)
    groups: list[list[Seg]] = []
    for seg in segs:
        if seg.name == "ORC":
            groups.append([seg])
        elif groups:
            groups[-1].append(seg)
        elif seg.name == "OBR":
            raise ContentError(seg.at(0), "OBR comes before any ORC", code=REQUIRED_FIELD_MISSING)
    if not groups:
        raise ContentError(Location("ORC"), "ORC segment is missing", code=REQUIRED_FIELD_MISSING)
    orders = tuple(_order_group(g, zone) for g in groups)
    return OrderMessage(header=header, patient=patient, orders=orders)


def _order_group(group: list[Seg], zone: tzinfo) -> OrderRequest:
    orc = group[0]
    obr = _first(group, "OBR")
    ipc = _first(group, "IPC")
    tq1 = _first(group, "TQ1")
    action = orc.get(1).upper()
    if not action:
        raise ContentError(orc.at(1), "order control is missing", code=REQUIRED_FIELD_MISSING)
    accession = _accession(orc, obr, ipc)
    service = Service()
    level_texts: list[Text] = []
    when = None
    ordering = provider(orc, 12)
    ordering_raw = orc.raw_text(12)
    reasons: list[str] = []
    if obr is not None:
        service = Service(
            code=obr.get(4, 1),
            text=obr.get(4, 2),
            system=obr.get(4, 3),
            alt_code=obr.get(4, 4),
            alt_text=obr.get(4, 5),
            where=obr.at(4),
        )
        level_texts += [
            Text(obr.text(13), obr.at(13)),
            Text(obr.get(4, 2), obr.at(4, 2)),
            Text(obr.get(4, 5), obr.at(4, 5)),
        ]
        if not ordering[0] and not ordering[1]:
            ordering, ordering_raw = provider(obr, 16), obr.raw_text(16)
        reasons += [obr.get(31, 2) or obr.get(31, 1), obr.text(13)]
    for seg in group:
        if seg.name == "NTE" and obr is not None and seg.index > obr.index:
            level_texts.append(Text(seg.text(3), seg.at(3)))
    candidates = []
    if tq1 is not None:
        candidates.append((tq1.get(7, 1), tq1.at(7)))
    if obr is not None:
        candidates += [(obr.get(27, 4), obr.at(27, 4))]
    candidates.append((orc.get(7, 4), orc.at(7, 4)))
    if obr is not None:
        candidates.append((obr.get(36, 1), obr.at(36)))
    for text, where in candidates:
        when = parse_ts(text, where, zone=zone)
        if when is not None:
            break
    rooms: list[Text] = []
    if ipc is not None:
        rooms += [Text(ipc.get(8, 1), ipc.at(8, 1)), Text(ipc.get(7, 1), ipc.at(7))]
    diagnosis_date = None
    for dg1 in (s for s in group if s.name == "DG1"):
        reasons += [dg1.get(3, 2), dg1.get(3, 1), dg1.get(4)]
        diagnosis_date = diagnosis_date or _date_part(dg1, 5, zone)
    return OrderRequest(
        action=action,
        action_where=orc.at(1),
        accession=accession,
        placer_order=orc.get(2, 1) or (obr.get(2, 1) if obr else ""),
        filler_order=orc.get(3, 1) or (obr.get(3, 1) if obr else ""),
        service=service,
        level_texts=tuple(t for t in level_texts if t.value),
        scheduled_at=when,
        rooms=tuple(rooms),
        ordering_provider=ordering,
        ordering_provider_raw=ordering_raw,
        reasons=tuple(r for r in reasons if r),
        diagnosis_date=diagnosis_date,
        cancel_reason=orc.get(16, 2) or orc.get(16, 1),
    )


def _person(seg: Seg, field: int) -> str:
    ident, name = provider(seg, field)
    return ident or name


def _date_part(seg: Seg, field: int, zone: tzinfo) -> Any:
    value = parse_ts(seg.get(field), seg.at(field), zone=zone)
    return value.date() if value is not None else None


def _accession(orc: Seg, obr: Seg | None, ipc: Seg | None) -> Text | None:
    """The accession number: IPC-1 (OMI), OBR-18 (IHE SWF), else the filler order number."""
    candidates = []
    if ipc is not None:
        candidates.append(Text(ipc.get(1, 1), ipc.at(1)))
    if obr is not None:
        candidates += [Text(obr.get(18), obr.at(18)), Text(obr.get(3, 1), obr.at(3))]
    candidates.append(Text(orc.get(3, 1), orc.at(3)))
    return next((c for c in candidates if c.value), None)


# ---- scheduling (SIU^S12-S15) ---------------------------------------------------------------


def _siu(header: Header, segs: list[Seg], zone: tzinfo) -> OrderMessage:
    if header.trigger not in SIU_ACTIONS:
        raise ContentError(
            Location("MSH", 9, 2),
            f"SIU trigger event {header.trigger!r} is not supported "
            f"(supported: {', '.join(SIU_ACTIONS)})",
            code=UNSUPPORTED_EVENT_CODE,
        )
    sch = _first(segs, "SCH")
    if sch is None:
        raise ContentError(Location("SCH"), "SCH segment is missing", code=REQUIRED_FIELD_MISSING)
    patient = _patient(segs)
    ais = _first(segs, "AIS")
    accession = next(
        (
            c
            for c in (
                Text(sch.get(27, 1), sch.at(27)),
                Text(sch.get(26, 1), sch.at(26)),
                Text(sch.get(1, 1), sch.at(1)),
            )
            if c.value
        ),
        None,
    )
    service = Service(code=sch.get(7, 1), text=sch.get(7, 2), system=sch.get(7, 3), where=sch.at(7))
    level_texts = [Text(sch.get(7, 2), sch.at(7, 2))]
    when = None
    if ais is not None:
        service = Service(
            code=ais.get(3, 1),
            text=ais.get(3, 2),
            system=ais.get(3, 3),
            alt_code=ais.get(3, 4),
            alt_text=ais.get(3, 5),
            where=ais.at(3),
        )
        level_texts.insert(0, Text(ais.get(3, 2), ais.at(3, 2)))
        when = parse_ts(ais.get(4), ais.at(4), zone=zone)
    if when is None:
        when = parse_ts(sch.get(11, 4), sch.at(11, 4), zone=zone)
    level_texts += [Text(s.text(3), s.at(3)) for s in segs if s.name == "NTE"]
    rooms = [
        Text(text, s.at(3, comp))
        for s in segs
        if s.name == "AIL"
        for comp in (1, 2)
        for text in [s.get(3, comp)]
    ]
    team = tuple(
        (s.get(4, 1).upper(), _person(s, 3)) for s in segs if s.name == "AIP" and s.get(4, 1)
    )
    order = OrderRequest(
        action=SIU_ACTIONS[header.trigger],
        action_where=Location("MSH", 9, 2),
        accession=accession,
        placer_order=sch.get(26, 1),
        filler_order=sch.get(27, 1),
        service=service,
        level_texts=tuple(t for t in level_texts if t.value),
        levels_where=Location("AIS", 3, 2) if ais is not None else Location("SCH", 7, 2),
        scheduled_at=when,
        rooms=tuple(rooms),
        ordering_provider=provider(sch, 12) if sch.get(12, 1) else ("", ""),
        reasons=tuple(r for r in (sch.get(6, 2), sch.get(7, 2)) if r),
        cancel_reason=sch.get(6, 2) or sch.get(6, 1),
        care_team=team,
    )
    return OrderMessage(header=header, patient=patient, orders=(order,))
