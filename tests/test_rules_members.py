"""Hand-built members, one rule edge each, with exact expected measures.

As-of date 2026-06-30: the look-back is 2025-07-01 .. 2026-06-30, the 6-month period
2026-01-01 .. 2026-06-30, the earliest six-month window 2025-07-01 .. 2025-12-31.
All members are built into one warehouse per module (DuckDB is fast, the models are not).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pytest

from pipelines.config import load_rules
from pipelines.measures import COUNT_COLUMNS, OUTCOME_COLUMNS, WINDOW_COLUMNS
from tests.builders import (
    ACUTE_DX,
    CHEMO_DX,
    CHILD_BIRTH,
    KNEE_REPLACEMENT,
    NOT_AVOIDABLE_DX,
    RawBuilder,
    build,
    mart_rows,
    query,
    with_ed_measure,
)

D = date


def scenarios() -> RawBuilder:
    b = RawBuilder()

    # Adult ED: exactly 5 avoidable visits in a window, and one short.
    b.member("adult_ed_5")
    for month in (2, 3, 4, 5, 6):
        b.ed_visit("adult_ed_5", D(2026, month, 1))
    b.member("adult_ed_4")
    for month in (2, 3, 4, 5):
        b.ed_visit("adult_ed_4", D(2026, month, 1))

    # Adult stays: exactly 3 unplanned stays in a window, and one short.
    b.member("adult_stays_3")
    for month in (1, 2, 3):
        b.stay("adult_stays_3", D(2026, month, 10), D(2026, month, 12))
    b.member("adult_stays_2")
    for month in (1, 2):
        b.stay("adult_stays_2", D(2026, month, 10), D(2026, month, 12))

    # Children: 12-month counts, spread over the whole year.
    b.member("child_ed_3", CHILD_BIRTH)
    for day in (D(2025, 8, 1), D(2025, 12, 1), D(2026, 5, 1)):
        b.ed_visit("child_ed_3", day, dx=NOT_AVOIDABLE_DX)
    b.member("child_ed_2", CHILD_BIRTH)
    for day in (D(2025, 8, 1), D(2026, 5, 1)):
        b.ed_visit("child_ed_2", day, dx=NOT_AVOIDABLE_DX)
    b.member("child_stays_2", CHILD_BIRTH)
    b.stay("child_stays_2", D(2025, 7, 20), D(2025, 7, 22))
    b.stay("child_stays_2", D(2026, 6, 1), D(2026, 6, 3))
    b.member("child_stays_1", CHILD_BIRTH)
    b.stay("child_stays_1", D(2026, 6, 1), D(2026, 6, 3))

    # Five avoidable visits over seven months: no six-month window holds five.
    b.member("spread_5")
    for day in (D(2025, 9, 15), D(2025, 11, 15), D(2026, 1, 15), D(2026, 3, 15), D(2026, 4, 15)):
        b.ed_visit("spread_5", day)

    # The qualifying window is not the latest six months (which hold only 4).
    b.member("earlier_window")
    for day in (D(2025, 12, 20), D(2026, 1, 5), D(2026, 1, 10), D(2026, 1, 20), D(2026, 2, 1)):
        b.ed_visit("earlier_window", day)
    # ... and the earliest window of the look-back (no event window fits inside it).
    b.member("earliest_window")
    for day in (D(2025, 8, 1), D(2025, 8, 15), D(2025, 9, 1), D(2025, 9, 15), D(2025, 10, 1)):
        b.ed_visit("earliest_window", day)

    # 21st birthday on the as-of date: adult; one day younger: child.
    b.member("turns_21", D(2005, 6, 30))
    b.member("turns_21_tomorrow", D(2005, 7, 1))
    for member in ("turns_21", "turns_21_tomorrow"):
        for month in (2, 3, 4, 5, 6):
            b.ed_visit(member, D(2026, month, 1))

    # An event exactly 12 months before the as-of date is outside; the day after is inside.
    b.member("boundary", CHILD_BIRTH)
    b.ed_visit("boundary", D(2025, 6, 30), dx=NOT_AVOIDABLE_DX)
    b.ed_visit("boundary", D(2025, 7, 1), dx=NOT_AVOIDABLE_DX)

    # Facility and professional claims on one date: one visit, the facility's diagnosis.
    b.member("same_day")
    b.ed_visit("same_day", D(2026, 3, 1), dx=NOT_AVOIDABLE_DX, kind="institutional")
    b.ed_visit("same_day", D(2026, 3, 1), dx="J069", kind="professional")

    # ED visit, admitted the next day: one stay through the ED, no ED visit.
    b.member("ed_then_admit")
    b.ed_visit("ed_then_admit", D(2026, 3, 1))
    b.stay("ed_then_admit", D(2026, 3, 2), D(2026, 3, 5))

    # A direct transfer is one stay; a routine discharge with a 1-day gap is two.
    b.member("transfer", CHILD_BIRTH)
    b.stay("transfer", D(2026, 3, 1), D(2026, 3, 5), status="02")
    b.stay("transfer", D(2026, 3, 6), D(2026, 3, 10))
    b.member("no_transfer", CHILD_BIRTH)
    b.stay("no_transfer", D(2026, 3, 1), D(2026, 3, 5), status="01")
    b.stay("no_transfer", D(2026, 3, 6), D(2026, 3, 10))

    # SNF: 95 days is long-term (not counted), 89 days is short-term (counted).
    b.member("snf_95")
    b.stay("snf_95", D(2026, 1, 1), D(2026, 4, 6), setting="snf")
    b.member("snf_89")
    b.stay("snf_89", D(2026, 1, 1), D(2026, 3, 31), setting="snf")

    # Planned vs unplanned.
    b.member("chemo")
    b.stay("chemo", D(2026, 3, 1), D(2026, 3, 2), dx=CHEMO_DX, admission_type="3")
    b.member("elective_acute")
    b.stay(
        "elective_acute",
        D(2026, 3, 1),
        D(2026, 3, 4),
        dx=ACUTE_DX,
        procedure=KNEE_REPLACEMENT,
        admission_type="3",
    )
    b.member("elective_planned")
    b.stay(
        "elective_planned",
        D(2026, 3, 1),
        D(2026, 3, 4),
        dx="M170",
        procedure=KNEE_REPLACEMENT,
        admission_type="3",
    )

    # Versions: a voided claim does not count; a replacement replaces.
    b.member("voided")
    b.void(b.ed_visit("voided", D(2026, 3, 1)))
    b.member("replaced")
    b.replace(b.ed_visit("replaced", D(2026, 3, 1)), principal_diagnosis_code=NOT_AVOIDABLE_DX)

    # Exclusions and Monitoring, all with 5 avoidable ED visits (High before them).
    def high_adult(member_id: str, **fields: Any) -> None:
        b.member(member_id, **fields)
        for month in (2, 3, 4, 5, 6):
            b.ed_visit(member_id, D(2026, month, 1))

    high_adult("disenrolled", end=D(2026, 5, 31))
    high_adult("in_ecm", in_ecm=True)
    high_adult("hospice_and_ecm", hospice=True, in_ecm=True)
    high_adult("declined")
    b.status("declined", "declined", D(2026, 1, 1))
    high_adult("declines_later")
    b.status("declines_later", "declined", D(2026, 7, 1))

    # Low: one ED visit, nothing else.
    b.member("low")
    b.ed_visit("low", D(2026, 3, 1), dx=NOT_AVOIDABLE_DX)

    # Five ED visits that are not avoidable: Low by default, High when ed_measure = 'all'.
    b.member("all_ed_5")
    for month in (2, 3, 4, 5, 6):
        b.ed_visit("all_ed_5", D(2026, month, 1), dx=NOT_AVOIDABLE_DX)

    # Claims but no eligibility: measured, then excluded as not enrolled. Only when a claim
    # counts: a member whose only claim was voided is no member; a replaced claim still counts.
    b.ed_visit("claims_only", D(2026, 3, 1))
    b.void(b.ed_visit("voided_claims_only", D(2026, 3, 1)))
    b.replace(b.ed_visit("replaced_claims_only", D(2026, 3, 1)), paid_amount="10.00")
    return b


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    con = build(scenarios(), tmp_path_factory.mktemp("rules") / "warehouse.duckdb")
    yield con
    con.close()


@pytest.fixture(scope="module")
def measures(warehouse: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    return mart_rows(warehouse, "marts.fct_member_measures")


@pytest.fixture(scope="module")
def all_ed_measures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    rules = with_ed_measure(load_rules(), "all")
    path = tmp_path_factory.mktemp("rules_all") / "warehouse.duckdb"
    with build(scenarios(), path, rules=rules) as con:
        return mart_rows(con, "marts.fct_member_measures")


def check(row: dict[str, Any], **expected: Any) -> None:
    """Unnamed counts are 0: every test states the full count profile it expects."""
    for column in COUNT_COLUMNS:
        expected.setdefault(column, 0)
    actual = {k: row[k] for k in expected}
    assert actual == expected


def test_member_mart_carries_the_shared_measure_names(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    columns = [r[0] for r in warehouse.execute("describe marts.fct_member_measures").fetchall()]
    for name in ("member_id", "age", *COUNT_COLUMNS, *WINDOW_COLUMNS, *OUTCOME_COLUMNS):
        assert name in columns
    assert {"score", "first_event_date", "last_event_date"} <= set(columns)


def test_universe_is_eligibility_plus_claims(measures: dict[str, dict[str, Any]]) -> None:
    # + claims_only and replaced_claims_only
    assert len(measures) == len(scenarios().eligibility) + 2
    assert "voided_claims_only" not in measures
    check(
        measures["claims_only"],
        ed_visits_6m=1,
        ed_visits_12m=1,
        avoidable_ed_visits_6m=1,
        avoidable_ed_visits_12m=1,
        best_window_ed_visits=1,
        age_group=None,
        tier=None,
        would_be_tier="Low",
        exclusion_reason="not_enrolled",
    )


def test_adult_ed_exactly_at_threshold(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["adult_ed_5"],
        ed_visits_6m=5,
        ed_visits_12m=5,
        avoidable_ed_visits_6m=5,
        avoidable_ed_visits_12m=5,
        best_window_ed_visits=5,
        best_window_ed_start=D(2025, 12, 2),
        best_window_ed_end=D(2026, 6, 1),
        best_window_stays_start=None,
        age_group="adult",
        criteria_met="adult_ed",
        tier="High",
        would_be_tier="High",
        exclusion_reason=None,
        score=1.0,
        first_event_date=D(2026, 2, 1),
        last_event_date=D(2026, 6, 1),
    )


def test_adult_ed_one_short_is_moderate(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["adult_ed_4"],
        ed_visits_6m=4,
        ed_visits_12m=4,
        avoidable_ed_visits_6m=4,
        avoidable_ed_visits_12m=4,
        best_window_ed_visits=4,
        best_window_ed_start=D(2025, 11, 2),
        best_window_ed_end=D(2026, 5, 1),
        criteria_met=None,
        tier="Moderate",
        score=0.8,
    )


def test_adult_stays_exactly_at_threshold(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["adult_stays_3"],
        unplanned_hospital_stays_6m=3,
        unplanned_hospital_stays_12m=3,
        best_window_stays=3,
        best_window_stays_start=D(2025, 9, 11),
        best_window_stays_end=D(2026, 3, 10),
        best_window_ed_start=None,
        criteria_met="adult_stays",
        tier="High",
        score=1.0,
    )


def test_adult_stays_one_short_is_moderate(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["adult_stays_2"],
        unplanned_hospital_stays_6m=2,
        unplanned_hospital_stays_12m=2,
        best_window_stays=2,
        best_window_stays_start=D(2025, 8, 11),
        best_window_stays_end=D(2026, 2, 10),
        criteria_met=None,
        tier="Moderate",
        score=0.667,
    )


def test_child_ed_exactly_at_threshold(measures: dict[str, dict[str, Any]]) -> None:
    # Children's best windows are computed too (avoidable measure: none here).
    check(
        measures["child_ed_3"],
        ed_visits_6m=1,
        ed_visits_12m=3,
        age_group="child",
        criteria_met="child_ed",
        tier="High",
        score=1.0,
        best_window_ed_start=None,
    )


def test_child_ed_one_short_is_moderate(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["child_ed_2"],
        ed_visits_6m=1,
        ed_visits_12m=2,
        criteria_met=None,
        tier="Moderate",
        score=0.667,
    )


def test_child_stays_exactly_at_threshold(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["child_stays_2"],
        unplanned_hospital_stays_6m=1,
        unplanned_hospital_stays_12m=2,
        best_window_stays=1,
        best_window_stays_start=D(2025, 12, 2),
        best_window_stays_end=D(2026, 6, 1),
        criteria_met="child_stays",
        tier="High",
        score=1.0,
    )


def test_child_stays_one_short_is_moderate(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["child_stays_1"],
        unplanned_hospital_stays_6m=1,
        unplanned_hospital_stays_12m=1,
        best_window_stays=1,
        best_window_stays_start=D(2025, 12, 2),
        best_window_stays_end=D(2026, 6, 1),
        criteria_met=None,
        tier="Moderate",
        score=0.5,
    )


def test_five_visits_over_seven_months_are_not_flagged(
    measures: dict[str, dict[str, Any]],
) -> None:
    check(
        measures["spread_5"],
        ed_visits_6m=3,
        ed_visits_12m=5,
        avoidable_ed_visits_6m=3,
        avoidable_ed_visits_12m=5,
        best_window_ed_visits=4,
        best_window_ed_start=D(2025, 10, 16),
        best_window_ed_end=D(2026, 4, 15),
        criteria_met=None,
        tier="Moderate",
    )


def test_qualifying_window_need_not_be_the_latest(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["earlier_window"],
        ed_visits_6m=4,
        ed_visits_12m=5,
        avoidable_ed_visits_6m=4,
        avoidable_ed_visits_12m=5,
        best_window_ed_visits=5,
        best_window_ed_start=D(2025, 8, 2),
        best_window_ed_end=D(2026, 2, 1),
        criteria_met="adult_ed",
        tier="High",
    )


def test_earliest_window_of_the_lookback_is_a_candidate(
    measures: dict[str, dict[str, Any]],
) -> None:
    check(
        measures["earliest_window"],
        ed_visits_12m=5,
        avoidable_ed_visits_12m=5,
        best_window_ed_visits=5,
        best_window_ed_start=D(2025, 7, 1),
        best_window_ed_end=D(2025, 12, 31),
        criteria_met="adult_ed",
        tier="High",
    )


def test_21st_birthday_on_the_as_of_date_is_adult(measures: dict[str, dict[str, Any]]) -> None:
    assert (measures["turns_21"]["age"], measures["turns_21"]["age_group"]) == (21, "adult")
    assert measures["turns_21"]["criteria_met"] == "adult_ed"
    younger = measures["turns_21_tomorrow"]
    assert (younger["age"], younger["age_group"]) == (20, "child")
    assert younger["criteria_met"] == "child_ed"


def test_event_exactly_12_months_back_is_outside(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["boundary"],
        ed_visits_12m=1,
        first_event_date=D(2025, 7, 1),
        last_event_date=D(2025, 7, 1),
        tier="Low",
    )


def test_two_claims_one_date_are_one_visit_with_the_facility_diagnosis(
    measures: dict[str, dict[str, Any]],
) -> None:
    check(measures["same_day"], ed_visits_6m=1, ed_visits_12m=1, tier="Low")


def test_ed_then_admission_next_day_is_one_stay_through_the_ed(
    warehouse: duckdb.DuckDBPyConnection, measures: dict[str, dict[str, Any]]
) -> None:
    check(
        measures["ed_then_admit"],
        unplanned_hospital_stays_6m=1,
        unplanned_hospital_stays_12m=1,
        best_window_stays=1,
    )
    events = warehouse.execute(
        "select event_type, is_via_ed from intermediate.int_events where member_id = ?",
        ["ed_then_admit"],
    ).fetchall()
    assert events == [("hospital_stay", True)]


def test_direct_transfer_is_one_stay(measures: dict[str, dict[str, Any]]) -> None:
    check(
        measures["transfer"],
        unplanned_hospital_stays_6m=1,
        unplanned_hospital_stays_12m=1,
        best_window_stays=1,
        best_window_stays_start=D(2025, 9, 2),
        best_window_stays_end=D(2026, 3, 1),
        tier="Moderate",
    )
    check(
        measures["no_transfer"],
        unplanned_hospital_stays_6m=2,
        unplanned_hospital_stays_12m=2,
        best_window_stays=2,
        criteria_met="child_stays",
        tier="High",
    )


def test_snf_95_days_is_not_short_term(
    warehouse: duckdb.DuckDBPyConnection, measures: dict[str, dict[str, Any]]
) -> None:
    check(measures["snf_95"], tier=None, would_be_tier=None)
    check(
        measures["snf_89"],
        unplanned_snf_stays_6m=1,
        unplanned_snf_stays_12m=1,
        best_window_stays=1,
        tier="Low",
    )
    los = dict(
        warehouse.execute(
            "select member_id, length_of_stay_days from intermediate.int_stays"
            " where member_id in ('snf_95', 'snf_89')"
        ).fetchall()
    )
    assert los == {"snf_95": 95, "snf_89": 89}


def test_elective_chemotherapy_is_planned(measures: dict[str, dict[str, Any]]) -> None:
    check(measures["chemo"], tier=None, first_event_date=None)


def test_elective_potentially_planned_with_acute_dx_is_unplanned(
    measures: dict[str, dict[str, Any]],
) -> None:
    check(
        measures["elective_acute"],
        unplanned_hospital_stays_6m=1,
        unplanned_hospital_stays_12m=1,
        best_window_stays=1,
        tier="Low",
    )
    check(measures["elective_planned"], tier=None)


def test_voided_claim_is_not_counted(measures: dict[str, dict[str, Any]]) -> None:
    check(measures["voided"], tier=None, first_event_date=None)


def test_replacement_replaces_the_original(measures: dict[str, dict[str, Any]]) -> None:
    check(measures["replaced"], ed_visits_6m=1, ed_visits_12m=1, tier="Low")


def test_disenrolled_before_as_of_is_excluded(
    warehouse: duckdb.DuckDBPyConnection, measures: dict[str, dict[str, Any]]
) -> None:
    row = measures["disenrolled"]
    assert (row["criteria_met"], row["tier"], row["would_be_tier"], row["exclusion_reason"]) == (
        "adult_ed",
        None,
        "High",
        "not_enrolled",
    )
    exclusions = mart_rows(warehouse, "marts.fct_exclusions")
    assert exclusions["disenrolled"]["exclusion_reasons"] == ["not_enrolled"]
    assert "disenrolled" not in mart_rows(warehouse, "marts.fct_candidates")


def test_in_ecm_is_excluded_with_every_reason_listed(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    exclusions = mart_rows(warehouse, "marts.fct_exclusions")
    assert exclusions["in_ecm"]["exclusion_reason"] == "in_ecm"
    assert exclusions["in_ecm"]["would_be_tier"] == "High"
    assert exclusions["hospice_and_ecm"]["exclusion_reason"] == "hospice"
    assert exclusions["hospice_and_ecm"]["exclusion_reasons"] == ["hospice", "in_ecm"]
    candidates = mart_rows(warehouse, "marts.fct_candidates")
    assert not {"in_ecm", "hospice_and_ecm"} & set(candidates)


def test_declined_is_monitoring(measures: dict[str, dict[str, Any]]) -> None:
    row = measures["declined"]
    assert (row["criteria_met"], row["tier"], row["would_be_tier"]) == (
        "adult_ed",
        "Monitoring",
        "Monitoring",
    )
    # A status dated after the as-of date does not apply yet.
    assert measures["declines_later"]["tier"] == "High"


def test_low_tier(measures: dict[str, dict[str, Any]]) -> None:
    check(measures["low"], ed_visits_6m=1, ed_visits_12m=1, tier="Low", score=0.0)


def test_ed_measure_all_counts_every_ed_visit(
    measures: dict[str, dict[str, Any]], all_ed_measures: dict[str, dict[str, Any]]
) -> None:
    assert measures["all_ed_5"]["best_window_ed_visits"] == 0
    assert (measures["all_ed_5"]["criteria_met"], measures["all_ed_5"]["tier"]) == (None, "Low")
    row = all_ed_measures["all_ed_5"]
    assert (row["best_window_ed_visits"], row["criteria_met"], row["tier"]) == (
        5,
        "adult_ed",
        "High",
    )
    # The avoidable counts do not depend on the setting.
    assert row["avoidable_ed_visits_12m"] == 0
    # The facility's non-avoidable diagnosis no longer matters.
    assert all_ed_measures["same_day"]["best_window_ed_visits"] == 1


def test_evidence_matches_the_counted_events(warehouse: duckdb.DuckDBPyConnection) -> None:
    measures = mart_rows(warehouse, "marts.fct_member_measures")
    listed = {m for m, row in measures.items() if row["tier"] is not None or row["criteria_met"]}
    assert listed >= set(mart_rows(warehouse, "marts.fct_candidates"))
    evidence = query(warehouse, "select * from marts.fct_evidence")
    assert set(evidence["member_id"]) == listed
    for member_id in listed:
        rows = [r for r in evidence.iter_rows(named=True) if r["member_id"] == member_id]
        counted = [r for r in rows if r["counted"]]
        row = measures[member_id]
        ed = [r for r in counted if r["event_type"] == "ed_visit"]
        hospital = [r for r in counted if r["event_type"] == "hospital_stay"]
        snf = [r for r in counted if r["event_type"] == "snf_stay"]
        assert len(ed) == row["ed_visits_12m"], member_id
        assert sum(bool(r["avoidable"]) for r in ed) == row["avoidable_ed_visits_12m"]
        assert sum(r["in_6m"] for r in ed) == row["ed_visits_6m"]
        assert len(hospital) == row["unplanned_hospital_stays_12m"], member_id
        assert len(snf) == row["unplanned_snf_stays_12m"], member_id
        assert sum(r["in_best_ed_window"] for r in rows) == row["best_window_ed_visits"]
        assert sum(r["in_best_stays_window"] for r in rows) == row["best_window_stays"]
        assert all(r["claim_ids"] and r["why_counted"] for r in rows)


def test_candidates_are_the_members_with_a_tier(warehouse: duckdb.DuckDBPyConnection) -> None:
    measures = mart_rows(warehouse, "marts.fct_member_measures")
    candidates = mart_rows(warehouse, "marts.fct_candidates")
    assert set(candidates) == {m for m, r in measures.items() if r["tier"] is not None}
    assert candidates["declined"]["tier"] == "Monitoring"
    columns = {r[0] for r in warehouse.execute("describe marts.fct_candidates").fetchall()}
    assert not {"birth_date", "sex", "age"} & columns
