from datetime import UTC, datetime

import pytest

from suite.app.steps import parse_step
from suite.domain import commands as c
from suite.domain.codec import command_from_data, from_data, to_data
from suite.domain.errors import InvalidValue
from suite.domain.values import Level, Order, Procedure, Side, TrocarApproach

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_steps_typed_as_words_become_commands():
    assert parse_step("trocar", ["level=l1", "approach=parapedicular"], at=AT) == c.PlaceTrocar(
        at=AT, level="l1", approach=TrocarApproach.PARAPEDICULAR
    )
    cmd = parse_step("sedation", ["drugs=midazolam:1:mg,fentanyl:50:mcg"], at=AT)
    assert [(d.drug, d.dose, d.unit) for d in cmd.drugs] == [
        ("midazolam", 1, "mg"),
        ("fentanyl", 50, "mcg"),
    ]
    cmd = parse_step(
        "time-out",
        [
            "signed_by=dr.rad",
            "patient_confirmed=true",
            "procedure=kyphoplasty",
            "levels=T12,L1",
            "side=bilateral",
        ],
        at=AT,
    )
    assert cmd.levels == ("T12", "L1") and cmd.side is Side.BILATERAL


@pytest.mark.parametrize(
    ("step", "words", "match"),
    [
        ("trocar", ["levle=L1"], "'levle=L1' is not key=value with a known key"),
        ("trocar", [], r"trocar.level is missing"),
        ("cement", ["level=L1", "volume_ml=lots"], "volume_ml: expected a number, got 'lots'"),
        (
            "cement",
            ["level=L1", "volume_ml=3", "leakage=everywhere"],
            "'everywhere' is not one of none",
        ),
        ("stitch", [], "unknown step 'stitch'"),
    ],
)
def test_mistyped_steps_get_an_error_naming_the_field(step, words, match):
    with pytest.raises(InvalidValue, match=match):
        parse_step(step, words, at=AT)


def test_json_commands_name_the_wrong_field():
    with pytest.raises(
        InvalidValue, match="InjectCement.at: time '2026-11-24T09:00' has no time zone"
    ):
        command_from_data("InjectCement", {"at": "2026-11-24T09:00", "level": "L1", "volume_ml": 2})
    with pytest.raises(InvalidValue, match="unknown command 'Fly'"):
        command_from_data("Fly", {})
    with pytest.raises(InvalidValue, match=r"Order.levels\[1\]: unknown vertebral level 'Q1'"):
        from_data(Order, {"accession": "A", "procedure": "kyphoplasty", "levels": ["L1", "Q1"]})


def test_values_round_trip():
    order = Order(accession="A", procedure=Procedure.KYPHOPLASTY, levels=(Level.parse("T12"),))
    assert from_data(Order, to_data(order)) == order


def test_levels_sort_in_spinal_order():
    assert sorted(Level.parse(x) for x in ["L1", "T12", "C7", "S1", "T2"]) == [
        Level.parse(x) for x in ["C7", "T2", "T12", "L1", "S1"]
    ]
