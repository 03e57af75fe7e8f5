"""Ingest faults with real files: corrupt Parquet, cut gzip, a file still being written, a kill.

Each ends with the broken file rejected under a clear reason (or retried), the other files
loaded, nothing of the broken file in raw, and reconcile() clean.
"""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from tests.ingest_helpers import (
    claim,
    csv_bytes,
    ingest,
    ingest_killed_at,
    quarantine,
    write_csv,
    write_parquet,
)


def _claims_table(n: int) -> pa.Table:
    return pa.table(
        {
            "claim_id": [f"C{i:08d}" for i in range(n)],
            "claim_line_number": pa.array([1] * n, pa.int64()),
            "member_id": [f"M{i % 997:06d}" for i in range(n)],
            "claim_type": ["professional"] * n,
            "place_of_service": ["23"] * n,
            "service_from_date": pa.array([19_000 + i % 500 for i in range(n)], pa.date32()),
            "principal_diagnosis_code": ["J45909"] * n,
        }
    )


def _ledger(con, name: str) -> tuple:
    return con.execute(
        "select status, rows_read, rows_loaded, rows_quarantined from raw.load_ledger "
        "where source_file = ?",
        [name],
    ).fetchone()


def _assert_rejected(con, report, name: str, reason: str) -> None:
    f = next(f for f in report.files if f.name == name)
    assert f.status == "rejected"
    assert f.error.startswith(f"{name}: ")
    assert _ledger(con, name) == ("rejected", 0, 0, 0)
    assert [r for r in quarantine(con) if r[0] == name] == [(name, 0, None, None, reason)]
    assert con.execute(
        "select count(*) from raw.medical_claims where _source_file = ?", [name]
    ).fetchone() == (0,)


def test_parquet_with_garbled_pages_is_rejected_and_others_load(tmp_path, landing):
    """The footer is intact (schema and row count read fine); a data page is not."""
    good = write_parquet(landing / "medical_claims_a.parquet", _claims_table(50_000))
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4_000] = random.Random(7).randbytes(4_000)
    (landing / "medical_claims_b.parquet").write_bytes(bytes(data))
    write_csv(landing / "medical_claims_c.csv", [claim(claim_id="X1")])

    con, report = ingest(tmp_path / "w.duckdb", landing)
    _assert_rejected(con, report, "medical_claims_b.parquet", "unreadable_file")
    assert "not a readable Parquet file" in report.rejected[0].error
    assert [(f.name, f.status) for f in report.files if f.status == "loaded"] == [
        ("medical_claims_a.parquet", "loaded"),
        ("medical_claims_c.csv", "loaded"),
    ]
    assert con.execute("select count(*) from raw.medical_claims").fetchone() == (50_001,)
    assert reconcile(con) == []


@pytest.mark.parametrize(
    "content",
    [b"PAR1" + bytes(range(256)) * 20, random.Random(3).randbytes(5_000)],
    ids=["magic_then_garbage", "random_bytes"],
)
def test_parquet_that_is_not_parquet_is_rejected(tmp_path, landing, content):
    (landing / "medical_claims_bad.parquet").write_bytes(content)
    write_csv(landing / "medical_claims_ok.csv", [claim()])
    con, report = ingest(tmp_path / "w.duckdb", landing)
    _assert_rejected(con, report, "medical_claims_bad.parquet", "unreadable_file")
    assert _ledger(con, "medical_claims_ok.csv") == ("loaded", 1, 1, 0)
    assert reconcile(con) == []


