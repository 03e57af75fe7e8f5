"""The run report on a small known run: two nights of hand-built members, the real SQL, the
real publication tables, and a real nightly run on data/sample for the checks' names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from html import escape

import pytest

from pipelines.config import load_rules
from pipelines.gates import GateResult, record_gates
from pipelines.publish import build_publication_tables, record_history
from pipelines.report import REPORT_SQL, render_report
from pipelines.rules.models import build_models
from tests.builders import AS_OF, NOT_AVOIDABLE_DX, build
from tests.conftest import Deployment
from tests.test_publish import _members

NIGHT_2 = dt.date(2026, 8, 15)
MEMBERS = ("ADULT_ED", "ADULT_STAYS", "CHILD_ED", "DECLINED", "UNREACHABLE", "LOW", "BACK")


def _rows(con, name: str) -> list[tuple]:
    return con.execute((REPORT_SQL / f"{name}.sql").read_text()).fetchall()


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory):
    """Night 1 (2026-06-30) published; night 2 (2026-08-15) built, with its landing run."""
    b = _members()
    b.member("BACK", end=dt.date(2026, 7, 15))  # not enrolled on night 2: dropped
    b.ed_visit("BACK", dt.date(2026, 6, 15), dx=NOT_AVOIDABLE_DX)
    b.member("NEWBIE")  # first event after night 1: new on night 2
    b.ed_visit("NEWBIE", dt.date(2026, 8, 1), dx=NOT_AVOIDABLE_DX)
    con = build(b, tmp_path_factory.mktemp("report") / "w.duckdb")
    build_publication_tables(con, AS_OF)
    record_history(con, AS_OF, "run-1")
    build_models(con, NIGHT_2, load_rules())
    build_publication_tables(con, NIGHT_2)
    con.execute(
        "insert into raw.night_files (as_of, run_id, entry_name, file_sha256, kind, state, "
        "reason, message, rows_read, rows_loaded, rows_quarantined, recorded_at, rows_warned) "
        "values "
        "(?, 'land-2', 'medical_claims_0815.csv', 'abc', 'medical_claims', "
        "'loaded_with_quarantine', null, null, 10, 9, 1, now()::timestamp, 2), "
        "(?, 'land-2', 'notes.txt', null, null, 'ignored', 'not_a_landing_file', "
        "'notes.txt: not a landing file name or format', 0, 0, 0, now()::timestamp, 0)",
        [NIGHT_2, NIGHT_2],
    )
    con.execute(
        "insert into raw.quarantine values "
        "('abc', 'medical_claims_0815.csv', 'medical_claims', 4, 'service_from_date', "
        "'2026-13-01', 'bad_date', '{}')"
    )
    record_gates(
        con,
        NIGHT_2,
        "land-2",
        [
            GateResult("quarantine_within_limit", False, "10% quarantined", "x.csv", 10.0, 1.0),
            GateResult(
                "tier_change_within_limit",
                True,
                "High moved 30%",
                "High",
                30.0,
                25.0,
                "--allow-tier-change",
            ),
        ],
    )
    html = render_report(
        con,
        as_of=NIGHT_2,
        run_id="run-2",
        rules=load_rules(),
        checks=[("candidates_suite", True), ("raw_eligibility_suite", True)],
        landing_run_id="land-2",
    )
    yield con, html
    con.close()


def test_what_changed_since_the_last_list_by_tier(two_nights):
    con, html = two_nights
    changes = {r[0]: r[1:] for r in _rows(con, "tier_changes")}
    # tonight, previous, new, continuing, returning, dropped
    assert changes == {
        "High": (3, 3, 0, 3, 0, 0),
        "Moderate": (0, 0, 0, 0, 0, 0),
        "Low": (2, 2, 1, 1, 0, 1),
        "Monitoring": (2, 2, 0, 2, 0, 0),
    }
    movement = {(b, a): n for b, a, n in _rows(con, "tier_movement")}
    assert movement == {
        ("High", "High"): 3,
        ("Low", "Low"): 1,
        ("Low", "dropped"): 1,
        ("Monitoring", "Monitoring"): 2,
        ("not on the previous list", "Low"): 1,
    }
    assert "What changed since the last list (2026-06-30)" in html
    assert "Since the list of 2026-06-30: 1 new, 0 returning, 1 dropped." in html
    assert "No tier count changed." in html


def test_trend_lines_per_tier_over_the_published_nights(two_nights):
    con, html = two_nights
    trend = _rows(con, "tier_trend")
    assert [(str(d), t, n) for d, t, n in trend if t == "Low"] == [
        ("2026-06-30", "Low", 2),
        ("2026-08-15", "Low", 2),
    ]
    assert len(trend) == 8  # 2 nights x 4 tiers, zeros included
    assert html.count("<polyline") == 4
    assert "each of the 2 published lists, 2026-06-30 to 2026-08-15" in html
    assert _rows(con, "gate_overrides") == [
        (NIGHT_2, "tier_change_within_limit", "--allow-tier-change")
    ]
    assert (
        "Published although a gate did not pass, because the operator overrode it: "
        "&ldquo;Tier counts moved within the limit since the last list&rdquo; failed and was "
        "overridden (--allow-tier-change) on 2026-08-15." in html
    )


def test_exclusions_rates_and_freshness_figures(two_nights):
    con, html = two_nights
    assert _rows(con, "exclusions_by_reason") == [("not_enrolled", "Low", 1), ("hospice", "Low", 1)]
    assert "In hospice" in html
    assert _rows(con, "monitoring_by_reason") == [
        ("declined", 1, dt.date(2026, 5, 2)),
        ("unreachable", 1, dt.date(2026, 4, 15)),
    ]
    assert "Declined care management" in html and "Could not be reached" in html
    rates = {(r[0], r[1]): r[2:] for r in _rows(con, "utilization_rates")}
    # ADULT_STAYS alone in Fresno: 12 member-months, 3 unplanned stays, no ED visit.
    assert rates[("county", "Fresno")] == (12, 0, 0.0, 3, 250.0)
    assert rates[("plan", "P2")] == (12, 0, 0.0, 3, 250.0)
    latest_service, latest_paid, days, lag, lines = _rows(con, "data_freshness")[0]
    # NEWBIE's ED visit of 2026-08-01 is the latest service; claims are paid 30 days after
    # their first day, so the latest paid by 2026-08-15 is BACK's (2026-06-15 + 30).
    assert (latest_service, latest_paid, days) == (dt.date(2026, 8, 1), dt.date(2026, 7, 15), 14)
    assert lag == 30 and lines > 0
    assert "Utilization per 1,000 member-months" in html and "250.0" in html


def test_tonights_accounting_with_human_names(two_nights):
    con, html = two_nights
    assert "rows read 10, loaded 9, quarantined 1; loaded with a data-quality warning 2" in html
    assert _rows(con, "quarantine_tonight") == [("medical_claims_0815.csv", "bad_date", 1)]
    assert "Quarantined rows within the limit, per file" in html
    assert "quarantine_within_limit" not in html
    assert "Candidate list quality checks" in html and "candidates_suite" not in html
    assert "Eligibility quality checks, every row" in html
    assert 'class="num bad"' not in html and 'class=" bad">FAILED' in html
    assert "loaded, some rows quarantined" in html
    assert "High moved 30% (this run&#x27;s override: --allow-tier-change)" in html
    assert "No new rows tonight" not in html


def test_report_is_self_contained_names_no_member_and_links_the_files(two_nights):
    _, html = two_nights
    for section in (
        "What changed since the last list",
        "Tier movement",
        "Trend by tier",
        "Who is on the list",
        "Excluded: would have a tier, not referred",
        "Utilization per 1,000 member-months",
        "Data freshness",
        "Tonight's accounting",
        "The files",
        "Definitions",
    ):
        assert section in html, section
    assert not re.search(r"<script|https?://|<link|<img", html)
    for member in MEMBERS + ("NEWBIE", "EXCLUDED"):
        assert member not in html, member
    for name in ("candidates", "evidence", "exclusions", "dropped"):
        assert f'href="{name}.csv"' in html and f'href="{name}.parquet"' in html
    assert 'href="manifest.json"' in html
    # Definitions quote the configured thresholds.
    assert "5+ avoidable ED visits" in html and "3+ ED visits" in html


def test_first_night_says_so(tmp_path):
    con = build(_members(), tmp_path / "w.duckdb")
    build_publication_tables(con, AS_OF)
    html = render_report(con, as_of=AS_OF, run_id="r", rules=load_rules())
    assert "This is the first published list: every member is new." in html
    assert "One published night so far" in html
    con.close()


def test_published_report_of_a_real_run(sample_run: Deployment):
    latest = sample_run.out / "latest"
    html = (latest / "report.html").read_text()
    manifest = json.loads((latest / "manifest.json").read_text())
    rows = manifest["accounting"]["rows_read"]
    assert rows > 0 and f"rows read {rows:,}" in html
    for check in (
        "Claims quality checks, every row",
        "Every row read was loaded or quarantined",
        "Every listed member's counts match their evidence",
    ):
        assert re.search(re.escape(escape(check)) + r"</td><td[^>]*>passed", html), check


def test_definitions_quote_other_settings(tmp_path):
    defaults = load_rules()
    rules = dataclasses.replace(
        defaults,
        adult=dataclasses.replace(defaults.adult, ed_measure="all", unplanned_stays=4),
        child=dataclasses.replace(defaults.child, ed_visits=4),
        moderate_margin=2,
    )
    con = build(_members(), tmp_path / "w.duckdb", rules=rules)
    build_publication_tables(con, AS_OF, rules)
    html = render_report(con, as_of=AS_OF, run_id="r", rules=rules)
    assert "5+ ED visits or 4+ unplanned hospital" in html
    assert "under 21, 4+ ED visits" in html
    assert "2 event(s) short of a threshold" in html
    con.close()
