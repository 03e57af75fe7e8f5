"""The DuckDB warehouse: connections, the raw layer's tables and views, and running SQL files.

The raw rows themselves are Parquet files outside the DuckDB file (pipelines/ingest/raw_layer.py):
the warehouse holds their list (raw.raw_files), the views over it (raw.<kind>), and the small
tables of the ingest's accounting.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines.contract import DUCKDB_TYPES, FILE_KINDS, FileKind

RAW_SCHEMA = "raw"

# Storage buckets of the raw layer: a row lives under bucket=NN, NN = hash(member_id) % 16,
# decided once at ingest. Fixed for a raw layer's life (recorded in its _layout.json); the
# rules' bucket counts divide it (1, 2, 4, 8, 16), so rules bucket b reads the storage
# buckets p with p % B == b.
RAW_BUCKETS = 16
# The folder, under a kind's, of landing files kept as delivered (raw_layer.can_keep_landed).
LANDED_DIR = "landed"

# The storage version every warehouse file is written in. duckdb 2.x writes v2.0 files by
# default, which the newest DuckDB CLI on PyPI (duckdb-cli 1.5.x, installed by `make install`)
# cannot open; v1.5.0 files open in both. Raise it together with the CLI pin in pyproject.toml.
ANALYSTS_STORAGE_VERSION = "v1.5.0"
STORAGE_CONFIG = {"storage_compatibility_version": ANALYSTS_STORAGE_VERSION}
# A join builds its hash table on the side the SQL puts on the right (the subquery of an IN,
# the right side of an anti-join): DuckDB's optimizer that swaps the sides by estimated size is
# off. Over the Parquet raw layer its estimates are guesses (a null test is taken to keep 20%
# of the lines, whichever way it tests), and at 1M members it swapped the in-force and
# diagnosis-fill joins of a steady night onto 40M claim lines: out of memory in
# int_claim_versions. With the SQL's own order that night's rules took 1.1 GiB; at 100k the
# rules stage ran in 4.9-6.0 s instead of 8.8 s, at half the memory.
PLANNER_CONFIG = {"disabled_optimizers": "build_side_probe_side"}
# What every warehouse connection is opened with (the run's limits come on top).
CONNECTION_CONFIG = {**STORAGE_CONFIG, **PLANNER_CONFIG}

# Lineage columns every raw row carries: which landed file and which data row of it (1-based,
# the header is row 0), so any output can be traced back to the line a plan delivered.
LINEAGE_COLUMNS = {
    "_file_sha256": "VARCHAR NOT NULL",
    "_source_file": "VARCHAR NOT NULL",
    "_source_row": "BIGINT NOT NULL",
    # Unknown extra columns are kept, not dropped: name -> original text.
    "_extra": "MAP(VARCHAR, VARCHAR)",
    # DuckDB's hash() of the contract columns, computed when the row is written: a key
    # delivered again is told a duplicate or a correction from the earlier row's hash alone,
    # without reading its other columns (the raw layer's _layout.json pins DuckDB's hash).
    "_row_hash": "UBIGINT",
}

QUARANTINE_DDL = f"""
create table if not exists {RAW_SCHEMA}.quarantine (
    file_sha256 varchar not null,
    source_file varchar not null,
    kind varchar not null,
    source_row bigint not null,     -- 1-based data row; 0 for a file-level rejection
    column_name varchar,
    original_value varchar,
    reason varchar not null,
    row_json varchar                -- the whole original row, so nothing is lost
)
"""

LEDGER_DDL = f"""
create table if not exists {RAW_SCHEMA}.load_ledger (
    file_sha256 varchar primary key,
    source_file varchar not null,
    kind varchar,
    file_format varchar,
    status varchar not null,        -- loaded | rejected
    error varchar,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    loaded_at timestamp not null
)
"""

# One row per entry of the landing folder per night (run): every file ends the night in
# exactly one recorded state. The ingest writes it; the gates, the CLI's last lines, the run
# report and the manifest read tonight's rows (as_of, run_id) instead of the ledger's history.
NIGHT_FILES_DDL = f"""
create table if not exists {RAW_SCHEMA}.night_files (
    as_of date,                     -- the night this record belongs to (null: ingest alone)
    run_id varchar not null,        -- the run that looked at the landing folder
    entry_name varchar not null,    -- the name in the landing folder, as delivered
    file_sha256 varchar,            -- null when the entry could not be read
    kind varchar,                   -- the contract kind, when one matched
    state varchar not null,         -- loaded | loaded_with_quarantine | rejected
                                    -- | already_loaded | ignored
    reason varchar,                 -- short stable code (rejected, ignored)
    message varchar,                -- a sentence a person understands: file, row, column
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    recorded_at timestamp not null
)
"""
# Rows kept with a documented data-quality warning (contract RowRule, action "warn"): the
# row loads, the warning is counted (load_ledger.rows_warned) and listed here.
ROW_WARNINGS_DDL = f"""
create table if not exists {RAW_SCHEMA}.row_warnings (
    file_sha256 varchar not null,
    source_file varchar not null,
    kind varchar not null,
    source_row bigint not null,
    column_name varchar not null,
    reason varchar not null
)
"""

# Rows of raw.<kind> no longer in force: an earlier version of a key that a later delivery
# re-delivered (a correction when the content differs, a duplicate when identical), or a
# repeat of a key within one file with identical content. The rows stay in raw.<kind> (the
# old version is kept); staging reads only rows in force.
SUPERSEDED_ROWS_DDL = f"""
create table if not exists {RAW_SCHEMA}.superseded_rows (
    kind varchar not null,
    file_sha256 varchar not null,   -- the row no longer in force: its file and data row
    source_file varchar not null,
    source_row bigint not null,
    key_value varchar,              -- the key's values joined with |
    by_file_sha256 varchar not null,  -- the row in force instead
    by_source_file varchar not null,
    by_source_row bigint not null,
    reason varchar not null,        -- correction | duplicate
    superseded_at timestamp not null
)
"""

# Every Parquet file of every loaded landing file (pipelines/ingest/raw_layer.py). Written in the
# transaction of the file's ledger row: a file is in the raw layer iff its load committed.
RAW_FILES_DDL = f"""
create table if not exists {RAW_SCHEMA}.raw_files (
    kind varchar not null,
    file_sha256 varchar not null,   -- the landed file whose rows it holds
    bucket integer,                 -- storage bucket: hash(member_id) % RAW_BUCKETS; null for
                                    -- a landing file kept as delivered (all buckets)
    path varchar not null,          -- where the file is (absolute path or URL)
    rows bigint not null            -- rows in the file (its footer's count)
)
"""

# The raw layer this warehouse owns: its folder and the layout recorded there.
RAW_LAYOUT_DDL = f"""
create table if not exists {RAW_SCHEMA}.raw_layout (
    raw_dir varchar not null,       -- the folder the paths of raw.raw_files are under
    layout varchar not null         -- the JSON of <raw_dir>/_layout.json
)
"""

# Columns added after the first release: added in place to a warehouse that lacks them.
ADDED_COLUMNS = (
    ("load_ledger", "rows_warned", "bigint default 0"),
    ("night_files", "rows_warned", "bigint default 0"),
    ("load_ledger", "delivery_seq", "bigint default 0"),
    ("load_ledger", "incremental", "boolean default false"),
    ("load_ledger", "rows_superseded", "bigint default 0"),
    ("load_ledger", "rows_duplicate", "bigint default 0"),
    ("night_files", "rows_superseded", "bigint default 0"),
    ("night_files", "rows_duplicate", "bigint default 0"),
    # False between a claims file's load and the night's matching of its keys (matching.py).
    ("load_ledger", "matched", "boolean default true"),
)


def in_force_macros() -> list[str]:
    """The macros that say which raw rows are in force (staging reads them; the gates count).

    raw.files_out_of_force(kind): a snapshot kind's loaded files older than its latest full
    snapshot (`delivery_seq`); incremental files delivered with or after that snapshot stay
    in force. A rejected file is never a snapshot, so the previous one stays until a good one.
    Accumulating kinds (claims) have none.
    raw.rows_in_force(kind): raw.<kind>'s rows of files not out of force that no later row
    superseded (raw.superseded_rows). `relation :=` names a relation of raw.<kind>'s columns
    to judge instead (a view over some of its files: the rows in force among those).
    """
    snapshots = ", ".join(f"'{k.name}'" for k in FILE_KINDS.values() if k.snapshot)
    return [
        f"""
create or replace macro {RAW_SCHEMA}.files_out_of_force(k) as table
with files as (
    select file_sha256, delivery_seq, incremental
    from {RAW_SCHEMA}.load_ledger
    where kind = k and status = 'loaded' and list_contains([{snapshots}], k)
),
latest_snapshot as (
    select max(delivery_seq) as delivery_seq from files where not incremental
)
select files.file_sha256
from files, latest_snapshot
where files.delivery_seq < latest_snapshot.delivery_seq
""",
        f"""
create or replace macro {RAW_SCHEMA}.rows_in_force(k, relation := null) as table
select r.*
from query_table(coalesce(relation, '{RAW_SCHEMA}.' || k)) r
anti join {RAW_SCHEMA}.files_out_of_force(k) f
    on f.file_sha256 = r._file_sha256
anti join {RAW_SCHEMA}.superseded_rows s
    on s.file_sha256 = r._file_sha256 and s.source_row = r._source_row
""",
    ]


NIGHT_FILE_STATES = ("loaded", "loaded_with_quarantine", "rejected", "already_loaded", "ignored")
# raw.night_files' row counts per entry (read = loaded + quarantined; warned rows are loaded
# rows kept with a data-quality warning, duplicate rows loaded rows identical to a row already
# in force; superseded rows are the earlier versions tonight's rows took out of force).
NIGHT_ROW_COUNTS = (
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "rows_warned",
    "rows_superseded",
    "rows_duplicate",
)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back on any exception (a
    KeyboardInterrupt or a failpoint's SIGKILL stand-in included), which is re-raised."""
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        con.rollback()
        raise


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A warehouse connection; a file it creates is written in ANALYSTS_STORAGE_VERSION."""
    return duckdb.connect(str(path), read_only=read_only, config=dict(CONNECTION_CONFIG))


def storage_version(con: duckdb.DuckDBPyConnection) -> str:
    """The storage version of the connection's database file, e.g. 'v1.5.0+'."""
    tags = con.execute(
        "select tags from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0][0]
    return str((tags or {}).get("storage_version", ""))


def raw_columns(kind: FileKind) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a raw row: the contract's columns, then the lineage columns."""
    cols = [(c.name, DUCKDB_TYPES[c.dtype]) for c in kind.columns]
    return cols + [(name, ddl.removesuffix(" NOT NULL")) for name, ddl in LINEAGE_COLUMNS.items()]


def raw_relation(
    kind: FileKind, paths: list[str], landed_where: str = "true", *, per_file: bool = False
) -> str:
    """SQL of the raw rows in `paths` (Parquet files of the layout) with their storage bucket
    `_bucket`, typed as raw.<kind>; a typed empty relation when there are none.

    Bucketed files hold raw rows as written; landed files (is_landed) are read through
    `landed_relation`, and only their rows matching `landed_where` (a bucket's share) are kept.
    `per_file`: each landed file is read on its own, its lineage (content hash and name, from
    its path) as constants instead of parsed from every row's file name: a third less time for
    a pass over every column of a night's files (the raw suites: 1.7 s against 2.75 s over the
    1M-member landing), one branch per file, so for a night's files rather than a whole layer.
    """
    if not paths:
        nulls = ", ".join(f"cast(null as {t}) as {name}" for name, t in raw_columns(kind))
        return f"(select {nulls}, cast(null as integer) as _bucket where false)"
    bucketed = [p for p in paths if not is_landed(p)]
    landed = [p for p in paths if is_landed(p)]
    parts = []
    if bucketed:
        names = ", ".join(name for name, _ in raw_columns(kind))
        parts.append(
            f"select {names}, bucket as _bucket from read_parquet({path_list(bucketed)}, "
            "hive_partitioning = true, hive_types = {'bucket': integer})"
        )
    if landed and per_file:
        parts += [
            f"select * from {landed_relation(kind, [p], landed_lineage(p))} where {landed_where}"
            for p in landed
        ]
    elif landed:
        parts.append(f"select * from {landed_relation(kind, landed)} where {landed_where}")
    return "(" + " union all ".join(parts) + ")"


def row_hash_sql(kind: FileKind) -> str:
    """SQL of a raw row's `_row_hash`: DuckDB's hash of its contract columns, as written with
    a bucketed row, into a key index and on reading a kept landing file (the three must agree:
    equal hashes make a re-delivered key a duplicate, not a correction)."""
    from pipelines.ingest.validate import ident  # the ingest package imports this module

    return "hash(" + ", ".join(ident(c.name) for c in kind.columns) + ")"


def bucket_sql(member_id: str = "member_id") -> str:
    """SQL: a row's storage bucket (0 .. RAW_BUCKETS - 1)."""
    return f"hash({member_id}) % {RAW_BUCKETS}"


def path_list(paths: list[str]) -> str:
    """SQL list literal of file paths."""
    from pipelines.ingest.validate import literal  # the ingest package imports this module

    return "[" + ", ".join(literal(p) for p in paths) + "]"


def is_landed(path: str) -> bool:
    """Whether a raw file is a landing file kept as delivered:
    `<raw_dir>/<kind>/landed/<file_sha256>/<landed name>`."""
    parts = path.replace("\\", "/").rsplit("/", 3)
    return len(parts) == 4 and parts[1] == LANDED_DIR


def landed_lineage(path: str) -> tuple[str, str]:
    """(content hash, landed name) of a landed file, from its path (is_landed's layout): what
    landed_relation parses from each row's file name."""
    parts = path.replace("\\", "/").rsplit("/", 2)
    return parts[1], parts[2]


def landed_relation(
    kind: FileKind, paths: list[str], lineage: tuple[str, str] | None = None
) -> str:
    """SQL of the raw rows of landing Parquet files kept as delivered, typed as raw.<kind>.

    Such a file holds exactly the contract's columns and types and only clean rows
    (raw_layer.can_keep_landed), so a raw row is the fast path's values of its line (the same
    expressions the load writes bucketed rows with: defaults and open ends applied); lineage
    comes from its path (or `lineage` = (sha, name) for a file not yet in the layout), the
    row from its position, and `_row_hash` and `_bucket` are computed as the load computes them.
    Projection pushdown keeps a narrow read narrow: `_row_hash` reads every column only when
    asked for (the key index holds it for the ingest).
    """
    from pipelines.ingest.fastpath import fast_values  # the ingest package imports this module
    from pipelines.ingest.validate import SourceColumn, ident, literal

    columns = {
        c.name: SourceColumn(c.name, ident(c.name), DUCKDB_TYPES[c.dtype]) for c in kind.columns
    }
    if lineage is None:
        sha, name = "parse_filename(parse_dirpath(filename))", "parse_filename(filename)"
    else:
        sha, name = literal(lineage[0]), literal(lineage[1])
    return (
        f"(select *, {row_hash_sql(kind)} as _row_hash, "
        f"cast({bucket_sql()} as integer) as _bucket from ("
        f"select {', '.join(fast_values(kind, columns))}, {sha} as _file_sha256, "
        f"{name} as _source_file, file_row_number + 1 as _source_row, "
        "null::map(varchar, varchar) as _extra "
        f"from read_parquet({path_list(paths)}, filename = true, file_row_number = true)))"
    )


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """`schema.table` of every table (not view) in the connection's own database."""
    return {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database()"
        ).fetchall()
    }


def raw_kind_is_table(con: duckdb.DuckDBPyConnection, kind: str) -> bool:
    """Whether raw.<kind> is a DuckDB table: a warehouse made by a release before the
    Parquet raw layer (pipelines/ingest/raw_layer.py migrates it)."""
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            "and schema_name = ? and table_name = ?",
            [RAW_SCHEMA, kind],
        ).fetchone()[0]
    )


