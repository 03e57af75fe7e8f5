"""The load ledger (one row per file content hash) and the reconciliation check.

The ledger makes ingest idempotent: a hash already there is skipped, whatever the file is now
called. `reconcile` does not trust the ledger's numbers: it counts the raw and quarantine rows
each file actually left and checks that every data row 1..rows_read is in exactly one place.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.contract import FILE_KINDS, FileKind
from pipelines.ingest.validate import literal, rule_sql
from pipelines.warehouse import NIGHT_ROW_COUNTS, RAW_SCHEMA

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
        con.begin()
        con.execute(f"delete from {RAW_SCHEMA}.quarantine where file_sha256 = ?", [sha256])
        con.execute(f"delete from {RAW_SCHEMA}.load_ledger where file_sha256 = ?", [sha256])
        con.commit()
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
    con.begin()
    try:
        con.execute(f"delete from {RAW_SCHEMA}.night_files where run_id = ?", [run_id])
        if rows:
            con.executemany(
                f"insert into {RAW_SCHEMA}.night_files ({', '.join(NIGHT_FILE_COLUMNS)}) "
                f"values ({', '.join('?' for _ in NIGHT_FILE_COLUMNS)})",
                [[as_of, run_id, *row, now] for row in rows],
            )
        con.commit()
    except BaseException:
        con.rollback()
        raise


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
) -> None:
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
    con: duckdb.DuckDBPyConnection, kind: FileKind, sha256: str, source_file: str
) -> int:
    """The file's loaded rows that break a "warn" rule of the contract, into raw.row_warnings
    (one row per rule broken); returns the number of distinct rows warned."""
    raw = f"{RAW_SCHEMA}.{kind.name}"
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

    For each ledger row: rows loaded and quarantined (distinct data rows, file-level rejection
    rows excluded) are counted in the tables; they must equal the ledger's figures, add up to
    rows_read, not overlap, and cover exactly rows 1..rows_read. A rejected file must have no
    raw rows. Messages name files and counts only (no member data).
    """
    loaded_union = " union all ".join(
        f"select _file_sha256 as sha, _source_row as row from {RAW_SCHEMA}.{k}" for k in FILE_KINDS
    )
    rows = con.execute(
        f"""
        with loaded as ({loaded_union}),
        loaded_counts as (
            select sha, count(*) as n, count(distinct row) as n_distinct,
                   min(row) as lo, max(row) as hi
            from loaded group by sha
        ),
        quarantined as (
            select distinct file_sha256 as sha, source_row as row
            from {RAW_SCHEMA}.quarantine where source_row > 0
        ),
        quarantined_counts as (
            select sha, count(*) as n, min(row) as lo, max(row) as hi
            from quarantined group by sha
        ),
        overlap as (
            select q.sha, count(*) as n
            from quarantined q join loaded l on l.sha = q.sha and l.row = q.row
            group by q.sha
        )
        select g.source_file, g.status, g.rows_read, g.rows_loaded, g.rows_quarantined,
               coalesce(l.n, 0), coalesce(l.n_distinct, 0), coalesce(q.n, 0),
               coalesce(o.n, 0), least(l.lo, q.lo), greatest(l.hi, q.hi)
        from {RAW_SCHEMA}.load_ledger g
        left join loaded_counts l on l.sha = g.file_sha256
        left join quarantined_counts q on q.sha = g.file_sha256
        left join overlap o on o.sha = g.file_sha256
        order by g.source_file
        """
    ).fetchall()
    problems: list[str] = _superseded_without_row(con, loaded_union)
    for name, status, read, led_loaded, led_quar, loaded, distinct, quar, overlap, lo, hi in rows:
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
        if distinct != loaded:
            problems.append(f"{name}: {loaded - distinct} source rows loaded more than once")
        if overlap:
            problems.append(f"{name}: {overlap} rows both loaded and quarantined")
        if read != loaded + quar:
            problems.append(f"{name}: rows read {read} != loaded {loaded} + quarantined {quar}")
        elif read and (lo != 1 or hi != read):
            problems.append(f"{name}: data rows run {lo}..{hi}, expected 1..{read}")
    return problems


def _superseded_without_row(con: duckdb.DuckDBPyConnection, loaded_union: str) -> list[str]:
    """A superseded row must still be in raw (the old version is kept, only out of force)."""
    rows = con.execute(
        f"""
        with loaded as ({loaded_union})
        select s.source_file, count(*)
        from {RAW_SCHEMA}.superseded_rows s
        anti join loaded l on l.sha = s.file_sha256 and l.row = s.source_row
        group by s.source_file order by 1
        """
    ).fetchall()
    return [f"{name}: {n} superseded rows are no longer in raw" for name, n in rows]
