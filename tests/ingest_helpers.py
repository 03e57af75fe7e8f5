"""Builders for landing files in tests: a valid claim line, written as CSV, gzip or Parquet."""

from __future__ import annotations

import csv
import gzip
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.contract import DUCKDB_TYPES, FileKind
from pipelines.faults import ENV
from pipelines.ingest import IngestReport, IngestSettings, ingest_landing
from pipelines.ingest.validate import ident, literal

ROOT = Path(__file__).resolve().parents[1]

HEADER = [
    "claim_id",
    "claim_line_number",
    "member_id",
    "claim_type",
    "bill_type",
    "revenue_code",
    "place_of_service",
    "service_from_date",
    "service_to_date",
    "principal_diagnosis_code",
    "paid_amount",
]


def claim(**overrides: str) -> dict[str, str]:
    row = {
        "claim_id": "C1",
        "claim_line_number": "1",
        "member_id": "M1",
        "claim_type": "institutional",
        "bill_type": "111",
        "revenue_code": "0450",
        "place_of_service": "",
        "service_from_date": "2026-03-04",
        "service_to_date": "2026-03-05",
        "principal_diagnosis_code": "J45909",
        "paid_amount": "125.50",
    }
    row.update(overrides)
    return row


def csv_bytes(rows: list[dict[str, str]], header: list[str] | None = None) -> bytes:
    header = header or (list(rows[0]) if rows else HEADER)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    path.write_bytes(csv_bytes(rows, header))
    return path


def write_csv_gz(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_bytes(gzip.compress(csv_bytes(rows)))
    return path


def write_parquet(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


def ingest(db: Path, landing: Path) -> tuple[duckdb.DuckDBPyConnection, IngestReport]:
    con = duckdb.connect(str(db))
    report = ingest_landing(con, landing, IngestSettings(run_quality=False))
    return con, report


_KILLED_INGEST = """
import sys
from pathlib import Path
import duckdb
from pipelines.ingest import IngestSettings, ingest_landing
stage = Path(sys.argv[3]) if len(sys.argv) > 3 else None
con = duckdb.connect(sys.argv[1])
ingest_landing(con, sys.argv[2], IngestSettings(run_quality=False, stage_directory=stage))
"""


def ingest_killed_at(
    failpoint: str, db: Path, landing: Path, stage_directory: Path | None = None
) -> None:
    """Run an ingest in another process and SIGKILL it at `failpoint` (pipelines/faults.py)."""
    args = [str(db), str(landing)] + ([str(stage_directory)] if stage_directory else [])
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_INGEST, *args],
        cwd=ROOT,
        env={**os.environ, ENV: failpoint},
        timeout=120,
        capture_output=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]


def quarantine(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(file, row, column, original value, reason), in a stable order."""
    return con.execute(
        "select source_file, source_row, column_name, original_value, reason "
        "from raw.quarantine order by source_file, source_row, column_name"
    ).fetchall()


def counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int, int]:
    return con.execute(
        "select (select count(*) from raw.medical_claims), (select count(*) from raw.quarantine),"
        " (select count(*) from raw.load_ledger)"
    ).fetchone()


def raw_files_on_disk(raw_dir: Path) -> list[Path]:
    """The raw files under a raw layer: its bucket folders' Parquet files and the landing
    files kept as delivered (not their key indexes)."""
    return sorted([*raw_dir.glob("*/bucket=*/*.parquet"), *raw_dir.glob("*/landed/*/*")])


def write_contract_parquet(path: Path, kind: FileKind, rows: list[dict[str, object]]) -> Path:
    """A Parquet landing file in the contract's exact columns, order and DuckDB types."""
    con = duckdb.connect()
    names = [c.name for c in kind.columns]

    def value(v: object) -> str:
        return "null" if v in (None, "") else literal(str(v))

    values = ", ".join("(" + ", ".join(value(r.get(n)) for n in names) + ")" for r in rows)
    casts = ", ".join(
        f"cast({ident(c.name)} as {DUCKDB_TYPES[c.dtype]}) as {ident(c.name)}" for c in kind.columns
    )
    con.execute(
        f"copy (select {casts} from (values {values}) t({', '.join(map(ident, names))})) "
        f"to {literal(str(path))} (format parquet)"
    )
    return path