def view_paths(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    files: str = f"{RAW_SCHEMA}.raw_files",
    where: str = "true",
) -> list[str]:
    """The Parquet files a view over raw `kind` lists: those of the file list `files` (a
    table with raw.raw_files' kind, path and rows) matching `where`, largest first.

    Largest first: DuckDB estimates a file list's rows from its first file, and a small
    first file (a night's few corrections) made it take 40M claim lines for a few thousand,
    build its hash tables on them and run out of memory at 1M members (the in-force
    anti-join, a filtered scan). Largest first errs the other way, which is harmless.
    """
    return [
        path
        for (path,) in con.execute(
            f"select path from {files} where kind = ? and ({where}) order by rows desc, path",
            [kind],
        ).fetchall()
    ]


def refresh_raw_views(con: duckdb.DuckDBPyConnection, kinds: list[str] | None = None) -> None:
    """raw.<kind>: a view over the files raw.raw_files pins for the kind (not a glob, so a
    reader sees the night it opened, never files a later night is writing), largest first
    (view_paths)."""
    for name in kinds or list(FILE_KINDS):
        if raw_kind_is_table(con, name):
            continue
        con.execute(
            f"create or replace view {RAW_SCHEMA}.{name} as select * from "
            f"{raw_relation(FILE_KINDS[name], view_paths(con, name))}"
        )


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw layer's tables (quarantine, ledger, file list, ...) and views if missing."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.execute(QUARANTINE_DDL)
    con.execute(LEDGER_DDL)
    con.execute(NIGHT_FILES_DDL)
    con.execute(ROW_WARNINGS_DDL)
    con.execute(SUPERSEDED_ROWS_DDL)
    con.execute(RAW_FILES_DDL)
    con.execute(RAW_LAYOUT_DDL)
    for table, column, ddl in ADDED_COLUMNS:
        con.execute(f"alter table {RAW_SCHEMA}.{table} add column if not exists {column} {ddl}")
    _allow_landed_files(con)
    missing = [
        name
        for (name,) in con.execute(
            "select unnest(?) except select table_name from duckdb_tables() "
            "where database_name = current_database() and schema_name = ? "
            "except select view_name from duckdb_views() "
            "where database_name = current_database() and schema_name = ?",
            [list(FILE_KINDS), RAW_SCHEMA, RAW_SCHEMA],
        ).fetchall()
    ]
    if missing:
        refresh_raw_views(con, missing)
    for macro in in_force_macros():
        con.execute(macro)


