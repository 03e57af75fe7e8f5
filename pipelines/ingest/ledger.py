"""The load ledger (one row per file content hash) and the reconciliation check.

The ledger makes ingest idempotent: a hash already there is skipped, whatever the file is now
called. `reconcile` does not trust the ledger's numbers: it counts the raw and quarantine rows
each file actually left and checks that every data row 1..rows_read is in exactly one place.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from pipelines.contract import FileKind
from pipelines.ingest.validate import literal, rule_sql
from pipelines.warehouse import NIGHT_ROW_COUNTS, RAW_SCHEMA, is_landed, transaction

# raw.night_files columns in the order record_night writes them.
NIGHT_FILE_COLUMNS = (
    "as_of",
    "run_id",
    "entry_name",
    "file_sha256",
    "kind",
    "state",
    "reason",
    "message",
    *NIGHT_ROW_COUNTS,
    "recorded_at",
)

LOAD_FAILED = "load_failed"
CHANGED_DURING_LOAD = "changed_during_load"
# Rejections that say nothing final about the bytes: the next run tries the file again.
RETRYABLE = (LOAD_FAILED, CHANGED_DURING_LOAD)


def already_loaded(con: duckdb.DuckDBPyConnection, sha256: str) -> str | None:
    """The name these bytes were first ingested under, or None if they are new.

    A file whose load failed for a reason outside the file (out of memory, a bug) or that
    changed while it was loaded is not final: its ledger and file-level quarantine rows are
    removed so this run tries again.
    """
    row = con.execute(
        f"""
        select g.source_file, exists (
            select 1 from {RAW_SCHEMA}.quarantine q
            where q.file_sha256 = g.file_sha256 and q.source_row = 0
              and list_contains(?, q.reason)
        )
        from {RAW_SCHEMA}.load_ledger g where g.file_sha256 = ?
        """,
        [list(RETRYABLE), sha256],
    ).fetchone()
    if row is None:
        return None
    if row[1]:
        with transaction(con):
            con.execute(f"delete from {RAW_SCHEMA}.quarantine where file_sha256 = ?", [sha256])
            con.execute(f"delete from {RAW_SCHEMA}.load_ledger where file_sha256 = ?", [sha256])
        return None
    return row[0]


def entry(
    con: duckdb.DuckDBPyConnection, sha256: str
) -> tuple[str, str, str | None, str | None] | None:
    """(status, kind, error, rejection reason) of the ledger row for these bytes, or None."""
    return con.execute(
        f"""
        select g.status, g.kind, g.error, (
            select min(q.reason) from {RAW_SCHEMA}.quarantine q
            where q.file_sha256 = g.file_sha256 and q.source_row = 0
        )
        from {RAW_SCHEMA}.load_ledger g where g.file_sha256 = ?
        """,
        [sha256],
    ).fetchone()


def record_night(
    con: duckdb.DuckDBPyConnection, as_of: dt.date | None, run_id: str, rows: list[tuple]
) -> None:
    """Tonight's state of every landing entry (raw.night_files); a rerun of the same run id
    replaces its rows."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with transaction(con):
        con.execute(f"delete from {RAW_SCHEMA}.night_files where run_id = ?", [run_id])
        if rows:
            con.executemany(
                f"insert into {RAW_SCHEMA}.night_files ({', '.join(NIGHT_FILE_COLUMNS)}) "
                f"values ({', '.join('?' for _ in NIGHT_FILE_COLUMNS)})",
                [[as_of, run_id, *row, now] for row in rows],
            )


