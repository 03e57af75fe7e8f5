"""Loading landing files into the raw layer: one transaction per file, nothing lost.

Per file: stage it (stage.py), then in one transaction:
1. a Parquet file in the contract's exact columns and types is tried for keeping as
   delivered: one scan runs the clean tests and writes its key index; when every row is clean
   and no key repeats with other content, the file is copied into the raw layer byte for
   byte and steps 2-5 are skipped (raw_layer.py);
2. otherwise, rows that are not clean as delivered (fastpath.py: one cheap test per column)
   are copied aside; there are usually few;
3. the full contract checks (validate.py) run over the rows set aside only: their bad rows
   give one quarantine row per bad column;
4. the clean rows (plain casts, one scan, no parsing) and the checked good rows are written
   once into the raw layer's Parquet files (raw_layer.py), one per storage bucket;
5. duplicated keys are found on the written rows (key columns only) and quarantined; the rare
   file holding them is written again without them;
6. the file list (raw.raw_files), the view raw.<kind> over it and the ledger row; rows read =
   rows loaded + rows quarantined is asserted, and the file is re-checked for changes since it
   was hashed, before the commit. Files of a load that does not commit are removed (by the
   next ingest when the process was killed).
After the night's files, the claims files' keys are matched against earlier deliveries in one
transaction (matching.py: history is read once a night, not once a file).
All work is set-based in DuckDB: no row of the file passes through Python (except lines the
CSV reader rejected, which are few and need their original bytes).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from pipelines.contract import FileKind, is_incremental
from pipelines.faults import failpoint
from pipelines.ingest import ledger, matching, raw_layer
from pipelines.ingest.fastpath import clean_sql, control_free_columns, extra_sql, fast_values
from pipelines.ingest.files import (
    LandingFile,
    RefusedEntry,
    Snapshot,
    change_since,
    discover,
    snapshot,
)
from pipelines.ingest.quality import quality_of_file
from pipelines.ingest.report import FileRejected, FileResult, IngestReport, SkippedFile
from pipelines.ingest.stage import StagedSource, stage
from pipelines.ingest.validate import checked_sql, ident, literal
from pipelines.warehouse import RAW_SCHEMA, refresh_raw_views, transaction

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
    # Where each ingest makes its staging folder (ingest_stage_*). None: the system's temporary
    # folder. A folder given here must be this warehouse's own: the ingest removes the staging
    # folders a killed run left in it (only one run writes a warehouse at a time).
    stage_directory: Path | None = None
    run_quality: bool = True
    quality_sample_rows: int | None = 100_000
    quality_results_dir: Path | None = None
    # The raw layer's folder (PipelineSettings.raw_dir); None: raw/ beside the warehouse file.
    raw_dir: Path | None = None
    # False sends every row through the full checks; tests use it to show the fast path
    # changes nothing.
    fast_path: bool = True
    # Keep a clean contract-exact Parquet landing file as delivered instead of writing its rows
    # by bucket (raw_layer.py). A bucketed rules run (buckets > 1) reads only its buckets'
    # files, so its ingest writes by bucket.
    keep_landed: bool = True


# Called with a file's path after its rows are inserted and before the change check and
# commit: a seam for tests (e.g. to append to the file as a slow writer would).
BeforeCommit = Callable[[Path], None]


STAGE_PREFIX = "ingest_stage_"


def _remove_stale_stages(folder: Path) -> None:
    """Create the warehouse's staging folder (owner only: staged rows are member-level data)
    and remove the staging folders a killed ingest left in it: a CSV's staged copy is as large
    as the file, and nights of them would fill the disk and keep data no one accounts for."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stale = [p for p in folder.glob(f"{STAGE_PREFIX}*") if p.is_dir()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    if stale:
        log.warning("removed %d staging folder(s) a stopped run left in %s", len(stale), folder)


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
    before_commit: BeforeCommit | None = None,
    *,
    as_of: dt.date | None = None,
    run_id: str | None = None,
) -> IngestReport:
    """Load every new landing file (sorted by name) into raw.*; see the module docstring.

    Every entry of the landing folder is recorded in raw.night_files under `run_id` (a fresh
    id when none is given) with its state tonight.
    """
    settings = settings or IngestSettings()
    configure(con, settings)
    raw_dir = raw_layer.open_raw_layer(con, settings.raw_dir)
    _match(con, "left pending by a stopped run")
    files, refused = discover(Path(landing_dir))
    delivery_seq = ledger.next_delivery_seq(con)
    report = IngestReport(refused=refused)
    for e in refused:
        (log.info if e.state == "ignored" else log.warning)("%s (%s)", e.message, e.reason)
    if settings.stage_directory is not None:
        _remove_stale_stages(Path(settings.stage_directory))
    with tempfile.TemporaryDirectory(
        prefix=STAGE_PREFIX, dir=settings.stage_directory
    ) as stage_dir:
        for lf in files:
            try:
                seen = snapshot(lf.path)
            except OSError as e:  # removed or locked since it was listed
                reason = "no_permission" if isinstance(e, PermissionError) else "unreadable"
                entry = RefusedEntry(
                    lf.name,
                    "rejected",
                    reason,
                    f"{lf.name}: cannot be read: {e.strerror or e}",
                    lf.kind.name,
                )
                log.warning("%s (%s)", entry.message, entry.reason)
                report.refused.append(entry)
                continue
            sha = seen.sha256
            first = ledger.already_loaded(con, sha)
            if first is not None:
                log.info("skipped %s: same content as %s, already in the ledger", lf.name, first)
                status, kind, error, reason = ledger.entry(con, sha) or (
                    "loaded",
                    lf.kind.name,
                    None,
                    None,
                )
                report.skipped.append(SkippedFile(lf.name, sha, first, kind, status, error, reason))
                continue
            result = load_file(
                con,
                lf,
                seen,
                Path(stage_dir),
                settings.fast_path,
                before_commit,
                delivery_seq,
                raw_dir,
                settings.keep_landed,
            )
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
    failpoint("ingest.files_loaded")
    matched = _match(con, "loaded tonight")
    report.files = [
        replace(f, rows_superseded=matched[f.sha256][0], rows_duplicate=matched[f.sha256][1])
        if f.sha256 in matched
        else f
        for f in report.files
    ]
    ledger.record_night(con, as_of, run_id or uuid.uuid4().hex, report.night_rows())
    return report


