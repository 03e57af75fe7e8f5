"""Validation SQL generated from the contract: one expression set per column, run set-based.

Why generated rather than written in sql/: the checks are the contract (pipelines/contract.py)
read column by column, so a column added there is validated here with no new SQL. What comes
out is one relation, `checked`, over a staged source that carries `_row` (the 1-based data
row) and the file's columns as they were delivered:

- `v__<col>`: the value in the raw table's type (codes trimmed and zero-padded, empty text
  null, service_to_date defaulted from service_from_date),
- `e__<col>`: null, or the quarantine reason for that column,
- `o__<col>`: the original value as text (only computed where asked for: bad rows),
- `_ok`: no column has a reason; `_extra`: unknown columns; `_row_json`: the whole row.

A source column already stored in the contract type (a Parquet DATE for a date, an integer
for an integer) is checked natively and not rounded through text, which is what keeps a
40-million-row Parquet file cheap; anything else is read as text and parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.contract import DUCKDB_TYPES, Column, FileKind, RowRule

_DIGITS = "'0123456789'"
_INT_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
_FLOAT_TYPES = {"FLOAT", "DOUBLE"}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")"


@dataclass(frozen=True)
class SourceColumn:
    """A column of the staged source: its header name, identifier there, and DuckDB type."""

    header: str
    ident: str
    type: str


def _is_native(col: Column, source_type: str) -> bool:
    t = source_type.upper()
    if col.dtype == "integer":
        return t in _INT_TYPES or t in _FLOAT_TYPES
    if col.dtype == "decimal":
        return t in _INT_TYPES or t in _FLOAT_TYPES or t.startswith("DECIMAL")
    if col.dtype == "date":
        return t == "DATE" or (t.startswith("TIMESTAMP") and "TIME ZONE" not in t)
    if col.dtype == "boolean":
        return t == "BOOLEAN"
    return False


def accepts_source_type(col: Column, source_type: str) -> bool:
    """Whether a typed (Parquet) column can be read as this contract column without guessing.

    Text is parsed like CSV; the contract type itself is read natively; the documented
    conversions are: integer from a whole float, date from a midnight timestamp, decimal from
    an integer or float, and a digit code (one that `pad_to` pads) from an integer. Anything
    else (a date stored as int64, a member id as an integer or a struct) rejects the file.
    """
    t = source_type.upper()
    if t == "VARCHAR" or _is_native(col, t):
        return True
    return col.dtype == "string" and col.pad_to is not None and t in _INT_TYPES


def _stage_value(col: Column, src: SourceColumn | None) -> str:
    """Level 1: native values as they are, text trimmed with empty text made null.

    DuckDB inlines the levels, so an expression here is re-evaluated wherever a later level
    names its column: the trim only runs for values that need it (a guard of cheap prefix and
    suffix tests), which keeps a clean 40-million-row file at the cost of a few comparisons.
    """
    if src is None:
        return "null::varchar"  # an optional column the file does not have
    if _is_native(col, src.type):
        return src.ident
    x = src.ident if src.type.upper() == "VARCHAR" else f"cast({src.ident} as varchar)"
    return (
        f"case when {x} = '' or starts_with({x}, ' ') or ends_with({x}, ' ') "
        f"then nullif(trim({x}), '') else {x} end"
    )


def _normalized(col: Column, native: bool) -> str:
    """Level 2: digit codes that lost their leading zeros get them back."""
    n = ident(f"n__{col.name}")
    if col.normalize == "icd":
        return f"nullif(replace(replace(upper({n}), '.', ''), ' ', ''), '')"
    if col.normalize == "bill_type":
        return (
            f"case when length({n}) = 4 and starts_with({n}, '0') then upper(substr({n}, 2)) "
            f"else upper({n}) end"
        )
    if col.pad_to and not native:
        return (
            f"case when length({n}) < {col.pad_to} and ltrim({n}, {_DIGITS}) = '' "
            f"then lpad({n}, {col.pad_to}, '0') else {n} end"
        )
    return n


def _typed(col: Column, native: bool, source_type: str, value: str | None = None) -> str:
    """Level 3: the value in the raw table's type, null where it does not parse.

    `value` is the expression to parse (the level-2 column unless given: the fast path
    passes the delivered value itself).
    """
    t = value or ident(f"t__{col.name}")
    target = DUCKDB_TYPES[col.dtype]
    if native:
        st = source_type.upper()
        if col.dtype == "integer" and st in _FLOAT_TYPES:
            return f"case when {t} = trunc({t}) then try_cast({t} as bigint) end"
        if col.dtype == "date" and st.startswith("TIMESTAMP"):
            return f"case when {t} = date_trunc('day', {t}) then cast({t} as date) end"
        if col.dtype == "decimal":
            # Never rounded: a value with more decimals (or digits) than the target is null.
            return f"case when try_cast({t} as {target}) = {t} then try_cast({t} as {target}) end"
        return f"try_cast({t} as {target})"
    if col.dtype == "string":
        return t
    if col.dtype == "integer":
        return f"case when ltrim(ltrim({t}, '+-'), {_DIGITS}) = '' then try_cast({t} as bigint) end"
    if col.dtype == "date":
        # Exactly YYYY-MM-DD: strptime alone would take 2026-1-5 or a trailing time.
        return f"case when length({t}) = 10 then cast(try_strptime({t}, '%Y-%m-%d') as date) end"
    if col.dtype == "decimal":
        # A value with more than two decimals would be rounded by the cast: not loss-free.
        return (
            f"case when try_cast({t} as decimal(38, 10)) = try_cast({t} as {target}) "
            f"then try_cast({t} as {target}) end"
        )
    if col.dtype == "boolean":
        return (
            f"case when lower({t}) in {_in_list(_TRUE)} then true "
            f"when lower({t}) in {_in_list(_FALSE)} then false end"
        )
    raise ValueError(f"no parser for contract type {col.dtype}")


CONTROL_CHARACTERS = "[\\x00-\\x1f\\x7f]"


def _error(col: Column, kind: FileKind, present: set[str]) -> str:
    """Level 4: the first reason this column's value is bad, or null."""
    t = ident(f"t__{col.name}")
    v = ident(f"v__{col.name}")
    if col.required:
        when_null = "'missing_required'"
    elif col.required_when and col.required_when[0] in present:
        other, value = col.required_when
        when_null = (
            f"case when {ident(f't__{other}')} = {literal(value)} then 'missing_required' end"
        )
    else:
        when_null = "null"
    branches = [f"when {t} is null then {when_null}"]
    if col.identifier:
        branches.append(
            f"when regexp_matches({t}, {literal(CONTROL_CHARACTERS)}) then 'control_character'"
        )
    if col.dtype == "decimal":
        branches.append(
            f"when {v} is null then case when try_cast({t} as decimal(38, 10)) is not null "
            "then 'value_does_not_fit' else 'bad_decimal' end"
        )
    elif col.dtype != "string":
        branches.append(f"when {v} is null then 'bad_{col.dtype}'")
    if col.digits_only:
        branches.append(f"when ltrim({t}, {_DIGITS}) <> '' then 'not_digits'")
    if col.length:
        branches.append(f"when length({t}) <> {col.length} then 'bad_length'")
    if col.pattern:
        branches.append(
            f"when not regexp_full_match({t}, {literal(col.pattern)}) then 'bad_format'"
        )
    if col.allowed:
        branches.append(f"when {t} not in {_in_list(col.allowed)} then 'not_allowed'")
    for rule in quarantine_rules(kind, present, col.name):
        condition = rule_sql(rule, {c: ident(f"v__{c}") for c in rule.columns})
        branches.append(f"when {condition} then {literal(rule.reason)}")
    if len(branches) == 1 and when_null == "null":
        return "null::varchar"
    return "case " + " ".join(branches) + " end"


