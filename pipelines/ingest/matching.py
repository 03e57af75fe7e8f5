"""Re-delivered claim lines matched against earlier deliveries once a night, not once a file.

A claims file's key (claim_id, claim_line_number) may repeat a line an earlier delivery holds
in force: the later delivery wins and the earlier row leaves force (raw.superseded_rows: a
`correction` when the content differs, a `duplicate` when identical). Matched file by file,
every file read the key hashes of every earlier file: a first load of N files read history
N times (quadratic in files; a plan's two years of daily files is 730 of them), and a
catch-up night of a week's files read it seven times. So a claims file's load (its own
transaction) records only its repeats within the file and marks its ledger row
`matched = false`; `match_pending` then matches every such file in one transaction, reading
history's key hashes once:

- each pending file's rows in force (a repeat within the file already left force at load),
- history's rows in force whose key hash one of them has, then their key text (exact:
  equal hashes of different keys match nothing),
- per key, in delivery order (delivery_seq, then file name: the order files load in), every
  occurrence but the last leaves force, superseded by the next pending occurrence. This is
  what loading the files one by one gave: each file superseded the row in force before it.

Until `match_pending` commits, a key can have two rows in force; nothing reads the raw layer
in between (the ingest is one step), the next ingest matches any file a killed run left
pending before it loads anything, and `reconcile` reports a pending file, so a night is
never published over one. Snapshot kinds (eligibility, care management status) are matched
at load: a full snapshot replaces its predecessor whole and is matched only within its own
delivery, and their files are few and small.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.contract import FILE_KINDS, FileKind
from pipelines.ingest import raw_layer
from pipelines.ingest.validate import ident, literal
from pipelines.warehouse import RAW_SCHEMA, transaction

_TEMP_TABLES = (
    "match_pending_files",
    "match_repeated",
    "match_history",
    "match_candidates",
    "match_occurrences",
)


# Loaded files whose keys are not matched yet, and the order files load in (a night after
# the one before, the files of a night by name).
_PENDING = "status = 'loaded' and not matched"
_LOAD_ORDER = "delivery_seq, source_file"

# Joined to key rows `k`: leaves out the rows no longer in force.
_IN_FORCE = (
    f"anti join {RAW_SCHEMA}.superseded_rows s "
    "on s.file_sha256 = k._file_sha256 and s.source_row = k._source_row"
)


def _key_columns(kind: FileKind) -> str:
    """The columns of a key row `k` the matching keeps: key, lineage, row hash, key hash."""
    keys = ", ".join(f"k.{ident(k)}" for k in kind.key)
    return f"{keys}, k._file_sha256, k._source_file, k._source_row, k._row_hash, k._key_hash"


def _present(kind: FileKind) -> str:
    """Key rows `k` whose key is whole (a null never equals a key)."""
    return " and ".join(f"k.{ident(k)} is not null" for k in kind.key)


def key_text(kind: FileKind, alias: str) -> str:
    """SQL of raw.superseded_rows.key_value: the key's values of row `alias` joined with |."""
    return "concat_ws('|', " + ", ".join(f"{alias}.{ident(k)}" for k in kind.key) + ")"


def deferred(kind: FileKind) -> bool:
    """Whether a kind's files are matched by `match_pending` rather than at load."""
    return bool(kind.key) and not kind.snapshot


def pending_files(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(kind, source file) of loaded files whose keys are not yet matched, in load order."""
    return con.execute(
        f"select kind, source_file from {RAW_SCHEMA}.load_ledger "
        f"where {_PENDING} order by {_LOAD_ORDER}"
    ).fetchall()


def match_pending(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Match every pending file's keys (module docstring), in one transaction; returns
    {file sha256: (corrections, duplicates)}: the earlier rows each pending file took out of
    force, its repeats within the file included, as its ledger row now says."""
    counts: dict[str, tuple[int, int]] = {}
    kinds = sorted({kind for kind, _name in pending_files(con)})
    if not kinds:
        return counts
    now = literal(dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" "))
    with transaction(con):
        try:
            for name in kinds:
                counts.update(_match_kind(con, FILE_KINDS[name], now))
        finally:
            for table in _TEMP_TABLES:
                con.execute(f"drop table if exists {table}")
    return counts


def history_rows(
    con: duckdb.DuckDBPyConnection, kind: FileKind, paths: list[str], probe: str, target: str
) -> None:
    """Create the temp table `target`: the rows in force of the raw files `paths` whose key
    hash one of `probe`'s rows has (a relation with `_key_hash`), as key rows (key columns,
    lineage, `_row_hash`, `_key_hash`). History is read as key rows, never its content, and
    in two steps: every row's key hash (8 bytes), then the key text of the few candidates,
    from the files holding them; the caller compares keys as text. Warehouse connections keep
    the SQL's join sides (warehouse.PLANNER_CONFIG): history is the probe side, the few keys
    of `probe` the hash table."""
    columns = _key_columns(kind)
    con.execute(
        f"create or replace temp table {target} as select {columns} "
        f"from {raw_layer.key_rows(kind, [])} k limit 0"
    )
    if not paths:
        return
    con.execute(
        "create or replace temp table match_candidates as "
        "select k._file_sha256, k._source_row "
        "from (select _file_sha256, _source_row, _key_hash "
        f"from {raw_layer.key_rows(kind, paths)}) k "
        f"semi join (select _key_hash from {probe}) m on m._key_hash = k._key_hash"
    )
    holding = raw_layer.paths_of(
        con, kind.name, "select distinct _file_sha256 from match_candidates"
    )
    if holding:
        con.execute(
            f"insert into {target} select {columns} "
            f"from {raw_layer.key_rows(kind, holding)} k "
            "semi join match_candidates c "
            "on c._file_sha256 = k._file_sha256 and c._source_row = k._source_row "
            f"{_IN_FORCE} where {_present(kind)}"
        )
    con.execute("drop table match_candidates")


