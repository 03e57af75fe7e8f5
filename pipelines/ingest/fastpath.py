"""The fast path: one cheap 'already clean' test per column, on the value as delivered.

Almost every row of a nightly file is clean: codes already trimmed and padded, dates already
dates. For such a row the full checks (validate.py) change nothing and find nothing, so the
row can go straight into raw.<kind> with a plain cast. `clean_sql` is true exactly for rows
where that holds; every other row (a bad value, or one that only needs normalizing, like
`450` -> `0450`) takes the full checks, which are then run over those few rows only.

Each test is written on the source column itself, never on another test's output, so DuckDB
evaluates it once per value instead of re-deriving a chain of normalized values.

The contract between the two paths: for a row where `clean_sql` is true, the full checks give
no reason and the values of `fast_values` (tests/test_ingest_fastpath.py checks it).
"""

from __future__ import annotations

import duckdb

from pipelines.contract import Column, FileKind
from pipelines.ingest.validate import (
    _DIGITS,
    CONTROL_CHARACTERS,
    SourceColumn,
    _in_list,
    _is_native,
    _typed,
    ident,
    literal,
    open_end_sql,
    quarantine_rules,
    rule_sql,
)


def _as_text(src: SourceColumn) -> str:
    return src.ident if src.type.upper() == "VARCHAR" else f"cast({src.ident} as varchar)"


def _null_ok(col: Column, columns: dict[str, SourceColumn]) -> str:
    """Whether a null here is allowed, as validate._error decides it (a non-null SQL bool)."""
    if col.required:
        return "false"
    if col.required_when and col.required_when[0] in columns:
        other, value = col.required_when
        # In a clean row the other column is clean too, so its delivered text is its value.
        return f"not coalesce({_as_text(columns[other])} = {literal(value)}, false)"
    return "true"


def _value(col: Column, src: SourceColumn) -> str:
    """The raw-table value of a clean source value."""
    if _is_native(col, src.type):
        return _typed(col, True, src.type, src.ident)
    return _typed(col, False, "VARCHAR", _as_text(src))


def _clean_when_present(col: Column, src: SourceColumn, control_free: bool = False) -> str:
    """True when a non-null value passes every check unchanged. `control_free`: no value of
    the column holds a control character (control_free_columns), so that test is left out."""
    if _is_native(col, src.type):
        return f"{_value(col, src)} is not null"
    x = _as_text(src)
    tests = [f"{x} <> ''", f"not starts_with({x}, ' ')", f"not ends_with({x}, ' ')"]
    if col.dtype != "string":
        tests.append(f"{_value(col, src)} is not null")
    if col.pad_to and col.length != col.pad_to:
        # A short all-digit code would be padded by the full path: not clean as delivered.
        tests.append(f"(length({x}) >= {col.pad_to} or ltrim({x}, {_DIGITS}) <> '')")
    if col.identifier and not control_free:
        tests.append(f"not regexp_matches({x}, {literal(CONTROL_CHARACTERS)})")
    if col.normalize == "icd":
        tests.append(f"not contains({x}, '.') and not contains({x}, ' ') and {x} = upper({x})")
    if col.pattern:
        # Also true only for a value normalizing leaves as it is (3 characters, upper case).
        tests.append(f"regexp_full_match({x}, {literal(col.pattern)})")
    if col.digits_only:
        tests.append(f"ltrim({x}, {_DIGITS}) = ''")
    if col.length:
        tests.append(f"length({x}) = {col.length}")
    if col.allowed:
        tests.append(f"{x} in {_in_list(col.allowed)}")
    return "(" + " and ".join(tests) + ")"


def _clean_column(
    col: Column, columns: dict[str, SourceColumn], control_free: frozenset[str] = frozenset()
) -> str | None:
    """The column's test, or None when every value (or the absence of the column) is clean."""
    null_ok = _null_ok(col, columns)
    src = columns.get(col.name)
    if src is None:
        return None if null_ok == "true" else null_ok
    present = _clean_when_present(col, src, col.name in control_free)
    return f"case when {src.ident} is null then {null_ok} else {present} end"


def control_free_columns(
    con: duckdb.DuckDBPyConnection, kind: FileKind, columns: dict[str, SourceColumn], source: str
) -> frozenset[str]:
    """The identifier columns of which no value of `source` holds a control character.

    Tested once per distinct value instead of once per row: a claims file repeats each
    member_id about 40 times (4M lines: 0.05 s instead of 0.19 s). For such a column
    clean_sql leaves the per-row test out; any other keeps it, so the rows holding one take
    the full checks as before."""
    free = []
    for col in kind.columns:
        src = columns.get(col.name)
        if col.identifier and src is not None:
            found = con.execute(
                f"select bool_or(regexp_matches(v, {literal(CONTROL_CHARACTERS)})) "
                f"from (select distinct {_as_text(src)} as v from {source})"
            ).fetchone()[0]
            if not found:
                free.append(col.name)
    return frozenset(free)


def clean_sql(
    kind: FileKind, columns: dict[str, SourceColumn], control_free: frozenset[str] = frozenset()
) -> str:
    """A never-null predicate: true for rows the full checks would load unchanged.
    `control_free`: identifier columns known to hold no control character (control_free_columns)."""
    tests = [t for c in kind.columns if (t := _clean_column(c, columns, control_free)) is not None]
    for rule in quarantine_rules(kind, set(columns)):
        values = {c: _value(kind.by_name[c], columns[c]) for c in rule.columns}
        tests.append(f"not {rule_sql(rule, values)}")
    if not tests:
        return "true"
    return "coalesce(" + "\n    and ".join(tests) + ", false)"


def fast_values(kind: FileKind, columns: dict[str, SourceColumn]) -> list[str]:
    """The raw table's contract columns, in order, for a clean row."""
    values: dict[str, str] = {}
    for c in kind.columns:
        src = columns.get(c.name)
        values[c.name] = "null" if src is None else _value(c, src)
    out = []
    for c in kind.columns:
        v = values[c.name]
        if c.default_from:
            v = f"coalesce({v}, {values[c.default_from]})"
        v = open_end_sql(c, v)
        out.append(f"{v} as {ident(c.name)}")
    return out


def extra_sql(extras: list[SourceColumn]) -> str:
    """Unknown columns kept as name -> original text (the same map validate.py builds)."""
    if not extras:
        return "null::map(varchar, varchar)"
    names = ", ".join(literal(x.header) for x in extras)
    values = ", ".join(f"cast({x.ident} as varchar)" for x in extras)
    return f"map([{names}], [{values}])"