def record(
    con: duckdb.DuckDBPyConnection,
    *,
    sha256: str,
    source_file: str,
    kind: str,
    file_format: str,
    status: str,
    error: str | None,
    rows_read: int,
    rows_loaded: int,
    rows_quarantined: int,
    rows_warned: int = 0,
    delivery_seq: int = 0,
    incremental: bool = False,
    rows_superseded: int = 0,
    rows_duplicate: int = 0,
    matched: bool = True,
) -> None:
    """One ledger row. `matched` is false for a loaded file whose keys are still to be matched
    against earlier deliveries (pipelines/ingest/matching.py)."""
    values = {
        "file_sha256": sha256,
        "source_file": source_file,
        "kind": kind,
        "file_format": file_format,
        "status": status,
        "error": error,
        "rows_read": rows_read,
        "rows_loaded": rows_loaded,
        "rows_quarantined": rows_quarantined,
        "loaded_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "rows_warned": rows_warned,
        "delivery_seq": delivery_seq,
        "incremental": incremental,
        "rows_superseded": rows_superseded,
        "rows_duplicate": rows_duplicate,
        "matched": matched,
    }
    con.execute(
        f"insert into {RAW_SCHEMA}.load_ledger ({', '.join(values)}) "
        f"values ({', '.join('?' for _ in values)})",
        list(values.values()),
    )