def _match_kind(
    con: duckdb.DuckDBPyConnection, kind: FileKind, now: str
) -> dict[str, tuple[int, int]]:
    con.execute(
        "create or replace temp table match_pending_files as "
        f"select file_sha256, row_number() over (order by {_LOAD_ORDER}) as ord "
        f"from {RAW_SCHEMA}.load_ledger where kind = {literal(kind.name)} and {_PENDING}"
    )
    paths = raw_layer.paths_of(con, kind.name, "select file_sha256 from match_pending_files")
    pending = raw_layer.key_rows(kind, paths)
    # 1. Key hashes the pending files repeat among themselves, in files whose key ranges
    # overlap (raw_layer.files_sharing_keys; a repeat within a file left force at its load,
    # step 3 leaves it out). Only the hash column is read, and sorted: a repeat follows its
    # twin (a first load's 40M hashes: 2.3 s sorted, 5.4 s grouped, nearly every group one
    # row).
    con.execute("create or replace temp table match_repeated (_key_hash ubigint)")
    sharing = raw_layer.files_sharing_keys(con, kind, paths)
    if sharing:
        con.execute(
            "insert into match_repeated select distinct _key_hash from ("
            "select _key_hash, lag(_key_hash) over (order by _key_hash) as previous "
            f"from {raw_layer.key_rows(kind, sharing)}) where _key_hash = previous"
        )
    # 2. History's rows in force holding a pending key hash (place 0 in the load order).
    history = (
        f"select file_sha256 from {RAW_SCHEMA}.load_ledger where kind = {literal(kind.name)} "
        "and status = 'loaded' and matched and rows_loaded > 0"
    )
    earlier = raw_layer.paths_of(con, kind.name, history)
    if earlier:
        first = ident(kind.key[0])
        lo, hi = con.execute(f"select min({first}), max({first}) from {pending}").fetchone()
        earlier = raw_layer.files_overlapping(con, kind, earlier, lo, hi)
    history_rows(con, kind, earlier, pending, "match_history")
    con.execute("insert into match_repeated select distinct _key_hash from match_history")
    if not con.execute("select exists (select 1 from match_repeated)").fetchone()[0]:
        return _ledger_counts(con)  # no key delivered twice: nothing to pair
    # 3. Every occurrence of those key hashes in force: history's, then the pending files'
    # in load order (1, 2, ...).
    keys = [ident(k) for k in kind.key]
    con.execute(
        "create or replace temp table match_occurrences as "
        "select *, 0::bigint as ord from match_history union all "
        f"select {_key_columns(kind)}, p.ord "
        f"from {pending} k semi join match_repeated r on r._key_hash = k._key_hash "
        f"join match_pending_files p on p.file_sha256 = k._file_sha256 {_IN_FORCE} "
        f"where {_present(kind)}"
    )
    # 4. Per key (as text: a hash shared by two keys pairs nothing), each occurrence leaves
    # force, superseded by the first occurrence of a later place (RANGE 1 FOLLOWING: a higher
    # `ord`), if any.
    con.execute(
        f"""
        insert into {RAW_SCHEMA}.superseded_rows
        with paired as (
            select *, first_value({{
                'sha': _file_sha256, 'file': _source_file, 'row': _source_row, 'hash': _row_hash
            }}) over (
                partition by {", ".join(keys)} order by ord
                range between 1 following and unbounded following
            ) as by
            from match_occurrences
        )
        select {literal(kind.name)}, o._file_sha256, o._source_file, o._source_row,
            {key_text(kind, "o")}, o.by.sha, o.by.file, o.by.row,
            case when o.by.hash = o._row_hash then 'duplicate' else 'correction' end,
            {now}::timestamp
        from paired o
        where o.by is not null
        """
    )
    return _ledger_counts(con)


def _ledger_counts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Each pending file's (corrections, duplicates), written to its ledger row, now matched."""
    rows = con.execute(
        "select p.file_sha256, count(s.reason) filter (where s.reason = 'correction'), "
        "count(s.reason) filter (where s.reason = 'duplicate') "
        "from match_pending_files p "
        f"left join {RAW_SCHEMA}.superseded_rows s on s.by_file_sha256 = p.file_sha256 "
        "group by p.file_sha256"
    ).fetchall()
    con.executemany(
        f"update {RAW_SCHEMA}.load_ledger set rows_superseded = ?, rows_duplicate = ?, "
        "matched = true where file_sha256 = ?",
        [[corrected, duplicates, sha] for sha, corrected, duplicates in rows],
    )
    return {sha: (corrected, duplicates) for sha, corrected, duplicates in rows}
