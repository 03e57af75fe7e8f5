"""The raw layer as Parquet files: where each landed file's loaded rows live.

Layout: `<raw_dir>/<kind>/bucket=NN/<file_sha256>_<i>.parquet`, NN the storage bucket
`hash(member_id) % RAW_BUCKETS`. A landed file's loaded rows are written once, when it loads,
and never modified. A clean Parquet landing file in the contract's exact columns and types
(can_keep_landed) is not rewritten at all: it is copied byte for byte, as delivered, to
`<raw_dir>/<kind>/landed/<file_sha256>/<landed name>` and read through
warehouse.landed_relation; beside it `<raw_dir>/<kind>/keys/<file_sha256>.parquet`, its key
index (key columns, row number, `_row_hash` and `_key_hash` of every row; its lineage, the
file's hash and name, comes from the paths as constants), lets later loads match re-delivered
keys without reading its other columns. Why: rewriting 40M clean claim lines
by bucket was most of a cold ingest at 1M members; a kept file costs one scan (the clean
tests and the key index together) and a copy.

The warehouse lists the files in raw.raw_files in the transaction of the file's ledger row,
and raw.<kind> is a view over that pinned list (pipelines/warehouse.py): a file is in the raw
layer iff its load committed. A file no committed load put there is an orphan of a killed
load, removed when the next ingest opens the layer.

`<raw_dir>/_layout.json` records the buckets, DuckDB's hash of a probe string (hash() is not
promised stable across DuckDB versions; a changed hash would put a member's new rows in
another bucket) and the warehouse that owns the folder. A folder whose layout differs from the
warehouse's is refused, never mixed. Why files outside the DuckDB file: copying every row into
a table cost most of the ingest and bought the rules nothing, and the analysts' copy of the
warehouse no longer grows with raw history.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.contract import DUCKDB_TYPES, FILE_KINDS, FileKind
from pipelines.ingest.fastpath import fast_values
from pipelines.ingest.stage import StagedSource
from pipelines.ingest.validate import ident, literal
from pipelines.warehouse import (
    LANDED_DIR,
    RAW_BUCKETS,
    RAW_SCHEMA,
    bucket_sql,
    create_raw_schema,
    is_landed,
    landed_lineage,
    path_list,
    raw_columns,
    raw_kind_is_table,
    raw_relation,
    refresh_raw_views,
    row_hash_sql,
    transaction,
)

log = logging.getLogger(__name__)

LAYOUT_FILE = "_layout.json"
LAYOUT_NAME = "ecm raw layer"
# 2: rows carry _row_hash; 3: landing files kept as delivered; 4: key indexes carry _key_hash;
# 5: key indexes without lineage columns (the file's hash and name are constants of its path)
LAYOUT_VERSION = 5
# Layouts this release reads; an older readable one is upgraded in place (3 adds files only;
# 4 and 5 rewrite older key indexes in the current shape, _upgrade_key_indexes).
READABLE_VERSIONS = (2, 3, 4, 5)
# Columns a key index held up to layout 4: one value per file, repeated on every row.
_INDEX_LINEAGE = ("_file_sha256", "_source_file")
KEYS_DIR = "keys"
PROBE = "ecm-bucket-probe"
# Rows a thread gathers before writing them out to the bucket files. DuckDB's default
# (524,288) held 4.4 GiB of peak RSS writing a 4M-line claims file (100k members); 10,000
# held 0.7 GiB for the same CPU time (row groups of about 20k rows).
FLUSH_ROWS = 10_000
_BUCKET_DIR = re.compile(r"bucket=(\d+)")


class RawLayoutError(RuntimeError):
    """The raw folder cannot be used with this warehouse; the message says what to do."""


@dataclass(frozen=True)
class RawFile:
    bucket: int | None  # None: a landing file kept as delivered (rows of every bucket)
    path: str
    rows: int


def resolve_raw_dir(con: duckdb.DuckDBPyConnection, raw_dir: str | Path | None) -> Path:
    """`raw_dir`, or by default `raw/` beside the connection's database file."""
    if raw_dir is not None:
        return Path(raw_dir).absolute()
    path = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()[0]
    if not path:
        raise RawLayoutError("an in-memory warehouse has no default raw folder: pass raw_dir")
    return Path(path).absolute().parent / "raw"


