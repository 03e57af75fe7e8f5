"""Loading landing files into the raw layer: one transaction per file, nothing lost.

Per file: stage it (stage.py), build the contract's checks over it (validate.py), then in one
transaction insert the good rows into raw.<kind>, one quarantine row per bad column of every
bad row, one quarantine row per duplicated key, and the ledger row. rows read = rows loaded +
rows quarantined is asserted before commit, so a file that does not add up leaves nothing.
All work is set-based in DuckDB: no row of the file passes through Python (except lines the
CSV reader rejected, which are few and need their original bytes).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from pipelines.contract import FileKind
from pipelines.ingest import ledger
from pipelines.ingest.files import LandingFile, discover, sha256_of
from pipelines.ingest.quality import quality_of_file
from pipelines.ingest.report import FileRejected, FileResult, IngestReport, SkippedFile
from pipelines.ingest.stage import StagedSource, stage
from pipelines.ingest.validate import checked_sql, ident, literal
from pipelines.warehouse import RAW_SCHEMA, create_raw_schema

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestSettings:
    """DuckDB resources for a run; None leaves the connection's own setting alone.

    `quality_sample_rows` bounds the rows handed to Great Expectations per file (see
    pipelines/quality.py for why); None validates every loaded row.
    """

    memory_limit: str | None = None
    temp_directory: Path | None = None
    threads: int | None = None
    stage_directory: Path | None = None
    run_quality: bool = True
    quality_sample_rows: int | None = 100_000
    quality_results_dir: Path | None = None


def configure(con: duckdb.DuckDBPyConnection, settings: IngestSettings) -> None:
    if settings.memory_limit is not None:
        con.execute(f"set memory_limit = {literal(settings.memory_limit)}")
    if settings.temp_directory is not None:
        Path(settings.temp_directory).mkdir(parents=True, exist_ok=True)
        con.execute(f"set temp_directory = {literal(str(settings.temp_directory))}")
    if settings.threads is not None:
        con.execute(f"set threads = {int(settings.threads)}")


def ingest_landing(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    settings: IngestSettings | None = None,
) -> IngestReport:
    """Load every new landing file (sorted by name) into raw.*; see the module docstring."""
    settings = settings or IngestSettings()
    configure(con, settings)
    create_raw_schema(con)
    files, ignored = discover(Path(landing_dir))
    report = IngestReport(ignored=ignored)
    for name in ignored:
        log.info("ignored %s: not a landing file name or format", name)
    with tempfile.TemporaryDirectory(
        prefix="ingest_stage_", dir=settings.stage_directory
    ) as stage_dir:
        for lf in files:
            sha = sha256_of(lf.path)
            first = ledger.already_loaded(con, sha)
            if first is not None:
                log.info("skipped %s: same content as %s, already in the ledger", lf.name, first)
                report.skipped.append(SkippedFile(lf.name, sha, first))
                continue
            result = load_file(con, lf, sha, Path(stage_dir))
            if result.status == "loaded" and settings.run_quality:
                result = _with_quality(con, result, lf.kind, settings)
            log.info(
                "%s %s: read %d, loaded %d, quarantined %d in %.1f s%s",
                result.status,
                lf.name,
                result.rows_read,
                result.rows_loaded,
                result.rows_quarantined,
                result.seconds,
                f" ({result.error})" if result.error else "",
            )
            report.files.append(result)
    return report


def load_file(
    con: duckdb.DuckDBPyConnection, lf: LandingFile, sha: str, stage_dir: Path
) -> FileResult:
    started = time.perf_counter()
    base = {"name": lf.name, "kind": lf.kind.name, "sha256": sha, "file_format": lf.file_format}
    source: StagedSource | None = None
    try:
        source = stage(con, lf, stage_dir)
        con.begin()
        try:
            with _insertion_order_free(con):
                read, loaded, quarantined = _load_staged(con, lf, sha, source)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    except FileRejected as e:
        _record_rejection(con, lf, sha, e.reason, str(e), e.column)
        return FileResult(**base, status="rejected", error=str(e), seconds=_since(started))
    except duckdb.Error as e:
        message = f"{lf.name}: load failed, nothing of it was kept: {e}"
        _record_rejection(con, lf, sha, ledger.LOAD_FAILED, message, None)
        return FileResult(**base, status="rejected", error=message, seconds=_since(started))
    finally:
        if source is not None:
            for statement in source.cleanup:
                con.execute(statement)
            con.execute("drop view if exists ingest_checked")
            con.execute("drop table if exists ingest_bad")
            con.execute("drop table if exists ingest_dup")
            if source.staged_file is not None:
                source.staged_file.unlink(missing_ok=True)
    return FileResult(
        **base,
        status="loaded",
        rows_read=read,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        seconds=_since(started),
    )


@contextmanager
def _insertion_order_free(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Rows carry their file row in `_source_row`, so inserts need not keep input order,
    which lets DuckDB write in parallel with less memory; the CSV staging (which numbers rows
    by their order) runs outside this and keeps the connection's setting."""
    before = con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("set preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"set preserve_insertion_order = {'true' if before else 'false'}")


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)


