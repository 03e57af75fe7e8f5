"""The raw-layer quality suites (expectations/raw_<kind>.json) over every loaded row.

Both run in DuckDB over the whole table (pipelines/quality.py `validate_table` says why not a
sample): `quality_of_table` is the nightly gate over a kind's raw table, `quality_of_file`
the look at one file's rows right after its load.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipelines import quality
from pipelines.contract import FileKind
from pipelines.ingest.report import QualitySummary
from pipelines.ingest.validate import literal
from pipelines.paths import EXPECTATIONS_DIR
from pipelines.warehouse import RAW_SCHEMA


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
    """The suite over one file's loaded rows. `sample_rows` is no longer used (every row is
    validated); it stays until the ingest's IngestSettings.quality_sample_rows goes."""
    summary = quality.validate_table(
        con,
        suite_name(kind),
        f"{RAW_SCHEMA}.{kind.name}",
        where=f"_file_sha256 = {literal(sha256)}",
        result_dir=results_dir,
        result_name=f"{file_name}.quality",
    )
    return _summary(summary)


def quality_of_table(
    con: duckdb.DuckDBPyConnection,
    kind: FileKind,
    suite_dir: Path = EXPECTATIONS_DIR,
    results_dir: Path | None = None,
) -> quality.ValidationSummary:
    """The suite over every row of raw.<kind> (every file loaded so far: the nightly gate)."""
    return quality.validate_table(
        con,
        suite_name(kind),
        f"{RAW_SCHEMA}.{kind.name}",
        suite_dir=suite_dir,
        result_dir=results_dir,
    )


def _summary(summary: quality.ValidationSummary) -> QualitySummary:
    return QualitySummary(
        suite=summary.suite,
        success=summary.success,
        rows_validated=summary.rows,
        failed=tuple(summary.failed),
    )