def _layout(con: duckdb.DuckDBPyConnection, warehouse_id: str) -> dict[str, object]:
    probe = con.execute("select hash(?)", [PROBE]).fetchone()[0]
    return {
        "layout": LAYOUT_NAME,
        "version": LAYOUT_VERSION,
        "buckets": RAW_BUCKETS,
        "bucket_of": bucket_sql(),
        "probe": {"text": PROBE, "hash": str(probe)},
        "warehouse_id": warehouse_id,
    }


def open_raw_layer(con: duckdb.DuckDBPyConnection, raw_dir: str | Path | None = None) -> Path:
    """Ready the raw layer for an ingest; returns its folder.

    Checks (or, for a new layer, writes) `_layout.json`; moves the file list along when the
    warehouse and its folder were copied or moved together; removes orphans of a killed load;
    migrates raw rows a previous release kept in DuckDB tables; recreates the views.
    """
    create_raw_schema(con)
    folder = resolve_raw_dir(con, raw_dir)
    recorded = con.execute(f"select raw_dir, layout from {RAW_SCHEMA}.raw_layout").fetchone()
    layout = _checked_layout(con, folder, json.loads(recorded[1]) if recorded else None)
    with transaction(con):
        con.execute(f"delete from {RAW_SCHEMA}.raw_layout")
        con.execute(
            f"insert into {RAW_SCHEMA}.raw_layout values (?, ?)",
            [str(folder), json.dumps(layout, sort_keys=True)],
        )
        if recorded and recorded[0] != str(folder):
            con.execute(
                f"update {RAW_SCHEMA}.raw_files set path = ? || substr(path, ?) "
                "where starts_with(path, ?)",
                [str(folder), len(recorded[0]) + 1, recorded[0]],
            )
    removed = remove_orphans(con, folder)
    if removed:
        log.warning("removed %d raw file(s) no committed load lists (a killed load's)", removed)
    _migrate_tables(con, folder)
    with transaction(con):
        refresh_raw_views(con)
    return folder


def _checked_layout(
    con: duckdb.DuckDBPyConnection, folder: Path, recorded: dict | None
) -> dict[str, object]:
    """The layout of `folder`, written when the folder is new; refuses one that differs from
    this DuckDB's buckets and hash or belongs to another warehouse."""
    path = folder / LAYOUT_FILE
    expected = _layout(con, recorded["warehouse_id"] if recorded else uuid.uuid4().hex)
    if not path.exists():
        if any(folder.glob("*/bucket=*/*.parquet")) or any(folder.glob(f"*/{LANDED_DIR}/*/*")):
            raise RawLayoutError(
                f"raw folder {folder} holds Parquet files but no {LAYOUT_FILE}: it is not a raw "
                "layer this pipeline wrote. Point ECM_RAW_DIR at another folder, or empty it."
            )
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, json.dumps(expected, indent=2, sort_keys=True) + "\n")
        return expected
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RawLayoutError(f"{path} cannot be read ({e}); restore it from a backup") from None
    differs = [
        f"{key}: the folder has {found.get(key)!r}, this run expects {expected[key]!r}"
        for key in ("layout", "buckets", "bucket_of", "probe")
        if found.get(key) != expected[key]
    ]
    if found.get("version") not in READABLE_VERSIONS:
        differs.append(
            f"version: the folder has {found.get('version')!r}, this run reads "
            f"{' or '.join(map(str, READABLE_VERSIONS))}"
        )
    if differs:
        raise RawLayoutError(
            f"raw folder {folder} was written with another layout ({'; '.join(differs)}): "
            "its files and the rows this run would add could not be read together. Run the "
            "release and DuckDB version that wrote it, or load the landing history again "
            "into a new raw folder (ECM_RAW_DIR) with a new warehouse."
        )
    if recorded is None or found.get("warehouse_id") != recorded["warehouse_id"]:
        raise RawLayoutError(
            f"raw folder {folder} belongs to another warehouse (id {found.get('warehouse_id')}):"
            " two warehouses must not share one. Point ECM_RAW_DIR (or the warehouse path) at "
            "another folder, or remove this one if its warehouse is gone."
        )
    if found.get("version") != LAYOUT_VERSION:
        _upgrade_key_indexes(con, folder)
        found = {**found, "version": LAYOUT_VERSION}
        _write_atomically(path, json.dumps(found, indent=2, sort_keys=True) + "\n")
    return found


