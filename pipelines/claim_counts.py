"""Claim lines in force counted per member and per date, kept between nights.

Two consumers read every claim line in force every night although a steady night adds a few
files: the claims_members_known gate (which share of the lines belong to members with no
eligibility row: 2.6 s at 1M members, joining 40M lines with the snapshot) and the run
report's data freshness (latest service and paid dates, the claims lag). Each needs only
counts of lines by a few columns, so those counts are kept:

- raw.claim_member_lines: lines in force per member;
- raw.claim_date_lines: lines in force per (service_from_date, service_to_date, paid_date).

Each night only tonight's claims files change them: their rows are added, and the rows they
took out of force (raw.superseded_rows, by_file_sha256 = the file: the earlier versions they
corrected, the rows they repeated) are taken away, each under its own member and dates, read
from its file by row number. raw.claim_count_files lists the files the counts include.

Why not judge tonight's files alone: a full eligibility snapshot replaces the previous one
every night, so a member missing from tonight's snapshot makes their claim lines of earlier
nights unknown (an incomplete extract, the case the gate exists for, would pass on a night
with few claims, and a night delivering eligibility alone would not be judged). So the gate
still judges every line in force against tonight's snapshot, one row per member instead of
one per line.

Each kept table must add up to the lines in force as the raw layer's metadata counts them
(`rows_in_force_count`); any other total (a bug, a warehouse of an older release) rebuilds
the counts from the lines in force, so the figures are exact either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.contract import FILE_KINDS
from pipelines.ingest.quality import files_in, rows_of_files
from pipelines.ingest.validate import literal
from pipelines.warehouse import RAW_SCHEMA, raw_kind_is_table, transaction

CLAIMS = FILE_KINDS["medical_claims"]


@dataclass(frozen=True)
class KeptCounts:
    """A table of claim lines in force counted by some columns (name, type, expression)."""

    table: str
    keys: tuple[tuple[str, str, str], ...]

    @property
    def ddl(self) -> str:
        columns = "".join(f"    {name} {dtype},\n" for name, dtype, _ in self.keys)
        return (
            f"create table if not exists {RAW_SCHEMA}.{self.table} (\n{columns}"
            "    lines bigint not null\n)"
        )

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.keys]


# Lines in force per member: also read by the rules (staging.stg_claim_members).
MEMBER_LINES = "claim_member_lines"

KEPT = (
    KeptCounts(MEMBER_LINES, (("member_id", "varchar", "member_id"),)),
    KeptCounts(
        "claim_date_lines",
        (
            ("service_from_date", "date", "service_from_date"),
            ("service_to_date", "date", "coalesce(service_to_date, service_from_date)"),
            ("paid_date", "date", "paid_date"),
        ),
    ),
)

CLAIM_COUNT_FILES_DDL = f"""
create table if not exists {RAW_SCHEMA}.claim_count_files (
    file_sha256 varchar not null    -- a claims file the kept counts include
)
"""
KEPT_DDL = (*(kept.ddl for kept in KEPT), CLAIM_COUNT_FILES_DDL)
# The columns the kept counts read from a claim line.
_READ = ("member_id", "service_from_date", "service_to_date", "paid_date")


def rows_in_force_count(con: duckdb.DuckDBPyConnection, kind: str) -> int:
    """The rows of raw.rows_in_force(kind), from metadata alone: the rows of the kind's raw
    files (their footers' counts, which rows_reconciled checks) outside the files out of
    force, less their superseded rows. No raw row is read; a raw layer that is still a table
    (an older release's) is counted."""
    if raw_kind_is_table(con, kind):
        return con.execute(
            f"select count(*) from {RAW_SCHEMA}.rows_in_force({literal(kind)})"
        ).fetchone()[0]
    return con.execute(
        f"""
        with files as (
            select file_sha256, rows from {RAW_SCHEMA}.raw_files
            where kind = $kind
                and file_sha256 not in (
                    select file_sha256 from {RAW_SCHEMA}.files_out_of_force($kind)
                )
        ),
        superseded as (
            select distinct file_sha256, source_row from {RAW_SCHEMA}.superseded_rows
            where file_sha256 in (select file_sha256 from files)
        )
        select coalesce((select sum(rows) from files), 0)
            - (select count(*) from superseded)
        """,
        {"kind": kind},
    ).fetchone()[0]


def claims_files_in_force(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The content hashes of the claims files loaded and in force, sorted."""
    return [
        sha
        for (sha,) in con.execute(
            f"select file_sha256 from {RAW_SCHEMA}.load_ledger "
            "where kind = $kind and status = 'loaded' "
            f"except select file_sha256 from {RAW_SCHEMA}.files_out_of_force($kind) "
            "order by file_sha256",
            {"kind": CLAIMS.name},
        ).fetchall()
    ]


def update_claim_counts(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the kept counts to the claim lines in force tonight (module docstring)."""
    for ddl in KEPT_DDL:
        con.execute(ddl)
    in_force = claims_files_in_force(con)
    covered = {
        sha
        for (sha,) in con.execute(
            f"select file_sha256 from {RAW_SCHEMA}.claim_count_files"
        ).fetchall()
    }
    new = [sha for sha in in_force if sha not in covered]
    with transaction(con):
        if not covered or covered - set(in_force):
            _rebuild(con, in_force)
            return
        if new:
            _add_files(con, new)
        lines = rows_in_force_count(con, CLAIMS.name)
        totals = con.execute(
            "select "
            + ", ".join(
                f"(select coalesce(sum(lines), 0) from {RAW_SCHEMA}.{kept.table})" for kept in KEPT
            )
        ).fetchone()
        if any(total != lines for total in totals):
            _rebuild(con, in_force)


def _rebuild(con: duckdb.DuckDBPyConnection, in_force: list[str]) -> None:
    """The counts from every line in force (the first night, or a total that disagrees), in
    one pass: one grouping set per kept table."""
    keys = ", ".join(f"{expr} as {name}" for kept in KEPT for name, _, expr in kept.keys)
    sets = ", ".join(f"({', '.join(kept.names)})" for kept in KEPT)
    con.execute(
        "create or replace temp table claim_count_groups as select *, "
        + ", ".join(f"grouping({kept.names[0]}) as in_{kept.table}" for kept in KEPT)
        + ", count(*) as lines from (select "
        + keys
        + f" from {RAW_SCHEMA}.rows_in_force({literal(CLAIMS.name)})) "
        + f"group by grouping sets ({sets})"
    )
    for kept in KEPT:
        con.execute(f"delete from {RAW_SCHEMA}.{kept.table}")
        con.execute(
            f"insert into {RAW_SCHEMA}.{kept.table} select {', '.join(kept.names)}, lines "
            f"from claim_count_groups where in_{kept.table} = 0"
        )
    con.execute("drop table claim_count_groups")
    con.execute(f"delete from {RAW_SCHEMA}.claim_count_files")
    _cover(con, in_force)


def _cover(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    if files:
        con.executemany(
            f"insert into {RAW_SCHEMA}.claim_count_files values (?)", [[sha] for sha in files]
        )


def _add_files(con: duckdb.DuckDBPyConnection, new: list[str]) -> None:
    """Add the new files' rows to the counts and take away the rows they took out of force,
    each under its own member and dates (read from its file by row number)."""
    read = ", ".join(_READ)
    parts = [
        f"select {read}, 1 as sign from {rows_of_files(con, CLAIMS, new)} where {files_in(new)}"
    ]
    superseded_in = [
        sha
        for (sha,) in con.execute(
            f"select distinct file_sha256 from {RAW_SCHEMA}.superseded_rows "
            f"where {files_in(new, 'by_file_sha256')} order by file_sha256"
        ).fetchall()
    ]
    for sha in superseded_in:
        # The row numbers are the build side (warehouse.PLANNER_CONFIG keeps the SQL's
        # sides): a night's few thousand, probed by the file's lines.
        parts.append(
            f"select {read}, -1 as sign from {rows_of_files(con, CLAIMS, [sha])} r "
            f"semi join (select source_row from {RAW_SCHEMA}.superseded_rows "
            f"where file_sha256 = {literal(sha)} and {files_in(new, 'by_file_sha256')}) s "
            f"on s.source_row = r._source_row where r._file_sha256 = {literal(sha)}"
        )
    con.execute("create or replace temp table claim_count_delta as " + " union all ".join(parts))
    for kept in KEPT:
        _apply_delta(con, kept)
    con.execute("drop table claim_count_delta")
    _cover(con, new)


def _apply_delta(con: duckdb.DuckDBPyConnection, kept: KeptCounts) -> None:
    """Tonight's lines (sign 1) and superseded lines (sign -1) into one kept table."""
    table = f"{RAW_SCHEMA}.{kept.table}"
    keys = kept.names
    select = ", ".join(f"{expr} as {name}" for name, _, expr in kept.keys)
    on = " and ".join(f"d.{k} is not distinct from k.{k}" for k in keys)
    con.execute(
        f"create or replace temp table claim_count_change as select {select}, "
        "sum(sign)::bigint as lines from claim_count_delta group by all"
    )
    con.execute(
        f"update {table} k set lines = k.lines + d.lines from claim_count_change d where {on}"
    )
    con.execute(
        f"insert into {table} select d.* from claim_count_change d anti join {table} k on {on}"
    )
    con.execute(f"delete from {table} where lines = 0")
    con.execute("drop table claim_count_change")
