"""The gates, one by one, on a real DuckDB filled by the real ingest (or hand-built tables for
the tier gate), under the shipped thresholds and under others."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from pipelines import claim_counts
from pipelines.accounting import night_accounting
from pipelines.claim_counts import rows_in_force_count
from pipelines.config import load_gates
from pipelines.gates import (
    GATES_SQL,
    GateResult,
    TierOverride,
    _percent,
    landing_gates,
    record_gates,
    tier_change_gate,
)
from pipelines.ingest import IngestSettings, ingest_landing
from pipelines.measures import TIERS
from pipelines.publish import build_publication_tables
from pipelines.report import _rows
from pipelines.warehouse import set_variables
from tests.ingest_helpers import HEADER, claim, write_csv

GATES = load_gates()
ELIGIBILITY_HEADER = ["member_id", "enrollment_start_date", "birth_date"]


def eligibility(*members: str) -> list[dict[str, str]]:
    return [
        {"member_id": m, "enrollment_start_date": "2020-01-01", "birth_date": "1980-01-15"}
        for m in members
    ]


def claims(n: int, members: int = 1, prefix: str = "C") -> list[dict[str, str]]:
    """n valid claim lines (one claim each), spread over members M1..M<members>."""
    return [claim(claim_id=f"{prefix}{i}", member_id=f"M{i % members + 1}") for i in range(n)]


def night(con, landing: Path, run_id: str, config=GATES) -> dict[str, list[GateResult]]:
    """Ingest the landing folder as run `run_id`, then evaluate the landing gates."""
    ingest_landing(con, landing, IngestSettings(run_quality=False), run_id=run_id)
    results = landing_gates(con, run_id, config)
    by_gate: dict[str, list[GateResult]] = {}
    for r in results:
        by_gate.setdefault(r.gate, []).append(r)
    return by_gate


def failing(by_gate: dict[str, list[GateResult]]) -> dict[str, list[str | None]]:
    return {g: [r.subject for r in rs if not r.passed] for g, rs in by_gate.items() if any(
        not r.passed for r in rs)}  # fmt: skip


def test_a_complete_night_passes_every_landing_gate(con, landing):
    write_csv(landing / "medical_claims_1.csv", claims(10, members=3))
    write_csv(landing / "eligibility_1.csv", eligibility("M1", "M2", "M3"), ELIGIBILITY_HEADER)
    by_gate = night(con, landing, "r1")
    assert failing(by_gate) == {}
    assert set(by_gate) == {
        "landing_not_empty",
        "no_file_rejected",
        "required_kinds_loaded",
        "quarantine_within_limit",
        "claims_members_known",
    }
    assert [r.figure for r in by_gate["required_kinds_loaded"]] == [10, 3]


def test_empty_landing_folder_blocks_and_names_what_was_there(con, landing):
    (landing / "notes.txt").write_text("not a landing file")
    by_gate = night(con, landing, "r1")
    [empty] = by_gate["landing_not_empty"]
    assert not empty.passed and empty.figure == 0
    assert "no landing files tonight" in empty.message and "notes.txt" in empty.message
    assert "--landing" in empty.message
    assert failing(by_gate)["required_kinds_loaded"] == ["medical_claims", "eligibility"]


def test_missing_eligibility_blocks_and_claims_are_not_judged_against_nothing(con, landing):
    write_csv(landing / "medical_claims_1.csv", claims(5))
    by_gate = night(con, landing, "r1")
    assert failing(by_gate) == {"required_kinds_loaded": ["eligibility"]}
    [missing] = [r for r in by_gate["required_kinds_loaded"] if not r.passed]
    assert "required kind eligibility has no loaded rows" in missing.message
    assert "no eligibility* file in the landing folder" in missing.message
    assert "claims_members_known" not in by_gate


def test_eligibility_with_every_row_quarantined_has_zero_loaded_rows(con, landing):
    write_csv(landing / "medical_claims_1.csv", claims(5))
    bad = [{**row, "birth_date": "15/01/1980"} for row in eligibility("M1", "M2")]
    write_csv(landing / "eligibility_1.csv", bad, ELIGIBILITY_HEADER)
    by_gate = night(con, landing, "r1")
    assert failing(by_gate)["required_kinds_loaded"] == ["eligibility"]
    [missing] = [r for r in by_gate["required_kinds_loaded"] if not r.passed]
    assert "eligibility_1.csv loaded_with_quarantine" in missing.message
    # ... and the file itself is 100% quarantined.
    assert failing(by_gate)["quarantine_within_limit"] == ["eligibility_1.csv"]


def test_a_file_above_the_quarantine_limit_is_named_with_its_share_and_reasons(con, landing):
    rows = claims(200, members=2)
    rows[5]["claim_type"] = "dental"
    rows[9]["claim_type"] = "vision"
    rows[7]["service_from_date"] = "2026-02-30"
    write_csv(landing / "medical_claims_1.csv", rows)
    write_csv(landing / "medical_claims_2.csv", claims(100, members=2, prefix="D"), HEADER)  # clean
    write_csv(landing / "eligibility_1.csv", eligibility("M1", "M2"), ELIGIBILITY_HEADER)
    by_gate = night(con, landing, "r1")
    assert failing(by_gate) == {"quarantine_within_limit": ["medical_claims_1.csv"]}
    [over] = by_gate["quarantine_within_limit"]
    assert (over.figure, over.threshold) == (1.5, 1.0)
    assert over.message.startswith(
        "medical_claims_1.csv: 3 of 200 rows quarantined (1.5%, limit 1%); top reasons: "
    )
    assert "; top reasons: not_allowed (2), bad_date (1). See raw.quarantine" in over.message
    assert "gates.max_quarantined_percent" in over.message

    # The same night under a looser limit passes; exactly at the limit passes too.
    looser = dataclasses.replace(GATES, max_quarantined_percent=1.5)
    assert all(r.passed for r in landing_gates(con, "r1", looser))


def test_a_rerun_of_a_blocked_night_is_blocked_again(con, landing):
    rows = claims(10)
    rows[0]["claim_type"] = "dental"
    write_csv(landing / "medical_claims_1.csv", rows)
    write_csv(landing / "eligibility_1.csv", eligibility("M1"), ELIGIBILITY_HEADER)
    assert failing(night(con, landing, "r1")) == {
        "quarantine_within_limit": ["medical_claims_1.csv"]
    }
    # Second run: the bytes are already loaded, and are judged by the figures of their load.
    assert failing(night(con, landing, "r2")) == {
        "quarantine_within_limit": ["medical_claims_1.csv"]
    }


def test_rejected_tonight_blocks_and_the_corrected_file_clears_it(con, landing):
    header = [h for h in HEADER if h != "member_id"]
    write_csv(landing / "medical_claims_1.csv", claims(3), header)
    write_csv(landing / "eligibility_1.csv", eligibility("M1"), ELIGIBILITY_HEADER)
    first = night(con, landing, "n1")
    assert failing(first) == {
        "no_file_rejected": ["medical_claims_1.csv"],
        "required_kinds_loaded": ["medical_claims"],
    }
    [rejected] = [r for r in first["no_file_rejected"] if not r.passed]
    assert "required column 'member_id' is missing" in rejected.message
    assert "corrected file" in rejected.message

    # The same bytes still in the folder the next night: still rejected tonight.
    assert failing(night(con, landing, "n2"))["no_file_rejected"] == ["medical_claims_1.csv"]

    # Corrected: same name, new bytes. The old rejection is history, not tonight.
    write_csv(landing / "medical_claims_1.csv", claims(3))
    assert failing(night(con, landing, "n3")) == {}
    assert con.execute(
        "select count(*) from raw.load_ledger where status = 'rejected'"
    ).fetchone() == (1,)


def test_claims_of_members_missing_from_eligibility_above_the_limit(con, landing):
    write_csv(landing / "medical_claims_1.csv", claims(100, members=10))  # M1..M10
    members = [f"M{i}" for i in range(1, 10)]  # M10 is missing: 10 of 100 lines
    write_csv(landing / "eligibility_1.csv", eligibility(*members), ELIGIBILITY_HEADER)
    by_gate = night(con, landing, "r1")
    [unknown] = by_gate["claims_members_known"]
    assert not unknown.passed and (unknown.figure, unknown.threshold) == (10.0, 5.0)
    assert unknown.message.startswith("10 of 100 claim lines (10%, limit 5%) reference members")
    assert "medical_claims_1.csv 10 of 100" in unknown.message
    assert "M10" not in unknown.message  # counts, never member ids
    looser = dataclasses.replace(GATES, max_unknown_member_percent=10.0)
    assert [
        r.passed for r in landing_gates(con, "r1", looser) if r.gate == "claims_members_known"
    ] == [True]


def _unknown_lines_from_every_line(con) -> tuple[int, int]:
    """The gate's figures counted from every claim line in force (unknown_members.sql)."""
    by_file = con.execute((GATES_SQL / "unknown_members.sql").read_text()).fetchall()
    return sum(n for _, n, _ in by_file), sum(u for _, _, u in by_file)


