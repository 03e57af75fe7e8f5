"""Claim- and member-level models brought forward night to night, not rebuilt from every line.

Every row of a model marked `-- incremental: claim` (the claim lines' staging,
int_claim_links, int_claim_versions, int_ed_lines, int_stay_claims) depends only on the lines
in force of the claims of one version family: the claims int_claim_links connects. A steady
night's claims files touch a few of those families, so the night rebuilds only theirs:

1. the scope (`plan`): the claims on tonight's new claims files, the claims those lines name
   as replaced or voided, and every claim last night's int_claim_links connects to them. The
   scope is closed under tonight's links as well: a link in force tonight comes either from a
   line of tonight's files (both its ends are in the scope) or from an earlier line, and then
   it was among last night's links;
2. the lines in force of the scope's claims (`apply`): one read of the raw files whose claim
   id range may hold a scope claim (raw_layer.files_holding), semi-joined to the scope;
3. each claim-incremental model's own SQL over those lines alone (its references rewritten to
   the scope's temporary tables), so each rule stays in its SQL file, stated once;
4. in one transaction, each claim-incremental table loses the scope's rows and gains the
   rebuilt ones; then each model marked `-- incremental: member` (int_ed_claim_visits: every
   row depends on one member's rows of the claim-level tables) is rebuilt, with its own SQL,
   for the members of the scope's claims before and after tonight; and
   raw.kept_model_files records the claims files the tables now include.

The tables are rebuilt from every line instead, and the record written once they are, unless
the record describes them and tonight's inputs only add to it: not on the first night, after
a claims file left force or a row was taken out of force by no file of tonight's, with other
SQL, code lists, settings or DuckDB (the fingerprint), over raw rows written outside the
ingest (a raw file without a ledger row: the test builders), or after a bucketed run (the
bucket merge rebuilds every table and forgets the record).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb

from pipelines.claim_counts import CLAIMS, claims_files_in_force
from pipelines.faults import failpoint
from pipelines.ingest import raw_layer
from pipelines.ingest.quality import files_in, rows_of_files
from pipelines.ingest.validate import ident, literal
from pipelines.warehouse import (
    RAW_SCHEMA,
    existing_tables,
    raw_kind_is_table,
    raw_relation,
    transaction,
    view_paths,
)

# The only raw relation an incremental model may read: the claim lines in force.
CLAIM_LINES_IN_FORCE = "raw.rows_in_force('medical_claims')"
_CLAIM_LINES_PATTERN = re.compile(r"\braw\.rows_in_force\(\s*'medical_claims'\s*\)", re.IGNORECASE)
# The links that make version families; the scope follows them.
LINKS = "intermediate.int_claim_links"
STATE = f"{RAW_SCHEMA}.kept_model_files"
STATE_DDL = f"""
create table if not exists {STATE} (
    file_sha256 varchar not null,   -- a claims file the incremental model tables include
    fingerprint varchar not null,   -- their SQL, code lists, settings and DuckDB version
    superseded bigint not null      -- the claim rows out of force (raw.superseded_rows) then
)
"""
# Rounds of the walk along the links that gathers tonight's families: a family is a few
# claims, so a walk this long (a chain of that many links) rebuilds every table instead.
MAX_LINK_ROUNDS = 100
_SCOPE = "increment_scope"
_FRONTIER = "increment_frontier"
_NEXT = "increment_next"
_LINES = "increment_lines"
_RAW = "increment_raw"
_MEMBERS = "increment_members"


class IncrementalModel(Protocol):
    """What this module needs of pipelines.rules.models.Model."""

    @property
    def table(self) -> str: ...

    name: str
    path: Path
    materialized: str
    incremental: str | None

    def sql_over(self, relations: Mapping[str, str]) -> str: ...


@dataclass(frozen=True)
class Plan:
    """Tonight's claims files in force, the fingerprint of the rules the tables hold, the
    claim rows out of force, and the new files to bring forward (None: rebuild from every
    line)."""

    in_force: tuple[str, ...]
    fingerprint: str
    superseded: int
    new: tuple[str, ...] | None
    scope: int | None = None  # claims whose rows the night rebuilds, when brought forward

    @property
    def full(self) -> bool:
        return self.new is None


def substitute_lines(sql: str, relation: str) -> str:
    """`sql` reading `relation` where it reads the claim lines in force."""
    return _CLAIM_LINES_PATTERN.sub(relation, sql)


def fingerprint(con: duckdb.DuckDBPyConnection, models: Sequence[IncrementalModel]) -> str:
    """What the incremental tables' rows follow from besides the lines: their SQL, the values
    of the variables and the reference tables it reads, and the DuckDB version."""
    texts = {m.table: m.path.read_text() for m in models}
    joined = "\n".join(texts.values())
    variables = sorted(set(re.findall(r"getvariable\(\s*'(\w+)'\s*\)", joined, re.IGNORECASE)))
    references = sorted(set(re.findall(r"\bref\.(\w+)", joined, re.IGNORECASE)))
    content = {
        "duckdb": duckdb.__version__,
        "sql": texts,
        "variables": {
            v: con.execute("select getvariable(?)", [v]).fetchone()[0] for v in variables
        },
        "ref": {
            r: con.execute(f"select * from ref.{r} order by all").fetchall() for r in references
        },
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _superseded(con: duckdb.DuckDBPyConnection, excluding: Sequence[str] = ()) -> int:
    """Claim rows out of force, less those tonight's new files took out."""
    tonight = f" and not {files_in(list(excluding), 'by_file_sha256')}" if excluding else ""
    return con.execute(
        f"select count(*) from {RAW_SCHEMA}.superseded_rows where kind = ?{tonight}",
        [CLAIMS.name],
    ).fetchone()[0]


