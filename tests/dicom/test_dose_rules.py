"""The pure dose rules (suite/domain/dose.py): totals, levels, alarms, no event loop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suite.domain.alarms.model import Category, Priority
from suite.domain.dose import (
    DoseReport,
    DoseSource,
    DoseThresholds,
    DoseTotals,
    case_totals,
    dose_alarm,
    follow_up_task_text,
    levels_reached,
)

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DEFAULT = DoseThresholds()


def rdsr(key: str, mgy: float, dap: float = 10.0, time_s: float = 300.0) -> DoseReport:
    return DoseReport(DoseSource.RDSR, key, fluoro_time_s=time_s, dap_gy_cm2=dap, air_kerma_mgy=mgy)


def image(key: str, mgy: float | None, dap: float | None = None) -> DoseReport:
    return DoseReport(DoseSource.IMAGE, key, dap_gy_cm2=dap, air_kerma_mgy=mgy)


def mpps(key: str, *, mgy: float | None = None, time_s: float | None = None) -> DoseReport:
    return DoseReport(DoseSource.MPPS, key, fluoro_time_s=time_s, air_kerma_mgy=mgy)


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ([], DoseTotals(0, 0, 0, "")),
        # images only: their values add up
        ([image("i1", 100, 2.0), image("i2", 150, 3.0)], DoseTotals(0, 5.0, 250, "image")),
        # the RDSR outranks the images it describes: never counted twice
        ([image("i1", 100, 2.0), rdsr("s1", 900, 12.0, 240)], DoseTotals(240, 12.0, 900, "rdsr")),
        # a later, cumulative report of the same scope replaces the earlier one
        ([rdsr("s1", 900), rdsr("s1", 2500)], DoseTotals(300, 10.0, 2500, "rdsr")),
        # an out-of-order older report does not lower the total
        ([rdsr("s1", 2500), rdsr("s1", 900)], DoseTotals(300, 10.0, 2500, "rdsr")),
        # two scopes (two studies of the case) add up
        ([rdsr("s1", 1000), rdsr("s2", 500)], DoseTotals(600, 20.0, 1500, "rdsr")),
        # each quantity from the best source that states it
        (
            [mpps("m1", time_s=400), image("i1", 120, 3.0)],
            DoseTotals(400, 3.0, 120, "mpps+image"),
        ),
        # the same image reported twice counts once
        ([image("i1", 100), image("i1", 100)], DoseTotals(0, 0, 100, "image")),
    ],
)
def test_totals_take_the_best_evidence_and_never_count_twice(
    reports: list[DoseReport], expected: DoseTotals
) -> None:
    totals = case_totals(reports)
    assert totals.same_values(expected)
    assert totals.source == expected.source


@pytest.mark.parametrize(
    ("air_kerma", "announced", "passed", "announce"),
    [
        (2999.9, set(), [], []),
        (3000.0, set(), [3000], ["dose_3gy"]),
        (3999.0, {3000.0}, [], []),
        (4000.0, {3000.0}, [4000], ["dose_4gy"]),
        # a jump past several levels announces the highest notification only
        (4500.0, set(), [3000, 4000], ["dose_4gy"]),
        # the SRDL is its own, higher-priority announcement (and replaces the 5 Gy notification)
        (5000.0, {3000.0, 4000.0}, [5000], ["dose_srdl_5gy"]),
        (5200.0, set(), [3000, 4000, 5000], ["dose_srdl_5gy"]),
        (6100.0, {3000.0, 4000.0}, [5000, 6000], ["dose_6gy", "dose_srdl_5gy"]),
        (7000.0, {3000.0, 4000.0, 5000.0, 6000.0}, [7000], ["dose_7gy"]),
    ],
)
def test_levels_are_announced_once_at_3_gy_every_further_gy_and_at_the_srdl(
    air_kerma: float, announced: set[float], passed: list[float], announce: list[str]
) -> None:
    reached = levels_reached(air_kerma, announced_mgy=announced, thresholds=DEFAULT)
    assert [lv.threshold_mgy for lv in reached.passed] == passed
    assert [lv.kind for lv in reached.announce] == announce
    assert reached.substantial_reached == (5000 in passed)


def test_thresholds_are_configurable_and_an_srdl_off_the_grid_is_its_own_level() -> None:
    site = DoseThresholds(
        first_notification_mgy=2000, notification_step_mgy=500, substantial_mgy=3200
    )
    reached = levels_reached(3300, announced_mgy={2000, 2500}, thresholds=site)
    assert [lv.threshold_mgy for lv in reached.passed] == [3000, 3200]
    assert [lv.kind for lv in reached.announce] == ["dose_srdl_3.2gy"]
    with pytest.raises(ValueError, match="positive"):
        DoseThresholds(notification_step_mgy=0)


def test_an_absurd_total_does_not_make_millions_of_levels() -> None:
    reached = levels_reached(1e12, announced_mgy=set(), thresholds=DEFAULT)
    assert len(reached.passed) <= 1002
    assert reached.substantial_reached


def test_the_alarms_say_what_happened_and_the_srdl_one_is_high_priority() -> None:
    totals = DoseTotals(fluoro_time_s=1500, dap_gy_cm2=200.0, air_kerma_mgy=5300, source="rdsr")
    reached = levels_reached(5300, announced_mgy={3000, 4000}, thresholds=DEFAULT)
    [srdl] = [
        dose_alarm(lv, totals=totals, case_id="k1", room="IR1", at=AT) for lv in reached.announce
    ]
    assert (srdl.kind, srdl.priority, srdl.category, srdl.latching) == (
        "dose_srdl_5gy", Priority.HIGH, Category.PROCEDURE, True,
    )  # fmt: skip
    assert srdl.alarm_id == "k1-dose_srdl_5gy"  # stable: the same level never makes two alarms
    assert (srdl.case_id, srdl.room, srdl.at) == ("k1", "IR1", AT)
    assert dict(srdl.source.evidence)["air_kerma_mgy"] == 5300
    assert "5.30 Gy" in srdl.message and "follow-up" in srdl.message
    notice = dose_alarm(
        levels_reached(3100, announced_mgy=set(), thresholds=DEFAULT).announce[0],
        totals=DoseTotals(air_kerma_mgy=3100),
        case_id="k1",
        room="IR1",
        at=AT,
    )
    assert (notice.kind, notice.priority) == ("dose_3gy", Priority.MEDIUM)
    text = follow_up_task_text(totals, DEFAULT)
    assert text.startswith("Skin follow-up:") and "5.30 Gy" in text and "2-4 weeks" in text


@given(
    steps=st.lists(st.floats(min_value=0, max_value=3000, allow_nan=False), max_size=30),
    first=st.sampled_from([1000.0, 2000.0, 3000.0]),
    step=st.sampled_from([250.0, 500.0, 1000.0]),
    srdl=st.sampled_from([3500.0, 5000.0, 8000.0]),
)
def test_over_any_course_every_level_is_passed_once_and_the_srdl_exactly_when_reached(
    steps: list[float], first: float, step: float, srdl: float
) -> None:
    thresholds = DoseThresholds(first, step, srdl)
    announced: set[float] = set()
    passed_all: list[float] = []
    total = 0.0
    highest_announce: list[str] = []
    for increment in steps:
        total += increment
        reached = levels_reached(total, announced_mgy=announced, thresholds=thresholds)
        for level in reached.passed:
            assert level.threshold_mgy <= total
            passed_all.append(level.threshold_mgy)
        assert {lv.kind for lv in reached.announce} <= {lv.kind for lv in reached.passed}
        assert len(reached.announce) <= 2
        if reached.passed:
            assert reached.announce, "passing a level always announces something"
        highest_announce += [lv.kind for lv in reached.announce]
        announced |= {lv.threshold_mgy for lv in reached.passed}
    assert len(passed_all) == len(set(passed_all))  # never twice
    assert sorted(passed_all) == thresholds.levels_up_to(total)  # none skipped
    srdl_kind = f"dose_srdl_{srdl / 1000:g}gy"
    assert (highest_announce.count(srdl_kind) == 1) == (total >= srdl)