def _kept_against_every_line(con) -> list[tuple]:
    """Members whose kept count differs from their lines in force (none when exact)."""
    return con.execute(
        "select member_id, k.lines, l.lines from raw.claim_member_lines k "
        "full join (select member_id, count(*) as lines from raw.rows_in_force('medical_claims') "
        "group by member_id) l using (member_id) where k.lines is distinct from l.lines"
    ).fetchall()


def test_claims_members_known_judges_every_line_in_force_night_after_night(
    con, tmp_path, monkeypatch
):
    """The counts kept per member follow corrections (even one that moves a line to another
    member), new claims, and eligibility snapshots that drop or restore a member: each night
    the gate's figure is the one counted from every line in force, and after the first night
    only tonight's files are read to keep the counts (no rebuild from every line)."""
    rebuilds = []
    rebuild = claim_counts._rebuild
    monkeypatch.setattr(claim_counts, "_rebuild", lambda *a: rebuilds.append(1) or rebuild(*a))

    def nightly(folder: str, files: dict[str, tuple[list[dict], list[str] | None]]) -> GateResult:
        landing = tmp_path / folder
        landing.mkdir()
        for name, (rows, header) in files.items():
            write_csv(landing / name, rows, header)
        [known] = night(con, landing, folder)["claims_members_known"]
        assert _kept_against_every_line(con) == []
        lines, unknown = _unknown_lines_from_every_line(con)
        assert known.figure == _percent(unknown, lines)
        return known

    ten = [f"M{i}" for i in range(1, 11)]
    first = nightly(
        "n1",
        {
            "medical_claims_1.csv": (claims(100, members=10), None),  # M1..M10, 10 lines each
            "eligibility_1.csv": (eligibility(*ten), ELIGIBILITY_HEADER),
        },
    )
    assert first.passed and first.message.startswith("0 of 100 claim lines (0%)")
    assert len(rebuilds) == 1  # the first night counts every line

    # Five of M1's lines corrected onto M11, ten new lines of M12; M10 leaves eligibility.
    moved = [
        claim(claim_id=f"C{i}", member_id="M11", paid_amount="99.00") for i in (0, 10, 20, 30, 40)
    ]
    new = [claim(claim_id=f"N{i}", member_id="M12") for i in range(10)]
    second = nightly(
        "n2",
        {
            "medical_claims_2.csv": (moved + new, None),
            "eligibility_2.csv": (eligibility(*ten[:9], "M11"), ELIGIBILITY_HEADER),
        },
    )
    assert not second.passed  # M10's 10 earlier lines and M12's 10 new ones: 20 of 110
    assert second.message.startswith("20 of 110 claim lines (18.182%, limit 5%)")
    assert "medical_claims_1.csv 10 of 95" in second.message
    assert "medical_claims_2.csv 10 of 15" in second.message
    assert con.execute(
        "select lines from raw.claim_member_lines where member_id = 'M1'"
    ).fetchall() == [(5,)]

    # Eligibility alone tonight, M10 and M12 back: judged all the same, every line known.
    third = nightly(
        "n3", {"eligibility_3.csv": (eligibility(*ten, "M11", "M12"), ELIGIBILITY_HEADER)}
    )
    assert third.passed and third.message.startswith("0 of 110 claim lines (0%)")
    assert len(rebuilds) == 1  # nights 2 and 3 changed the counts by tonight's files alone

    # Kept counts that no longer add up to the lines in force are rebuilt, not trusted.
    con.execute("update raw.claim_member_lines set lines = lines + 3 where member_id = 'M2'")
    [again] = [r for r in landing_gates(con, "n3", GATES) if r.gate == "claims_members_known"]
    assert again.message.startswith("0 of 110 claim lines (0%)")
    assert _kept_against_every_line(con) == [] and len(rebuilds) == 2


