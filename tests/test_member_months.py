"""marts.fct_member_months on hand-built members: member-months, events and a rate.

As-of 2026-06-30: the months are the calendar months 2025-07 .. 2026-06. A member counts in
a month when enrolled on its last day; an event counts when the member is enrolled on its date.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipelines.config import load_rules
from tests.builders import (
    CHEMO_DX,
    CHILD_BIRTH,
    NOT_AVOIDABLE_DX,
    RawBuilder,
    build,
    query,
    with_ed_measure,
)

D = date
NYU_ONLY_DX = "R0789"  # chest pain: not on the DHCS list; NYU figure 0.6111111111
SUMS = (
    "sum(member_months)::int as mm, sum(ed_visits)::int as ed, "
    "sum(avoidable_ed_visits)::int as avoidable, sum(unplanned_stays)::int as stays, "
    "sum(unplanned_hospital_stays)::int as hospital, sum(unplanned_snf_stays)::int as snf"
)


def scenarios() -> RawBuilder:
    b = RawBuilder()
    # High adult: enrolled all year, 5 avoidable ED visits Feb .. Jun 2026.
    b.member("adult_high")
    for month in (2, 3, 4, 5, 6):
        b.ed_visit("adult_high", D(2026, month, 1))
    # Left on 2026-03-15 (excluded tonight: no tier): counted Oct 2025 .. Feb 2026 (5 months);
    # the March stay counts (enrolled that day), the April ED visit does not.
    b.member("left", start=D(2025, 10, 1), end=D(2026, 3, 15), county="Fresno", plan_code="P2")
    b.stay("left", D(2026, 3, 10), D(2026, 3, 12))
    b.ed_visit("left", D(2026, 4, 5))
    # Child joined 2026-01-15: counted Jan .. Jun (6 months); the December ED visit was before
    # enrollment (it still counts for the rule: 3 ED visits in 12 months, High).
    b.member("child", CHILD_BIRTH, start=D(2026, 1, 15))
    for day in (D(2025, 12, 1), D(2026, 2, 1), D(2026, 5, 1)):
        b.ed_visit("child", day, dx=NOT_AVOIDABLE_DX)
    # Low adult: one short-term SNF stay in August 2025 (unplanned), a planned hospital stay
    # (not counted) and an ED visit before the look-back (not counted).
    b.member("adult_low")
    b.stay("adult_low", D(2025, 8, 5), D(2025, 8, 20), setting="snf")
    b.stay("adult_low", D(2025, 9, 3), D(2025, 9, 5), dx=CHEMO_DX)
    b.ed_visit("adult_low", D(2025, 6, 15))
    # No events: a voided ED visit only; no tier, 12 member-months.
    b.member("quiet")
    b.void(b.ed_visit("quiet", D(2026, 4, 10)))
    return b


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    return build(scenarios(), tmp_path_factory.mktemp("mm") / "w.duckdb")


def sums(con: duckdb.DuckDBPyConnection, where: str = "true") -> tuple[int, ...]:
    return con.execute(f"select {SUMS} from marts.fct_member_months where {where}").fetchall()[0]


def test_months_are_the_lookback_calendar_months(con: duckdb.DuckDBPyConnection) -> None:
    months = query(
        con,
        "select distinct as_of, month_start, month_end from marts.fct_member_months"
        " order by month_start",
    ).rows()
    assert len(months) == 12
    assert months[0] == (D(2026, 6, 30), D(2025, 7, 1), D(2025, 7, 31))
    assert months[7] == (D(2026, 6, 30), D(2026, 2, 1), D(2026, 2, 28))
    assert months[-1] == (D(2026, 6, 30), D(2026, 6, 1), D(2026, 6, 30))


def test_totals_account_for_every_member_month_and_event(con: duckdb.DuckDBPyConnection) -> None:
    # 12 + 5 + 6 + 12 + 12 member-months; ED 5 (adult) + 2 (child, enrolled); stays 1 + 1.
    assert sums(con) == (47, 7, 5, 2, 1, 1)


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("county = 'Alameda' and age_group = 'adult' and tier = 'High'", (12, 5, 5, 0, 0, 0)),
        ("county = 'Fresno' and plan_code = 'P2' and tier is null", (5, 0, 0, 1, 1, 0)),
        ("age_group = 'child' and tier = 'High'", (6, 2, 0, 0, 0, 0)),
        ("tier = 'Low'", (12, 0, 0, 1, 0, 1)),
        ("county = 'Alameda' and tier is null", (12, 0, 0, 0, 0, 0)),
    ],
)
def test_each_group(con: duckdb.DuckDBPyConnection, group: str, expected: tuple) -> None:
    assert sums(con, group) == expected


def test_events_land_in_their_month(con: duckdb.DuckDBPyConnection) -> None:
    # The leaver's March stay: a row with events and no member-month (left before March 31).
    assert sums(con, "county = 'Fresno' and month_start = '2026-03-01'") == (0, 0, 0, 1, 1, 0)
    assert sums(con, "county = 'Fresno' and month_start = '2026-04-01'") == (None,) * 6
    assert sums(con, "tier = 'Low' and month_start = '2025-08-01'") == (1, 0, 0, 1, 0, 1)
    assert sums(con, "age_group = 'child' and month_start = '2025-12-01'") == (None,) * 6


def test_one_row_per_group_and_month(con: duckdb.DuckDBPyConnection) -> None:
    duplicates = con.execute(
        "select count(*) from (select month_start, county, plan_code, age_group, tier"
        " from marts.fct_member_months group by all having count(*) > 1)"
    ).fetchall()[0][0]
    assert duplicates == 0
    # 12 months x (High adult, Low adult, quiet) + 6 child months + 5 leaver months + 1 stay.
    assert con.execute("select count(*) from marts.fct_member_months").fetchall()[0][0] == 48


def test_a_rate_per_1000_member_months_is_one_query(con: duckdb.DuckDBPyConnection) -> None:
    rates = query(
        con,
        "select county, round(sum(ed_visits) * 1000.0 / sum(member_months), 1) as ed_per_1000,"
        " round(sum(unplanned_stays) * 1000.0 / sum(member_months), 1) as stays_per_1000"
        " from marts.fct_member_months group by county order by county",
    ).rows()
    # Alameda: 7 ED visits and 1 stay over 42 member-months; Fresno: 1 stay over 5.
    assert rates == [("Alameda", 166.7, 23.8), ("Fresno", 0.0, 200.0)]


def test_other_as_of_day_and_lookback(tmp_path) -> None:
    """As-of 2026-06-15 with a 6-month look-back: months run from the 16th to the 15th."""
    rules = load_rules()
    rules = dataclasses.replace(
        rules, windows=dataclasses.replace(rules.windows, lookback_months=6)
    )
    con = build(scenarios(), tmp_path / "w.duckdb", as_of=D(2026, 6, 15), rules=rules)
    months = query(
        con, "select distinct month_start, month_end from marts.fct_member_months order by 1"
    ).rows()
    assert months[0] == (D(2025, 12, 16), D(2026, 1, 15))
    assert months[-1] == (D(2026, 5, 16), D(2026, 6, 15))
    assert len(months) == 6
    # adult_high 6, leaver on Jan 15, Feb 15, Mar 15 (3), child from Jan 15 (6), adult_low 6,
    # quiet 6; ED: adult 5 (Feb 1 .. Jun 1) + child 2; stays: the leaver's March stay.
    assert sums(con) == (27, 7, 5, 1, 1, 0)
    assert sums(con, "county = 'Fresno' and month_end = '2026-03-15'") == (1, 0, 0, 1, 1, 0)


def test_avoidable_visits_add_up_like_the_members_counts(tmp_path) -> None:
    """Under the NYU fractional method a visit counts its fraction, as in the member counts."""
    b = scenarios()
    b.member("nyu_two", county="Kern")
    for day in (D(2026, 3, 5), D(2026, 4, 5)):
        b.ed_visit("nyu_two", day, dx=NYU_ONLY_DX)
    rules = with_ed_measure(load_rules(), "nyu", "fractional")
    con = build(b, tmp_path / "w.duckdb", rules=rules)
    kern = con.execute(
        "select sum(ed_visits)::int, sum(avoidable_ed_visits) from marts.fct_member_months"
        " where county = 'Kern'"
    ).fetchall()[0]
    member = con.execute(
        "select avoidable_ed_visits_12m from marts.fct_member_measures where member_id = 'nyu_two'"
    ).fetchall()[0][0]
    assert kern == (2, member)
    assert member == Decimal("1.222")
    total = con.execute(
        "select sum(avoidable_ed_visits) from marts.fct_member_months where county = 'Alameda'"
    ).fetchall()[0][0]
    assert total == Decimal("5.000")  # adult_high's five J069 visits: NYU figure 1.0 each