def _match(con: duckdb.DuckDBPyConnection, which: str) -> dict[str, tuple[int, int]]:
    """Match the keys of the claims files loaded but not yet matched (matching.py)."""
    pending = matching.pending_files(con)
    if not pending:
        return {}
    started = time.perf_counter()
    try:
        counts = matching.match_pending(con)
    except duckdb.Error as e:
        names = ", ".join(name for _kind, name in pending)
        raise RuntimeError(
            f"matching the keys of {names} against earlier deliveries failed: {e}. They stay "
            "loaded and pending (the night is not published); the next ingest matches them."
        ) from e
    log.info(
        "matched the keys of %d file(s) %s against earlier deliveries in %.1f s: "
        "%d earlier rows corrected, %d repeated",
        len(pending),
        which,
        time.perf_counter() - started,
        sum(c for c, _ in counts.values()),
        sum(d for _, d in counts.values()),
    )
    return counts


def load_file(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    seen: Snapshot,
    stage_dir: Path,
    fast_path: bool = True,
    before_commit: BeforeCommit | None = None,
    delivery_seq: int = 0,
    raw_dir: Path | None = None,
    keep_landed: bool = True,
) -> FileResult:
    started = time.perf_counter()
    sha = seen.sha256
    base = {"name": lf.name, "kind": lf.kind.name, "sha256": sha, "file_format": lf.file_format}
    source: StagedSource | None = None
    written: list[str] = []
    try:
        source = stage(con, lf, stage_dir)
        try:
            with transaction(con):
                with _insertion_order_free(con):
                    counts, kept = _load_staged(
                        con,
                        lf,
                        sha,
                        source,
                        fast_path,
                        delivery_seq,
                        raw_layer.resolve_raw_dir(con, raw_dir),
                        written,
                        keep_landed,
                    )
                if before_commit is not None:
                    before_commit(lf.path)
                failpoint("ingest.file_loaded")
                # A kept file's copy was hashed after the last read of it: no third read.
                _raise_if_changed(lf, seen, hash_content=not kept)
        except BaseException:
            raw_layer.remove_files(written)  # the files of a load that did not commit
            raise
        failpoint("ingest.file_committed")
    except (FileRejected, duckdb.Error) as e:
        rejection = _rejection(con, lf, seen, e)
        _record_rejection(con, lf, sha, rejection.reason, str(rejection), rejection.column)
        return FileResult(
            **base,
            status="rejected",
            error=str(rejection),
            seconds=_since(started),
            reason=rejection.reason,
        )
    finally:
        if source is not None:
            for statement in source.cleanup:
                con.execute(statement)
            for table in (
                "ingest_slow",
                "ingest_checked",
                "ingest_dup",
                "ingest_dup_hash",
                "ingest_same",
                "ingest_history",
            ):
                con.execute(f"drop table if exists {table}")
            if source.staged_file is not None:
                source.staged_file.unlink(missing_ok=True)
    return FileResult(**base, status="loaded", seconds=_since(started), **counts)


