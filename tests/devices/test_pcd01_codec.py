"""The PCD-01 codec on golden messages: the shared example, both sub-id styles, units,
device and time rules, the location map, and the errors that name their field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.devices.hl7v2 import MessageError
from adapters.devices.pcd01.codec import LocationMap, decode
from suite.domain.alarms.parameters import Param

EXAMPLE = Path(__file__).parents[2] / ".." / "shared" / "examples" / "pcd01_oru_r01.hl7"
HEAD = "MSH|^~\\&|GW|ACME|||20250301101500+0100||ORU^R01^ORU_R01|M1|P|2.6\rPV1||I|IR^IR1^1\r"
OBR = "OBR|1|||182777000^monitoring of patient^SCT|||20250301101500+0100\r"
MDS = (
    "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||MON9^X^00AA^EUI-64\r"
)


def one(obx: str) -> dict[Param, float]:
    report = decode((HEAD + OBR + MDS + obx).encode())
    assert len(report.devices) == 1
    return report.devices[0].values()


@pytest.mark.skipif(not EXAMPLE.exists(), reason="../shared/examples not present")
def test_the_shared_example_reads_every_parameter_with_device_time_and_limits() -> None:
    report = decode(EXAMPLE.read_bytes())
    assert report.header.control_id == "MSG000123" and report.header.profile == "IHE_PCD_001"
    assert report.location == ("ICU", "Bed1", "1")
    [dev] = report.devices
    assert dev.device == "MON42"
    assert dev.values() == {
        Param.HR: 72, Param.SPO2: 97, Param.NIBP_SYS: 122, Param.NIBP_DIA: 78,
        Param.NIBP_MAP: 93, Param.RR: 16, Param.ETCO2: 38, Param.TEMP: 37.1,
    }  # fmt: skip
    assert dev.limits() == {Param.HR: (50, 120), Param.SPO2: (90, 100)}
    assert dev.at == datetime(2025, 3, 1, 9, 14, 58, tzinfo=UTC)  # latest OBX-14, in UTC
    assert report.unknown_codes == ()


@pytest.mark.parametrize(
    ("obx", "expected"),
    [
        # GE style sub-id, MDC unit code with UCUM beside it
        ("OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|93|262688^MDC_DIM_PERCENT^MDC^%^%^UCUM"
         "|||||R", {Param.SPO2: 93}),
        # Mindray style: the MDC code in the 4th sub-id component
        ("OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.150456|93|262688^MDC_DIM_PERCENT^MDC"
         "|||||R", {Param.SPO2: 93}),
        # UCUM only
        ("OBX|2|NM|151708^MDC_AWAY_CO2_ET^MDC|1.4.1.2|5|^^^kPa^kPa^UCUM|||||R",
         {Param.ETCO2: pytest.approx(37.5, abs=0.01)}),
        # EtCO2 in % (volume percent), NIBP in kPa, cuff codes
        ("OBX|2|NM|151708^MDC_AWAY_CO2_ET^MDC|1.4.1.2|5|262688^MDC_DIM_PERCENT^MDC|||||R",
         {Param.ETCO2: pytest.approx(38)}),
        ("OBX|2|NM|150301^MDC_PRESS_CUFF_SYS^MDC|1.3.1.1|16|3843^MDC_DIM_KILO_PA^MDC|||||R",
         {Param.NIBP_SYS: pytest.approx(120.01, abs=0.01)}),
        # a reference id wins over a numeric code that contradicts it
        ("OBX|2|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.3.1.2|10|3872^MDC_DIM_KILO_PA^MDC|||||R",
         {Param.NIBP_DIA: pytest.approx(75.0, abs=0.01)}),
        # the SpO2 probe's pulse rate is the heart rate only without ECG
        ("OBX|2|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.2.1.2|71|264864^^MDC|||||R\r"
         "OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|72|264864^^MDC|||||R", {Param.HR: 72}),
        ("OBX|2|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.2.1.2|71|264864^^MDC|||||R", {Param.HR: 71}),
        # deleted / wrong results are skipped
        ("OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|93|262688^^MDC|||||W", {}),
    ],
)  # fmt: skip
def test_sub_id_styles_and_units(obx: str, expected: dict[Param, float]) -> None:
    assert one(obx + "\r") == expected


def test_unknown_codes_are_counted_not_errors_and_obx18_names_the_device() -> None:
    report = decode(
        (HEAD + OBR + MDS
         + "OBX|2|NM|152000^MDC_SOMETHING_NEW^MDC|1.9.1.1|4|262688^^MDC|||||R\r"
         "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|2.2.1.1|95|262688^^MDC|||||R|||20250301101400"
         "+0100||||PULSOX2^Y^00BB^EUI-64\r").encode()
    )  # fmt: skip
    assert report.unknown_codes == ("152000^MDC_SOMETHING_NEW",)
    assert [(d.device, d.values()) for d in report.devices] == [
        ("MON9", {}), ("PULSOX2", {Param.SPO2: 95}),
    ]  # fmt: skip
    assert report.devices[1].at == datetime(2025, 3, 1, 9, 14, tzinfo=UTC)


def test_problems_name_the_obx_field() -> None:
    report = decode(
        (HEAD + OBR + MDS
         + "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|93|266016^MDC_DIM_MMHG^MDC|||||R\r"
         "OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|fast|264864^^MDC|||||R\r"
         "OBX|4|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|400|264864^^MDC|||||R\r").encode()
    )  # fmt: skip
    problems = [(p.kind, p.where) for p in report.devices[0].problems]
    assert problems == [
        ("wrong_unit", "OBX-6 (set 2)"), ("bad_value", "OBX-5 (set 3)"),
        ("implausible", "OBX-5 (set 4)"),
    ]  # fmt: skip
    assert report.devices[0].values() == {Param.HR: 400}  # kept for the engine's own alarm


@pytest.mark.parametrize(
    ("raw", "where", "reject"),
    [
        ("PID|||1\r", "MSH", True),
        ("MSH|^~\\&|GW|A|||2025||ORU^R01|M1|P|2.6\rOBX|1|NM|150456|1.1.1.1|9\r", "PV1", False),
        ("MSH|^~\\&|GW|A|||2025||ORU^R01|M1|P|2.6\rPV1||I|IR^IR1\r", "OBX", False),
        ("MSH|^~\\&|GW|A|||2025||ORU^R01||P|2.6\rPV1||I|IR\r", "MSH-10", True),
        ("MSH|^~\\&|GW|A|||2025||ORU^R30|M1|P|2.6\rPV1||I|IR\r", "MSH-9", True),
        (HEAD + "OBR|1|||x|||2025XX01\r" + MDS, "OBR-7", False),
        (HEAD + "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|93|262688^^MDC|||||R\r",
         "OBX-14 (set 1)", False),
    ],
)  # fmt: skip
def test_unusable_messages_name_the_field(raw: str, where: str, reject: bool) -> None:
    with pytest.raises(MessageError) as raised:
        decode(raw.encode())
    assert raised.value.where == where and raised.value.reject is reject


@pytest.mark.parametrize(
    ("location", "mapping", "room"),
    [
        (("IR", "IR1", "1"), {}, "IR1"),  # the room component is a room name
        (("IR2", "", ""), {}, "IR2"),  # the point of care is
        (("ICU", "Bed1", "1"), {}, None),
        (("ICU", "Bed1", "1"), {"ICU^Bed1^1": "IR2"}, "IR2"),
        (("ICU", "Bed1", "2"), {"ICU^Bed1": "IR1"}, "IR1"),
        (("X", "OR7", "1"), {"OR7": "IR2"}, "IR2"),
        (("ANGIO", "", ""), {"ANGIO": "IR1"}, "IR1"),
    ],
)
def test_location_map(location: tuple[str, str, str], mapping: dict[str, str], room: str | None):
    assert LocationMap(frozenset({"IR1", "IR2"}), mapping).room_of(location) == room
