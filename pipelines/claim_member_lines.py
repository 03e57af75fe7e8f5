"""Claim lines in force per member, kept between nights for the claims_members_known gate.

The gate asks what share of the claim lines in force belong to members with no eligibility
row in force. Counted from the lines, it joined every line in force (40M at 1M members) with
the eligibility snapshot every night: 2.6 s, though a steady night adds a few files.

Judging only tonight's claims files would not be right: a full eligibility snapshot replaces
the previous one every night, so a member missing from tonight's snapshot makes their claim
lines of earlier nights unknown (an incomplete extract, the case the gate exists for, would
pass on a night with few claims, and a night delivering eligibility alone would not be judged
at all). So every line in force is still judged against tonight's snapshot, through counts
per member: raw.claim_member_lines holds the claim lines in force of each member, and only
tonight's claims files change it, by their rows, less the rows they took out of force
(raw.superseded_rows, by_file_sha256 = the file: the earlier versions they corrected, the
rows they repeated), read from their files by row number. The gate then joins one row per
member with the snapshot, not one per line.

The counts must add up to the lines in force as the raw layer's metadata counts them
(`rows_in_force_count`); any other total (a bug, a warehouse of an older release) rebuilds
them from the lines in force, so the figure is exact either way.
"""

from __future__ import annotations

import duckdb

from pipelines.contract import FILE_KINDS
from pipelines.ingest.quality import files_in, rows_of_files
from pipelines.ingest.validate import literal
from pipelines.warehouse import RAW_SCHEMA, raw_kind_is_table, transaction

CLAIMS = FILE_KINDS["medical_claims"]

CLAIM_MEMBER_LINES_DDL = f"""
create table if not exists {RAW_SCHEMA}.claim_member_lines (
    member_id varchar,              -- as delivered on the claim lines
    lines bigint not null           -- the member's claim lines in force
)
"""

# The claims files whose rows, and the rows they took out of force, the counts include.
CLAIM_MEMBER_FILES_DDL = f"""
create table if not exists {RAW_SCHEMA}.claim_member_files (
    file_sha256 varchar not null
)
"""


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


def update_claim_member_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Bring raw.claim_member_lines to the claim lines in force tonight (module docstring)."""
    con.execute(CLAIM_MEMBER_LINES_DDL)
    con.execute(CLAIM_MEMBER_FILES_DDL)
    in_force = [
        sha
        for (sha,) in con.execute(
            f"select file_sha256 from {RAW_SCHEMA}.load_ledger "
            "where kind = $kind and status = 'loaded' "
            f"except select file_sha256 from {RAW_SCHEMA}.files_out_of_force($kind) "
            "order by file_sha256",
            {"kind": CLAIMS.name},
        ).fetchall()
    ]
    covered = {
        sha
        for (sha,) in con.execute(
            f"select file_sha256 from {RAW_SCHEMA}.claim_member_files"
        ).fetchall()
    }
    new = [sha for sha in in_force if sha not in covered]
    with transaction(con):
        if not covered or covered - set(in_force):
            _rebuild(con, in_force)
            return
        if new:
            _add_files(con, new)
        kept = con.execute(
            f"select coalesce(sum(lines), 0) from {RAW_SCHEMA}.claim_member_lines"
        ).fetchone()[0]
        if kept != rows_in_force_count(con, CLAIMS.name):
            _rebuild(con, in_force)


def _rebuild(con: duckdb.DuckDBPyConnection, in_force: list[str]) -> None:
    """The counts from every line in force (the first night, or a total that disagrees)."""
    con.execute(f"delete from {RAW_SCHEMA}.claim_member_lines")
    con.execute(
        f"insert into {RAW_SCHEMA}.claim_member_lines "
        f"select member_id, count(*) from {RAW_SCHEMA}.rows_in_force({literal(CLAIMS.name)}) "
        "group by member_id"
    )
    con.execute(f"delete from {RAW_SCHEMA}.claim_member_files")
    _cover(con, in_force)


def _cover(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    if files:
        con.executemany(
            f"insert into {RAW_SCHEMA}.claim_member_files values (?)", [[sha] for sha in files]
        )


def _add_files(con: duckdb.DuckDBPyConnection, new: list[str]) -> None:
    """Add the new files' rows to their members' counts and take away the rows they took out
    of force, each counted on its own member (read from its file by row number)."""
    parts = [
        f"select member_id, count(*) as lines from {rows_of_files(con, CLAIMS, new)} "
        f"where {files_in(new, '_file_sha256')} group by member_id"
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
            f"select r.member_id, -count(*) as lines from {rows_of_files(con, CLAIMS, [sha])} r "
            f"semi join (select source_row from {RAW_SCHEMA}.superseded_rows "
            f"where file_sha256 = {literal(sha)} and {files_in(new, 'by_file_sha256')}) s "
            f"on s.source_row = r._source_row where r._file_sha256 = {literal(sha)} "
            "group by r.member_id"
        )
    con.execute(
        "create or replace temp table claim_member_delta as "
        "select member_id, sum(lines)::bigint as lines from ("
        + " union all ".join(parts)
        + ") group by member_id"
    )
    con.execute(
        f"update {RAW_SCHEMA}.claim_member_lines k set lines = k.lines + d.lines "
        "from claim_member_delta d where d.member_id is not distinct from k.member_id"
    )
    con.execute(
        f"insert into {RAW_SCHEMA}.claim_member_lines select d.member_id, d.lines "
        f"from claim_member_delta d anti join {RAW_SCHEMA}.claim_member_lines k "
        "on d.member_id is not distinct from k.member_id"
    )
    con.execute(f"delete from {RAW_SCHEMA}.claim_member_lines where lines = 0")
    _cover(con, new)
    con.execute("drop table claim_member_delta")