def quarantine_rules(kind: FileKind, present: set[str], column: str | None = None) -> list[RowRule]:
    """The kind's quarantine rules whose columns the file has (of one column, if given)."""
    return [
        r
        for r in kind.rules
        if r.action == "quarantine"
        and set(r.columns) <= present
        and (column is None or r.column == column)
    ]


def rule_sql(rule: RowRule, values: dict[str, str]) -> str:
    """The rule's condition with each column replaced by an expression of its value."""
    return "coalesce(" + rule.condition.format(**values) + ", false)"


def open_end_sql(col: Column, value: str) -> str:
    """A date that means 'no end' (contract OPEN_END_DATES) is stored as empty: open."""
    if not col.open_end:
        return value
    dates = ", ".join(f"date {literal(d)}" for d in col.open_end)
    return f"case when {value} in ({dates}) then null else {value} end"


def checked_sql(
    kind: FileKind,
    source_sql: str,
    columns: dict[str, SourceColumn],
    extras: list[SourceColumn],
    header_order: list[SourceColumn],
) -> str:
    """The `checked` relation over `source_sql` (which must provide `_row`)."""
    present = set(columns)
    native = {
        c.name: c.name in columns and _is_native(c, columns[c.name].type) for c in kind.columns
    }

    def src_type(c: Column) -> str:
        return columns[c.name].type if c.name in columns else "VARCHAR"

    def original(c: Column) -> str:
        if c.name not in columns:
            return "null::varchar"
        return f"cast({columns[c.name].ident} as varchar)"

    level1 = [
        f"{_stage_value(c, columns.get(c.name))} as {ident('n__' + c.name)}" for c in kind.columns
    ]
    level1 += [f"{original(c)} as {ident('o__' + c.name)}" for c in kind.columns]
    if extras:
        names = ", ".join(literal(x.header) for x in extras)
        values = ", ".join(f"cast({x.ident} as varchar)" for x in extras)
        level1.append(f"map([{names}], [{values}]) as _extra")
    else:
        level1.append("null::map(varchar, varchar) as _extra")
    pairs = ", ".join(f"{literal(s.header)}, cast({s.ident} as varchar)" for s in header_order)
    level1.append(f"json_object({pairs}) as _row_json")

    passthrough = [ident("o__" + c.name) for c in kind.columns] + ["_extra", "_row_json"]
    level2 = [f"{_normalized(c, native[c.name])} as {ident('t__' + c.name)}" for c in kind.columns]
    t_cols = [ident("t__" + c.name) for c in kind.columns]
    level3 = [
        f"{_typed(c, native[c.name], src_type(c))} as {ident('v__' + c.name)}" for c in kind.columns
    ]
    v_cols = [ident("v__" + c.name) for c in kind.columns]
    level4 = [f"{_error(c, kind, present)} as {ident('e__' + c.name)}" for c in kind.columns]
    e_cols = [ident("e__" + c.name) for c in kind.columns]

    final_values = []
    for c in kind.columns:
        v = ident("v__" + c.name)
        if c.default_from:
            v = f"coalesce({v}, {ident('v__' + c.default_from)})"
        v = open_end_sql(c, v)
        final_values.append(f"{v} as {ident('v__' + c.name)}")
    ok = (
        "coalesce(" + ", ".join(e_cols) + ") is null" if len(e_cols) > 1 else f"{e_cols[0]} is null"
    )

    def sel(items: list[str]) -> str:
        return ",\n        ".join(["_row", *items])

    return f"""
with level1 as (
    select
        {sel(level1)}
    from {source_sql}
),
level2 as (
    select
        {sel(level2 + passthrough)}
    from level1
),
level3 as (
    select
        {sel(t_cols + level3 + passthrough)}
    from level2
),
level4 as (
    select
        {sel(v_cols + level4 + passthrough)}
    from level3
)
select
    {sel(final_values + e_cols + passthrough + [f"{ok} as _ok"])}
from level4
"""