def _raise_if_changed(lf: LandingFile, seen: Snapshot, hash_content: bool = True) -> None:
    change = change_since(lf.path, seen, hash_content)
    if change is not None:
        raise FileRejected(
            ledger.CHANGED_DURING_LOAD,
            f"{lf.name}: the file changed while it was loaded ({change}); "
            "nothing of it was kept, the next run loads it again",
        )


def _rejection(
    con: duckdb.DuckDBPyConnection, lf: LandingFile, seen: Snapshot, error: Exception
) -> FileRejected:
    """Why a file's load stopped, in the order that explains it best.

    A file that changed meanwhile explains any error (a half-written gzip, a Parquet footer
    not yet written) and is retried. A Parquet file whose pages do not decode is the file's
    fault, and final; any other database error is retried on the next run.
    """
    if isinstance(error, FileRejected) and error.reason == ledger.CHANGED_DURING_LOAD:
        return error
    change = change_since(lf.path, seen)
    if change is not None:
        return FileRejected(
            ledger.CHANGED_DURING_LOAD,
            f"{lf.name}: the file changed while it was loaded ({change}); "
            "nothing of it was kept, the next run loads it again",
        )
    if isinstance(error, FileRejected):
        return error
    if lf.file_format == "parquet":
        broken = _parquet_decode_error(con, lf)
        if broken is not None:
            return FileRejected(
                "unreadable_file", f"{lf.name}: not a readable Parquet file: {broken}"
            )
    return FileRejected(
        ledger.LOAD_FAILED, f"{lf.name}: load failed, nothing of it was kept: {error}"
    )


def _parquet_decode_error(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> str | None:
    """The error from decoding every value of the file, or None when it decodes.

    Only run after a load failed: the footer can be intact while a page is garbled, which
    the load's first read finds but cannot tell from a failure of ours.
    """
    try:
        con.execute(
            f"select count(*) from read_parquet({literal(str(lf.path))}) t "
            "where hash(t) is not null"
        ).fetchone()
    except duckdb.Error as e:
        return str(e).splitlines()[0]
    return None


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
    with transaction(con):
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


def _load_staged(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    sha: str,
    source: StagedSource,
    fast_path: bool,
    delivery_seq: int,
    raw_dir: Path,
    written: list[str],
    keep_landed: bool = True,
) -> tuple[dict[str, int], bool]:
    """Load the staged rows; returns the file's counts (FileResult's rows_* fields) and
    whether the landing file was kept as delivered (its copy then hashed to `sha`). The
    paths of the raw files it writes are appended to `written` as they are written."""
    kind = lf.kind
    clean = "false"
    if fast_path:
        free = control_free_columns(con, kind, source.columns, source.sql)
        clean = clean_sql(kind, source.columns, free)
    files = None
    if keep_landed and fast_path and raw_layer.can_keep_landed(kind, source):
        files = _kept_as_delivered(con, lf, sha, source, clean, raw_dir, written)
    kept = files is not None
    if files is not None:
        n_bad = n_dup = 0
        inserted = source.rows
    else:
        files, n_bad, n_dup, inserted = _written_by_bucket(
            con, lf, sha, source, clean, raw_dir, written
        )
    loaded = inserted - n_dup
    mine = raw_layer.rows_of(kind, files)
    keys = raw_layer.key_rows(kind, [f.path for f in files])

    if source.rejected_lines:
        con.executemany(
            f"insert into {RAW_SCHEMA}.quarantine values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [sha, lf.name, kind.name, r.row, r.column, r.text, r.reason, r.detail]
                for r in source.rejected_lines
            ],
        )
    quarantined = n_bad + n_dup + len(source.rejected_lines)
    warned = ledger.record_warnings(con, kind, sha, lf.name, mine)
    corrected, duplicates = _supersede(con, lf, sha, delivery_seq, keys)
    if source.rows != loaded + quarantined:
        raise duckdb.InvalidInputException(
            f"rows read {source.rows} != loaded {loaded} + quarantined {quarantined}"
        )
    raw_layer.register(con, kind.name, sha, files)
    refresh_raw_views(con, [kind.name])
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
        rows_warned=warned,
        delivery_seq=delivery_seq,
        incremental=is_incremental(kind, lf.name),
        rows_superseded=corrected,
        rows_duplicate=duplicates,
        matched=not matching.deferred(kind),
    )
    return {
        "rows_read": source.rows,
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "rows_warned": warned,
        "rows_superseded": corrected,
        "rows_duplicate": duplicates,
    }, kept