def _unledgered_files(con: duckdb.DuckDBPyConnection) -> int:
    """Raw claims files no ledger row loaded: rows the ingest did not write."""
    return con.execute(
        f"select count(*) from {RAW_SCHEMA}.raw_files where kind = $kind and file_sha256 not in "
        f"(select file_sha256 from {RAW_SCHEMA}.load_ledger "
        "where kind = $kind and status = 'loaded')",
        {"kind": CLAIMS.name},
    ).fetchone()[0]


def _missing_tables(con: duckdb.DuckDBPyConnection, models: Sequence[IncrementalModel]) -> bool:
    existing = existing_tables(con)
    return any(m.table not in existing for m in models if m.materialized == "table")


def plan(con: duckdb.DuckDBPyConnection, models: Sequence[IncrementalModel]) -> Plan | None:
    """Tonight's plan for the incremental models among `models` (None when there are none, or
    not all of them: a partial build keeps no record). When the tables can be brought
    forward, the scope's claim ids are left in the temporary table `increment_scope`."""
    incremental = [m for m in models if m.incremental]
    if LINKS not in {m.table for m in incremental}:
        return None
    con.execute(STATE_DDL)
    in_force = tuple(claims_files_in_force(con))
    full = Plan(in_force, fingerprint(con, incremental), _superseded(con), None)
    if raw_kind_is_table(con, CLAIMS.name) or _unledgered_files(con):
        return full
    recorded = con.execute(f"select distinct fingerprint, superseded from {STATE}").fetchall()
    if len(recorded) != 1 or recorded[0][0] != full.fingerprint:
        return full
    covered = {sha for (sha,) in con.execute(f"select file_sha256 from {STATE}").fetchall()}
    if not covered <= set(in_force) or _missing_tables(con, incremental):
        return full
    new = tuple(sha for sha in in_force if sha not in covered)
    if _superseded(con, excluding=new) != recorded[0][1]:
        return full
    if not _gather_scope(con, new):
        return full
    scope = con.execute(f"select count(*) from {_SCOPE}").fetchone()[0]
    return Plan(in_force, full.fingerprint, full.superseded, new, scope)


def _gather_scope(con: duckdb.DuckDBPyConnection, new: Sequence[str]) -> bool:
    """The scope (module docstring, step 1) into `increment_scope`; False when the walk along
    the links is longer than MAX_LINK_ROUNDS. A named claim is taken as delivered and trimmed
    (staging trims it), which can only add claims that have no lines."""
    rows = rows_of_files(con, CLAIMS, list(new))
    con.execute(
        f"create or replace temp table {_SCOPE} as select distinct claim_id from ("
        "select unnest([claim_id, original_claim_id, trim(original_claim_id)]) as claim_id "
        f"from {rows} where {files_in(list(new))}) where claim_id is not null"
    )
    con.execute(f"create or replace temp table {_FRONTIER} as select claim_id from {_SCOPE}")
    try:
        for _ in range(MAX_LINK_ROUNDS):
            con.execute(
                f"create or replace temp table {_NEXT} as select distinct n.claim_id from ("
                f"select l.parent_claim_id as claim_id from {LINKS} l "
                f"semi join {_FRONTIER} f on f.claim_id = l.claim_id "
                f"union all select l.claim_id from {LINKS} l "
                f"semi join {_FRONTIER} f on f.claim_id = l.parent_claim_id"
                f") n anti join {_SCOPE} s on s.claim_id = n.claim_id"
            )
            if not con.execute(f"select count(*) from {_NEXT}").fetchone()[0]:
                return True
            con.execute(f"insert into {_SCOPE} select claim_id from {_NEXT}")
            con.execute(f"create or replace temp table {_FRONTIER} as select * from {_NEXT}")
        return False
    finally:
        con.execute(f"drop table if exists {_NEXT}")
        con.execute(f"drop table if exists {_FRONTIER}")


def _columns_read(con: duckdb.DuckDBPyConnection, models: Sequence[IncrementalModel]) -> list[str]:
    """The claim line columns the claim-incremental models name. The scope's lines carry only
    these: the read of every line decodes what it selects (44 of 63 columns: 3.3 s against
    5.6 s at 1M members), and a model that read one more, through a `*`, would fail on it, not
    miss it.
    """
    text = "\n".join(m.path.read_text() for m in models)
    return [
        name
        for (name,) in con.execute(
            f"select column_name from (describe select * from {CLAIM_LINES_IN_FORCE})"
        ).fetchall()
        if re.search(rf"\b{re.escape(name)}\b", text)
    ]