def test_rows_in_force_count_reads_metadata_and_agrees_with_the_rows(con, landing, tmp_path):
    write_csv(landing / "medical_claims_1.csv", claims(10, members=2))
    write_csv(landing / "eligibility_1.csv", eligibility("M1", "M2", "M3"), ELIGIBILITY_HEADER)
    night(con, landing, "n1")
    later = tmp_path / "later"
    later.mkdir()
    corrected = [claim(claim_id="C1", member_id="M2", paid_amount="1.00")]
    write_csv(later / "medical_claims_2.csv", corrected + claims(4, prefix="D"))
    write_csv(later / "eligibility_2.csv", eligibility("M1", "M2"), ELIGIBILITY_HEADER)
    by_gate = night(con, later, "n2")
    # 10 lines, one corrected (still 10), 4 new; the second snapshot replaces the first.
    assert [r.figure for r in by_gate["required_kinds_loaded"]] == [14, 2]
    for kind, rows in (("medical_claims", 14), ("eligibility", 2)):
        assert rows_in_force_count(con, kind) == rows
        assert con.execute(f"select count(*) from raw.rows_in_force('{kind}')").fetchone() == (
            rows,
        )


def _publications(con, previous: dict[str, int], tonight: dict[str, int]) -> None:
    """History of one publication on 2026-10-21 and tonight's list, with these tier counts."""
    con.execute("create schema if not exists history")
    con.execute("create schema if not exists publish")
    con.execute(
        "create table history.publications (as_of date primary key, run_id varchar, "
        "published_at timestamp)"
    )
    con.execute(
        "create table history.published_candidates (as_of date, member_id varchar, "
        "tier varchar, criteria_met varchar)"
    )
    con.execute("insert into history.publications values ('2026-10-21', 'r0', now())")
    con.execute("create table publish.pub_candidates (member_id varchar, tier varchar)")
    for table, as_of, counts in (
        ("history.published_candidates", "'2026-10-21'::date, ", previous),
        ("publish.pub_candidates", "", tonight),
    ):
        for tier, count in counts.items():
            extra = ", null" if as_of else ""
            con.execute(
                f"insert into {table} select {as_of}'M' || i, ?{extra} from range(?) t(i)",
                [tier, count],
            )


