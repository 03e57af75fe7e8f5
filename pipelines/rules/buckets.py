"""Member-hash buckets: the rules stage split by member, built in parallel, merged back.

Why the split is exact. Staging and intermediate results are per member: every join and
window in sql/staging and sql/intermediate is keyed by member_id, with one exception: claim
version chains (int_claim_versions) follow claim_id -> original_claim_id, and a correction may
carry another member_id than the claim it replaces or voids. So bucket b receives
  * the raw rows of its own members (`hash(member_id) % buckets = b`), and
  * every claim line of any claim that is chained (through original_claim_id, in either
    direction, transitively) to a claim of its own members, whoever the member is,
and the merge keeps from bucket b only the rows of bucket b's members. The marts are not
per member (fct_candidates ranks within a tier across all members), so the merge builds them
from their SQL over the merged intermediate layer, exactly as a single run does. No SQL file
changes; the single run stays the reference (tests/test_buckets.py compares the two).

Why DuckDB's hash(). It is deterministic (fixed seed, no per-process salt) and cheap: about
2 s for 20M ids here, where md5_number() took minutes. It is not promised stable across
DuckDB versions, so each bucket file records the hash of a probe string and the merge refuses
files whose probe differs from its own (a cluster node on another DuckDB version, a stale file
from another run).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import duckdb

from pipelines.config import RuleConfig
from pipelines.contract import FILE_KINDS
from pipelines.faults import failpoint
from pipelines.rules.models import (
    ModelResult,
    build_models,
    discover_models,
    materialize,
    prepare,
)
from pipelines.warehouse import in_force_macros

# Built inside each bucket; the marts are built once, by the merge.
BUCKET_LAYERS = ("staging", "intermediate")
META_TABLE = "main.bucket_meta"
PROBE = "ecm-bucket-probe"
CLAIMS = "medical_claims"
CHAINED_TABLE = "main.bucket_chained_claims"


class BucketMismatchError(RuntimeError):
    """A bucket file that this run's merge must not use."""


def bucket_of(column: str, buckets: int) -> str:
    """SQL for the bucket of a member id column (0 .. buckets - 1)."""
    return f"hash({column}) % {int(buckets)}"


def bucket_file(work: Path, bucket: int) -> Path:
    """Bucket b of a run beside the run's work warehouse: ecm.work.bucket-03.duckdb."""
    return work.with_name(f"{work.stem}.bucket-{bucket:02d}{work.suffix}")


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


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def attach_bucket_raw(con: duckdb.DuckDBPyConnection, work: Path, bucket: int, buckets: int) -> int:
    """Schema raw of the bucket: views over the run's warehouse, attached read-only as `wh`.

    Views, not copies: copying a fifth of a large claims table into a new file costs more than
    the models that read it, while a view lets DuckDB read only the columns a model needs.
    DuckDB allows many read-only processes on a file while no writer has it open; the run's
    writer steps (ingest before, merge after) are not running while buckets build.
    Returns the number of claims pulled in through chains (their lines travel with them).
    """
    mine = bucket_of("member_id", buckets)
    con.execute(f"attach {_quote(work)} as wh (read_only)")
    # Claim chains may cross members: take every line of every claim chained to ours. The
    # links are a superset of int_claim_versions' (any non-empty original_claim_id, whatever
    # the frequency code), so whole chains always travel together.
    con.execute(
        f"""
        create or replace table {CHAINED_TABLE} as
        with recursive
        links as (
            select distinct claim_id as a, trim(original_claim_id) as b
            from wh.raw.{CLAIMS}
            where nullif(trim(original_claim_id), '') is not null
        ),
        edges as (
            select a, b from links
            union
            select b, a from links
        ),
        own_claims as (
            select distinct claim_id from wh.raw.{CLAIMS}
            where {mine} = {bucket}
                and claim_id in (select a from edges)
        ),
        chained (claim_id) as (
            select claim_id from own_claims
            union
            select edges.b from chained
            inner join edges on edges.a = chained.claim_id
        )
        select claim_id from chained
        """
    )
    con.execute("create schema if not exists raw")
    for kind in FILE_KINDS:
        chained = (
            f" or claim_id in (select claim_id from {CHAINED_TABLE})" if kind == CLAIMS else ""
        )
        con.execute(
            f"create or replace view raw.{kind} as "
            f"select * from wh.raw.{kind} where {mine} = {bucket}{chained}"
        )
    # What is in force (snapshots, superseded rows) is decided by the warehouse's ledger.
    for table in ("load_ledger", "superseded_rows"):
        con.execute(f"create or replace view raw.{table} as select * from wh.raw.{table}")
    for macro in in_force_macros():
        con.execute(macro)
    return con.execute(f"select count(*) from {CHAINED_TABLE}").fetchall()[0][0]


def _probe(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("select hash(?)", [PROBE]).fetchall()[0][0]


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
    """Build one bucket's staging and intermediate layers in its own fresh DuckDB file."""
    path = bucket_file(work, bucket)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    with duckdb.connect(str(path), config=dict(config or {})) as con:
        started = time.perf_counter()
        chained = attach_bucket_raw(con, work, bucket, buckets)
        results = [ModelResult(CHAINED_TABLE, chained, time.perf_counter() - started)]
        try:
            results += build_models(con, as_of, rules, layers=BUCKET_LAYERS)
        finally:
            con.execute("detach wh")
        con.execute(
            f"create or replace table {META_TABLE} as select ? as bucket, ? as buckets, "
            "? as as_of, ? as run_token, ? as probe",
            [bucket, buckets, as_of, run_token, _probe(con)],
        )
    return results


def _check_meta(
    con: duckdb.DuckDBPyConnection, alias: str, bucket: int, buckets: int, as_of: date, token: str
) -> None:
    row = con.execute(
        f"select bucket, buckets, as_of, run_token, probe from {alias}.{META_TABLE}"
    ).fetchall()
    expected = (bucket, buckets, as_of, token, _probe(con))
    if not row or tuple(row[0]) != expected:
        raise BucketMismatchError(
            f"bucket file {alias} holds {row[0] if row else 'nothing'}, expected {expected} "
            "(bucket, buckets, as_of, run, hash probe): rebuild the buckets in this run"
        )


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
) -> list[ModelResult]:
    """Build every model in the run's warehouse from the buckets; same tables as build_models.

    A member-level staging or intermediate table is the union of each bucket's rows of its
    own members; everything else (views, member-less tables, the marts) runs its own SQL here
    over the merged inputs, in the usual order. Bucket files are removed after success.
    """
    prepare(con, as_of, rules)
    aliases = [f"bucket_{b:02d}" for b in range(buckets)]
    files = [bucket_file(work, b) for b in range(buckets)]
    for bucket, (alias, path) in enumerate(zip(aliases, files, strict=True)):
        if not path.exists():
            raise BucketMismatchError(f"bucket file {path} is missing")
        con.execute(f"attach {_quote(path)} as {alias} (read_only)")
        _check_meta(con, alias, bucket, buckets, as_of, run_token)
    results = []
    try:
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
    for path in files:
        for done in (path, path.with_name(path.name + ".wal")):
            done.unlink(missing_ok=True)
    return results