@dataclass(frozen=True)
class Brought:
    """What `apply` did per incremental model: seconds, and the claims or members whose rows
    it rebuilt (count, 'claims' or 'members')."""

    seconds: dict[str, float]
    rebuilt: dict[str, tuple[int, str]]


def _has_member_id(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".", 1)
    return bool(
        con.execute(
            "select count(*) from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ? and column_name = 'member_id'",
            [schema, name],
        ).fetchone()[0]
    )


def apply(
    con: duckdb.DuckDBPyConnection, models: Sequence[IncrementalModel], night: Plan
) -> Brought:
    """Bring the incremental tables forward to tonight (module docstring, steps 2 to 4).
    The read of the scope's lines counts to the first model's seconds."""
    by_claim = [m for m in models if m.incremental == "claim"]
    by_member = [m for m in models if m.incremental == "member"]
    started = time.perf_counter()
    columns = ", ".join(f"r.{ident(c)}" for c in _columns_read(con, by_claim))
    holding = raw_layer.files_holding(
        con, CLAIMS, view_paths(con, CLAIMS.name), f"select claim_id from {_SCOPE}"
    )
    con.execute(
        f"create or replace temp view {_RAW} as select * from {raw_relation(CLAIMS, holding)}"
    )
    con.execute(
        f"create or replace temp table {_LINES} as select {columns} "
        f"from {RAW_SCHEMA}.rows_in_force({literal(CLAIMS.name)}, relation := {literal(_RAW)}) r "
        f"semi join {_SCOPE} s on s.claim_id = r.claim_id"
    )
    con.execute(f"drop view {_RAW}")
    relations = {CLAIM_LINES_IN_FORCE: _LINES} | {m.table: f"increment_{m.name}" for m in by_claim}
    seconds = dict.fromkeys((m.table for m in [*by_claim, *by_member]), 0.0)
    seconds[by_claim[0].table] = time.perf_counter() - started
    for model in by_claim:
        started = time.perf_counter()
        con.execute(
            f"create or replace temp table {relations[model.table]} as {model.sql_over(relations)}"
        )
        seconds[model.table] += time.perf_counter() - started
    tables = [m for m in by_claim if m.materialized == "table"]
    # The members of the scope's claims, before and after tonight: a member-incremental model's
    # rows of those members are rebuilt from the claim tables brought forward.
    members_of = [
        f"select member_id from {m.table} semi join {_SCOPE} using (claim_id) "
        f"union all select member_id from {relations[m.table]}"
        for m in tables
        if _has_member_id(con, m.table)
    ] or ["select cast(null as varchar) as member_id"]
    con.execute(
        f"create or replace temp table {_MEMBERS} as select distinct member_id from ("
        + " union all ".join(members_of)
        + ") where member_id is not null"
    )
    members = con.execute(f"select count(*) from {_MEMBERS}").fetchone()[0]
    with transaction(con):
        for model in tables:
            started = time.perf_counter()
            con.execute(
                f"delete from {model.table} where claim_id in (select claim_id from {_SCOPE})"
            )
            con.execute(f"insert into {model.table} select * from {relations[model.table]}")
            seconds[model.table] += time.perf_counter() - started
        of_members = {
            m.table: f"(select * from {m.table} semi join {_MEMBERS} using (member_id))"
            for m in [*tables, *by_member]
        }
        for model in by_member:
            started = time.perf_counter()
            rebuilt = f"increment_{model.name}"
            con.execute(f"create or replace temp table {rebuilt} as {model.sql_over(of_members)}")
            con.execute(
                f"delete from {model.table} where member_id in (select member_id from {_MEMBERS})"
            )
            con.execute(f"insert into {model.table} select * from {rebuilt}")
            con.execute(f"drop table {rebuilt}")
            seconds[model.table] += time.perf_counter() - started
        failpoint("rules.increment.spliced")
        record(con, night)
    for relation in (_SCOPE, _MEMBERS, *relations.values()):
        con.execute(f"drop table if exists {relation}")
    rebuilt_claims = {m.table: (night.scope or 0, "claims") for m in by_claim}
    return Brought(seconds, rebuilt_claims | {m.table: (members, "members") for m in by_member})


def record(con: duckdb.DuckDBPyConnection, night: Plan) -> None:
    """The incremental tables now hold tonight's claims files (every one in force; with none,
    nothing is recorded and the next night rebuilds, from no lines)."""
    forget(con)
    if not night.in_force:
        return
    con.executemany(
        f"insert into {STATE} values (?, ?, ?)",
        [[sha, night.fingerprint, night.superseded] for sha in night.in_force],
    )


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """No record: the next night rebuilds the incremental tables from every line."""
    con.execute(STATE_DDL)
    con.execute(f"delete from {STATE}")