def test_truncated_gzip_csv_is_rejected_whole(tmp_path, landing):
    """Rows before the cut are not loaded: the plan re-delivers the whole file."""
    rows = [claim(claim_id=f"C{i}") for i in range(20_000)]
    whole = gzip.compress(csv_bytes(rows))
    (landing / "medical_claims_cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    write_csv(landing / "medical_claims_ok.csv", [claim(claim_id="OK")])
    con, report = ingest(tmp_path / "w.duckdb", landing)
    _assert_rejected(con, report, "medical_claims_cut.csv.gz", "corrupt_compression")
    assert "gzip stream is damaged" in report.rejected[0].error
    assert con.execute("select claim_id from raw.medical_claims").fetchall() == [("OK",)]
    assert reconcile(con) == []


def test_file_changed_during_load_is_rolled_back_and_retried(tmp_path, landing):
    """A writer appends after the rows are in but before the commit: the file is not kept
    under the hash it had when discovered, and the next run loads what is there then."""
    path = write_csv(landing / "medical_claims_late.csv", [claim(claim_id="L")])
    write_csv(landing / "medical_claims_ok.csv", [claim(claim_id="OK")])
    late_row = csv_bytes([claim(claim_id="L", claim_line_number="2")]).split(b"\n", 1)[1]

    def writer_still_writing(loaded: Path) -> None:
        if loaded == path:
            with open(path, "ab") as f:
                f.write(late_row)

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    settings = IngestSettings(run_quality=False)
    report = ingest_landing(con, landing, settings, before_commit=writer_still_writing)
    assert [(f.name, f.status) for f in report.files] == [
        ("medical_claims_late.csv", "rejected"),
        ("medical_claims_ok.csv", "loaded"),
    ]
    error = report.files[0].error
    assert "changed while it was loaded" in error and "size went from" in error
    assert quarantine(con) == [("medical_claims_late.csv", 0, None, None, "changed_during_load")]
    assert con.execute("select claim_id from raw.medical_claims").fetchall() == [("OK",)]
    assert reconcile(con) == []

    again = ingest_landing(con, landing, settings)
    assert [(f.name, f.status, f.rows_loaded) for f in again.files] == [
        ("medical_claims_late.csv", "loaded", 2)
    ]
    assert con.execute(
        "select claim_id, claim_line_number from raw.medical_claims where claim_id = 'L' order by 2"
    ).fetchall() == [("L", 1), ("L", 2)]
    assert reconcile(con) == []


def test_same_bytes_after_a_change_during_load_are_retried(tmp_path, landing):
    """A rejection for a change is not final even if the earlier bytes come back."""
    path = write_csv(landing / "medical_claims_1.csv", [claim()])
    original = path.read_bytes()

    def touch(loaded: Path) -> None:
        os.utime(loaded, ns=(0, 0))

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    settings = IngestSettings(run_quality=False)
    first = ingest_landing(con, landing, settings, before_commit=touch)
    assert first.files[0].status == "rejected" and "modification time" in first.files[0].error
    assert path.read_bytes() == original
    second = ingest_landing(con, landing, settings)
    assert [(f.status, f.rows_loaded) for f in second.files] == [("loaded", 1)]
    assert quarantine(con) == []
    assert reconcile(con) == []


def test_killed_after_the_first_commit_then_rerun_loads_each_file_once(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", [claim(), claim(claim_line_number="x")])
    write_csv(landing / "medical_claims_2.csv", [claim(claim_id="C2")])
    db = tmp_path / "w.duckdb"
    ingest_killed_at("ingest.file_committed", db, landing)

    con, report = ingest(db, landing)
    assert [s.name for s in report.skipped] == ["medical_claims_1.csv"]
    assert [(f.name, f.status) for f in report.files] == [("medical_claims_2.csv", "loaded")]
    assert con.execute(
        "select claim_id, _source_file from raw.medical_claims order by 1"
    ).fetchall() == [("C1", "medical_claims_1.csv"), ("C2", "medical_claims_2.csv")]
    assert [r[4] for r in quarantine(con)] == ["bad_integer"]
    assert reconcile(con) == []


def test_a_killed_run_leaves_its_staged_csv_behind_and_the_next_run_removes_it(tmp_path, landing):
    """A CSV is staged as Parquet (as large as the file, member-level rows); a SIGKILL skips
    the staging folder's cleanup, so the next run, holding the warehouse, removes it."""
    write_csv(landing / "medical_claims_1.csv", [claim(), claim(claim_id="C1b")])
    write_csv(landing / "medical_claims_2.csv", [claim(claim_id="C2")])
    db, stage = tmp_path / "w.duckdb", tmp_path / "w.duckdb.stage"
    ingest_killed_at("ingest.file_committed", db, landing, stage)
    (left,) = stage.iterdir()
    assert left.name.startswith("ingest_stage_")
    assert [p.name for p in left.iterdir()] == ["stage_0.parquet"]
    assert stage.stat().st_mode & 0o777 == 0o700

    con = duckdb.connect(str(db))
    report = ingest_landing(con, landing, IngestSettings(run_quality=False, stage_directory=stage))
    assert [(f.name, f.status) for f in report.files] == [("medical_claims_2.csv", "loaded")]
    assert list(stage.iterdir()) == []
    assert reconcile(con) == []
