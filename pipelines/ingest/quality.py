"""The raw-layer quality suites (expectations/raw_<kind>.json) over every loaded row.

Both run in DuckDB over every row (pipelines/quality.py `validate_table` says why not a
sample). `quality_in_force` is the nightly gate: it covers every file in force of a kind but
validates only the files no earlier night validated under the same suite. A landed file never
changes, so its figures hold until the suite file or the table's columns change (the suite's
key), and are kept per file in raw.suite_results. Every expectation of the raw suites is
row-level, so the table's figures are the sum of its files'; a whole-table one (uniqueness)
added to a raw suite is counted each night over the rows of the files in force instead.
`quality_of_file` is the look at one file's rows right after its load (the ingest CLI).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from pipelines import quality
from pipelines.contract import FileKind
from pipelines.ingest.report import QualitySummary
from pipelines.ingest.validate import literal
from pipelines.paths import EXPECTATIONS_DIR
from pipelines.warehouse import RAW_SCHEMA, raw_kind_is_table, raw_relation, transaction

SUITE_RESULTS_DDL = f"""
create table if not exists {RAW_SCHEMA}.suite_results (
    kind varchar not null,
    suite_key varchar not null,     -- sha256 of the suite file and the raw table's columns
    file_sha256 varchar not null,
    source_file varchar not null,
    rows bigint not null,           -- the file's rows validated
    passed boolean not null,        -- every expectation held on the file's rows alone
    figures varchar not null,       -- per expectation: unexpected and judged rows, examples
    validated_at timestamp not null,
    primary key (kind, file_sha256)
)
"""


@dataclass(frozen=True)
class InForceVerdict:
    """A raw suite over the files in force: the verdict, and what tonight validated."""

    summary: quality.ValidationSummary
    files_in_force: int
    files_validated: int
    rows_validated: int
    failing_files: tuple[str, ...]


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
    """The suite over every row of raw.<kind>, every file loaded so far, nothing kept."""
    return quality.validate_table(
        con,
        suite_name(kind),
        f"{RAW_SCHEMA}.{kind.name}",
        suite_dir=suite_dir,
        result_dir=results_dir,
    )


def files_in(shas: list[str], column: str = "_file_sha256") -> str:
    """SQL: `column` is one of these content hashes (false for none)."""
    return f"{column} in ({', '.join(literal(s) for s in shas) or 'null'})"


def rows_of_files(con: duckdb.DuckDBPyConnection, kind: FileKind, shas: list[str]) -> str:
    """The raw rows of these landed files: their own Parquet files (raw.raw_files), so a
    night opens only its new files, not every file the view over the raw layer pins, each
    with its lineage as constants (raw_relation's per_file); or raw.<kind> itself in a
    warehouse whose raw layer is still a table."""
    if raw_kind_is_table(con, kind.name):
        return f"{RAW_SCHEMA}.{kind.name}"
    paths = con.execute(
        f"select path from {RAW_SCHEMA}.raw_files where kind = ? and "
        f"{files_in(shas, 'file_sha256')} order by path",
        [kind.name],
    ).fetchall()
    return raw_relation(kind, [p for (p,) in paths], per_file=True)


def quality_in_force(
    con: duckdb.DuckDBPyConnection,
    kind: FileKind,
    suite_dir: Path = EXPECTATIONS_DIR,
    results_dir: Path | None = None,
) -> InForceVerdict:
    """The suite over every row of the kind's files in force (loaded, not replaced by a
    later snapshot), validating only files without a result under the current suite key.
    A file that failed stays failing, and named, for as long as it is in force."""
    suite = quality.compile_suite(con, suite_name(kind), f"{RAW_SCHEMA}.{kind.name}", suite_dir)
    row_level = suite.counted(whole_table=False)
    con.execute(SUITE_RESULTS_DDL)
    in_force = con.execute(
        f"""
        select file_sha256, source_file from {RAW_SCHEMA}.load_ledger
        where kind = ? and status = 'loaded'
            and file_sha256 not in (select file_sha256 from {RAW_SCHEMA}.files_out_of_force(?))
        order by source_file, file_sha256
        """,
        [kind.name, kind.name],
    ).fetchall()
    kept = {
        sha: quality.Figures.from_json(figures)
        for sha, figures in con.execute(
            f"select file_sha256, figures from {RAW_SCHEMA}.suite_results "
            "where kind = ? and suite_key = ?",
            [kind.name, suite.key],
        ).fetchall()
    }
    new = [(sha, name) for sha, name in in_force if sha not in kept]
    if new:
        counted = quality.count_by(
            con,
            suite,
            where=files_in([sha for sha, _ in new]),
            by="_file_sha256",
            counted=row_level,
            relation=rows_of_files(con, kind, [sha for sha, _ in new]),
        )
        fresh = {sha: counted.get(sha, quality.empty_figures(suite, row_level)) for sha, _ in new}
        _keep(con, kind, suite, new, fresh, [sha for sha, _ in in_force])
        kept |= fresh
    # No file in force: figures of no rows, so the verdict is zero of zero, a pass.
    parts = [quality.empty_figures(suite, row_level)] + [kept[sha] for sha, _ in in_force]
    whole_table = suite.counted(whole_table=True)
    if whole_table:
        [together] = quality.count_by(
            con, suite, where=files_in([sha for sha, _ in in_force]), counted=whole_table
        ).values()
        parts.append(replace(together, rows=0))  # its rows are the files' rows, counted above
    summary = quality.summarize(suite, quality.add_figures(parts, len(suite.expectations)))
    quality.write_summary(summary, results_dir, None)
    return InForceVerdict(
        summary=summary,
        files_in_force=len(in_force),
        files_validated=len(new),
        rows_validated=sum(kept[sha].rows for sha, _ in new),
        failing_files=tuple(
            name for sha, name in in_force if not _passed(suite, kept[sha], row_level)
        ),
    )


def _passed(suite: quality.CompiledSuite, figures: quality.Figures, counted: list[int]) -> bool:
    """Whether a file's rows alone meet every row-level expectation."""
    return all(
        figures.counts[i][0] <= (1.0 - suite.expectations[i].mostly) * figures.counts[i][1]
        for i in counted
    )


def _keep(
    con: duckdb.DuckDBPyConnection,
    kind: FileKind,
    suite: quality.CompiledSuite,
    files: list[tuple[str, str]],
    figures: dict[str, quality.Figures],
    in_force: list[str],
) -> None:
    """Record the new files' figures, and drop the kind's results under other suite keys
    (they would be recomputed anyway) and those of files no longer in force (a replaced
    snapshot never returns), in one transaction."""
    row_level = suite.counted(whole_table=False)
    with transaction(con):
        con.execute(
            f"delete from {RAW_SCHEMA}.suite_results where kind = ? "
            f"and (suite_key <> ? or not {files_in(in_force, 'file_sha256')} "
            f"or {files_in([sha for sha, _ in files], 'file_sha256')})",
            [kind.name, suite.key],
        )
        con.executemany(
            f"insert into {RAW_SCHEMA}.suite_results "
            "values (?, ?, ?, ?, ?, ?, ?, now()::timestamp)",
            [
                (
                    kind.name,
                    suite.key,
                    sha,
                    name,
                    figures[sha].rows,
                    _passed(suite, figures[sha], row_level),
                    figures[sha].to_json(),
                )
                for sha, name in files
            ],
        )


def _summary(summary: quality.ValidationSummary) -> QualitySummary:
    return QualitySummary(
        suite=summary.suite,
        success=summary.success,
        rows_validated=summary.rows,
        failed=tuple(summary.failed),
    )