def _allow_landed_files(con: duckdb.DuckDBPyConnection) -> None:
    """raw.raw_files.bucket made nullable in a warehouse made before landed files were kept."""
    not_null = con.execute(
        "select not is_nullable from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = 'raw_files' and column_name = 'bucket'",
        [RAW_SCHEMA],
    ).fetchone()
    if not_null and not_null[0]:
        con.execute(f"alter table {RAW_SCHEMA}.raw_files alter column bucket drop not null")


def set_variables(con: duckdb.DuckDBPyConnection, params: Mapping[str, object]) -> None:
    """Expose parameters to SQL files as `getvariable('name')`."""
    for name, value in params.items():
        con.execute(f"set variable {name} = ?", [value])


def run_sql_file(
    con: duckdb.DuckDBPyConnection, path: Path, params: Mapping[str, object] | None = None
) -> None:
    if params:
        set_variables(con, params)
    con.execute(path.read_text())


def newest_publication(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The newest as-of date published from this warehouse (history.publications)."""
    exists = con.execute(
        "select count(*) from duckdb_tables() "
        "where schema_name = 'history' and table_name = 'publications'"
    ).fetchone()[0]
    if not exists:
        return None
    return con.execute("select max(as_of) from history.publications").fetchone()[0]


def publish_warehouse(con: duckdb.DuckDBPyConnection, work: Path, analysts: Path) -> int:
    """Replace the analysts' database with a copy of the run's, atomically, every table and
    column described (pipelines.descriptions).

    DuckDB allows one writer process or many readers, never both. So the run writes its own
    file and, once it succeeded, copies it beside the analysts' file and renames it over it.
    A reader that has the old file open keeps reading it (the old inode lives until closed);
    the next connection sees the new night. A work file made at another storage version (by
    an older release) is copied table by table into ANALYSTS_STORAGE_VERSION instead, so the
    analysts' CLI opens it either way. Returns the bytes copied. Callers publish only
    a night at least as new as `newest_publication`: an older night (a backfill, a replay)
    must not replace what analysts see as the latest.
    """
    from pipelines.descriptions import apply_descriptions  # imports the models, which use us

    apply_descriptions(con)
    con.execute("checkpoint")
    analysts.parent.mkdir(parents=True, exist_ok=True)
    tmp = analysts.with_name(f".{analysts.name}.tmp")
    if storage_version(con).startswith(ANALYSTS_STORAGE_VERSION):
        shutil.copyfile(work, tmp)
    else:
        _copy_at_analysts_storage(con, tmp)
    os.chmod(tmp, 0o640)
    os.replace(tmp, analysts)
    return analysts.stat().st_size


def _copy_at_analysts_storage(con: duckdb.DuckDBPyConnection, target: Path) -> None:
    """Copy the connection's database (tables, views, comments) into a new file at
    ANALYSTS_STORAGE_VERSION."""
    from pipelines.ingest.validate import ident, literal  # the SQL quoting helpers

    target.unlink(missing_ok=True)
    source = con.execute("select current_database()").fetchall()[0][0]
    con.execute(
        f"attach {literal(str(target))} as analysts_copy "
        f"(storage_version {literal(ANALYSTS_STORAGE_VERSION)})"
    )
    try:
        con.execute(f"copy from database {ident(source)} to analysts_copy")
    finally:
        con.execute("detach analysts_copy")
