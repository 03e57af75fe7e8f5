"""The published lists as a care manager reads them: hand-built members, real SQL, real files.

Each member's reason sentence, Monitoring reason and window dates are stated in the test, so a
wrong word or a wrong date fails here, under the default rules and under other settings.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import polars as pl
import pytest

from pipelines.config import load_rules
from pipelines.paths import ROOT
from pipelines.publish import build_publication_tables, record_history, write_publication
from pipelines.published_files import LIST_SEPARATOR, PUBLISHED_FILES, replace_readme_table
from pipelines.rules.models import build_models
from tests.builders import AS_OF, CHILD_BIRTH, NOT_AVOIDABLE_DX, RawBuilder, build, mart_rows

ADULT_ED_DAYS = [date(2026, m, 1) for m in (2, 3, 4, 5, 6)]


def _members() -> RawBuilder:
    b = RawBuilder()
    b.member("ADULT_ED", pcp_npi="1234567893")
    for day in ADULT_ED_DAYS:
        b.ed_visit("ADULT_ED", day)
    b.member("ADULT_STAYS", county="Fresno", plan_code="P2")
    for admit in (date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)):
        b.stay("ADULT_STAYS", admit, admit.replace(day=3))
    b.member("CHILD_ED", birth_date=CHILD_BIRTH)
    for day in (date(2025, 10, 10), date(2026, 1, 10), date(2026, 3, 10), date(2026, 5, 10)):
        b.ed_visit("CHILD_ED", day, dx=NOT_AVOIDABLE_DX)
    b.member("DECLINED")
    for day in ADULT_ED_DAYS[1:]:
        b.ed_visit("DECLINED", day)
    b.status("DECLINED", "declined", date(2026, 5, 2))
    b.member("UNREACHABLE", birth_date=CHILD_BIRTH)
    for day in (date(2026, 1, 5), date(2026, 2, 5), date(2026, 3, 5)):
        b.ed_visit("UNREACHABLE", day, dx=NOT_AVOIDABLE_DX)
    b.status("UNREACHABLE", "unreachable", date(2026, 4, 15))
    b.member("LOW")
    b.ed_visit("LOW", date(2026, 1, 20), dx=NOT_AVOIDABLE_DX)
    b.member("EXCLUDED", hospice=True, in_ecm=True)
    b.ed_visit("EXCLUDED", date(2026, 2, 20), dx=NOT_AVOIDABLE_DX)
    return b


@pytest.fixture
def listed(tmp_path):
    con = build(_members(), tmp_path / "w.duckdb")
    build_publication_tables(con, AS_OF)
    yield con
    con.close()


def test_list_rows_say_why_in_words(listed):
    rows = mart_rows(listed, "publish.pub_candidates")
    assert set(rows) == {"ADULT_ED", "ADULT_STAYS", "CHILD_ED", "DECLINED", "UNREACHABLE", "LOW"}
    assert {m: r["tier"] for m, r in rows.items()} == {
        "ADULT_ED": "High",
        "ADULT_STAYS": "High",
        "CHILD_ED": "High",
        "DECLINED": "Monitoring",
        "UNREACHABLE": "Monitoring",
        "LOW": "Low",
    }
    assert {m: r["reason"] for m, r in rows.items()} == {
        "ADULT_ED": "5 avoidable ED visits in the 6 months 2025-12-02 to 2026-06-01; "
        "the threshold at 21 and over is 5",
        "ADULT_STAYS": "3 unplanned hospital or short-term SNF stays in the 6 months "
        "2025-11-02 to 2026-05-01; the threshold at 21 and over is 3",
        "CHILD_ED": "4 ED visits in the 12 months to 2026-06-30; the threshold under 21 is 3",
        "DECLINED": "4 avoidable ED visits in the 6 months 2025-12-02 to 2026-06-01; "
        "the threshold at 21 and over is 5; Monitoring: declined care management on 2026-05-02",
        "UNREACHABLE": "3 ED visits in the 12 months to 2026-06-30; the threshold under 21 "
        "is 3; Monitoring: could not be reached (recorded 2026-04-15)",
        "LOW": "1 ED visit (none avoidable) in the 12 months to 2026-06-30; in any 6 months at "
        "most 0 avoidable ED visits and 0 unplanned stays, below the Moderate level",
    }


def test_list_columns_monitoring_pcp_and_windows_only_where_the_rule_uses_them(listed):
    rows = mart_rows(listed, "publish.pub_candidates")
    assert all(r["as_of"] == AS_OF for r in rows.values())
    assert rows["ADULT_ED"]["pcp_npi"] == "1234567893"
    assert rows["ADULT_STAYS"]["pcp_npi"] is None
    assert (rows["ADULT_STAYS"]["plan_code"], rows["ADULT_STAYS"]["county"]) == ("P2", "Fresno")
    assert {m: (r["monitoring_reason"], r["monitoring_since"]) for m, r in rows.items()} == {
        "ADULT_ED": (None, None),
        "ADULT_STAYS": (None, None),
        "CHILD_ED": (None, None),
        "DECLINED": ("declined", date(2026, 5, 2)),
        "UNREACHABLE": ("unreachable", date(2026, 4, 15)),
        "LOW": (None, None),
    }
    windows = ("best_window_ed_start", "best_window_ed_end", "best_window_ed_visits")
    assert [rows["ADULT_ED"][c] for c in windows] == [date(2025, 12, 2), date(2026, 6, 1), 5]
    for child in ("CHILD_ED", "UNREACHABLE"):
        row = rows[child]
        assert all(row[c] is None for c in row if c.startswith("best_window")), child
    # Minimum necessary: no names, birth dates or diagnoses on the list.
    assert not {c for c in rows["LOW"] if "birth" in c or "name" in c or "diagnos" in c}


def test_every_mart_and_published_table_says_which_night_it_holds(listed):
    for table in (
        "marts.fct_candidates",
        "marts.fct_evidence",
        "marts.fct_exclusions",
        "marts.fct_member_measures",
        "publish.pub_candidates",
        "publish.pub_evidence",
        "publish.pub_exclusions",
        "publish.pub_dropped",
    ):
        described = listed.execute(f"select column_name from (describe {table})").fetchall()
        columns = [c for (c,) in described]
        assert columns[0] == "as_of", table
        nights = listed.execute(f"select distinct as_of from {table}").fetchall()
        assert nights in ([], [(AS_OF,)]), table


def test_reason_quotes_the_configured_thresholds(tmp_path):
    """Other settings: every ED visit counts for adults, a child needs 4 ED visits, margin 2."""
    defaults = load_rules()
    rules = dataclasses.replace(
        defaults,
        adult=dataclasses.replace(defaults.adult, ed_measure="all"),
        child=dataclasses.replace(defaults.child, ed_visits=4),
        moderate_margin=2,
    )
    con = build(_members(), tmp_path / "w.duckdb", rules=rules)
    build_publication_tables(con, AS_OF, rules)
    rows = mart_rows(con, "publish.pub_candidates")
    assert rows["CHILD_ED"]["reason"] == (
        "4 ED visits in the 12 months to 2026-06-30; the threshold under 21 is 4"
    )
    assert rows["UNREACHABLE"]["reason"] == (
        "3 ED visits in the 12 months to 2026-06-30; the threshold under 21 is 4; "
        "Monitoring: could not be reached (recorded 2026-04-15)"
    )
    # Every ED visit counts: LOW's one visit is an adult ED visit, still far from 5 - 2.
    assert rows["LOW"]["reason"] == (
        "1 ED visit in the 12 months to 2026-06-30; in any 6 months at most 1 ED visit and 0 "
        "unplanned stays, below the Moderate level"
    )
    # Margin 2: ED visits would be named from 5 - 2 = 3 on; ADULT_STAYS has none.
    assert rows["ADULT_STAYS"]["reason"].startswith("3 unplanned hospital or short-term SNF stays")
    assert rows["ADULT_ED"]["reason"] == (
        "5 ED visits in the 6 months 2025-12-02 to 2026-06-01; the threshold at 21 and over is 5"
    )
    con.close()


def test_two_near_measures_are_both_named(tmp_path):
    b = RawBuilder()
    b.member("BOTH")
    for day in ADULT_ED_DAYS[1:]:
        b.ed_visit("BOTH", day)
    for admit in (date(2026, 3, 10), date(2026, 4, 10)):
        b.stay("BOTH", admit, admit.replace(day=12))
    con = build(b, tmp_path / "w.duckdb")
    build_publication_tables(con, AS_OF)
    [row] = mart_rows(con, "publish.pub_candidates").values()
    assert row["tier"] == "Moderate"
    assert row["reason"] == (
        "4 avoidable ED visits in the 6 months 2025-12-02 to 2026-06-01; the threshold at 21 "
        "and over is 5; and 2 unplanned hospital or short-term SNF stays in the 6 months "
        "2025-10-11 to 2026-04-10; the threshold at 21 and over is 3"
    )
    con.close()


def test_new_continuing_dropped_and_returning_across_three_nights(tmp_path):
    b = _members()
    b.member("BACK", end=date(2026, 7, 15))  # a gap in enrollment: August
    b.member("BACK", start=date(2026, 9, 1))
    b.ed_visit("BACK", date(2026, 6, 15), dx=NOT_AVOIDABLE_DX)
    b.member("NEWBIE")
    b.ed_visit("NEWBIE", date(2026, 8, 1), dx=NOT_AVOIDABLE_DX)
    con = build(b, tmp_path / "w.duckdb")
    nights = (AS_OF, date(2026, 8, 15), date(2026, 10, 15))
    lists, dropped = [], []
    for night in nights:
        build_models(con, night, load_rules())
        build_publication_tables(con, night)
        lists.append(mart_rows(con, "publish.pub_candidates"))
        dropped.append(
            con.execute(
                "select as_of, member_id, previous_as_of, previous_tier, drop_reason "
                "from publish.pub_dropped order by member_id"
            ).fetchall()
        )
        record_history(con, night, f"run-{night}")
    first, second, third = lists
    assert {m: r["change_status"] for m, r in first.items()} == dict.fromkeys(first, "new")
    assert "NEWBIE" not in first and "BACK" in first
    assert (second["NEWBIE"]["change_status"], second["NEWBIE"]["previous_tier"]) == ("new", None)
    assert "BACK" not in second
    assert dropped[1] == [(nights[1], "BACK", AS_OF, "Low", "not_enrolled")]
    for member in set(second) - {"NEWBIE"}:
        assert second[member]["change_status"] == "continuing", member
        assert second[member]["previous_tier"] == first[member]["tier"], member
    assert (third["BACK"]["change_status"], third["BACK"]["previous_tier"]) == ("returning", None)
    assert dropped[0] == [] and dropped[2] == []
    con.close()


def _publish(con, tmp_path, **kwargs):
    return write_publication(
        con,
        as_of=AS_OF,
        run_id="run-1",
        out_dir=tmp_path / "out",
        rules=load_rules(),
        code_list_versions={"avoidable_ed_diagnoses": "test"},
        **kwargs,
    )


def test_every_list_is_published_as_parquet_and_an_equal_csv(listed, tmp_path):
    listed.execute(
        "insert into history.published_candidates values ('2026-05-31', 'GONE', 'High', null)"
    )
    listed.execute("insert into history.publications values ('2026-05-31', 'r0', now())")
    build_publication_tables(listed, AS_OF)
    pub = _publish(listed, tmp_path)
    reasons = listed.execute("select exclusion_reasons from publish.pub_exclusions").fetchall()
    assert reasons == [(["hospice", "in_ecm"],)]
    for published in PUBLISHED_FILES:
        parquet = pl.read_parquet(pub.folder / f"{published.name}.parquet")
        csv = pl.read_csv(pub.folder / f"{published.name}.csv", infer_schema=False)
        assert parquet.height > 0, published.name
        assert csv.columns == parquet.columns, published.name
        as_text = parquet.with_columns(
            pl.col(c).list.join(LIST_SEPARATOR) if dtype == pl.List(pl.Utf8) else pl.col(c)
            for c, dtype in parquet.schema.items()
        ).with_columns(pl.col(c).cast(pl.Utf8) for c in parquet.columns if c != "score")
        assert csv.drop("score", strict=False).equals(as_text.drop("score", strict=False)), (
            published.name
        )
        if "score" in parquet.columns:
            assert csv["score"].cast(pl.Float64).equals(parquet["score"]), published.name
        assert pub.manifest["files"][f"{published.name}.csv"]["rows"] == parquet.height


def test_manifest_defines_every_column_and_carries_tonights_accounting(listed, tmp_path):
    accounting = {"run_id": "run-1", "rows_read": 10, "rows_loaded": 9, "rows_quarantined": 1}
    pub = _publish(listed, tmp_path, accounting=accounting)
    manifest = json.loads((pub.folder / "manifest.json").read_text())
    assert manifest["accounting"] == accounting
    for published in PUBLISHED_FILES:
        table = manifest["tables"][published.name]
        names = [c["name"] for c in table["columns"]]
        described = listed.execute(f"select column_name from (describe {published.table})")
        assert names == [c for (c,) in described.fetchall()], published.name
        assert names == list(published.columns), f"{published.name}: definitions out of order"
        assert all(c["meaning"] and c["type"] for c in table["columns"]), published.name
        assert {f for f in table["files"]} <= set(manifest["files"])


def test_a_column_without_a_meaning_is_not_published(listed, tmp_path):
    listed.execute("alter table publish.pub_dropped add column note varchar")
    with pytest.raises(ValueError, match="publish.pub_dropped: no meaning .* for note"):
        _publish(listed, tmp_path)
    assert not (tmp_path / "out" / "latest").exists()


def test_readme_table_of_published_columns_is_current():
    readme = (ROOT / "README.md").read_text()
    assert replace_readme_table(readme) == readme, "run python -m pipelines.docs"


def test_an_empty_previous_list_is_the_previous_list(tmp_path):
    """A night that published no one is still the last publication: nobody continues from
    the night before it, and nobody is dropped twice."""
    con = build(_members(), tmp_path / "w.duckdb")
    build_publication_tables(con, AS_OF)
    record_history(con, AS_OF, "run-1")
    empty = date(2026, 7, 1)
    con.execute(
        "insert into history.publications values (?, 'run-empty', now()::timestamp)", [empty]
    )
    later = date(2026, 7, 2)
    build_models(con, later, load_rules())
    build_publication_tables(con, later)
    rows = mart_rows(con, "publish.pub_candidates")
    assert {r["change_status"] for r in rows.values()} == {"returning"}
    assert con.execute("select count(*) from publish.pub_dropped").fetchone() == (0,)
    con.close()
