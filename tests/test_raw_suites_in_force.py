"""The nightly raw suites validate each landed file once per suite version and judge every
file in force: a second night validates only its new file, a changed suite validates every
file again, a file that failed keeps failing (named) while it is in force, and a whole-table
expectation is judged over the rows of all files in force. Real ingest, real DuckDB."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.contract import ELIGIBILITY, MEDICAL_CLAIMS
from pipelines.ingest import IngestSettings, ingest_landing
from pipelines.ingest.quality import quality_in_force, quality_of_table, rows_of_files
from pipelines.paths import EXPECTATIONS_DIR
from tests.builders import stricter_suites
from tests.ingest_helpers import claim, write_csv

ELIGIBILITY_HEADER = ["member_id", "enrollment_start_date", "birth_date"]


def _night(con: duckdb.DuckDBPyConnection, landing: Path, files: dict[str, list[dict]]) -> None:
    """Deliver the files (kept in the landing folder, as plans leave them) and ingest."""
    for name, rows in files.items():
        write_csv(landing / name, rows, list(rows[0]))
    ingest_landing(con, landing, IngestSettings(run_quality=False))


def _lines(claim_id: str, n: int, **overrides: str) -> list[dict]:
    return [
        claim(claim_id=claim_id, claim_line_number=str(i), **overrides) for i in range(1, n + 1)
    ]


def _span(member: str, start: str = "2020-01-01", birth: str = "1980-01-15") -> dict:
    return {"member_id": member, "enrollment_start_date": start, "birth_date": birth}


def test_a_second_night_validates_only_its_new_file(con, landing):
    _night(con, landing, {"medical_claims_1.csv": _lines("C1", 2)})
    first = quality_in_force(con, MEDICAL_CLAIMS)
    assert first.summary.success
    assert (first.files_in_force, first.files_validated, first.rows_validated) == (1, 1, 2)

    _night(con, landing, {"medical_claims_2.csv": _lines("C2", 3)})
    second = quality_in_force(con, MEDICAL_CLAIMS)
    assert (second.files_in_force, second.files_validated, second.rows_validated) == (2, 1, 3)
    assert second.summary.rows == 5
    # The kept figures add up to what a full pass over every row computes.
    assert second.summary == quality_of_table(con, MEDICAL_CLAIMS)

    # The new file's rows are read from its own Parquet files only.
    [(new_sha,)] = con.execute(
        "select file_sha256 from raw.load_ledger where source_file = 'medical_claims_2.csv'"
    ).fetchall()
    relation = rows_of_files(con, MEDICAL_CLAIMS, [new_sha])
    paths = con.execute("select kind, file_sha256, path from raw.raw_files").fetchall()
    assert [p for _, sha, p in paths if p in relation] == [
        p for kind, sha, p in paths if sha == new_sha
    ]
    assert con.execute(f"select count(*) from {relation}").fetchone() == (3,)

    third = quality_in_force(con, MEDICAL_CLAIMS)
    assert (third.files_validated, third.rows_validated, third.summary.rows) == (0, 0, 5)
    assert con.execute("select count(*) from raw.suite_results").fetchone() == (2,)


def test_a_changed_suite_validates_every_file_again(con, landing, tmp_path):
    _night(con, landing, {"medical_claims_1.csv": _lines("C1", 2)})
    _night(con, landing, {"medical_claims_2.csv": _lines("C2", 3, revenue_code="0451")})
    assert quality_in_force(con, MEDICAL_CLAIMS).files_validated == 2

    suites = stricter_suites(tmp_path / "suites", "raw_medical_claims", "revenue_code", ["0450"])
    changed = quality_in_force(con, MEDICAL_CLAIMS, suites)
    assert (changed.files_validated, changed.rows_validated) == (2, 5)
    assert not changed.summary.success
    assert changed.failing_files == ("medical_claims_2.csv",)
    assert changed.summary.describe_failures() == [
        "suite raw_medical_claims: expect_column_values_to_be_in_set(revenue_code): 3 of 5 "
        "rows unexpected; e.g. medical_claims_2.csv row 1, medical_claims_2.csv row 2, "
        "medical_claims_2.csv row 3"
    ]
    # Only the current suite's results are kept.
    assert con.execute("select count(distinct suite_key) from raw.suite_results").fetchone() == (1,)


def test_a_failing_file_blocks_every_night_while_it_is_in_force(con, landing):
    _night(
        con,
        landing,
        {
            "medical_claims_1.csv": [
                claim(),
                claim(claim_line_number="2", service_from_date="1890-01-01"),
            ]
        },
    )
    assert quality_in_force(con, MEDICAL_CLAIMS).failing_files == ("medical_claims_1.csv",)

    _night(con, landing, {"medical_claims_2.csv": _lines("C2", 3)})
    later = quality_in_force(con, MEDICAL_CLAIMS)
    assert (later.files_validated, later.rows_validated) == (1, 3)
    assert not later.summary.success
    assert later.failing_files == ("medical_claims_1.csv",)
    assert later.summary.describe_failures() == [
        "suite raw_medical_claims: expect_column_values_to_be_between(service_from_date): "
        "1 of 5 rows unexpected; e.g. medical_claims_1.csv row 2"
    ]


def test_a_snapshot_replaced_by_a_good_one_no_longer_blocks(con, landing):
    _night(con, landing, {"eligibility_1.csv": [_span("M1"), _span("M2", birth="1880-01-01")]})
    assert quality_in_force(con, ELIGIBILITY).failing_files == ("eligibility_1.csv",)

    (landing / "eligibility_1.csv").unlink()
    _night(con, landing, {"eligibility_2.csv": [_span("M1"), _span("M2")]})
    verdict = quality_in_force(con, ELIGIBILITY)
    assert verdict.summary.success
    assert (verdict.files_in_force, verdict.files_validated, verdict.summary.rows) == (1, 1, 2)
    assert con.execute("select source_file from raw.suite_results").fetchall() == [
        ("eligibility_2.csv",)
    ]


def test_a_whole_table_expectation_is_judged_over_every_file_in_force(con, landing, tmp_path):
    """member_id unique across the snapshot and an incremental file, each fine alone."""
    suites = tmp_path / "suites"
    shutil.copytree(EXPECTATIONS_DIR, suites)
    suite = json.loads((suites / "raw_eligibility.json").read_text())
    suite["expectations"].append(
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "member_id"}, "meta": {}}
    )
    (suites / "raw_eligibility.json").write_text(json.dumps(suite))
    _night(con, landing, {"eligibility_1.csv": [_span("M1"), _span("M2")]})
    assert quality_in_force(con, ELIGIBILITY, suites).summary.success

    _night(con, landing, {"eligibility_incremental_2.csv": [_span("M1", start="2025-01-01")]})
    verdict = quality_in_force(con, ELIGIBILITY, suites)
    assert (verdict.files_in_force, verdict.files_validated) == (2, 1)
    assert verdict.failing_files == ()  # no file fails alone
    assert verdict.summary.describe_failures() == [
        "suite raw_eligibility: expect_column_values_to_be_unique(member_id): 2 of 3 rows "
        "unexpected; e.g. eligibility_1.csv row 1, eligibility_incremental_2.csv row 1"
    ]


def test_a_row_condition_the_sql_cannot_evaluate_is_refused_by_name(con, landing, tmp_path):
    suites = tmp_path / "suites"
    shutil.copytree(EXPECTATIONS_DIR, suites)
    suite = json.loads((suites / "raw_eligibility.json").read_text())
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "sex", "row_condition": 'member_id=="M1"'},
            "meta": {},
        }
    )
    (suites / "raw_eligibility.json").write_text(json.dumps(suite))
    _night(con, landing, {"eligibility_1.csv": [_span("M1")]})
    with pytest.raises(ValueError, match="row_condition 'member_id==\"M1\"' cannot be evaluated"):
        quality_in_force(con, ELIGIBILITY, suites)
