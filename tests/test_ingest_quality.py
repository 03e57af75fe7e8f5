"""The GX suites: the raw-layer ones cover the contract and run at ingest over the loaded rows;
the list's own (pub_candidates) guards what a care manager reads."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from pipelines import quality
from pipelines.contract import FILE_KINDS
from pipelines.ingest import IngestSettings, ingest_landing
from pipelines.paths import EXPECTATIONS_DIR
from tests.ingest_helpers import claim, write_csv


def test_each_suite_covers_its_contract():
    for kind in FILE_KINDS.values():
        suite = json.loads((EXPECTATIONS_DIR / f"raw_{kind.name}.json").read_text())
        found = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
        for c in kind.columns:
            assert ("expect_column_to_exist", c.name) in found
            if c.required:
                assert ("expect_column_values_to_not_be_null", c.name) in found
            if c.allowed:
                assert ("expect_column_values_to_be_in_set", c.name) in found
            if c.length:
                assert ("expect_column_value_lengths_to_equal", c.name) in found


def test_ingest_runs_the_suite_on_the_loaded_rows(tmp_path: Path):
    landing = tmp_path / "landing"
    landing.mkdir()
    write_csv(
        landing / "medical_claims_1.csv",
        [claim(), claim(claim_line_number="2", service_from_date="1890-01-01")],
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    results = tmp_path / "quality"
    report = ingest_landing(
        con, landing, IngestSettings(quality_results_dir=results, quality_sample_rows=None)
    )
    q = report.files[0].quality
    assert q is not None and q.rows_validated == 2
    assert q.success is False
    assert q.failed == ("expect_column_values_to_be_between(service_from_date)",)
    written = json.loads((results / "medical_claims_1.csv.quality.json").read_text())
    assert written["suite"] == "raw_medical_claims" and written["success"] is False


def test_validate_reports_per_expectation_counts():
    frame = pd.DataFrame({"member_id": ["M1", None], "status": ["declined", "gone"]})
    frame["status_date"] = pd.to_datetime(["2026-01-01", "2026-01-02"]).date
    summary = quality.validate("raw_care_management_status", frame)
    assert not summary.success
    by = {(o.expectation, o.column): o.unexpected_count for o in summary.outcomes if not o.success}
    assert by == {
        ("expect_column_values_to_not_be_null", "member_id"): 1,
        ("expect_column_values_to_be_in_set", "status"): 1,
    }


def test_the_list_suite_requires_a_monitoring_reason_exactly_on_monitoring_rows(tmp_path: Path):
    """The shipped pub_candidates expectations on monitoring_reason, through real GX."""
    suite = json.loads((EXPECTATIONS_DIR / "pub_candidates.json").read_text())
    suite["expectations"] = [
        e for e in suite["expectations"] if e["kwargs"].get("column") == "monitoring_reason"
    ]
    assert len(suite["expectations"]) == 3
    (tmp_path / "pub_candidates.json").write_text(json.dumps(suite))

    def failed(rows: list[tuple[str, str | None]]) -> list[str]:
        frame = pd.DataFrame(rows, columns=["tier", "monitoring_reason"])
        summary = quality.validate("pub_candidates", frame, suite_dir=tmp_path)
        return sorted(o.expectation for o in summary.outcomes if not o.success)

    good = [("High", None), ("Monitoring", "declined"), ("Monitoring", "unreachable")]
    assert failed(good) == []
    assert failed([*good, ("Monitoring", None)]) == ["expect_column_values_to_not_be_null"]
    assert failed([*good, ("Low", "declined")]) == ["expect_column_values_to_be_null"]
