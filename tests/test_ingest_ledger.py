"""Idempotence, atomicity, reconciliation and discovery of the ingest."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from pipelines.ingest import ingest_landing, reconcile
from tests.ingest_helpers import (
    claim,
    counts,
    ingest,
    quarantine,
    raw_files_on_disk,
    write_csv,
)


def test_rerun_and_same_bytes_under_another_name_load_nothing_new(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", [claim(), claim(claim_line_number="x")])
    write_csv(landing / "eligibility_1.csv", [claim()], header=["member_id"])  # rejected
    con, first = ingest(tmp_path / "w.duckdb", landing)
    before = counts(con)
    assert before == (1, 2, 2)

    (landing / "medical_claims_copy.csv").write_bytes(
        (landing / "medical_claims_1.csv").read_bytes()
    )
    second = ingest_landing(con, landing)
    assert second.files == []
    assert sorted((s.name, s.first_loaded_as) for s in second.skipped) == [
        ("eligibility_1.csv", "eligibility_1.csv"),
        ("medical_claims_1.csv", "medical_claims_1.csv"),
        ("medical_claims_copy.csv", "medical_claims_1.csv"),
    ]
    assert counts(con) == before
    assert reconcile(con) == []


def test_entries_that_are_not_landing_files_are_ignored_or_rejected(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", [claim()])
    (landing / "truth.parquet").write_bytes(b"PAR1")
    (landing / "README").write_text("notes")
    (landing / "medical_claims_notes.txt").write_text("notes")
    (landing / "sub").mkdir()
    _, report = ingest(tmp_path / "w.duckdb", landing)
    assert report.ignored == ["README", "truth.parquet"]
    assert [(e.name, e.state, e.reason) for e in report.refused] == [
        ("README", "ignored", "documentation"),
        ("medical_claims_notes.txt", "rejected", "unsupported_format"),
        ("sub", "rejected", "not_a_file"),
        ("truth.parquet", "ignored", "ground_truth"),
    ]
    assert [f.name for f in report.files] == ["medical_claims_1.csv"]


def test_a_failed_load_leaves_nothing_of_the_file_and_is_retried(tmp_path, landing):
    """A failure after the rows are written (here the commit's last step) rolls the file back:
    no ledger, quarantine or file-list row, and its Parquet files are gone."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    write_csv(landing / "medical_claims_1.csv", [claim(), claim(claim_line_number="x")])

    def fail(_path):
        assert raw_files_on_disk(tmp_path / "raw")  # the rows were written
        raise duckdb.IOException("No space left on device")

    report = ingest_landing(con, landing, before_commit=fail)
    assert report.files[0].status == "rejected"
    assert "load failed, nothing of it was kept" in report.files[0].error
    assert quarantine(con) == [("medical_claims_1.csv", 0, None, None, "load_failed")]
    assert raw_files_on_disk(tmp_path / "raw") == []
    assert con.execute("select count(*) from raw.raw_files").fetchone()[0] == 0

    report = ingest_landing(con, landing)
    assert [(f.status, f.rows_loaded, f.rows_quarantined) for f in report.files] == [
        ("loaded", 1, 1)
    ]
    assert [r[4] for r in quarantine(con)] == ["bad_integer"]
    assert reconcile(con) == []


def test_reconcile_counts_the_raw_files_not_the_ledger(tmp_path, landing):
    """A raw file deleted, or one nobody listed put beside them: the check names the landed
    file (from the Parquet footers and the folder's listing, no data read)."""
    rows = [claim(member_id=f"M{i}", claim_id=f"C{i}") for i in range(40)]
    write_csv(landing / "medical_claims_1.csv", rows)
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    assert reconcile(con) == []
    files = con.execute("select path, rows from raw.raw_files order by path limit 2").fetchall()
    (gone, n), (other, _) = files
    Path(gone).unlink()
    assert reconcile(con) == [
        f"medical_claims_1.csv: raw file {gone} is missing",
        f"medical_claims_1.csv: ledger says 40 rows loaded, raw holds {40 - n}",
        f"medical_claims_1.csv: rows read 40 != loaded {40 - n} + quarantined 0",
    ]
    stray = Path(other).with_name(Path(other).name.replace("_0.", "_1."))
    shutil.copyfile(other, stray)
    assert f"medical_claims_1.csv: raw file {stray} is not listed" in reconcile(con)


def test_every_landing_entry_is_recorded_with_its_state_tonight(tmp_path, landing):
    """raw.night_files: one row per landing entry per run; bytes rejected on an earlier night
    and still landed are still rejected tonight (the gates read this, not the history)."""
    write_csv(landing / "medical_claims_1.csv", [claim(), claim(claim_line_number="x")])
    write_csv(landing / "eligibility_1.csv", [claim()], header=["member_id"])  # rejected
    (landing / "README").write_text("notes")
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    ingest_landing(con, landing, run_id="night-2")
    rows = con.execute(
        "select entry_name, state, rows_read, rows_loaded, rows_quarantined "
        "from raw.night_files where run_id = 'night-2' order by entry_name"
    ).fetchall()
    assert rows == [
        ("README", "ignored", 0, 0, 0),
        ("eligibility_1.csv", "rejected", 0, 0, 0),
        ("medical_claims_1.csv", "already_loaded", 0, 0, 0),
    ]
    first = con.execute(
        "select entry_name, state, rows_read, rows_loaded, rows_quarantined "
        "from raw.night_files where run_id <> 'night-2' order by entry_name"
    ).fetchall()
    assert first == [
        ("README", "ignored", 0, 0, 0),
        ("eligibility_1.csv", "rejected", 0, 0, 0),
        ("medical_claims_1.csv", "loaded_with_quarantine", 2, 1, 1),
    ]
