"""Great Expectations 1.x suites (expectations/*.json): over a pandas DataFrame, or over a
DuckDB table with the figures computed in SQL.

Why this shape:
- dagster-ge pins GX below 1.0, so GX 1.x is called directly with an ephemeral context: no
  project folder, no stores; the suite JSON in expectations/ is the only configuration.
- GX 1.24's SQL datasource over duckdb-engine fails with MetricResolutionError, so GX's own
  batches are pandas. Dates must reach GX as `datetime.date` objects (Arrow's default
  conversion): GX parses a suite's "2000-01-01" bounds into dates and cannot compare them
  with Timestamps.
- Pandas validation costs about a second per million rows per date-range expectation, and a
  40-million-row frame does not fit the memory budget, while a sample misses the one bad row
  (a 200k-row sample passed a bad row in a 20,000-member file 5 runs of 5). So the pipeline's
  suites (raw layer and candidate list) run in DuckDB: each expectation of the suite becomes
  one SQL predicate, all are counted in one streaming pass over every row (bounded memory),
  and a failing one fetches example rows as (file, row number). It supports the expectation
  types and row conditions the suites use, with GX's semantics (nulls skipped by the
  column-map expectations, `mostly`, `ignore_row_if`, uniqueness marking every repeated
  row); tests check it agrees with GX on the same rows. An expectation type it does not
  know is refused by name, never skipped.
- Row-level figures add up (`Figures`): counted per file, a table's are the sum of its
  files', which lets the raw suites validate a landed file once (pipelines/ingest/quality.py).
  Whole-table ones (uniqueness) are counted over all the rows together.
- Results carry counts and (file, row) pairs only, never values (they could be member ids).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.paths import EXPECTATIONS_DIR

if TYPE_CHECKING:  # GX takes seconds to import, pandas 0.3 s: only when a frame is validated
    # with GX (tests; the nightly suites run in DuckDB).
    import great_expectations as gx
    import pandas as pd


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    error: str | None = None
    element_count: int | None = None
    # Example rows that fail, as (file, data row number): where to look, never what is there.
    examples: tuple[tuple[str, int], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column})" if self.column else self.expectation

    def describe(self) -> str:
        """One line: the expectation, the observed figure and example rows."""
        if self.error:
            return f"{self.label}: {self.error}"
        figure = (
            f"{self.unexpected_count:,} of {self.element_count:,} rows unexpected"
            if self.unexpected_count is not None and self.element_count is not None
            else "failed"
        )
        where = "; e.g. " + ", ".join(f"{f} row {r}" for f, r in self.examples)
        return f"{self.label}: {figure}" + (where if self.examples else "")


@dataclass(frozen=True)
class ValidationSummary:
    suite: str
    success: bool
    rows: int
    outcomes: tuple[ExpectationOutcome, ...]

    @property
    def failed(self) -> list[str]:
        return [o.label for o in self.outcomes if not o.success]

    def describe_failures(self) -> list[str]:
        return [f"suite {self.suite}: {o.describe()}" for o in self.outcomes if not o.success]

    def to_json(self) -> dict:
        return asdict(self)


def load_suite(suite_name: str, suite_dir: Path = EXPECTATIONS_DIR) -> gx.ExpectationSuite:
    """A suite from expectations/<suite_name>.json (GX 1.x suite JSON)."""
    import great_expectations as gx

    raw = json.loads((suite_dir / f"{suite_name}.json").read_text())
    raw.pop("id", None)
    return gx.ExpectationSuite(**raw)


def _context() -> gx.data_context.AbstractDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate(
    suite_name: str,
    dataframe: pd.DataFrame,
    *,
    suite_dir: Path = EXPECTATIONS_DIR,
    result_dir: Path | None = None,
    result_name: str | None = None,
) -> ValidationSummary:
    """Validate a DataFrame against a suite; optionally write the summary JSON to result_dir."""
    suite = load_suite(suite_name, suite_dir)
    batch = (
        _context()
        .data_sources.add_pandas("frame")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": dataframe})
    )
    result = batch.validate(suite, result_format="BASIC")
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        error = None
        if not r.success and r.exception_info:
            info = r.exception_info
            messages = (
                [info.get("exception_message")]
                if "exception_message" in info
                else [v.get("exception_message") for v in info.values() if isinstance(v, dict)]
            )
            error = "; ".join(m for m in messages if m) or None
        outcomes.append(
            ExpectationOutcome(
                expectation=config.type,
                column=config.kwargs.get("column") or config.kwargs.get("column_A"),
                success=bool(r.success),
                unexpected_count=r.result.get("unexpected_count"),
                error=error,
                element_count=r.result.get("element_count"),
            )
        )
    summary = ValidationSummary(
        suite=suite_name,
        success=bool(result.success),
        rows=len(dataframe),
        outcomes=tuple(outcomes),
    )
    write_summary(summary, result_dir, result_name)
    return summary


def write_summary(
    summary: ValidationSummary, result_dir: Path | None, result_name: str | None
) -> None:
    if result_dir is not None:
        result_dir.mkdir(parents=True, exist_ok=True)
        path = result_dir / f"{result_name or summary.suite}.json"
        path.write_text(json.dumps(summary.to_json(), indent=2, default=str))


# Example rows fetched per failing expectation.
EXAMPLE_ROWS = 5
# Lineage columns that locate a row in its landing file (pipelines/warehouse.py).
_FILE_COLUMN, _ROW_COLUMN = "_source_file", "_source_row"
# The rows a suite judges: every query of `count_by` starts from this CTE, and a whole-table
# expectation (uniqueness) reads it again in a subquery.
_JUDGED = "judged"
# GX 1.x structured row conditions (type "comparison") in SQL. pandas keeps a missing value
# for `!=` (NaN != x is true), so SQL's counterpart is `is distinct from`.
_CONDITION_OPERATORS = {
    "==": "=",
    "!=": "is distinct from",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}

Example = tuple[str, int]


@dataclass(frozen=True)
class _Compiled:
    """One expectation as SQL: `unexpected` marks a failing row, `domain` the rows it judges
    (GX's denominator for `mostly`); `exists` is set for expect_column_to_exist instead.
    A `whole_table` one (uniqueness) judges rows together: a table's figure is not the sum
    of its files'."""

    expectation: str
    column: str | None
    unexpected: str | None = None
    domain: str = "true"
    mostly: float = 1.0
    exists: bool | None = None
    whole_table: bool = False


@dataclass(frozen=True)
class CompiledSuite:
    """A suite compiled against one table. `key` changes when the suite file or the table's
    columns and types change: a result kept under it holds until then."""

    name: str
    table: str
    expectations: tuple[_Compiled, ...]
    locatable: bool
    key: str

    def counted(self, whole_table: bool) -> list[int]:
        """Indexes of the counted expectations that are (or are not) whole-table ones."""
        return [
            i
            for i, c in enumerate(self.expectations)
            if c.unexpected is not None and c.whole_table == whole_table
        ]


@dataclass(frozen=True)
class Figures:
    """A suite's counts over some rows (one file, or a table): per expectation the unexpected
    and the judged rows, and up to EXAMPLE_ROWS failing (file, row) pairs; None where not
    counted (a column's existence; a whole-table expectation counted apart). Row-level
    figures add up: a table's are the sum of its files'."""

    rows: int
    counts: tuple[tuple[int, int] | None, ...]
    examples: tuple[tuple[Example, ...], ...]

    def to_json(self) -> str:
        return json.dumps(
            {"rows": self.rows, "counts": self.counts, "examples": self.examples},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Figures:
        raw = json.loads(text)
        return cls(
            rows=raw["rows"],
            counts=tuple(tuple(c) if c is not None else None for c in raw["counts"]),
            examples=tuple(tuple((f, r) for f, r in e) for e in raw["examples"]),
        )


def empty_figures(suite: CompiledSuite, counted: list[int]) -> Figures:
    """The figures of no rows (a file whose every row was quarantined)."""
    n = len(suite.expectations)
    return Figures(0, tuple((0, 0) if i in counted else None for i in range(n)), ((),) * n)


def add_figures(parts: list[Figures], size: int) -> Figures:
    """The figures of the parts' rows together: counts summed (None + x = x), examples
    merged in (file, row) order."""

    def added(i: int) -> tuple[int, int] | None:
        present = [p.counts[i] for p in parts if p.counts[i] is not None]
        return (sum(u for u, _ in present), sum(d for _, d in present)) if present else None

    return Figures(
        rows=sum(p.rows for p in parts),
        counts=tuple(added(i) for i in range(size)),
        examples=tuple(
            tuple(sorted({e for p in parts for e in p.examples[i]})[:EXAMPLE_ROWS])
            for i in range(size)
        ),
    )


def _sql_literal(value: object, sql_type: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = "'" + str(value).replace("'", "''") + "'"
    return f"cast({text} as {sql_type})"


def _row_condition(kwargs: dict, types: dict[str, str], suite: str) -> str:
    """A GX 1.x row condition as a SQL predicate: the expectation judges only those rows."""
    condition = kwargs.get("row_condition")
    if condition is None:
        return "true"
    if (
        not isinstance(condition, dict)
        or condition.get("type") != "comparison"
        or condition.get("operator") not in _CONDITION_OPERATORS
        or condition.get("column", {}).get("name") not in types
    ):
        raise ValueError(
            f"suite {suite}: row_condition {condition!r} cannot be evaluated in DuckDB; "
            f"use a comparison ({', '.join(_CONDITION_OPERATORS)}) on a column of the table"
        )
    name = condition["column"]["name"]
    value = _sql_literal(condition["parameter"], types[name])
    return f'"{name}" {_CONDITION_OPERATORS[condition["operator"]]} {value}'


def _compile(kind: str, kwargs: dict, types: dict[str, str], suite: str) -> _Compiled:
    """The SQL of one expectation, with GX's semantics for the cases the suites use."""
    column = kwargs.get("column") or kwargs.get("column_A")
    if kind == "expect_column_to_exist":
        return _Compiled(kind, column, exists=column in types)
    missing = [c for c in (column, kwargs.get("column_B")) if c and c not in types]
    if missing:
        return _Compiled(kind, column, exists=False)
    compiled = _compile_counted(kind, kwargs, types, suite)
    where = _row_condition(kwargs, types, suite)
    if where == "true":
        return compiled
    return replace(
        compiled,
        unexpected=f"({where}) and ({compiled.unexpected})",
        domain=where if compiled.domain == "true" else f"({where}) and ({compiled.domain})",
    )


# `^[...]+$` over letters, digits and ranges of them (`^[0-9]+$`, `^[A-Z0-9]+$`).
_CHARACTER_RUN = re.compile(r"\^\[((?:[0-9A-Za-z]-[0-9A-Za-z]|[0-9A-Za-z])+)\]\+\$")


def _character_run(regex: str) -> str | None:
    """The characters of a pattern that only says "one or more of these characters", or
    None for any other pattern."""
    found = _CHARACTER_RUN.fullmatch(regex)
    if found is None:
        return None
    ranges = re.findall(r"(\w)-(\w)|(\w)", found.group(1))
    if any(lo > hi for lo, hi, _ in ranges):
        return None  # a reversed range: the regular expression's own error
    return "".join(
        "".join(chr(c) for c in range(ord(lo), ord(hi) + 1)) if lo else single
        for lo, hi, single in ranges
    )


def _compile_counted(kind: str, kwargs: dict, types: dict[str, str], suite: str) -> _Compiled:
    column = kwargs.get("column") or kwargs.get("column_A")
    mostly = float(kwargs.get("mostly", 1.0))
    q = f'"{column}"'
    not_null = f"{q} is not null"
    if kind == "expect_column_values_to_not_be_null":
        return _Compiled(kind, column, f"{q} is null", "true", mostly)
    if kind == "expect_column_values_to_be_null":
        return _Compiled(kind, column, not_null, "true", mostly)
    if kind == "expect_column_values_to_be_unique":
        # GX marks every row of a repeated value (nulls skipped), among the rows the row
        # condition keeps.
        repeated = (
            f"select {q} from {_JUDGED} where {_row_condition(kwargs, types, suite)} "
            f"group by {q} having count(*) > 1"
        )
        return _Compiled(
            kind, column, f"{not_null} and {q} in ({repeated})", not_null, mostly, whole_table=True
        )
    if kind == "expect_column_values_to_be_in_set":
        values = ", ".join(_sql_literal(v, types[column]) for v in kwargs["value_set"])
        return _Compiled(kind, column, f"{not_null} and {q} not in ({values})", not_null, mostly)
    if kind == "expect_column_value_lengths_to_equal":
        return _Compiled(
            kind, column, f"{not_null} and length({q}) <> {int(kwargs['value'])}", not_null, mostly
        )
    if kind == "expect_column_values_to_match_regex":
        allowed = _character_run(kwargs["regex"])
        if allowed is not None:
            # Some of these characters, nothing else: ltrim takes them all away. Half the
            # cost of the regular expression (four NPI and code columns of every claim line).
            chars = _sql_literal(allowed, "varchar")
            return _Compiled(
                kind, column, f"{not_null} and ({q} = '' or ltrim({q}, {chars}) <> '')", not_null,
                mostly,
            )  # fmt: skip
        pattern = _sql_literal(kwargs["regex"], "varchar")
        return _Compiled(
            kind, column, f"{not_null} and not regexp_matches({q}, {pattern})", not_null, mostly
        )
    if kind == "expect_column_values_to_be_between":
        bad = []
        if kwargs.get("min_value") is not None:
            op = "<=" if kwargs.get("strict_min") else "<"
            bad.append(f"{q} {op} {_sql_literal(kwargs['min_value'], types[column])}")
        if kwargs.get("max_value") is not None:
            op = ">=" if kwargs.get("strict_max") else ">"
            bad.append(f"{q} {op} {_sql_literal(kwargs['max_value'], types[column])}")
        return _Compiled(
            kind, column, f"{not_null} and ({' or '.join(bad) or 'false'})", not_null, mostly
        )
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = q, f'"{kwargs["column_B"]}"'
        ok = f"{a} >= {b}" if kwargs.get("or_equal") else f"{a} > {b}"
        ignore = kwargs.get("ignore_row_if", "both_values_are_missing")
        judged = {
            "either_value_is_missing": f"{a} is not null and {b} is not null",
            "both_values_are_missing": f"({a} is not null or {b} is not null)",
            "neither": "true",
        }[ignore]
        return _Compiled(kind, column, f"({judged}) and not coalesce({ok}, false)", judged, mostly)
    raise ValueError(
        f"suite {suite}: expectation {kind} cannot be evaluated over a whole table in DuckDB; "
        "use one of the supported types (pipelines/quality.py) or validate a DataFrame"
    )


def compile_suite(
    con: duckdb.DuckDBPyConnection,
    suite_name: str,
    table: str,
    suite_dir: Path = EXPECTATIONS_DIR,
) -> CompiledSuite:
    """expectations/<suite_name>.json as SQL over `table`; an expectation type or row
    condition it cannot evaluate is refused by name, never skipped."""
    text = (suite_dir / f"{suite_name}.json").read_bytes()
    raw = json.loads(text)
    types = {row[0]: row[1] for row in con.execute(f"describe select * from {table}").fetchall()}
    key = hashlib.sha256(text + json.dumps(sorted(types.items())).encode()).hexdigest()
    return CompiledSuite(
        name=suite_name,
        table=table,
        expectations=tuple(
            _compile(e["type"], e.get("kwargs", {}), types, suite_name) for e in raw["expectations"]
        ),
        locatable=_FILE_COLUMN in types and _ROW_COLUMN in types,
        key=key,
    )


def _aggregate(expression: str) -> str:
    if expression == "true":
        return "count(*)"
    if (m := re.fullmatch(r'("[^"]+") is not null', expression)) is not None:
        return f"count({m.group(1)})"
    return f"sum(({expression})::int)"


def count_by(
    con: duckdb.DuckDBPyConnection,
    suite: CompiledSuite,
    *,
    where: str = "true",
    by: str | None = None,
    counted: list[int] | None = None,
    relation: str | None = None,
) -> dict[object, Figures]:
    """The figures of the rows of suite.table (or of `relation`, a subset of its rows with its
    columns) matching `where`, in one streaming pass: one Figures per value of the column
    `by` (e.g. per file), or one (key None) for all the rows. `counted` picks the
    expectations (default: every counted one); whole-table ones cannot be counted per
    group."""
    if counted is None:
        counted = suite.counted(False) + suite.counted(True)
    if by is not None and any(suite.expectations[i].whole_table for i in counted):
        raise ValueError(f"suite {suite.name}: a whole-table expectation is not counted per {by}")
    # One aggregate per distinct expression (many expectations share a domain, e.g. a
    # column's non-null rows); sum(cast) is about twice as fast as count(*) filter in DuckDB.
    aggregates: dict[str, int] = {"count(*)": 0}
    for i in counted:
        c = suite.expectations[i]
        for expression in (c.unexpected, c.domain):
            aggregates.setdefault(_aggregate(expression), len(aggregates))
    judged = f"with {_JUDGED} as (select * from {relation or suite.table} where {where}) "
    group = by or "null"
    rows = con.execute(
        f"{judged} select {group}, {', '.join(aggregates)} from {_JUDGED} group by all"
        if by
        else f"{judged} select null, {', '.join(aggregates)} from {_JUDGED}"
    ).fetchall()
    unexpected_in: dict[int, bool] = {}
    counts: dict[object, list[tuple[int, int] | None]] = {}
    for row in rows:
        key, figures = row[0], row[1:]

        def figure(expression: str, figures: tuple = figures) -> int:
            return int(figures[aggregates[_aggregate(expression)]] or 0)

        counts[key] = [None] * len(suite.expectations)
        for i in counted:
            c = suite.expectations[i]
            counts[key][i] = (figure(c.unexpected), figure(c.domain))
            unexpected_in[i] = unexpected_in.get(i, False) or counts[key][i][0] > 0
    examples: dict[object, list[tuple[Example, ...]]] = {
        key: [()] * len(suite.expectations) for key in counts
    }
    for i in [i for i in counted if unexpected_in[i] and suite.locatable]:
        found = con.execute(
            f"{judged} select g, f, r from ("
            f"select {group} as g, {_FILE_COLUMN} as f, {_ROW_COLUMN} as r, row_number() "
            f"over (partition by {group} order by {_FILE_COLUMN}, {_ROW_COLUMN}) as n "
            f"from {_JUDGED} where {suite.expectations[i].unexpected}) "
            f"where n <= {EXAMPLE_ROWS} order by g, f, r"
        ).fetchall()
        for key, file, row in found:
            examples[key][i] = (*examples[key][i], (file, row))
    return {
        key: Figures(rows[n][1], tuple(counts[key]), tuple(examples[key]))
        for n, key in enumerate(counts)
    }


def summarize(suite: CompiledSuite, figures: Figures) -> ValidationSummary:
    """The suite's verdict on rows with these figures (every counted expectation counted)."""
    outcomes = []
    for c, counted, examples in zip(
        suite.expectations, figures.counts, figures.examples, strict=True
    ):
        if c.unexpected is None:
            error = None if c.exists else f"column {c.column} not in {suite.table}"
            outcomes.append(
                ExpectationOutcome(
                    c.expectation, c.column, bool(c.exists), None, error, figures.rows
                )
            )
            continue
        if counted is None:
            raise ValueError(f"suite {suite.name}: {c.expectation}({c.column}) was not counted")
        unexpected, domain = counted
        success = unexpected <= (1.0 - c.mostly) * domain
        outcomes.append(
            ExpectationOutcome(
                c.expectation,
                c.column,
                success,
                unexpected,
                None,
                figures.rows,
                () if success else examples,
            )
        )
    return ValidationSummary(
        suite=suite.name,
        success=all(o.success for o in outcomes),
        rows=figures.rows,
        outcomes=tuple(outcomes),
    )


def validate_table(
    con: duckdb.DuckDBPyConnection,
    suite_name: str,
    table: str,
    *,
    where: str = "true",
    suite_dir: Path = EXPECTATIONS_DIR,
    result_dir: Path | None = None,
    result_name: str | None = None,
) -> ValidationSummary:
    """The suite over every row of `table` (optionally only rows matching `where`), computed
    in DuckDB in one pass; failing expectations name example rows as (file, row number)."""
    suite = compile_suite(con, suite_name, table, suite_dir)
    [figures] = count_by(con, suite, where=where).values()
    summary = summarize(suite, figures)
    write_summary(summary, result_dir, result_name)
    return summary
