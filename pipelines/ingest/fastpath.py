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
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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

# Rows per Arrow batch when control_free_columns reads identifiers (DuckDB may hand over fewer).
_ARROW_BATCH_ROWS = 1_000_000


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

    Tested on the bytes of the values as Arrow hands them over, not per value in SQL: in
    UTF-8 a byte below 0x20 or 0x7f is only ever that ASCII character, so the test is exactly
    the regex CONTROL_CHARACTERS. A 4M-line claims file's three identifiers: 0.22-0.25 s,
    against 0.39-0.47 s for a regex over each column's distinct values. For such a column
    clean_sql leaves the per-row test out; any other keeps it, so the rows holding one take the
    full checks as before."""
    names = [c.name for c in kind.columns if c.identifier and c.name in columns]
    if not names:
        return frozenset()
    select = ", ".join(f"{_as_text(columns[n])} as {ident(n)}" for n in names)
    found: set[str] = set()
    reader = con.sql(f"select {select} from {source}").to_arrow_reader(_ARROW_BATCH_ROWS)
    for batch in reader:
        for name, array in zip(names, batch.columns, strict=True):
            if name not in found and _holds_control_character(array):
                found.add(name)
    return frozenset(n for n in names if n not in found)


def _holds_control_character(array: pa.Array) -> bool:
    """Whether a value of a text array holds a control character (null values hold none)."""
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    if len(array) == 0:
        return False
    wide = np.int64 if pa.types.is_large_string(array.type) else np.int32
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(
        offsets_buf, dtype=wide, count=len(array) + 1, offset=array.offset * wide().itemsize
    )
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    values = data[offsets[0] : offsets[-1]]
    # min and == are one fast pass each; a 256-entry lookup table was 15 times slower.
    if not values.size or (values.min() >= 32 and not (values == 127).any()):
        return False
    # Arrow leaves the bytes behind a null undefined: a hit is confirmed value by value.
    return bool(pc.any(pc.match_substring_regex(array, CONTROL_CHARACTERS)).as_py())


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