def _written_by_bucket(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    sha: str,
    source: StagedSource,
    clean: str,
    raw_dir: Path,
    written: list[str],
) -> tuple[list[raw_layer.RawFile], int, int, int]:
    """Steps 2-5 of the module docstring: the rows written into the layout by bucket; returns
    (raw files, bad rows quarantined, duplicate rows quarantined, rows written)."""
    kind = lf.kind
    lineage = f"{literal(sha)}, {literal(lf.name)}, {literal(kind.name)}"
    lineage_values = f"{literal(sha)} as _file_sha256, {literal(lf.name)} as _source_file"

    # 2. The rows the cheap tests do not pass, set aside as delivered (usually few).
    con.execute(
        f"create or replace temp table ingest_slow as select * from {source.sql} where not {clean}"
    )
    n_slow = con.execute("select count(*) from ingest_slow").fetchone()[0]
    # 3. The full checks over the rows set aside.
    n_bad = 0
    parts = []
    if n_slow:
        con.execute(
            "create or replace temp table ingest_checked as "
            + checked_sql(kind, "ingest_slow", source.columns, source.extras, source.header_order)
        )
        n_bad = con.execute("select count(*) from ingest_checked where not _ok").fetchone()[0]
        if n_bad:
            con.execute(f"insert into {RAW_SCHEMA}.quarantine " + _unpivot_bad(kind, lineage))
        checked_values = ", ".join(
            f"{ident('v__' + c.name)} as {ident(c.name)}" for c in kind.columns
        )
        parts.append(
            f"select {checked_values}, {lineage_values}, _row as _source_row, _extra "
            "from ingest_checked where _ok"
        )
    # 4. The clean rows: every row but those set aside (by row number, so the tests are not
    # evaluated a second time; usually there are none to leave out), and the checked good
    # rows, written once into the raw layer.
    if n_slow < source.rows:
        values = ", ".join(fast_values(kind, source.columns))
        rest = "" if n_slow == 0 else "where _row not in (select _row from ingest_slow)"
        parts.insert(
            0,
            f"select {values}, {lineage_values}, _row as _source_row, "
            f"{extra_sql(source.extras)} as _extra from {source.sql} {rest}",
        )
    files = []
    if parts:
        files = raw_layer.write_rows(con, kind, f"({' union all '.join(parts)})", sha, raw_dir)
    written += [f.path for f in files]
    inserted = sum(f.rows for f in files)

    # 5. Duplicated keys, found on the written rows, quarantined with the row as the file
    # delivered it; the files holding them are written again without them.
    n_dup, _ = _find_duplicates(con, kind, raw_layer.key_rows(kind, [f.path for f in files]))
    if n_dup:
        dup_rows = f"(select s.* from {source.sql} s semi join ingest_dup d on s._row = d._row)"
        checked = checked_sql(kind, dup_rows, source.columns, source.extras, source.header_order)
        key_text = "concat_ws('|', " + ", ".join(ident("o__" + k) for k in kind.key) + ")"
        con.execute(
            f"insert into {RAW_SCHEMA}.quarantine select {lineage}, _row, "
            f"{literal(','.join(kind.key))}, {key_text}, 'duplicate_key', _row_json "
            f"from ({checked})"
        )
        files = raw_layer.without_rows(con, files, "ingest_dup")
    return files, n_bad, n_dup, inserted