def _record_rejection(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    sha: str,
    reason: str,
    message: str,
    column: str | None,
) -> None:
    """A rejected file: its ledger row and one file-level quarantine row (source_row 0)."""
    con.begin()
    try:
        con.execute(
            f"insert into {RAW_SCHEMA}.quarantine values (?, ?, ?, 0, ?, null, ?, null)",
            [sha, lf.name, lf.kind.name, column, reason],
        )
        ledger.record(
            con,
            sha256=sha,
            source_file=lf.name,
            kind=lf.kind.name,
            file_format=lf.file_format,
            status="rejected",
            error=message,
            rows_read=0,
            rows_loaded=0,
            rows_quarantined=0,
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _load_staged(
    con: duckdb.DuckDBPyConnection, lf: LandingFile, sha: str, source: StagedSource
) -> tuple[int, int, int]:
    kind = lf.kind
    raw = f"{RAW_SCHEMA}.{kind.name}"
    lineage = f"{literal(sha)}, {literal(lf.name)}, {literal(kind.name)}"
    con.execute(
        "create or replace temp view ingest_checked as "
        + checked_sql(kind, source.sql, source.columns, source.extras, source.header_order)
    )

    # Pass 1: rows with a bad value (usually few), with their original text.
    originals = ", ".join(ident("o__" + c.name) for c in kind.columns)
    errors = ", ".join(ident("e__" + c.name) for c in kind.columns)
    con.execute(
        f"create or replace temp table ingest_bad as select _row, {errors}, {originals}, "
        "_row_json from ingest_checked where not _ok"
    )
    n_bad = con.execute("select count(*) from ingest_bad").fetchone()[0]
    if n_bad:
        con.execute(f"insert into {RAW_SCHEMA}.quarantine " + _unpivot_bad(kind, lineage))

    # Pass 2: the good rows.
    targets = ", ".join(
        [c.name for c in kind.columns] + ["_file_sha256", "_source_file", "_source_row", "_extra"]
    )
    values = ", ".join(ident("v__" + c.name) for c in kind.columns)
    inserted = con.execute(
        f"insert into {raw} ({targets}) select {values}, {literal(sha)}, {literal(lf.name)}, "
        "_row, _extra from ingest_checked where _ok"
    ).fetchone()[0]

    # Pass 3: duplicated keys, found on the typed rows just inserted (cheap: no parsing),
    # moved from raw to quarantine with the row as the file delivered it.
    n_dup = _find_duplicates(con, kind, raw, sha)
    if n_dup:
        key_text = "concat_ws('|', " + ", ".join(ident("o__" + k) for k in kind.key) + ")"
        con.execute(
            f"insert into {RAW_SCHEMA}.quarantine select {lineage}, c._row, "
            f"{literal(','.join(kind.key))}, {key_text}, 'duplicate_key', c._row_json "
            "from ingest_checked c semi join ingest_dup d on c._row = d._row"
        )
        con.execute(
            f"delete from {raw} where _file_sha256 = ? "
            "and _source_row in (select _row from ingest_dup)",
            [sha],
        )
    loaded = inserted - n_dup

    if source.rejected_lines:
        con.executemany(
            f"insert into {RAW_SCHEMA}.quarantine values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [sha, lf.name, kind.name, r.row, r.column, r.text, r.reason, None]
                for r in source.rejected_lines
            ],
        )
    quarantined = n_bad + n_dup + len(source.rejected_lines)
    if source.rows != loaded + quarantined:
        raise duckdb.InvalidInputException(
            f"rows read {source.rows} != loaded {loaded} + quarantined {quarantined}"
        )
    ledger.record(
        con,
        sha256=sha,
        source_file=lf.name,
        kind=kind.name,
        file_format=lf.file_format,
        status="loaded",
        error=None,
        rows_read=source.rows,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
    )
    return source.rows, loaded, quarantined


def _unpivot_bad(kind: FileKind, lineage: str) -> str:
    """One quarantine row per bad column of each bad row."""
    parts = [
        f"select {lineage}, _row, {literal(c.name)}, {ident('o__' + c.name)}, "
        f"{ident('e__' + c.name)}, _row_json from ingest_bad "
        f"where {ident('e__' + c.name)} is not null"
        for c in kind.columns
    ]
    return "\nunion all\n".join(parts)


def _find_duplicates(con: duckdb.DuckDBPyConnection, kind: FileKind, raw: str, sha: str) -> int:
    """This file's loaded rows whose key an earlier row holds: in this file, or another file.

    The first occurrence wins: files load in name order and, within a file, the lowest row
    keeps the key. A grouped count finds repeated keys without sorting the whole file.
    """
    con.execute("create or replace temp table ingest_dup (_row bigint)")
    if not kind.key:
        return 0
    keys = ", ".join(ident(k) for k in kind.key)
    mine = f"(select {keys}, _source_row from {raw} where _file_sha256 = {literal(sha)})"
    con.execute(
        f"insert into ingest_dup select m._source_row from {mine} m join ("
        f"select {keys}, min(_source_row) as first_row from {mine} "
        f"group by all having count(*) > 1) r using ({keys}) where m._source_row <> r.first_row"
    )
    others = f"(select {keys} from {raw} where _file_sha256 <> {literal(sha)})"
    if con.execute(f"select exists (select 1 from {others})").fetchone()[0]:
        on = " and ".join(f"m.{ident(k)} = o.{ident(k)}" for k in kind.key)
        con.execute(
            f"insert into ingest_dup select m._source_row from {mine} m "
            f"semi join {others} o on {on} "
            "where m._source_row not in (select _row from ingest_dup)"
        )
    return con.execute("select count(*) from ingest_dup").fetchone()[0]


def _with_quality(
    con: duckdb.DuckDBPyConnection, result: FileResult, kind: FileKind, settings: IngestSettings
) -> FileResult:
    summary = quality_of_file(
        con,
        kind,
        result.sha256,
        result.name,
        settings.quality_sample_rows,
        settings.quality_results_dir,
    )
    return replace(result, quality=summary)
