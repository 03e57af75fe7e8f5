"""The rules stage: run the SQL models in sql/ against the warehouse.

The SQL files are the rules; this module only decides the order and materializes each one as
`create or replace table <layer>.<file name> as <file>`, so a reader learns every rule from
the SQL and nothing hides in Python.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from graphlib import TopologicalSorter
from pathlib import Path
from typing import NamedTuple

import duckdb

from pipelines.claim_counts import MEMBER_LINES, update_claim_counts
from pipelines.config import RuleConfig
from pipelines.faults import failpoint
from pipelines.measures import TIERS
from pipelines.paths import SQL_DIR
from pipelines.reference import load_reference_tables
from pipelines.rules import increment
from pipelines.rules.increment import CLAIM_LINES_IN_FORCE
from pipelines.warehouse import existing_tables, set_variables

# Layers run in this order; a model may read its own layer or an earlier one.
LAYERS = ("staging", "intermediate", "marts")

# A model is a table unless its header says `-- materialized: view` (staging's rename-only
# models, and wide row-level models whose consumers read few columns of few rows).
_MATERIALIZED = re.compile(r"^--\s*materialized:\s*(table|view)\s*$", re.MULTILINE)
# A model is brought forward night to night (pipelines/rules/increment.py) when its header says
# `-- incremental: claim` (each of its rows depends only on the lines in force of the claims of
# one version family: rebuilt for the claims tonight's claims files touch) or
# `-- incremental: member` (each row depends only on one member's rows of incremental models:
# rebuilt for those claims' members).
_INCREMENTAL = re.compile(r"^--\s*incremental:\s*(claim|member)\s*$", re.MULTILINE)
_REFERENCE = re.compile(r"\b(" + "|".join(LAYERS) + r")\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)
_RAW_REFERENCE = re.compile(r"\braw\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)
# Code lists (ref tables of code_system, code) that models test every claim line against, also
# set as a variable of the same name: a MAP of code_system -> sorted codes. A model that tests
# `list_contains(getvariable('ed_codes')['revenue'], revenue_code)` has no join in its filter,
# so DuckDB applies the filter while it scans the raw Parquet files, and the in-force
# anti-joins and staging's normalization run on the few lines that pass (int_ed_lines: half
# the CPU of `revenue_code in (select code from ref.ed_codes ...)`, which joins every line).
CODE_LIST_VARIABLES = ("ed_codes",)


@dataclass(frozen=True)
class Model:
    layer: str
    name: str
    path: Path
    depends_on: frozenset[str]
    materialized: str = "table"
    raw_reads: frozenset[str] = frozenset()
    incremental: str | None = None  # 'claim' or 'member' (_INCREMENTAL)

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    def rule_comment(self) -> list[str]:
        """The rule in words: the comment block at the top of the file, without the file's
        name line and the `materialized:` and `incremental:` directives."""
        lines = []
        for line in self.path.read_text().splitlines():
            if not line.startswith("--"):
                break
            text = line[2:].strip()
            if text != self.name and not _MATERIALIZED.match(line) and not _INCREMENTAL.match(line):
                lines.append(text)
        return lines

    def sql(self) -> str:
        return self.path.read_text().strip().rstrip(";")

    def sql_over(self, relations: Mapping[str, str]) -> str:
        """The model's SQL reading other relations: `relations` maps a model's table or
        CLAIM_LINES_IN_FORCE to the relation read in its place."""
        sql = self.sql()
        if CLAIM_LINES_IN_FORCE in relations:
            sql = increment.substitute_lines(sql, relations[CLAIM_LINES_IN_FORCE])
        return _REFERENCE.sub(
            lambda m: relations.get(f"{m.group(1).lower()}.{m.group(2).lower()}", m.group(0)),
            sql,
        )


class ModelResult(NamedTuple):
    table: str
    rows: int | None  # None for a view: counting it would evaluate it once more
    seconds: float
    # An incremental model brought forward: how many claims or members tonight rebuilt the
    # rows of, and which ('claims' or 'members').
    rebuilt: tuple[int, str] | None = None

    def summary(self) -> str:
        """What the run log says of the model."""
        built = "a view" if self.rows is None else f"{self.rows:,} rows"
        if self.rebuilt is not None:
            built += f" (brought forward: {self.rebuilt[0]:,} {self.rebuilt[1]} rebuilt)"
        return f"{self.table}: {built} in {self.seconds:.2f}s"


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def discover_models(sql_dir: Path = SQL_DIR) -> list[Model]:
    """Models in run order: layer by layer, and inside a layer after the models they read.

    The order inside a layer is a topological sort of the `layer.table` references in the SQL
    (comments ignored), ties broken by name, so the order is the same on every machine.
    """
    ordered: list[Model] = []
    for layer_index, layer in enumerate(LAYERS):
        layer_dir = sql_dir / layer
        paths = sorted(layer_dir.glob("*.sql")) if layer_dir.is_dir() else []
        models = {}
        for path in paths:
            text = path.read_text()
            refs = {
                f"{m.group(1).lower()}.{m.group(2).lower()}"
                for m in _REFERENCE.finditer(_strip_comments(text))
            }
            found = _MATERIALIZED.search(text)
            raw_reads = {
                f"raw.{m.group(1).lower()}" for m in _RAW_REFERENCE.finditer(_strip_comments(text))
            }
            models[path.stem] = Model(
                layer,
                path.stem,
                path,
                frozenset(refs),
                found.group(1) if found else "table",
                frozenset(raw_reads),
                incremental.group(1) if (incremental := _INCREMENTAL.search(text)) else None,
            )
        known = {m.table for m in ordered} | {m.table for m in models.values()}
        for model in models.values():
            for ref in model.depends_on:
                ref_layer = ref.split(".", 1)[0]
                if LAYERS.index(ref_layer) > layer_index:
                    raise ValueError(f"{model.table} reads {ref}, a later layer")
                if ref not in known:
                    raise ValueError(f"{model.table} reads {ref}, which no model builds")
        _check_incremental(ordered, models)
        graph = TopologicalSorter(
            {
                name: {r.split(".", 1)[1] for r in m.depends_on if r.startswith(f"{layer}.")}
                - {name}
                for name, m in models.items()
            }
        )
        graph.prepare()
        while graph.is_active():
            ready = sorted(graph.get_ready())
            for name in ready:
                ordered.append(models[name])
                graph.done(name)
    return ordered


def _check_incremental(earlier: list[Model], models: dict[str, Model]) -> None:
    """What the night rebuilds for a few claims or members must depend on nothing else: a
    claim-incremental model reads only claim-incremental models and the claim lines in force,
    a member-incremental one only incremental models (both may read code lists)."""
    every = [*earlier, *models.values()]
    by_claim = {m.table for m in every if m.incremental == "claim"}
    allowed = {"claim": by_claim, "member": {m.table for m in every if m.incremental}}
    raw_allowed = {"claim": {CLAIM_LINES_IN_FORCE}, "member": set()}
    for model in models.values():
        if not model.incremental:
            continue
        text = _strip_comments(model.path.read_text())
        other_reads = model.depends_on - allowed[model.incremental]
        raw_reads = set(re.findall(r"\braw\.[a-z_0-9]+(?:\([^)]*\))?", text, re.IGNORECASE))
        bad = other_reads | (raw_reads - raw_allowed[model.incremental])
        if bad:
            raise ValueError(
                f"{model.table} is incremental by {model.incremental} but reads "
                f"{', '.join(sorted(bad))}"
            )


def _drop_if_other_kind(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    """A model switched between table and view: `create or replace` cannot change the kind."""
    existing = con.execute(
        "select table_type from information_schema.tables"
        " where table_schema = ? and table_name = ?",
        [model.layer, model.name],
    ).fetchall()
    kind = "view" if model.materialized == "view" else "base table"
    if existing and existing[0][0].lower() != kind:
        con.execute(f"drop {'view' if kind == 'base table' else 'table'} {model.table}")


def prepare(con: duckdb.DuckDBPyConnection, as_of: date, rules: RuleConfig) -> None:
    """Parameters, reference code lists (as tables, and CODE_LIST_VARIABLES as variables) and
    layer schemas: what every model may read."""
    set_variables(con, {"as_of": as_of, "tier_order": list(TIERS), **rules.sql_params()})
    load_reference_tables(con)
    for name in CODE_LIST_VARIABLES:
        con.execute(
            f"set variable {name} = (select map_from_entries(list((code_system, codes))) "
            f"from (select code_system, list(code order by code) as codes from ref.{name} "
            "group by code_system))"
        )
    for layer in LAYERS:
        con.execute(f"create schema if not exists {layer}")


def materialize(
    con: duckdb.DuckDBPyConnection, model: Model, select_sql: str | None = None
) -> int | None:
    """`create or replace table|view <layer>.<name> as <select>`; returns a table's row count.

    A view's count is not taken: it would evaluate the view once more only to count it (35 s
    for stg_medical_claims at 1M members, whose rows in force and filled diagnoses are joins).

    The select is the model's own SQL unless the caller supplies an equivalent one (the bucket
    merge gathers a member-level table from the buckets instead of recomputing it).
    """
    try:
        _drop_if_other_kind(con, model)
        con.execute(
            f"create or replace {model.materialized} {model.table} as\n"
            f"{select_sql if select_sql is not None else model.sql()}"
        )
    except duckdb.Error as error:
        raise RuntimeError(f"model {model.table} ({model.path}) failed: {error}") from error
    if model.materialized == "view":
        return None
    return con.execute(f"select count(*) from {model.table}").fetchall()[0][0]


def drop_model_tables(con: duckdb.DuckDBPyConnection, models: list[Model]) -> None:
    """Drop the tables of the models about to be rebuilt, then checkpoint.

    Why: DuckDB frees a replaced table's blocks only at a checkpoint, so `create or replace`
    alone builds tonight's tables beside last night's, and the work file (which publication
    copies for analysts) held the rules' tables twice after the second night (506 MiB for 263
    MiB of tables at 1M members). Dropped and checkpointed first, tonight's tables reuse
    last night's blocks: at 100k members the file stays at 42.8 MiB night after night instead
    of 49.8 MiB. The work file is the run's own (analysts read their copy), so a night that
    fails between the drop and the rebuild only leaves the next run more to rebuild.
    """
    existing = existing_tables(con)
    dropped = [m.table for m in models if m.materialized == "table" and m.table in existing]
    for table in dropped:
        con.execute(f"drop table {table}")
    if dropped:
        con.execute("checkpoint")


def build_models(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    rules: RuleConfig,
    sql_dir: Path = SQL_DIR,
    layers: tuple[str, ...] = LAYERS,
    *,
    kept_counts: bool = True,
) -> list[ModelResult]:
    """Materialize every model for one as-of date; returns (table, rows, seconds) per model.

    Each model runs as `create or replace table|view <layer>.<file name> as <file>`.
    Reads the raw layer (pipelines.warehouse.create_raw_schema) and reloads the reference
    code lists first, so a run always uses the code lists in the repository. `layers` limits
    the build to the first layers (a member bucket builds staging and intermediate only).
    The claim lines per member kept between nights are brought to tonight's lines in force
    first when a model reads them (stg_claim_members), and the incremental models' tables are
    brought forward by tonight's claims files or rebuilt (pipelines/rules/increment.py), unless
    `kept_counts` is false: a member bucket reads the plan's copy of the counts, made current
    by the run's writer, and builds every table (pipelines/rules/buckets.py).
    """
    models = [model for model in discover_models(sql_dir) if model.layer in layers]
    if kept_counts and any(f"raw.{MEMBER_LINES}" in model.raw_reads for model in models):
        update_claim_counts(con)
    prepare(con, as_of, rules)
    night = increment.plan(con, models) if kept_counts else None
    if night is not None and night.full:
        increment.forget(con)
    brought = increment.apply(con, models, night) if night and not night.full else None
    rebuilt = brought.rebuilt if brought else {}
    drop_model_tables(con, [m for m in models if m.table not in rebuilt])
    last_incremental = max(
        (i for i, m in enumerate(models) if m.incremental and m.materialized == "table"),
        default=None,
    )
    results = []
    for index, model in enumerate(models):
        started = time.perf_counter()
        if model.table in rebuilt and model.materialized == "table":
            rows = con.execute(f"select count(*) from {model.table}").fetchall()[0][0]
        else:
            rows = materialize(con, model)
        seconds = time.perf_counter() - started
        if brought is not None:
            seconds += brought.seconds.get(model.table, 0.0)
        results.append(ModelResult(model.table, rows, seconds, rebuilt.get(model.table)))
        failpoint(f"rules.after.{model.name}")
        if night is not None and night.full and index == last_incremental:
            increment.record(con, night)
    return results
