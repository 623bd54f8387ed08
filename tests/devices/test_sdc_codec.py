"""The SDC codec on plain values: MDC mapping, validity, times, fallback sources, device alert
conditions, discovery scopes and the room a location names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from adapters.devices.sdc import codec
from suite.domain.alarms.model import Priority
from suite.domain.alarms.parameters import Param
from suite.domain.samples import WRONG_UNIT
from suite.settings_sdc import SdcProviderSettings

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
D = {
    "hr": codec.MetricDescriptor("hr", "147842", "264864"),
    "pr": codec.MetricDescriptor("pr", "149530", "264864"),
    "spo2": codec.MetricDescriptor("spo2", "150456", "262688"),
    "co2kpa": codec.MetricDescriptor("co2kpa", "151708", "265987"),
    "odd": codec.MetricDescriptor("odd", "196174", "262656"),
    "temp": codec.MetricDescriptor("temp", "150364", "262688"),  # a temperature in %
}


def decode(
    *readings: codec.MetricReading, descriptors: dict[str, codec.MetricDescriptor] = D
) -> codec.Decoded:
    return codec.decode_metrics(
        "IR1", "mon", readings, descriptors, used=codec.primary_handles(descriptors),
        received_at=T0 + timedelta(minutes=1), seq=7,
    )  # fmt: skip


def test_values_are_mapped_converted_and_grouped_by_determination_time() -> None:
    got = decode(
        codec.MetricReading("spo2", 96.0, "Vld", T0),
        codec.MetricReading("co2kpa", 5.0, "Vldated", T0),
        codec.MetricReading("hr", 70.0, "Vld", T0 + timedelta(seconds=1)),
        codec.MetricReading("odd", 1.0, "Vld", T0),
    )
    assert [s.sample.at for s in got.samples] == [T0, T0 + timedelta(seconds=1)]
    first = got.samples[0].sample
    assert first.values[Param.SPO2] == 96.0
    assert first.values[Param.ETCO2] == pytest.approx(37.5, abs=0.01)  # 5 kPa
    assert first.seq == 7 and first.room == "IR1" and first.device == "mon"
    assert dict(got.samples[1].sample.values) == {Param.HR: 70.0}
    assert got.unknown_codes == ("196174",)


def test_invalid_is_no_reading_missing_time_is_receipt_and_a_wrong_unit_is_a_problem() -> None:
    got = decode(
        codec.MetricReading("spo2", 96.0, "Inv", None),
        codec.MetricReading("temp", 37.0, "Vld", None),
    )
    [sample] = got.samples
    assert sample.sample.at == T0 + timedelta(minutes=1)
    assert dict(sample.sample.values) == {Param.SPO2: None}
    [problem] = sample.problems
    assert (problem.kind, problem.param, problem.key) == (WRONG_UNIT, Param.TEMP, "temp")
    assert "150364" in problem.detail


def test_pulse_rate_is_heart_rate_only_without_an_ecg() -> None:
    with_ecg = decode(codec.MetricReading("pr", 66.0, "Vld", T0))
    assert with_ecg.samples == ()
    only_probe = {k: D[k] for k in ("pr", "spo2")}
    got = decode(codec.MetricReading("pr", 66.0, "Vld", T0), descriptors=only_probe)
    assert dict(got.samples[0].sample.values) == {Param.HR: 66.0}


def test_device_alert_conditions_keep_the_monitors_priority() -> None:
    desc = codec.AlertDescriptor("ac.spo2", "196670", "SpO2 low", "Phy", "Me")
    assert codec.alert_priority(desc) == Priority.MEDIUM
    escalated = codec.AlertReading("ac.spo2", present=True, active=True, priority="Hi")
    assert codec.alert_priority(desc, escalated) == Priority.HIGH
    info = codec.AlertDescriptor("x", "1", "", "Oth", "None")
    assert codec.alert_priority(info) == Priority.LOW
    assert codec.alert_is_on(escalated)
    assert not codec.alert_is_on(codec.AlertReading("ac.spo2", present=True, active=False))
    # Never ends with a parameter name: the engine would end it on a valid SpO2 reading.
    assert codec.alert_kind("ac_spo2") == "device_alert[ac_spo2]"
    assert codec.alert_message("mon", desc) == (
        "Monitor mon alarm: SpO2 low (physiological, monitor priority Me)"
    )


def test_location_from_scopes_filter_and_room() -> None:
    scopes = [
        "http://other/scope",
        "sdc.ctxt.loc:/sdc.ctxt.loc.detail/HOSP%2F%2F%2FIR%2FIR2%2F?fac=HOSP&poc=IR&rm=IR2",
    ]
    where = codec.location_of(scopes)
    assert where == {"fac": "HOSP", "poc": "IR", "rm": "IR2"}
    assert codec.location_matches({"poc": "IR"}, where)
    assert not codec.location_matches({"poc": "ICU"}, where)
    assert codec.room_of(where, ["IR1", "IR2"]) == "IR2"
    assert codec.room_of({"poc": "IR1"}, ["IR1"]) == "IR1"
    assert codec.room_of(where, ["IR1"]) is None


def test_a_provider_needs_a_way_to_be_found_and_known_location_keys() -> None:
    with pytest.raises(ValidationError, match="give an address, an epr or a location"):
        SdcProviderSettings(device="m")
    with pytest.raises(ValidationError, match="unknown location keys"):
        SdcProviderSettings(device="m", location={"ward": "3"})