TONIGHT = dt.date(2026, 11, 21)


def test_tier_change_above_the_limit_and_the_floor_blocks(con):
    _publications(
        con, {"High": 100, "Moderate": 4, "Low": 50}, {"High": 70, "Moderate": 1, "Low": 55}
    )
    results = {r.subject: r for r in tier_change_gate(con, TONIGHT, GATES)}
    assert set(results) == set(TIERS)
    high = results["High"]
    assert not high.passed and (high.figure, high.threshold) == (30.0, 25.0)
    assert high.message.startswith("tier High: 70 members tonight against 100 on 2026-10-21")
    assert "--max-tier-change" in high.message
    # Moderate moved 75% but by 3 members, under the floor of 20: tiny tiers never trip.
    assert results["Moderate"].passed and results["Moderate"].figure == 75.0
    assert results["Low"].passed and results["Monitoring"].passed


def test_tier_change_exactly_at_the_limit_passes_and_a_new_tier_from_zero_blocks(con):
    _publications(con, {"High": 100}, {"High": 125, "Moderate": 20})
    results = {r.subject: r for r in tier_change_gate(con, TONIGHT, GATES)}
    assert results["High"].passed and results["High"].figure == 25.0
    assert not results["Moderate"].passed  # 0 -> 20: no base to compare, 20 members moved


def test_tier_change_override_per_run_is_recorded(con):
    _publications(con, {"High": 100}, {"High": 40})
    assert not all(r.passed for r in tier_change_gate(con, TONIGHT, GATES))
    raised = tier_change_gate(con, TONIGHT, GATES, TierOverride(max_percent=60))
    assert all(r.passed for r in raised)
    assert {r.override for r in raised} == {"--max-tier-change 60 (config 25)"}
    assert {r.threshold for r in raised} == {60.0}
    allowed = tier_change_gate(con, TONIGHT, GATES, TierOverride(allow=True))
    high = next(r for r in allowed if r.subject == "High")
    assert high.passed and high.override == "--allow-tier-change"
    assert "allowed by override" in high.message
    # Under a stricter configuration the same override still decides.
    strict = dataclasses.replace(GATES, max_tier_change_percent=1.0, min_tier_change_members=1)
    assert all(r.passed for r in tier_change_gate(con, TONIGHT, strict, TierOverride(allow=True)))


def test_first_publication_and_an_older_night_compare_with_what_came_before(con):
    _publications(con, {"High": 100}, {"High": 10})
    # 2026-10-01 is before the only publication: nothing to compare with.
    [first] = tier_change_gate(con, dt.date(2026, 10, 1), GATES)
    assert first.passed and first.message == "first publication"


