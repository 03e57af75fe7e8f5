"""Member-hash buckets: the rules stage split by member, built in parallel, merged back.

Why the split is exact. Staging and intermediate results are per member: every join and
window in sql/staging and sql/intermediate is keyed by member_id, with one exception: claim
version chains (int_claim_versions) follow claim_id -> original_claim_id, and a correction may
carry another member_id than the claim it replaces or voids. So bucket b receives
  * the raw rows of its own members: the raw layer's Parquet files of the storage buckets p
    with p % buckets = b (a row's storage bucket is hash(member_id) % RAW_BUCKETS, decided at
    ingest, and `buckets` divides RAW_BUCKETS, so these are exactly hash(member_id) %
    buckets = b), and
  * every claim line of any claim that is chained (through original_claim_id, in either
    direction, transitively) to a claim of its own members, whoever the member is,
and the merge keeps from bucket b only the rows of bucket b's members. The marts are not
per member (fct_candidates ranks within a tier across all members), so the merge builds them
from their SQL over the merged intermediate layer, exactly as a single run does. No SQL file
changes; the single run stays the reference (tests/test_buckets.py compares the two).

Who reads what. Before the buckets, `prepare_buckets` (the run's writer, holding its lock)
writes a small plan file: the raw files' list, the ledger and superseded rows that decide
which rows are in force, the claim lines in force per member (each bucket sees its own
members'), and the chained lines each bucket needs from other buckets, found once for all
buckets. A bucket then reads only the plan file and its own share of the Parquet
files, never the run's warehouse, so it neither waits on nor blocks the run's other steps.

Why DuckDB's hash(). It is deterministic (fixed seed, no per-process salt) and cheap. It is
not promised stable across DuckDB versions, so the plan and each bucket file record the hash of
a probe string, and the buckets and the merge refuse files whose probe differs from their own
(a cluster node on another DuckDB version, a stale file from another run). The raw layer's
_layout.json records its own probe (pipelines/ingest/raw_layer.py).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import NamedTuple

import duckdb

from pipelines.claim_counts import MEMBER_LINES, update_claim_counts
from pipelines.config import RuleConfig
from pipelines.contract import FILE_KINDS
from pipelines.faults import failpoint
from pipelines.ingest.validate import literal
from pipelines.rules import increment
from pipelines.rules.models import (
    ModelResult,
    build_models,
    discover_models,
    materialize,
    prepare,
)
from pipelines.warehouse import RAW_SCHEMA, in_force_macros, raw_relation, view_paths

# Built inside each bucket; the marts are built once, by the merge.
BUCKET_LAYERS = ("staging", "intermediate")
META_TABLE = "main.bucket_meta"
PROBE = "ecm-bucket-probe"
CLAIMS = "medical_claims"
PLAN = "plan"  # the plan file's alias where it is attached
# What a bucket's result list calls its raw input (the claim lines it read).
BUCKET_INPUT = f"{RAW_SCHEMA}.{CLAIMS} (bucket input)"


class BucketMismatchError(RuntimeError):
    """A bucket or plan file that this run must not use."""


def bucket_of(column: str, buckets: int) -> str:
    """SQL for the bucket of a member id column (0 .. buckets - 1)."""
    return f"hash({column}) % {int(buckets)}"


def bucket_file(work: Path, bucket: int) -> Path:
    """Bucket b of a run beside the run's work warehouse: ecm.work.bucket-03.duckdb."""
    return work.with_name(f"{work.stem}.bucket-{bucket:02d}{work.suffix}")


def plan_file(work: Path) -> Path:
    """What the buckets of a run read besides the raw files: ecm.work.bucket-plan.duckdb."""
    return work.with_name(f"{work.stem}.bucket-plan{work.suffix}")


def _remove(path: Path) -> None:
    for done in (path, path.with_name(path.name + ".wal")):
        done.unlink(missing_ok=True)