def _kept_as_delivered(
    con: duckdb.DuckDBPyConnection,
    lf: LandingFile,
    sha: str,
    source: StagedSource,
    clean: str,
    raw_dir: Path,
    written: list[str],
) -> list[raw_layer.RawFile] | None:
    """Step 1 of the module docstring: the landing file kept as delivered, when every row is
    clean and no key repeats with other content; None (nothing kept) otherwise.

    The byte copy runs on a second thread while DuckDB writes the key index and looks for
    repeated keys: reading, hashing and writing the file release the GIL, and the copy is
    discarded in the rare case the file is not kept. The copy always ends before this
    returns or raises, so a failed load removes every file it wrote."""
    kind = lf.kind
    target = raw_layer.landed_path(raw_dir, kind, sha, lf.name)
    written.append(str(target))
    with ThreadPoolExecutor(max_workers=1) as pool:
        copy = pool.submit(raw_layer.keep_landed, lf.path, target, sha, source.rows)
        try:
            index, unclean = raw_layer.write_key_index(con, kind, source, sha, clean, raw_dir)
            written.append(index)
            n_dup = 0
            if not unclean:
                n_dup, _ = _find_duplicates(con, kind, f"read_parquet({literal(index)})")
        finally:
            wait([copy])
    if unclean or n_dup:
        raw_layer.remove_files([index, str(target)])
        written.remove(index)
        written.remove(str(target))
        return None
    try:
        return [copy.result()]
    except ValueError as e:
        raise FileRejected(
            ledger.CHANGED_DURING_LOAD,
            f"{lf.name}: {e}; nothing of it was kept, the next run loads it again",
        ) from None


def _unpivot_bad(kind: FileKind, lineage: str) -> str:
    """One quarantine row per bad column of each bad row."""
    parts = [
        f"select {lineage}, _row, {literal(c.name)}, {ident('o__' + c.name)}, "
        f"{ident('e__' + c.name)}, _row_json from ingest_checked "
        f"where {ident('e__' + c.name)} is not null"
        for c in kind.columns
    ]
    return "\nunion all\n".join(parts)


def _find_duplicates(con: duckdb.DuckDBPyConnection, kind: FileKind, mine: str) -> tuple[int, int]:
    """Rows of this file that repeat a key an earlier row of the same file holds.

    The first occurrence stands. A repeat with different content is ambiguous (two versions
    in one delivery): it goes to `ingest_dup` and is quarantined (duplicate_key). A repeat with
    identical content goes to `ingest_same` and is recorded as a superseded duplicate (it
    stays in raw, not in force). A grouped count of the rows' 64-bit key hash (`_key_hash`,
    cheap to group, unlike the key's text) finds the few candidate keys first.
    `mine` is the file's key rows (raw_layer.key_rows). Returns (conflicting, identical).
    """
    con.execute("create or replace temp table ingest_dup (_row bigint)")
    con.execute("create or replace temp table ingest_same (_row bigint, first_row bigint)")
    if not kind.key:
        return 0, 0
    # Usually no hash repeats: one distinct count says so (0.22 s against 0.27 s for the
    # grouping below, a 4M-line file), and the grouping runs only when one does.
    if not con.execute(f"select count(*) > count(distinct _key_hash) from {mine}").fetchone()[0]:
        return 0, 0
    keys = ", ".join(ident(k) for k in kind.key)
    con.execute(
        "create or replace temp table ingest_dup_hash as select _key_hash as h "
        f"from {mine} group by h having count(*) > 1"
    )
    if not con.execute("select exists (select 1 from ingest_dup_hash)").fetchone()[0]:
        return 0, 0
    con.execute(
        "create or replace temp table ingest_dup_rows as "
        f"select * from {mine} where _key_hash in (select h from ingest_dup_hash)"
    )
    con.execute(
        "create or replace temp table ingest_dup_pairs as "
        "select m._source_row as _row, f._source_row as first_row, "
        "m._row_hash = f._row_hash as identical "
        f"from ingest_dup_rows m join (select {keys}, min(_source_row) as first_row "
        f"from ingest_dup_rows group by all) r using ({keys}) "
        "join ingest_dup_rows f on f._source_row = r.first_row "
        "where m._source_row <> r.first_row"
    )
    con.execute("insert into ingest_dup select _row from ingest_dup_pairs where not identical")
    con.execute(
        "insert into ingest_same select _row, first_row from ingest_dup_pairs where identical"
    )
    con.execute("drop table if exists ingest_dup_rows")
    con.execute("drop table if exists ingest_dup_pairs")
    return (
        con.execute("select count(*) from ingest_dup").fetchone()[0],
        con.execute("select count(*) from ingest_same").fetchone()[0],
    )


