"""The raw-layer quality suite run over a file's newly loaded rows, right after its commit.

Only the suite's columns are read, through a sample of about `sample_rows` rows when the table
is larger; pipelines/quality.py says why a sample. The sample takes whole row groups (DuckDB's
system sampling, seeded): a reservoir sample reads every row and cost 5 s per 4M lines. Which
row groups are drawn can vary between runs (DuckDB samples in parallel); the row-level
guarantees never depend on the sample, since the ingest checks every row in SQL.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines import quality
from pipelines.contract import FileKind
from pipelines.ingest.report import QualitySummary
from pipelines.ingest.validate import literal
from pipelines.warehouse import RAW_SCHEMA

_SAMPLE_SEED = 20261121


def suite_name(kind: FileKind) -> str:
    return f"raw_{kind.name}"


def quality_of_file(
    con: duckdb.DuckDBPyConnection,
    kind: FileKind,
    sha256: str,
    file_name: str,
    sample_rows: int | None,
    results_dir: Path | None,
) -> QualitySummary:
    frame = _rows(con, kind, f"_file_sha256 = {literal(sha256)}", sample_rows)
    summary = quality.validate(
        suite_name(kind), frame, result_dir=results_dir, result_name=f"{file_name}.quality"
    )
    return _summary(summary)


def quality_of_table(
    con: duckdb.DuckDBPyConnection,
    kind: FileKind,
    sample_rows: int | None,
    suite_dir: Path,
    results_dir: Path | None,
) -> QualitySummary:
    """The suite over every file of a kind loaded so far (the nightly gate)."""
    frame = _rows(con, kind, "true", sample_rows)
    summary = quality.validate(suite_name(kind), frame, suite_dir=suite_dir, result_dir=results_dir)
    return _summary(summary)


def _rows(con: duckdb.DuckDBPyConnection, kind: FileKind, where: str, sample_rows: int | None):
    columns = ", ".join(c.name for c in kind.columns)
    table = f"{RAW_SCHEMA}.{kind.name}"
    rows = f"select {columns} from {table} where {where}"
    if sample_rows is not None:
        total = con.sql(f"select count(*) from {table}").fetchall()[0][0]
        if total > sample_rows:
            percent = 100.0 * sample_rows / total
            rows = (
                f"select {columns} from {table} "
                f"tablesample {percent:.6f} percent (system, {_SAMPLE_SEED}) where {where}"
            )
    return con.sql(rows).to_arrow_table().to_pandas()


def _summary(summary: quality.ValidationSummary) -> QualitySummary:
    return QualitySummary(
        suite=summary.suite,
        success=summary.success,
        rows_validated=summary.rows,
        failed=tuple(summary.failed),
    )
