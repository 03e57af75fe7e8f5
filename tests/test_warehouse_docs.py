"""Every analyst-facing table and column carries a description as a DuckDB comment, from
sql/descriptions/ (one source); the published warehouse has them; the data dictionary is
rendered from them (staleness: tests/test_docs.py)."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.descriptions import (
    DESCRIBED_SCHEMAS,
    Descriptions,
    apply_descriptions,
    load_descriptions,
    missing_descriptions,
    unused_descriptions,
)
from pipelines.docs import DICTIONARY_DOC, documented_warehouse
from pipelines.published_files import DROPPED
from pipelines.warehouse import connect
from tests.conftest import Deployment


@pytest.fixture(scope="module")
def warehouse() -> duckdb.DuckDBPyConnection:
    return documented_warehouse()


def test_every_analyst_facing_table_and_column_is_described(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    missing = missing_descriptions(warehouse)
    assert not missing, (
        "add a description to sql/descriptions/<schema>.toml (or columns.toml when the "
        "column means the same everywhere) for: " + ", ".join(missing)
    )


def test_no_description_names_a_table_or_column_that_is_gone(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    assert unused_descriptions(warehouse) == []


def test_the_schemas_analysts_are_told_about_are_all_there(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    tables = {
        f"{schema}.{name}"
        for schema, name in warehouse.execute(
            "select schema_name, table_name from duckdb_tables()"
        ).fetchall()
    }
    for table in (
        "marts.fct_member_months",
        "publish.pub_candidates",
        "publish.pub_dropped",
        "history.publications",
        "raw.quarantine",
        "raw.load_ledger",
        "raw.night_files",
        "raw.night_gates",
    ):
        assert table in tables
    for column in ("change_status", "previous_tier", "drop_reason", "member_months"):
        comments = warehouse.execute(
            "select comment from duckdb_columns() where column_name = ?", [column]
        ).fetchall()
        assert comments and all(c for (c,) in comments), column
    assert set(DESCRIBED_SCHEMAS) == {"marts", "publish", "history", "raw"}


def test_a_models_table_description_is_its_rule_comment(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    (comment,) = warehouse.execute(
        "select comment from duckdb_tables() where table_name = 'fct_member_months'"
    ).fetchall()[0]
    assert comment.startswith("Member-months and events for rates per 1,000 member-months")
    assert "| member_months | BIGINT | Members enrolled on month_end" in DICTIONARY_DOC.read_text()


def test_descriptions_are_quoted_and_shared_columns_match_by_glob() -> None:
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.t (diagnosis_code_7 varchar, note varchar)")
    descriptions = Descriptions(
        tables={"raw.t": "It's a table; -- not a comment"},
        columns={"raw.t": {"note": "a 'quoted' note"}},
        shared={"diagnosis_code_*": "secondary diagnosis", "note": "loses to the table's own"},
    )
    assert apply_descriptions(con, descriptions) == 3
    assert apply_descriptions(con, descriptions) == 0  # in place already: nothing rewritten
    assert con.execute("select comment from duckdb_tables() where not internal").fetchall() == [
        ("It's a table; -- not a comment",)
    ]
    assert con.execute(
        "select column_name, comment from duckdb_columns() where not internal order by column_index"
    ).fetchall() == [("diagnosis_code_7", "secondary diagnosis"), ("note", "a 'quoted' note")]
    assert missing_descriptions(con) == []
    con.execute("create table raw.u (x int)")
    assert missing_descriptions(con) == ["raw.u", "raw.u.x"]


def test_the_shipped_descriptions_have_text(tmp_path) -> None:
    (tmp_path / "raw.toml").write_text('[t.columns]\nx = "  "\n')
    with pytest.raises(ValueError, match="raw.toml: descriptions must be non-empty text: x"):
        load_descriptions(tmp_path)
    assert load_descriptions().table("marts.fct_candidates").startswith("The candidate list")


def test_the_published_warehouse_carries_the_descriptions(sample_run: Deployment) -> None:
    with connect(sample_run.warehouse, read_only=True) as con:
        assert missing_descriptions(con) == []
        (comment,) = con.execute(
            "select comment from duckdb_columns()"
            " where table_name = 'pub_dropped' and column_name = 'drop_reason'"
        ).fetchall()[0]
    assert comment == DROPPED.columns["drop_reason"]  # the published file's definition
