"""The MQTT wire format on golden payloads: what is read, what is dropped and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from adapters.mqtt import codec
from adapters.mqtt.topics import Kind, Topics
from suite.domain.alarms.parameters import PARAMETERS, Param

GOLDEN = (
    b'{"ts": "2026-11-24T09:12:03.250Z", "seq": 1234, "values": {"hr": 72, "spo2": 97,'
    b' "nibp_sys": 121, "nibp_dia": 78, "nibp_map": 92, "rr": 14, "etco2": 36, "temp": 36.6}}'
)


def decode(payload: bytes | str, max_bytes: int = 65_536) -> codec.DecodedVitals:
    data = payload.encode() if isinstance(payload, str) else payload
    return codec.decode_vitals("IR1", "mon-1", data, max_bytes=max_bytes)


def test_the_documented_example_reads_every_parameter_in_its_unit() -> None:
    got = decode(GOLDEN)
    assert got.problems == ()
    s = got.sample
    assert (s.room, s.device, s.seq) == ("IR1", "mon-1", 1234)
    assert s.at == datetime(2026, 11, 24, 9, 12, 3, 250_000, tzinfo=UTC)
    assert s.values == {
        Param.HR: 72, Param.SPO2: 97, Param.NIBP_SYS: 121, Param.NIBP_DIA: 78,
        Param.NIBP_MAP: 92, Param.RR: 14, Param.ETCO2: 36, Param.TEMP: 36.6,
    }  # fmt: skip


def test_any_subset_null_means_no_reading_and_times_become_utc() -> None:
    got = decode('{"ts": "2026-11-24T10:12:03+01:00", "values": {"spo2": null, "hr": 61}}')
    assert got.sample.values == {Param.SPO2: None, Param.HR: 61}
    assert got.sample.seq is None
    assert got.sample.at == datetime(2026, 11, 24, 9, 12, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"values": {"hr": 60}}', "no ts"),
        ('{"ts": "yesterday", "values": {}}', "not an ISO 8601 time"),
        ('{"ts": "2026-11-24T09:12:03", "values": {}}', "no time zone"),
        ('{"ts": "2026-11-24T09:12:03Z", "seq": "7", "values": {}}', "seq"),
        ('{"ts": "2026-11-24T09:12:03Z", "values": [72]}', "values object"),
        ('{"ts": "2026-11-24T09:12:03Z", "values": {}, "units": "SI"}', "units"),
        (b'\xff\xfe{"ts": 1}', "not JSON"),
    ],
)
def test_an_unreadable_message_is_rejected_whole_with_the_reason(
    payload: str | bytes, words: str
) -> None:
    with pytest.raises(codec.PayloadError, match=words) as info:
        decode(payload)
    assert info.value.kind == codec.MALFORMED


def test_a_payload_over_the_size_limit_is_refused_before_it_is_parsed() -> None:
    # Ten megabytes of something that would take a while to parse if anyone tried.
    huge = b'{"ts": "2026-11-24T09:12:03Z", "values": {"hr": [' + b"1," * 5_000_000 + b"1]}}"
    assert len(huge) > 10_000_000
    with pytest.raises(codec.PayloadError, match="exceeds 65536") as info:
        decode(huge)
    assert info.value.kind == codec.OVERSIZE


def test_bad_values_are_dropped_alone_and_named() -> None:
    got = decode(
        json.dumps(
            {
                "ts": "2026-11-24T09:12:03Z",
                "values": {"hr": "72", "spo2": 150, "rr": -5, "etco2": 4.8, "temp": 98.6,
                           "glucose": 5.5, "nibp_sys": True, "nibp_map": 90},
                "units": {"etco2": "kPa", "temp": "°F", "nibp_map": "mm[Hg]", "rr": "/min"},
            }
        )
    )  # fmt: skip
    kinds = {(p.kind, p.key) for p in got.problems}
    assert kinds == {
        (codec.BAD_VALUE, "hr"),
        (codec.IMPLAUSIBLE, "spo2"),
        (codec.IMPLAUSIBLE, "rr"),
        (codec.WRONG_UNIT, "etco2"),
        (codec.WRONG_UNIT, "temp"),
        (codec.UNKNOWN_PARAMETER, "glucose"),
        (codec.BAD_VALUE, "nibp_sys"),
    }
    # Implausible numbers stay for the alarm engine (it owns that alarm); the rest go.
    assert got.sample.values == {Param.SPO2: 150, Param.RR: -5, Param.NIBP_MAP: 90}
    spo2 = next(p for p in got.problems if p.key == "spo2")
    assert spo2.detail == "150 % is outside 0-100 %"


def test_nan_and_infinity_are_not_numbers() -> None:
    got = decode('{"ts": "2026-11-24T09:12:03Z", "values": {"hr": NaN, "spo2": Infinity}}')
    assert {(p.kind, p.key) for p in got.problems} == {
        (codec.BAD_VALUE, "hr"),
        (codec.BAD_VALUE, "spo2"),
    }
    assert got.sample.values == {}


@pytest.mark.parametrize("param", list(Param))
def test_every_parameter_accepts_its_documented_and_ucum_unit(param: Param) -> None:
    info = PARAMETERS[param]
    assert codec.unit_matches(info, info.unit)
    assert codec.unit_matches(info, info.ucum)
    assert not codec.unit_matches(info, "furlongs")


def test_device_status_words() -> None:
    assert codec.decode_status(b"online") is True
    assert codec.decode_status(b" OFFLINE\n") is False
    assert codec.decode_status(b'"online"') is True
    assert codec.decode_status(b"") is None
    with pytest.raises(codec.PayloadError) as info:
        codec.decode_status(b"sleeping")
    assert info.value.kind == codec.MALFORMED_STATUS


def test_commands_and_replies() -> None:
    req = codec.decode_command(
        b'{"id": "c-1", "action": "ack_alarm", "alarm_id": "a-1"}', max_bytes=1000
    )
    assert (req.id, req.action, req.body["alarm_id"]) == ("c-1", "ack_alarm", "a-1")
    with pytest.raises(codec.CommandError, match="needs an action") as info:
        codec.decode_command(b'{"id": "c-2"}', max_bytes=1000)
    assert info.value.command_id == "c-2"
    assert json.loads(codec.encode_reply("c-1", result={"x": 1})) == {
        "id": "c-1",
        "ok": True,
        "result": {"x": 1},
    }
    err = codec.CommandError("no", rule="permission")
    assert json.loads(codec.encode_reply("c-1", error=err)) == {
        "id": "c-1", "ok": False, "error": "no", "rule": "permission"
    }  # fmt: skip


def test_topics_parse_only_the_subscribed_shapes() -> None:
    t = Topics("procsuite/main")
    assert t.parse("procsuite/main/rooms/IR1/vitals/mon-1") == (Kind.VITALS, "IR1", "mon-1")
    assert t.parse("procsuite/main/rooms/IR1/devices/mon-1/status") == (Kind.STATUS, "IR1", "mon-1")
    assert t.parse("procsuite/main/cmd/nurse1") == (Kind.COMMAND, "", "nurse1")
    for other in (
        "procsuite/mainx/cmd/a",
        "procsuite/main/rooms/IR1/vitals",
        "procsuite/main/rooms/IR1/state",
        "x",
    ):
        assert t.parse(other) is None


# What the fast decoder (msgspec) might read differently from `json`: the edges of numbers,
# repeated keys, other encodings, escapes. `load_json` must give `json.loads`'s value or its
# error for each.
EDGES = [
    b'{"a": 123456789012345678901234567890, "b": -9223372036854775809}',
    b'{"a": 18446744073709551616, "b": 18446744073709551615, "c": -0, "d": -0.0}',
    b'{"a": 1e400, "b": -1e400}',
    b'{"a": 1.7976931348623157e308, "b": 4.9e-324, "c": 1e-400, "d": 0.1}',
    b'{"a": NaN, "b": Infinity}',
    b'{"a": 1, "a": 2}',
    b'\xef\xbb\xbf{"a": 1}',
    '{"a": "\u00e9"}'.encode("utf-16"),
    b'{"a": "\\ud800", "b": "\\u00e9\\n"}',
    b'{"a": "\xed\xa0\x80"}',
    b'{"a": true, "b": false, "c": null, "d": [1, 2.5, "x"]}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a": 1} x',
    b"",
]


@pytest.mark.parametrize("payload", EDGES)
def test_the_fast_decoder_reads_what_json_reads(payload: bytes) -> None:
    try:
        expected = json.loads(payload)
    except (ValueError, RecursionError):
        with pytest.raises(codec.PayloadError) as caught:
            codec.load_json(payload, max_bytes=1 << 20, what="x")
        assert caught.value.kind == codec.MALFORMED
        return
    got = codec.load_json(payload, max_bytes=1 << 20, what="x")
    assert repr(got) == repr(expected)  # repr: types too (an int stays an int), and NaN


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("72", 72.0), ("97.5", 97.5), ("0", 0.0), ("350", 350.0), ("-0.0", -0.0),
        ("350.0001", None), ("-1", None), ("true", None), ('"72"', None),
        ("123456789012345678901234567890", None),
    ],
)  # fmt: skip
def test_the_usual_value_and_its_edges(raw: str, expected: float | None) -> None:
    """A number inside the physical range is taken as a float at once; anything else takes
    the checks of the full path (reported as a problem, or kept as implausible)."""
    got = decode('{"ts": "2026-11-24T09:12:03Z", "values": {"hr": ' + raw + "}}")
    if expected is not None:
        assert got.problems == () and got.sample.values == {Param.HR: expected}
        assert type(got.sample.values[Param.HR]) is float
    else:
        assert [p.param for p in got.problems] == [Param.HR]