def _upgrade_key_indexes(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Key indexes of an older layout, rewritten in the current shape: layout 3's gain their
    `_key_hash` (4), and up to 4's lose their lineage columns (5; the two columns repeated one
    value on every row, and writing them cost a sixth of a kept file's load: 0.22 of 1.33 s
    per 4M-line claims file). Each is a temporary file renamed over the old one, so a killed
    upgrade leaves every index whole and the next run finishes it; the version is written
    after."""
    for name, kind in FILE_KINDS.items():
        for path in sorted((folder / name / KEYS_DIR).glob("*.parquet")):
            columns = {
                c
                for (c,) in con.execute(
                    "select name from parquet_schema(?)", [str(path)]
                ).fetchall()
            }
            lineage = [c for c in _INDEX_LINEAGE if c in columns]
            if "_key_hash" in columns and not lineage:
                continue
            dropped = f" exclude ({', '.join(lineage)})" if lineage else ""
            added = "" if "_key_hash" in columns else f", {key_hash_sql(kind)} as _key_hash"
            tmp = path.with_name(f".{path.name}.tmp")
            con.execute(
                f"copy (select *{dropped}{added} from read_parquet({literal(str(path))})) "
                f"to {literal(str(tmp))} (format parquet)"
            )
            os.replace(tmp, path)


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def write_rows(
    con: duckdb.DuckDBPyConnection, kind: FileKind, rows: str, sha: str, folder: Path
) -> list[RawFile]:
    """Write `rows` (a relation with raw.<kind>'s columns but `_row_hash`, computed here) as
    landed file `sha`'s files, one per storage bucket present; a file of the same name (a
    killed load's) is overwritten."""
    target = folder / kind.name
    target.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(
        f"cast({ident(n)} as {t}) as {ident(n)}" for n, t in raw_columns(kind) if n != "_row_hash"
    )
    bucket = f"lpad(cast({bucket_sql()} as varchar), 2, '0')"
    before = con.execute("select current_setting('partitioned_write_flush_threshold')").fetchone()
    con.execute(f"set partitioned_write_flush_threshold = {FLUSH_ROWS}")
    try:
        written = con.execute(
            f"copy (select * replace ({row_hash_sql(kind)} as _row_hash), {bucket} as bucket "
            f"from (select {columns}, null::ubigint as _row_hash from {rows})) "
            f"to {literal(str(target))} "
            f"(format parquet, partition_by (bucket), filename_pattern {literal(sha + '_{i}')}, "
            "overwrite_or_ignore, return_files)"
        ).fetchone()[1]
    finally:
        con.execute(f"set partitioned_write_flush_threshold = {int(before[0])}")
    return footers(con, [str(p) for p in written])


def footers(con: duckdb.DuckDBPyConnection, paths: list[str]) -> list[RawFile]:
    """The files' rows, from their footers (no data read), in path order."""
    if not paths:
        return []
    rows = dict(
        con.execute(
            "select file_name, num_rows from parquet_file_metadata(?)", [sorted(paths)]
        ).fetchall()
    )
    return [RawFile(bucket_of_path(p), p, rows[p]) for p in sorted(paths)]


def bucket_of_path(path: str) -> int:
    return int(_BUCKET_DIR.findall(path)[-1])


def without_rows(con: duckdb.DuckDBPyConnection, files: list[RawFile], table: str) -> list[RawFile]:
    """The files rewritten without the rows whose `_source_row` is in `table`(`_row`).

    Only for the rare file with conflicting duplicate keys: the rows are written before the
    duplicates are known, so these few files are written a second time.
    """
    kept = []
    for f in files:
        drop = con.execute(
            f"select count(*) from read_parquet({literal(f.path)}) "
            f"where _source_row in (select _row from {table})"
        ).fetchone()[0]
        if not drop:
            kept.append(f)
            continue
        if drop == f.rows:
            Path(f.path).unlink()
            continue
        tmp = f"{f.path}.tmp"
        con.execute(
            f"copy (select * from read_parquet({literal(f.path)}) "
            f"where _source_row not in (select _row from {table})) to {literal(tmp)} "
            "(format parquet)"
        )
        os.replace(tmp, f.path)
        kept.append(RawFile(f.bucket, f.path, f.rows - drop))
    return kept


def register(con: duckdb.DuckDBPyConnection, kind: str, sha: str, files: list[RawFile]) -> None:
    """List a landed file's raw files (inside the transaction of its ledger row)."""
    if files:
        con.executemany(
            f"insert into {RAW_SCHEMA}.raw_files values (?, ?, ?, ?, ?)",
            [[kind, sha, f.bucket, f.path, f.rows] for f in files],
        )


def paths_of(con: duckdb.DuckDBPyConnection, kind: str, shas_sql: str | None = None) -> list[str]:
    """The raw files of a kind, optionally only of the landed files `shas_sql` selects."""
    where = "" if shas_sql is None else f" and file_sha256 in ({shas_sql})"
    return [
        p
        for (p,) in con.execute(
            f"select path from {RAW_SCHEMA}.raw_files where kind = ?{where} order by path",
            [kind],
        ).fetchall()
    ]


def remove_files(paths: list[str] | list[Path]) -> None:
    """Remove raw files, and a kept landing file's own folder once it is empty."""
    for p in map(Path, paths):
        p.unlink(missing_ok=True)
        if p.parent.parent.name == LANDED_DIR and p.parent.is_dir() and not any(p.parent.iterdir()):
            p.parent.rmdir()


def files_on_disk(folder: Path) -> list[Path]:
    """Every file under the layout's bucket, landed and key-index folders (Parquet files and
    half-written copies)."""
    patterns = ("*/bucket=*/*", f"*/{LANDED_DIR}/*/*", f"*/{KEYS_DIR}/*")
    return sorted(p for pattern in patterns for p in folder.glob(pattern) if p.is_file())


def expected_on_disk(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The paths the committed loads put on disk: the listed raw files and the key index of
    every landed file among them."""
    listed = [p for (p,) in con.execute(f"select path from {RAW_SCHEMA}.raw_files").fetchall()]
    return set(listed) | {key_index_path(p) for p in listed if is_landed(p)}


def remove_orphans(con: duckdb.DuckDBPyConnection, folder: Path) -> int:
    """Remove the files under the layout that no committed load put there; returns how many."""
    expected = expected_on_disk(con)
    orphans = [p for p in files_on_disk(folder) if str(p) not in expected]
    remove_files(orphans)
    return len(orphans)


def landed_path(folder: Path, kind: FileKind, sha: str, name: str) -> Path:
    return folder / kind.name / LANDED_DIR / sha / name


def key_index_path(path: str) -> str:
    """The key index of the landed file at `path` (<raw_dir>/<kind>/keys/<sha>.parquet)."""
    base, _landed, sha, _name = path.replace("\\", "/").rsplit("/", 3)
    return f"{base}/{KEYS_DIR}/{sha}.parquet"


def can_keep_landed(kind: FileKind, source: StagedSource) -> bool:
    """Whether a staged Parquet file holds exactly the contract's columns, in its order, by
    its exact names and DuckDB types, and nothing else: then its rows, once all are clean,
    read as the raw rows the load would write (warehouse.landed_relation)."""
    delivered = [(s.header, s.type.upper()) for s in source.header_order]
    return delivered == [(c.name, DUCKDB_TYPES[c.dtype]) for c in kind.columns]


def write_key_index(
    con: duckdb.DuckDBPyConnection,
    kind: FileKind,
    source: StagedSource,
    sha: str,
    clean: str,
    folder: Path,
) -> tuple[str, int]:
    """Write the key index of a landing file that may be kept, in one scan that also runs the
    clean tests (`clean`, over the staged source); returns its path and how many rows are not
    clean (the file is then not kept, and the index is removed by the caller)."""
    target = folder / kind.name / KEYS_DIR
    target.mkdir(parents=True, exist_ok=True)
    path = str(target / f"{sha}.parquet")
    columns = {c.name: source.columns[c.name] for c in kind.columns}
    keys = ", ".join(ident(k) for k in kind.key)
    con.execute(
        f"copy (select {keys}{', ' if keys else ''}_source_row, "
        f"{row_hash_sql(kind)} as _row_hash, {key_hash_sql(kind)} as _key_hash, _clean "
        f"from (select {', '.join(fast_values(kind, columns))}, _row as _source_row, "
        f"{clean} as _clean from {source.sql})) "
        f"to {literal(path)} (format parquet)"
    )
    unclean = con.execute(
        f"select count(*) from read_parquet({literal(path)}) where not _clean"
    ).fetchone()[0]
    return path, int(unclean)


def keep_landed(source: Path, target: Path, sha: str, rows: int) -> RawFile:
    """Copy a landing file byte for byte into the layout, hashing what it copies: a file
    that changed since it was hashed is refused (ValueError), never kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(tmp, "wb") as out:
        while chunk := src.read(1 << 22):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"{source.name} changed while it was copied into the raw layer")
    os.replace(tmp, target)
    return RawFile(None, str(target), rows)


def key_hash_sql(kind: FileKind) -> str:
    """SQL of a row's 64-bit key hash (null for a kind without a key). Stored in key indexes
    so that matching keys against history reads one integer column, not the key text; the
    layout's hash probe (_layout.json) refuses a DuckDB whose hash() differs."""
    if not kind.key:
        return "null::ubigint"
    return "hash(" + ", ".join(ident(k) for k in kind.key) + ")"


def key_ranges(
    con: duckdb.DuckDBPyConnection, kind: FileKind, paths: list[str]
) -> dict[str, tuple[object, object]]:
    """{path: (min, max)} of the first key column, for the raw files of `paths` whose exact
    Parquet statistics give them (a landed file's key index's); a file without exact
    statistics, or a key that is not text, has no entry: it may hold any key."""
    first = kind.key[0] if kind.key else None
    if first is None or kind.by_name[first].dtype != "string" or not paths:
        return {}
    stats_of = {key_index_path(p) if is_landed(p) else p: p for p in paths}
    return {
        stats_of[name]: (lo, hi)
        for name, lo, hi in con.execute(
            "select file_name, min(stats_min_value), max(stats_max_value) "
            "from parquet_metadata(?) where path_in_schema = ? "
            "group by file_name having bool_and(coalesce(min_is_exact and max_is_exact, false) "
            "and stats_min_value is not null and stats_max_value is not null)",
            [list(stats_of), first],
        ).fetchall()
    }


def files_overlapping(
    con: duckdb.DuckDBPyConnection, kind: FileKind, paths: list[str], lo: object, hi: object
) -> list[str]:
    """The raw files of `paths` that may hold a first key column value in [lo, hi]: a file
    whose exact statistics put the column wholly outside (key_ranges) is left out.
    Why: a first load matches every file against every earlier one, and claim ids that run by
    date (as the generator's do, and many payers') put a month's file beside few others."""
    if lo is None:
        return paths
    ranges = key_ranges(con, kind, paths)
    return [p for p in paths if p not in ranges or not (ranges[p][1] < lo or ranges[p][0] > hi)]


def files_sharing_keys(
    con: duckdb.DuckDBPyConnection, kind: FileKind, paths: list[str]
) -> list[str]:
    """The raw files of `paths` whose first key column range overlaps another's (key_ranges;
    a file without exact statistics overlaps every other): only they can share a key."""
    if len(paths) < 2:
        return []
    ranges = key_ranges(con, kind, paths)
    if len(ranges) < len(paths):
        return paths
    shared = overlapping(ranges)
    return [p for p in paths if p in shared]


def files_holding(
    con: duckdb.DuckDBPyConnection, kind: FileKind, paths: list[str], keys: str
) -> list[str]:
    """The raw files of `paths` (in their order) that may hold a row whose first key column
    value `keys` (SQL of a relation with that column) has: a file whose exact statistics
    (key_ranges) hold none of those values in their range is left out. Parquet metadata only.

    Why: the lines of a night's claims are read from the files that may hold them, not from
    every file. Claim ids that run by date put a month's claims in few files; where they do
    not (the benchmark's files each hold claims of every month), every file is read, as
    before, and this costs the footers."""
    ranges = key_ranges(con, kind, paths)
    if not ranges:
        return paths
    first = ident(kind.key[0])
    listed = ", ".join(
        f"({literal(path)}, {literal(lo)}, {literal(hi)})" for path, (lo, hi) in ranges.items()
    )
    hit = {
        path
        for (path,) in con.execute(
            # Per file, the smallest of the values at or after its min (an as-of join): the
            # file may hold one when that value is at most its max.
            f"select r.path from (values {listed}) r(path, lo, hi) "
            f"asof join (select distinct {first} as v from ({keys})) s on s.v >= r.lo "
            "where s.v <= r.hi"
        ).fetchall()
    }
    return [p for p in paths if p not in ranges or p in hit]


def overlapping(ranges: dict[str, tuple[Any, Any]]) -> set[str]:
    """The names whose closed range [min, max] overlaps another name's, sorted once."""
    ordered = sorted(ranges.items(), key=lambda item: item[1])
    shared: set[str] = set()
    reach = None  # the highest max of the ranges before
    for i, (name, (lo, hi)) in enumerate(ordered):
        if reach is not None and lo <= reach:
            shared.add(name)  # overlaps a range with a lower min
        if i + 1 < len(ordered) and hi >= ordered[i + 1][1][0]:
            shared.add(name)  # overlaps the next range by min (any later one starts after it)
        reach = hi if reach is None else max(reach, hi)
    return shared


def key_rows(kind: FileKind, paths: list[str]) -> str:
    """SQL of the key columns, lineage, `_row_hash` and `_key_hash` of the raw rows in `paths`:
    bucketed files' own columns (the key hash computed), and landed files' key indexes (whose
    other columns are not read), their lineage from the paths: the index's name is the file's
    hash, and the hash names the landed file (looked up only for the rows that need it)."""
    names = [*kind.key, "_file_sha256", "_source_file", "_source_row", "_row_hash"]
    select = ", ".join(ident(n) for n in names)
    bucketed = [p for p in paths if not is_landed(p)]
    landed = [p for p in paths if is_landed(p)]
    parts = [
        f"select {select}, {key_hash_sql(kind)} as _key_hash from {raw_relation(kind, bucketed)}"
    ]
    if landed:
        lineage = [landed_lineage(p) for p in landed]
        names_of = (
            f"map([{', '.join(literal(sha) for sha, _ in lineage)}], "
            f"[{', '.join(literal(name) for _, name in lineage)}])"
        )
        keys = "".join(f"{ident(k)}, " for k in kind.key)
        parts.append(
            f"select {keys}_file_sha256, {names_of}[_file_sha256] as _source_file, _source_row, "
            "_row_hash, _key_hash from (select *, parse_filename(filename, true) as _file_sha256 "
            f"from read_parquet({path_list([key_index_path(p) for p in landed])}, "
            "filename = true))"
        )
    return "(" + " union all ".join(parts) + ")"


def _migrate_tables(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Raw rows a previous release kept in DuckDB tables, written once into the layout (one
    pass per landed file, so every file is named by its landed file); the table is dropped in
    the transaction that lists the files. A killed migration starts again cleanly."""
    for name, kind in FILE_KINDS.items():
        if not raw_kind_is_table(con, name):
            continue
        present = {
            c
            for (c,) in con.execute(
                "select column_name from duckdb_columns() where database_name = "
                "current_database() and schema_name = ? and table_name = ?",
                [RAW_SCHEMA, name],
            ).fetchall()
        }
        select = ", ".join(
            ident(n) if n in present else f"null as {ident(n)}" for n, _ in raw_columns(kind)
        )
        shas = [
            s
            for (s,) in con.execute(
                f"select distinct _file_sha256 from {RAW_SCHEMA}.{name} order by 1"
            ).fetchall()
        ]
        written: list[RawFile] = []
        try:
            with transaction(con):
                for sha in shas:
                    rows = (
                        f"(select {select} from {RAW_SCHEMA}.{name} "
                        f"where _file_sha256 = {literal(sha)})"
                    )
                    files = write_rows(con, kind, rows, sha, folder)
                    written += files
                    register(con, name, sha, files)
                con.execute(f"drop table {RAW_SCHEMA}.{name}")
                refresh_raw_views(con, [name])
        except BaseException:
            remove_files([f.path for f in written])
            raise
        log.warning(
            "raw.%s moved from a DuckDB table into %d Parquet file(s) under %s",
            name,
            len(written),
            folder,
        )


def replace_rows(
    con: duckdb.DuckDBPyConnection, kind: str, rows: str, folder: Path, sha: str = "0" * 64
) -> list[RawFile]:
    """Make raw.<kind> exactly the relation `rows` (any of its columns, the others null),
    written into the layout as one landed file `sha`: for tests and benchmarks that build a
    raw layer without landing files (no ledger row). Call open_raw_layer first."""
    present = {row[0] for row in con.execute(f"describe select * from {rows}").fetchall()}
    select = ", ".join(
        ident(name) if name in present else f"null as {ident(name)}"
        for name, _ in raw_columns(FILE_KINDS[kind])
    )
    con.execute(f"delete from {RAW_SCHEMA}.raw_files where kind = ?", [kind])
    files = write_rows(con, FILE_KINDS[kind], f"(select {select} from {rows})", sha, folder)
    register(con, kind, sha, files)
    remove_orphans(con, folder)
    refresh_raw_views(con, [kind])
    return files


def rows_of(kind: FileKind, files: list[RawFile]) -> str:
    """SQL of the rows of `files` (typed as raw.<kind>)."""
    return raw_relation(kind, [f.path for f in files])