def split_config(config: Mapping[str, object], parts: int) -> dict[str, object]:
    """DuckDB limits for one of `parts` buckets running at once on the same machine."""
    split = dict(config)
    if parts <= 1:
        return split
    split["threads"] = max(1, int(config.get("threads", os.cpu_count() or 1)) // parts)
    limit = str(config.get("memory_limit", ""))
    found = re.fullmatch(r"\s*([\d.]+)\s*([KMGT])i?B\s*", limit, re.IGNORECASE)
    if found:
        megabytes = float(found.group(1)) * 1024 ** "KMGT".index(found.group(2).upper()) / 1024
        split["memory_limit"] = f"{max(256, int(megabytes / parts))}MB"
    return split


def prepare_buckets(
    con: duckdb.DuckDBPyConnection, *, work: Path, buckets: int, run_token: str
) -> ModelResult:
    """Write the plan file the buckets read (run's warehouse connection `con`, its writer).

    It holds the raw files' list, the ledger and the superseded rows (what is in force is
    decided by them, as in a single run), and `chained_lines`: for each bucket the raw claim
    lines, stored in other buckets, of every claim chained to a claim with a line in the
    bucket. The links are a superset of int_claim_versions' (any non-empty original_claim_id,
    whatever the frequency code), so whole chains always travel together. Found once here
    for every bucket instead of once per bucket. Returns the number of chained lines.
    """
    started = time.perf_counter()
    path = plan_file(work)
    _remove(path)
    con.execute(f"attach {literal(str(path))} as {PLAN}")
    try:
        con.execute(
            f"create table {PLAN}.raw_files as "
            f"select kind, bucket, path, rows from {RAW_SCHEMA}.raw_files"
        )
        # What raw.rows_in_force reads of them (in_force_macros): superseded rows grow with
        # every night's corrections, so only their keys travel.
        con.execute(f"create table {PLAN}.load_ledger as select * from {RAW_SCHEMA}.load_ledger")
        con.execute(
            f"create table {PLAN}.superseded_rows as "
            f"select file_sha256, source_row from {RAW_SCHEMA}.superseded_rows"
        )
        # The claim lines per member kept between nights (staging.stg_claim_members), current.
        update_claim_counts(con)
        con.execute(
            f"create table {PLAN}.{MEMBER_LINES} as select * from {RAW_SCHEMA}.{MEMBER_LINES}"
        )
        _write_chained_lines(con, buckets)
        con.execute(
            f"create table {PLAN}.{META_TABLE} as select ? as buckets, ? as run_token, ? as probe",
            [buckets, run_token, _probe(con)],
        )
        chained = con.execute(f"select count(*) from {PLAN}.chained_lines").fetchall()[0][0]
    finally:
        con.execute(f"detach {PLAN}")
    return ModelResult(f"{PLAN}.chained_lines", chained, time.perf_counter() - started)


def _write_chained_lines(con: duckdb.DuckDBPyConnection, buckets: int) -> None:
    """plan.chained_lines: (rules_bucket, raw claim line) of every line a bucket needs from
    another bucket. Two narrow scans find the chains and where their claims' lines are; the
    lines themselves are read (every column) only when some chain crosses buckets."""
    share = f"_bucket % {int(buckets)}"
    con.execute(
        f"""
        create or replace temp table bucket_edges as
        with links as (
            select distinct claim_id as a, trim(original_claim_id) as b
            from {RAW_SCHEMA}.{CLAIMS}
            where nullif(trim(original_claim_id), '') is not null
        )
        select a, b from links
        union
        select b, a from links
        """
    )
    # Where each chained claim's lines are: (rules bucket, claim) of every line.
    con.execute(
        f"""
        create or replace temp table bucket_chain_claims as
        select distinct {share} as rules_bucket, claim_id
        from {RAW_SCHEMA}.{CLAIMS}
        where claim_id in (select a from bucket_edges)
        """
    )
    # Each bucket's chains followed from its own claims; needed: the reached claims with lines
    # in another bucket.
    con.execute(
        """
        create or replace temp table bucket_needed as
        with recursive reached (rules_bucket, claim_id) as (
            select rules_bucket, claim_id from bucket_chain_claims
            union
            select reached.rules_bucket, bucket_edges.b
            from reached
            inner join bucket_edges on bucket_edges.a = reached.claim_id
        )
        select reached.rules_bucket, reached.claim_id
        from reached
        where exists (
            select 1 from bucket_chain_claims as elsewhere
            where elsewhere.claim_id = reached.claim_id
                and elsewhere.rules_bucket <> reached.rules_bucket
        )
        """
    )
    needed = con.execute("select count(*) from bucket_needed").fetchall()[0][0]
    con.execute(
        f"""
        create table {PLAN}.chained_lines as
        select bucket_needed.rules_bucket, lines.*
        from {RAW_SCHEMA}.{CLAIMS} as lines
        inner join bucket_needed on bucket_needed.claim_id = lines.claim_id
        where lines.{share} <> bucket_needed.rules_bucket
            {"" if needed else "and false"}
        """
    )
    for table in ("bucket_edges", "bucket_chain_claims", "bucket_needed"):
        con.execute(f"drop table {table}")


def attach_bucket_raw(con: duckdb.DuckDBPyConnection, bucket: int, buckets: int) -> int:
    """Schema raw of the bucket: views over its share of the raw layer, and the plan's
    in-force tables (the plan attached as `plan`, attach_plan).

    Views, not copies: the models read only the columns they need, straight from the Parquet
    files of the bucket's storage buckets. Returns the claim lines the bucket reads (its own
    files' rows, from raw.raw_files, plus the chained lines from other buckets).
    """
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    share = f"bucket % {int(buckets)} = {int(bucket)}"
    # A landing file kept as delivered (bucket null) holds every bucket's rows: the bucket
    # reads its share of them by the rows' own `_bucket`.
    landed_share = f"_bucket % {int(buckets)} = {int(bucket)}"
    for name, kind in FILE_KINDS.items():
        paths = view_paths(con, name, f"{PLAN}.raw_files", f"{share} or bucket is null")
        relation = f"select * from {raw_relation(kind, paths, landed_share)}"
        if name == CLAIMS:
            relation += (
                f" union all by name select * exclude (rules_bucket) from {PLAN}.chained_lines "
                f"where rules_bucket = {int(bucket)}"
            )
        con.execute(f"create or replace view {RAW_SCHEMA}.{name} as {relation}")
    # What is in force (snapshots, superseded rows) is decided by the run's ledger.
    for table in ("load_ledger", "superseded_rows"):
        con.execute(f"create or replace view {RAW_SCHEMA}.{table} as select * from {PLAN}.{table}")
    con.execute(
        f"create or replace view {RAW_SCHEMA}.{MEMBER_LINES} as select * from "
        f"{PLAN}.{MEMBER_LINES} where {bucket_of('member_id', buckets)} = {int(bucket)}"
    )
    for macro in in_force_macros():
        con.execute(macro)
    own = con.execute(
        f"select coalesce(sum(rows), 0) from {PLAN}.raw_files where kind = ? and {share}",
        [CLAIMS],
    ).fetchall()[0][0]
    landed = view_paths(con, CLAIMS, f"{PLAN}.raw_files", "bucket is null")
    if landed:
        own += con.execute(
            f"select count(*) from {raw_relation(FILE_KINDS[CLAIMS], landed, landed_share)}"
        ).fetchall()[0][0]
    chained = con.execute(
        f"select count(*) from {PLAN}.chained_lines where rules_bucket = ?", [bucket]
    ).fetchall()[0][0]
    return int(own) + int(chained)


def _probe(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select hash(?)", [PROBE]).fetchall()[0][0]


class BucketInput(NamedTuple):
    """What one bucket read and how long it took (the merge reports it)."""

    bucket: int
    claim_lines: int
    seconds: float


def _check_meta(con: duckdb.DuckDBPyConnection, alias: str, expected: dict[str, object]) -> None:
    """Refuse a plan or bucket file made for another run, bucket count or DuckDB hash."""
    names = ", ".join(expected)
    row = con.execute(f"select {names} from {alias}.{META_TABLE}").fetchall()
    wanted = tuple(expected.values())
    if not row or tuple(row[0]) != wanted:
        raise BucketMismatchError(
            f"{alias} file holds {row[0] if row else 'nothing'}, expected {wanted} ({names}): "
            "rebuild the buckets in this run"
        )


def attach_plan(con: duckdb.DuckDBPyConnection, work: Path, buckets: int, run_token: str) -> None:
    """The run's plan file, read-only, as `plan`, checked to be this run's."""
    path = plan_file(work)
    if not path.exists():
        raise BucketMismatchError(f"bucket plan {path} is missing: rerun the rules from the start")
    con.execute(f"attach {literal(str(path))} as {PLAN} (read_only)")
    _check_meta(con, PLAN, {"buckets": buckets, "run_token": run_token, "probe": _probe(con)})


def build_bucket(
    *,
    work: Path,
    bucket: int,
    buckets: int,
    as_of: date,
    rules: RuleConfig,
    run_token: str,
    config: Mapping[str, object] | None = None,
) -> list[ModelResult]:
    """Build one bucket's staging and intermediate layers in its own fresh DuckDB file.

    The first result is the bucket's raw input: the claim lines it read."""
    path = bucket_file(work, bucket)
    _remove(path)
    with duckdb.connect(str(path), config=dict(config or {})) as con:
        started = time.perf_counter()
        attach_plan(con, work, buckets, run_token)
        try:
            lines = attach_bucket_raw(con, bucket, buckets)
            results = build_models(con, as_of, rules, layers=BUCKET_LAYERS, kept_counts=False)
        finally:
            con.execute(f"detach {PLAN}")
        seconds = time.perf_counter() - started
        con.execute(
            f"create or replace table {META_TABLE} as select ? as bucket, ? as buckets, "
            "? as as_of, ? as run_token, ? as probe, ? as claim_lines, ? as seconds",
            [bucket, buckets, as_of, run_token, _probe(con), lines, seconds],
        )
    return [ModelResult(BUCKET_INPUT, lines, seconds), *results]


def _member_level(con: duckdb.DuckDBPyConnection, alias: str, layer: str, name: str) -> bool:
    """A bucket table that can be gathered: it has a member_id to assign each row a bucket."""
    return bool(
        con.execute(
            "select count(*) from duckdb_columns() where database_name = ? "
            "and schema_name = ? and table_name = ? and column_name = 'member_id'",
            [alias, layer, name],
        ).fetchall()[0][0]
    )


def merge_buckets(
    con: duckdb.DuckDBPyConnection,
    *,
    work: Path,
    buckets: int,
    as_of: date,
    rules: RuleConfig,
    run_token: str,
) -> tuple[list[ModelResult], list[BucketInput]]:
    """Build every model in the run's warehouse from the buckets; same tables as build_models.

    A member-level staging or intermediate table is the union of each bucket's rows of its
    own members; everything else (views, member-less tables, the marts) runs its own SQL here
    over the merged inputs, in the usual order. Returns the models' results and what each
    bucket read. The bucket files and the plan are removed after success.
    """
    prepare(con, as_of, rules)
    increment.forget(con)  # every table is rebuilt here, without a record for the next night
    aliases = [f"bucket_{b:02d}" for b in range(buckets)]
    files = [bucket_file(work, b) for b in range(buckets)]
    for bucket, (alias, path) in enumerate(zip(aliases, files, strict=True)):
        if not path.exists():
            raise BucketMismatchError(f"bucket file {path} is missing")
        con.execute(f"attach {literal(str(path))} as {alias} (read_only)")
        expected = {"bucket": bucket, "buckets": buckets, "as_of": as_of, "run_token": run_token}
        _check_meta(con, alias, {**expected, "probe": _probe(con)})
    results = []
    try:
        inputs = [
            BucketInput(*row)
            for alias in aliases
            for row in con.execute(
                f"select bucket, claim_lines, seconds from {alias}.{META_TABLE}"
            ).fetchall()
        ]
        for model in discover_models():
            started = time.perf_counter()
            gathered = (
                model.layer in BUCKET_LAYERS
                and model.materialized == "table"
                and _member_level(con, aliases[0], model.layer, model.name)
            )
            select = (
                "\nunion all\n".join(
                    f"select * from {alias}.{model.table} "
                    f"where {bucket_of('member_id', buckets)} = {bucket}"
                    for bucket, alias in enumerate(aliases)
                )
                if gathered
                else None
            )
            rows = materialize(con, model, select)
            results.append(ModelResult(model.table, rows, time.perf_counter() - started))
            failpoint(f"rules.after.{model.name}")
    finally:
        for alias in aliases:
            con.execute(f"detach {alias}")
    for path in [*files, plan_file(work)]:
        _remove(path)
    return results, inputs