def next_delivery_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The delivery number of this ingest run: the files it loads are one delivery (a
    snapshot kind's files of one delivery form one snapshot)."""
    return con.execute(
        f"select coalesce(max(delivery_seq), 0) + 1 from {RAW_SCHEMA}.load_ledger"
    ).fetchone()[0]


def record_warnings(
    con: duckdb.DuckDBPyConnection, kind: FileKind, sha256: str, source_file: str, raw: str
) -> int:
    """The file's loaded rows (relation `raw`) that break a "warn" rule of the contract, into
    raw.row_warnings (one row per rule broken); returns the number of distinct rows warned."""
    parts = [
        f"select _file_sha256, _source_file, {literal(kind.name)}, _source_row, "
        f"{literal(rule.column)}, {literal(rule.reason)} from {raw} "
        f"where _file_sha256 = $sha and {rule_sql(rule, {c: c for c in rule.columns})}"
        for rule in kind.rules
        if rule.action == "warn"
    ]
    if not parts:
        return 0
    con.execute(
        f"insert into {RAW_SCHEMA}.row_warnings " + " union all ".join(parts), {"sha": sha256}
    )
    return con.execute(
        f"select count(distinct source_row) from {RAW_SCHEMA}.row_warnings where file_sha256 = ?",
        [sha256],
    ).fetchone()[0]


def reconcile(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Problems where a file's rows do not add up; an empty list means every row is accounted.

    For each ledger row: the rows of its raw files (their Parquet footers: no data is read)
    and its quarantined rows (distinct data rows, file-level rejection rows excluded) must
    equal the ledger's figures and add up to rows_read, the rows must run 1..rows_read (the
    footers' statistics of `_source_row`), and no row may be both loaded and quarantined. A
    raw file listed but missing, unlisted beside the listed ones, or of another row count than
    listed is named with its landed file; a rejected file must have no raw files. Messages
    name files and counts only (no member data).
    """
    listed = con.execute(
        f"select f.path, f.rows, f.file_sha256, coalesce(g.source_file, f.file_sha256) "
        f"from {RAW_SCHEMA}.raw_files f left join {RAW_SCHEMA}.load_ledger g using (file_sha256) "
        "order by f.path"
    ).fetchall()
    problems: list[str] = []
    present = [path for path, *_ in listed if _exists(path)]
    found = _footers(con, present)
    for path, rows, _sha, name in listed:
        if path not in found:
            problems.append(f"{name}: raw file {path} is missing")
        elif found[path][0] != rows:
            problems.append(f"{name}: raw file {path} holds {found[path][0]} rows, listed {rows}")
    problems += _key_indexes(
        con, [(path, found[path][0], name) for path, _r, _s, name in listed if path in found]
    )
    problems += _unlisted_files(con)
    con.execute(
        "create or replace temp table reconcile_footers "
        "(sha varchar, n bigint, lo bigint, hi bigint)"
    )
    by_sha: dict[str, list[int]] = {}
    for path, _rows, sha, _name in listed:
        if path in found:
            n, lo, hi = found[path]
            acc = by_sha.setdefault(sha, [0, lo, hi])
            acc[0] += n
            acc[1], acc[2] = min(acc[1], lo), max(acc[2], hi)
    if by_sha:
        con.executemany(
            "insert into reconcile_footers values (?, ?, ?, ?)",
            [[sha, *acc] for sha, acc in by_sha.items()],
        )
    rows = con.execute(
        f"""
        with quarantined as (
            select distinct file_sha256 as sha, source_row as row
            from {RAW_SCHEMA}.quarantine where source_row > 0
        ),
        quarantined_counts as (
            select sha, count(*) as n, min(row) as lo, max(row) as hi
            from quarantined group by sha
        )
        select g.file_sha256, g.source_file, g.status, g.rows_read, g.rows_loaded,
               g.rows_quarantined, coalesce(l.n, 0), coalesce(q.n, 0),
               least(l.lo, q.lo), greatest(l.hi, q.hi)
        from {RAW_SCHEMA}.load_ledger g
        left join reconcile_footers l on l.sha = g.file_sha256
        left join quarantined_counts q on q.sha = g.file_sha256
        order by g.source_file
        """
    ).fetchall()
    con.execute("drop table reconcile_footers")
    overlaps = _overlaps(con)
    for sha, name, status, read, led_loaded, led_quar, loaded, quar, lo, hi in rows:
        if status == "rejected":
            if loaded:
                problems.append(f"{name}: rejected but {loaded} rows are in raw")
            continue
        if loaded != led_loaded:
            problems.append(f"{name}: ledger says {led_loaded} rows loaded, raw holds {loaded}")
        if quar != led_quar:
            problems.append(
                f"{name}: ledger says {led_quar} rows quarantined, quarantine holds {quar}"
            )
        if overlaps.get(sha):
            problems.append(f"{name}: {overlaps[sha]} rows both loaded and quarantined")
        if read != loaded + quar:
            problems.append(f"{name}: rows read {read} != loaded {loaded} + quarantined {quar}")
        elif read and (lo != 1 or hi != read):
            problems.append(f"{name}: data rows run {lo}..{hi}, expected 1..{read}")
    return problems + _superseded_without_file(con) + _unmatched(con)


def _unmatched(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A loaded claims file must have had its keys matched against earlier deliveries
    (matching.py): until then a re-delivered line and its earlier version are both in force."""
    from pipelines.ingest.matching import pending_files  # it imports the raw layer, which us

    return [
        f"{name}: loaded, but its keys were not matched against earlier deliveries "
        "(a run stopped before the night's matching; the next ingest matches them)"
        for name in sorted(name for _kind, name in pending_files(con))
    ]


def _exists(path: str) -> bool:
    """Whether a raw file exists (a URL is assumed to: its footer read would fail instead)."""
    return "://" in path or Path(path).is_file()


def _footers(con: duckdb.DuckDBPyConnection, paths: list[str]) -> dict[str, tuple[int, int, int]]:
    """Per file: (rows, min and max `_source_row`), from the footers only; a landing file kept
    as delivered holds its rows 1..n by position."""
    landed = [p for p in paths if is_landed(p)]
    paths = [p for p in paths if not is_landed(p)]
    found = {
        path: (n, 1, n)
        for path, n in (
            con.execute(
                "select file_name, num_rows from parquet_file_metadata(?)", [landed]
            ).fetchall()
            if landed
            else []
        )
    }
    if not paths:
        return found
    return found | {
        path: (n, lo, hi)
        for path, n, lo, hi in con.execute(
            """
            select file_name, sum(row_group_num_rows),
                   min(stats_min_value::bigint), max(stats_max_value::bigint)
            from parquet_metadata(?)
            where path_in_schema = '_source_row'
            group by file_name
            """,
            [paths],
        ).fetchall()
    }


def _key_indexes(
    con: duckdb.DuckDBPyConnection, raw_files: list[tuple[str, int, str]]
) -> list[str]:
    """A landing file kept as delivered needs its key index, one row per row of the file
    (later loads match re-delivered keys on it). `raw_files`: (path, rows in its footer,
    landed file name) of the raw files present."""
    from pipelines.ingest.raw_layer import key_index_path  # the raw layer imports this module

    files = [(key_index_path(p), n, name) for p, n, name in raw_files if is_landed(p)]
    present = [index for index, _n, _name in files if _exists(index)]
    rows = (
        dict(
            con.execute(
                "select file_name, num_rows from parquet_file_metadata(?)", [present]
            ).fetchall()
        )
        if present
        else {}
    )
    problems = []
    for index, n, name in files:
        if index not in rows:
            problems.append(f"{name}: key index {index} is missing")
        elif rows[index] != n:
            problems.append(f"{name}: key index {index} holds {rows[index]} rows, the file {n}")
    return problems


def _unlisted_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Raw files on disk that no committed load put there (an orphan left after the ingest
    opened the layer, or a file put there by hand), named with their landed file."""
    from pipelines.ingest.raw_layer import (  # the raw layer imports this module
        expected_on_disk,
        files_on_disk,
    )

    folder = con.execute(f"select min(raw_dir) from {RAW_SCHEMA}.raw_layout").fetchone()[0]
    if folder is None or "://" in folder:
        return []
    names = dict(
        con.execute(f"select file_sha256, source_file from {RAW_SCHEMA}.load_ledger").fetchall()
    )
    problems = []
    expected = expected_on_disk(con)
    for p in files_on_disk(Path(folder)):
        if str(p) not in expected:
            sha = p.parent.name if is_landed(str(p)) else p.name.split("_")[0].split(".")[0]
            problems.append(f"{names.get(sha, 'no landed file')}: raw file {p} is not listed")
    return problems


def _overlaps(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows both loaded and quarantined, per landed file: only the raw files of landed files
    with quarantined rows are read, one narrow column (a kept landing file's key index)."""
    from pipelines.ingest.raw_layer import key_index_path  # the raw layer imports this module

    paths = [
        key_index_path(p) if is_landed(p) else p
        for (p,) in con.execute(
            f"select path from {RAW_SCHEMA}.raw_files where file_sha256 in "
            f"(select file_sha256 from {RAW_SCHEMA}.quarantine where source_row > 0)"
        ).fetchall()
        if _exists(p)
    ]
    if not paths:
        return {}
    return dict(
        con.execute(
            f"""
            select l.file_sha256, count(*)
            from (
                -- The landed file's hash begins the name of its bucketed files and its key
                -- index (which has no lineage column): <sha>_<i>.parquet, <sha>.parquet.
                select split_part(parse_filename(filename, true), '_', 1) as file_sha256,
                    _source_row
                from read_parquet(?, union_by_name = true, filename = true)
            ) l
            semi join {RAW_SCHEMA}.quarantine q
                on q.file_sha256 = l.file_sha256 and q.source_row = l._source_row
            group by 1
            """,
            [paths],
        ).fetchall()
    )


def _superseded_without_file(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A superseded row must still be in raw (the old version is kept, only out of force):
    its landed file has raw files and the row is within the file's rows."""
    rows = con.execute(
        f"""
        select s.source_file, count(*)
        from {RAW_SCHEMA}.superseded_rows s
        left join {RAW_SCHEMA}.load_ledger g on g.file_sha256 = s.file_sha256
        where g.file_sha256 is null or g.status <> 'loaded'
            or s.source_row not between 1 and g.rows_read
            or s.file_sha256 not in (select file_sha256 from {RAW_SCHEMA}.raw_files)
        group by s.source_file order by 1
        """
    ).fetchall()
    return [f"{name}: {n} superseded rows are no longer in raw" for name, n in rows]
