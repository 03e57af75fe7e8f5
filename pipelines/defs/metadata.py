"""Dagster's standard metadata for a materialized DuckDB table, so the UI's catalog shows the
row count, the columns with their descriptions, and a preview."""

from __future__ import annotations

import dagster as dg
import duckdb

from pipelines.ingest.validate import ident

PREVIEW_ROWS = 5
# Member-level identifiers stay out of the run's event log, as they stay out of the logs:
# previews leave these columns out.
IDENTIFYING_COLUMNS = frozenset(
    {"member_id", "event_id", "claim_ids", "pcp_npi", "birth_date", "original_value", "row_json"}
)


def table_metadata(
    con: duckdb.DuckDBPyConnection, table: str, rows: int | None, *, preview: bool = False
) -> dict[str, object]:
    """`dagster/row_count` (left out for a view, which is not counted), `dagster/column_schema`
    (types and the warehouse's column comments), `dagster/table_name`, and with `preview` the
    first rows as a markdown table."""
    schema, name = table.split(".", 1)
    columns = con.execute(
        "select column_name, data_type, comment from duckdb_columns()"
        " where database_name = current_database() and schema_name = ? and table_name = ?"
        " order by column_index",
        [schema, name],
    ).fetchall()
    metadata: dict[str, object] = {
        "dagster/table_name": table,
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(column, dtype.lower(), description=comment)
                for column, dtype, comment in columns
            ]
        ),
    }
    if rows is not None:
        metadata["dagster/row_count"] = rows
    if preview:
        shown = [column for column, _, _ in columns if column not in IDENTIFYING_COLUMNS]
        metadata["preview"] = dg.MetadataValue.md(_markdown(con, table, shown))
    return metadata


def _markdown(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> str:
    if not columns:
        return "(no column to show)"
    selected = ", ".join(ident(c) for c in columns)
    name = ".".join(ident(part) for part in table.split("."))
    rows = con.execute(f"select {selected} from {name} limit {PREVIEW_ROWS}").fetchall()
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
