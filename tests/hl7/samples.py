"""HL7 messages as a hospital system sends them (v2.3.1 and v2.5.1), for tests and the bench."""

from __future__ import annotations

import itertools

_ids = itertools.count(1)


def control_id() -> str:
    return f"MSG{next(_ids):08d}"


def msh(
    kind: str,
    *,
    control: str | None = None,
    version: str = "2.5.1",
    charset: str = "",
    app: str = "HIS",
    facility: str = "HOSP",
    processing: str = "P",
) -> str:
    fields = [
        "MSH",
        "^~\\&",
        app,
        facility,
        "PROCSUITE",
        "IR",
        "20261124075500",
        "",
        kind,
        control if control is not None else control_id(),
        processing,
        version,
    ]
    if charset:
        fields += ["", "", "", "", "", charset]
    return "|".join(fields)


def pid(
    mrn: str = "MRN0001",
    *,
    name: str = "TEST^ANNA",
    birth: str = "19440506",
    sex: str = "F",
) -> str:
    return f"PID|1||{mrn}^^^HOSP^MR~99{mrn}^^^NATIONAL^NI||{name}||{birth}|{sex}"


def adt(
    event: str = "A04",
    *,
    mrn: str = "MRN0001",
    name: str = "TEST^ANNA",
    birth: str = "19440506",
    sex: str = "F",
    allergies: tuple[str, ...] = ("LATEX",),
    control: str | None = None,
    version: str = "2.5.1",
    prior: str | None = None,
    sep: str = "\r",
) -> str:
    structure = {"A01": "ADT_A01", "A04": "ADT_A01", "A08": "ADT_A01", "A40": "ADT_A39"}[event]
    segs = [
        msh(f"ADT^{event}^{structure}", control=control, version=version),
        f"EVN|{event}|20261124075500",
        pid(mrn, name=name, birth=birth, sex=sex),
    ]
    if prior:
        segs.append(f"MRG|{prior}^^^HOSP^MR")
    else:
        segs.append("PV1|1|O|IR^IR1^1^HOSP")
        segs += [f"AL1|{i}|DA|^{a}" for i, a in enumerate(allergies, 1)]
    segs.append("ZPI|custom|segment|ignored")
    return sep.join(segs) + sep


def orm(
    control_code: str = "NW",
    *,
    accession: str = "ACC0001",
    mrn: str = "MRN0001",
    name: str = "TEST^ANNA",
    service: str = "22513^KYPHOPLASTY THORACIC^CPT",
    levels: str = "T12, L1",
    when: str = "202611241000",
    room: str = "IR^IR1^1^HOSP",
    control: str | None = None,
    version: str = "2.3.1",
    reason: str = "",
    note: str = "",
) -> str:
    segs = [
        msh(
            "ORM^O01" if version.startswith("2.3") else "ORM^O01^ORM_O01",
            control=control,
            version=version,
        ),
        pid(mrn, name=name),
        f"PV1|1|O|{room}",
        f"ORC|{control_code}|PL{accession}|{accession}||||^^^{when}||20261124075500|||1234^WHO^ORDERING",
        f"OBR|1|PL{accession}|{accession}|{service}|||||||||{levels}|||1234^WHO^ORDERING"
        f"||{accession}|||||||||||||{reason}",
    ]
    if note:
        segs.append(f"NTE|1||{note}")
    return "\r".join(segs) + "\r"


def omi(
    *,
    accession: str = "ACC0100",
    mrn: str = "MRN0001",
    service: str = "22511^VERTEBROPLASTY LUMBAR^CPT",
    levels: str = "L2",
    control: str | None = None,
) -> str:
    segs = [
        msh("OMI^O23^OMI_O23", control=control, version="2.5.1"),
        pid(mrn),
        "PV1|1|O|IR",
        f"ORC|NW|PL{accession}|{accession}||SC||||20261124075500|||1234^WHO^ORDERING",
        "TQ1|1||||||202611241300",
        f"OBR|1|PL{accession}|{accession}|{service}|||||||||{levels}",
        f"IPC|{accession}|RP1|1.2.3.4|SPS1|XA||IR2^Room 2|IR2",
    ]
    return "\r".join(segs) + "\r"


def siu(
    event: str = "S12",
    *,
    accession: str = "ACC0200",
    mrn: str = "MRN0001",
    service: str = "22514^KYPHOPLASTY LUMBAR^CPT",
    levels_text: str = "KYPHOPLASTY L3",
    start: str = "202611241400",
    room: str = "IR2",
    control: str | None = None,
    version: str = "2.5.1",
) -> str:
    code, text, system = service.split("^")
    segs = [
        msh(f"SIU^{event}^SIU_S12", control=control, version=version),
        f"SCH|APT{accession}||||||^{levels_text}||||^^30^{start}|||||||||||||||PL{accession}|{accession}",
        pid(mrn),
        "RGS|1",
        f"AIS|1||{code}^{levels_text}^{system}|{start}",
        f"AIL|1||{room}",
        "AIP|1||dr.rad^RADIOLOGIST^RITA|RAD",
        "AIP|2||tech1^TECH^TOM|TECH",
    ]
    return "\r".join(segs) + "\r"