def test_gate_results_and_tonights_accounting_are_recorded_per_run(con, landing):
    write_csv(landing / "medical_claims_1.csv", claims(10))
    write_csv(landing / "eligibility_1.csv", eligibility("M1"), ELIGIBILITY_HEADER)
    (landing / "readme.txt").write_text("x")
    results = night(con, landing, "r1")
    record_gates(con, TONIGHT, "r1", [r for rs in results.values() for r in rs])
    night(con, landing, "r2")  # the same files again: already loaded, nothing new read

    first = night_accounting(con, "r1")
    assert first["files_by_state"] == {
        "loaded": 2,
        "loaded_with_quarantine": 0,
        "rejected": 0,
        "already_loaded": 0,
        "ignored": 1,
    }
    assert (first["rows_read"], first["rows_loaded"], first["rows_quarantined"]) == (11, 11, 0)
    assert len(first["gates"]) == 6 and all(g["passed"] for g in first["gates"])
    second = night_accounting(con, "r2")
    assert second["files_by_state"]["already_loaded"] == 2
    assert (second["rows_read"], second["gates"]) == (0, [])
    # Re-evaluating a gate in the same run replaces its rows.
    record_gates(con, TONIGHT, "r1", [GateResult("landing_not_empty", False, "x", None, 0, 1)])
    assert [
        g["passed"]
        for g in night_accounting(con, "r1")["gates"]
        if g["gate"] == "landing_not_empty"
    ] == [False]


def test_publication_tables_feed_the_tier_gate(tmp_path):
    """The gate's SQL reads the real publish and history tables (not only hand-made ones)."""
    from tests.builders import RawBuilder, build

    b = RawBuilder()
    b.member("M1")
    con = build(b, tmp_path / "w.duckdb", as_of=TONIGHT)
    build_publication_tables(con, TONIGHT)
    [first] = tier_change_gate(con, TONIGHT, GATES)
    assert first.passed and first.message == "first publication"


FRESHNESS_FROM_EVERY_LINE = """
select
    max(service_from_date) filter (where service_from_date <= $as_of),
    max(paid_date) filter (where service_from_date <= $as_of and paid_date <= $as_of),
    $as_of - max(service_from_date) filter (where service_from_date <= $as_of),
    median(paid_date - coalesce(service_to_date, service_from_date)) filter (
        where service_from_date <= $as_of and paid_date <= $as_of
            and paid_date > $as_of - interval 12 months),
    count(*) filter (where service_from_date <= $as_of and paid_date <= $as_of
            and paid_date > $as_of - interval 12 months)
from raw.rows_in_force('medical_claims')
"""


def test_data_freshness_from_the_kept_counts_equals_every_line(con, tmp_path):
    """The report's freshness figures, read from raw.claim_date_lines, equal the ones
    counted from every line in force: after a correction that changes a paid date, with an
    even count (the median between two lags), a line paid after the as-of date and one
    served after it, and a line paid more than 12 months before."""

    def line(i: int, served: str, to: str, paid: str) -> dict[str, str]:
        return claim(claim_id=f"C{i}", service_from_date=served, service_to_date=to, paid_date=paid)

    first = [
        line(1, "2026-01-01", "2026-01-03", "2026-01-13"),  # lag 10
        line(2, "2026-02-01", "", "2026-02-21"),  # no through date: lag from the first day, 20
        line(3, "2026-03-01", "2026-03-01", "2026-04-10"),  # lag 40
        line(4, "2026-04-01", "2026-04-02", "2026-12-01"),  # paid after the as-of date
        line(5, "2026-12-01", "2026-12-01", "2026-12-05"),  # served after the as-of date
        line(6, "2025-01-01", "2025-01-01", "2025-02-01"),  # paid more than 12 months before
    ]
    corrected = [line(3, "2026-03-01", "2026-03-01", "2026-03-31")]  # lag 40 -> 30
    second = [line(7, "2026-05-01", "2026-05-01", "2026-05-09")]  # lag 8
    as_of = dt.date(2026, 11, 21)
    figures = []
    for n, rows in enumerate((first, corrected, second), start=1):
        landing = tmp_path / f"n{n}"
        landing.mkdir()
        write_csv(landing / f"medical_claims_{n}.csv", rows)
        write_csv(landing / f"eligibility_{n}.csv", eligibility("M1"), ELIGIBILITY_HEADER)
        night(con, landing, f"n{n}")
        set_variables(con, {"as_of": as_of, "recent_months": 12})
        claim_counts.update_claim_counts(con)  # the report's _freshness does the same
        kept = _rows(con, "data_freshness")[0]
        assert kept == con.execute(FRESHNESS_FROM_EVERY_LINE, {"as_of": as_of}).fetchone()
        figures.append(kept)
    latest = (dt.date(2026, 5, 1), dt.date(2026, 5, 9), 204)
    assert figures[0] == (dt.date(2026, 4, 1), dt.date(2026, 4, 10), 234, 20.0, 3)
    assert figures[1][3:] == (20.0, 3)  # 10, 20, 30
    assert figures[2] == (*latest, 15.0, 4)  # 8, 10, 20, 30: between 10 and 20
