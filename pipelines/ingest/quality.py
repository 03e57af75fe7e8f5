"""The raw-layer quality suite run over a file's newly loaded rows, right after its commit.

Only the suite's columns of this file's rows are read, through a repeatable reservoir sample
when the file is larger than `sample_rows`; pipelines/quality.py says why a sample.
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
    rows = f"select {columns} from {RAW_SCHEMA}.{kind.name} where {where}"
    if sample_rows is not None:
        rows = (
            f"select * from ({rows}) "
            f"using sample reservoir({int(sample_rows)} rows) repeatable ({_SAMPLE_SEED})"
        )
    return con.sql(rows).to_arrow_table().to_pandas()


def _summary(summary: quality.ValidationSummary) -> QualitySummary:
    return QualitySummary(
        suite=summary.suite,
        success=summary.success,
        rows_validated=summary.rows,
        failed=tuple(summary.failed),
    )