def _supersede(
    con: duckdb.DuckDBPyConnection, lf: LandingFile, sha: str, delivery_seq: int, mine: str
) -> tuple[int, int]:
    """Record in raw.superseded_rows the rows no longer in force because of this file.

    A repeat within the file with identical content (`ingest_same`) is a duplicate of the
    first. A key that an earlier delivery holds in force is re-delivered: the later delivery
    wins, and the earlier row is a `correction` when the content differs, a `duplicate` when
    identical. A claims file's keys are matched against earlier deliveries by the night's
    matching (matching.py), after the night's files are loaded; here, a snapshot kind's: an
    incremental snapshot file against the files in force, a full snapshot (which replaces the
    previous delivery whole, see raw.files_out_of_force) against files of its own delivery
    only. `mine` is this file's key rows. Earlier rows are read as key rows
    (matching.history_rows: their key hashes first, then the keys of the few candidates).
    Returns (corrections, duplicates).
    """
    kind = lf.kind
    now = literal(dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" "))
    by = f"{literal(sha)}, {literal(lf.name)}"
    con.execute(
        f"insert into {RAW_SCHEMA}.superseded_rows select {literal(kind.name)}, "
        f"m._file_sha256, m._source_file, m._source_row, {matching.key_text(kind, 'm')}, {by}, "
        f"s.first_row, 'duplicate', {now}::timestamp "
        f"from {mine} m join ingest_same s on m._source_row = s._row"
    )
    if not kind.key or matching.deferred(kind):
        return _superseded_by(con, sha)
    mine = f"(select * from {mine} where _source_row not in (select _row from ingest_same))"
    first = ident(kind.key[0])
    lo, hi = con.execute(f"select min({first}), max({first}) from {mine}").fetchone()
    if lo is None:
        return _superseded_by(con, sha)
    if kind.snapshot and not is_incremental(kind, lf.name):
        files = (
            f"select file_sha256 from {RAW_SCHEMA}.load_ledger where kind = {literal(kind.name)} "
            f"and delivery_seq = {int(delivery_seq)}"
        )
    else:
        files = (
            f"select file_sha256 from {RAW_SCHEMA}.load_ledger where kind = {literal(kind.name)} "
            f"and status = 'loaded' and rows_loaded > 0 except select file_sha256 from "
            f"{RAW_SCHEMA}.files_out_of_force({literal(kind.name)})"
        )
    earlier = raw_layer.files_overlapping(
        con, kind, raw_layer.paths_of(con, kind.name, files), lo, hi
    )
    matching.history_rows(con, kind, earlier, mine, "ingest_history")
    on = " and ".join(f"m.{ident(k)} = o.{ident(k)}" for k in kind.key)
    keys = ", ".join(ident(k) for k in kind.key)
    con.execute(
        f"insert into {RAW_SCHEMA}.superseded_rows select {literal(kind.name)}, "
        f"o._file_sha256, o._source_file, o._source_row, {matching.key_text(kind, 'o')}, {by}, "
        "m._source_row, case when m._row_hash = o._row_hash then 'duplicate' "
        f"else 'correction' end, {now}::timestamp "
        f"from ingest_history o join (select {keys}, _source_row, _row_hash from {mine}) m on {on}"
    )
    return _superseded_by(con, sha)


def _superseded_by(con: duckdb.DuckDBPyConnection, sha: str) -> tuple[int, int]:
    """(corrections, duplicates) this file made: rows it superseded in raw.superseded_rows."""
    return con.execute(
        "select count(*) filter (where reason = 'correction'), "
        "count(*) filter (where reason = 'duplicate') "
        f"from {RAW_SCHEMA}.superseded_rows where by_file_sha256 = ?",
        [sha],
    ).fetchone()


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
