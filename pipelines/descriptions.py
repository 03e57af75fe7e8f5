"""What every analyst-facing table and column means, stored in the warehouse as comments.

One source: sql/descriptions/*.toml (and, for the published tables,
pipelines/published_files.py). `apply_descriptions` writes them as DuckDB comments
(`COMMENT ON`), so `duckdb_tables()` and `duckdb_columns()` show them beside the data (in
Python and in the DuckDB CLI alike), and docs/data_dictionary.md is rendered from those same
comments.

- `<schema>.toml` holds one section per table of that schema: an optional `description` and
  a `columns` table. A model's or publication table's description defaults to the comment at
  the top of its SQL file, so the rule is written once.
- The published tables' columns (publish.pub_*) mean what the published files say they mean:
  their descriptions are pipelines/published_files.py's, which the manifest also carries.
- `columns.toml` holds columns with the same meaning wherever they appear (`member_id`,
  `as_of`, the 6- and 12-month counts); a key may be a glob (`diagnosis_code_*`). A table's
  own entry wins.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb

from pipelines.ingest.validate import ident, literal
from pipelines.paths import SQL_DIR
from pipelines.published_files import PUBLISHED_FILES
from pipelines.rules.models import Model
from pipelines.warehouse import transaction

DESCRIPTIONS_DIR = SQL_DIR / "descriptions"
SHARED_FILE = "columns.toml"
# The schemas analysts query; every table and column in them must carry a description.
DESCRIBED_SCHEMAS = ("marts", "publish", "history", "raw")


@dataclass(frozen=True)
class Descriptions:
    tables: dict[str, str] = field(default_factory=dict)  # schema.table -> description
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # schema.table -> ...
    shared: dict[str, str] = field(default_factory=dict)  # column name or glob -> ...

    def table(self, table: str) -> str | None:
        if table in self.tables:
            return self.tables[table]
        schema, name = table.split(".", 1)
        sql = SQL_DIR / schema / f"{name}.sql"
        if sql.exists():
            return " ".join(Model(schema, name, sql, frozenset()).rule_comment()) or None
        return None

    def column(self, table: str, column: str) -> str | None:
        own = self.columns.get(table, {})
        if column in own:
            return own[column]
        if column in self.shared:
            return self.shared[column]
        for pattern, text in self.shared.items():
            if fnmatch.fnmatchcase(column, pattern):
                return text
        return None


@cache
def load_descriptions(directory: Path = DESCRIPTIONS_DIR) -> Descriptions:
    """Read sql/descriptions/: `<schema>.toml` per schema and the shared `columns.toml`."""
    descriptions = Descriptions()
    for path in sorted(directory.glob("*.toml")):
        with open(path, "rb") as f:
            raw = tomllib.load(f)
        if path.name == SHARED_FILE:
            descriptions.shared.update(_strings(raw.get("columns", {}), path))
            continue
        for name, section in raw.items():
            table = f"{path.stem}.{name}"
            if "description" in section:
                descriptions.tables[table] = _strings({"d": section["description"]}, path)["d"]
            descriptions.columns[table] = _strings(section.get("columns", {}), path)
    for published in PUBLISHED_FILES:
        if published.table in descriptions.columns:
            raise ValueError(
                f"{published.table}: its columns are described in pipelines/published_files.py"
                " (the manifest's definitions); remove it from sql/descriptions/"
            )
        descriptions.columns[published.table] = dict(published.columns)
    return descriptions


def _strings(entries: dict, path: Path) -> dict[str, str]:
    bad = [key for key, text in entries.items() if not isinstance(text, str) or not text.strip()]
    if bad:
        raise ValueError(f"{path.name}: descriptions must be non-empty text: {', '.join(bad)}")
    return {key: " ".join(text.split()) for key, text in entries.items()}


def _described_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str | None]]:
    """(schema.table, column, its comment) of every table and view column in the described
    schemas."""
    return con.execute(
        "select schema_name || '.' || table_name, column_name, comment from duckdb_columns()"
        " where not internal and database_name = current_database()"
        " and list_contains(?, schema_name) order by schema_name, table_name, column_index",
        [list(DESCRIBED_SCHEMAS)],
    ).fetchall()


def _table_comments(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    return dict(
        con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables()"
            " where not internal and database_name = current_database()"
            " union all select schema_name || '.' || view_name, comment from duckdb_views()"
            " where not internal and database_name = current_database()"
        ).fetchall()
    )


def apply_descriptions(
    con: duckdb.DuckDBPyConnection, descriptions: Descriptions | None = None
) -> int:
    """`COMMENT ON` every described table and column present in the warehouse whose comment
    differs, in one transaction. Returns the number of comments written. A night calls it
    after each stage that creates tables (three times); the comments already in place are
    not written again (374 comments took 0.1 s at every call)."""
    descriptions = descriptions or load_descriptions()
    columns = _described_columns(con)
    comments = _table_comments(con)
    statements = []
    for table in dict.fromkeys(table for table, _, _ in columns):
        text = descriptions.table(table)
        if text and text != comments.get(table):
            name = ".".join(ident(part) for part in table.split("."))
            statements.append(f"comment on table {name} is {literal(text)}")
    for table, column, comment in columns:
        text = descriptions.column(table, column)
        if text and text != comment:
            name = ".".join(ident(part) for part in [*table.split("."), column])
            statements.append(f"comment on column {name} is {literal(text)}")
    with transaction(con):
        for statement in statements:
            con.execute(statement)
    return len(statements)


def missing_descriptions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables and `table.column`s of the described schemas without a comment."""
    tables = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables()"
        " where not internal and database_name = current_database()"
        " and list_contains(?, schema_name) and comment is null order by 1",
        [list(DESCRIBED_SCHEMAS)],
    ).fetchall()
    columns = con.execute(
        "select schema_name || '.' || table_name || '.' || column_name from duckdb_columns()"
        " where not internal and database_name = current_database()"
        " and list_contains(?, schema_name) and comment is null"
        " order by schema_name, table_name, column_index",
        [list(DESCRIBED_SCHEMAS)],
    ).fetchall()
    return [name for (name,) in tables + columns]


def unused_descriptions(
    con: duckdb.DuckDBPyConnection, descriptions: Descriptions | None = None
) -> list[str]:
    """Described tables and columns the warehouse does not have (renamed or dropped)."""
    descriptions = descriptions or load_descriptions()
    present = {(table, column) for table, column, _ in _described_columns(con)}
    tables = {table for table, _ in present}
    unused = [table for table in descriptions.tables if table not in tables]
    for table, columns in descriptions.columns.items():
        if table not in tables:
            unused.append(table)
            continue
        unused += [f"{table}.{c}" for c in columns if (table, c) not in present]
    names = {column for _, column in present}
    unused += [
        f"columns.toml: {key}"
        for key in descriptions.shared
        if not any(fnmatch.fnmatchcase(name, key) for name in names)
    ]
    return sorted(set(unused))
