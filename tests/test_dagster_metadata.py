"""A real materialization of the rules assets carries Dagster's standard metadata: the
catalog shows each table's row count, columns with their descriptions, and a preview."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from pipelines.defs.metadata import IDENTIFYING_COLUMNS
from pipelines.defs.publish_assets import publication_tables
from pipelines.defs.rules_assets import rules_models
from pipelines.descriptions import load_descriptions
from pipelines.rules.models import discover_models
from tests.builders import write_raw
from tests.test_member_months import scenarios

MEMBERS = ("adult_high", "adult_low", "quiet")  # ids no other value looks like


@pytest.fixture(scope="module")
def materialized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dg.AssetMaterialization]:
    path = tmp_path_factory.mktemp("meta") / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        write_raw(con, scenarios().frames())
    result = dg.materialize(
        [rules_models, publication_tables],
        partition_key=date(2026, 6, 30).isoformat(),
        resources={"duckdb": DuckDBResource(database=str(path))},
    )
    assert result.success
    return {
        m.asset_key.to_user_string(): m
        for node in ("rules_models", "publication_tables")
        for m in result.asset_materializations_for_node(node)
    }


def test_every_table_has_row_count_and_every_model_column_schema(materialized) -> None:
    assert "marts/fct_member_months" in materialized and len(materialized) > 15
    views = {f"{m.layer}/{m.name}" for m in discover_models() if m.materialized == "view"}
    assert "staging/stg_medical_claims" in views
    for key, mat in materialized.items():
        if key in views:  # not counted: a count would evaluate the view once more
            assert "dagster/row_count" not in mat.metadata, key
        else:
            assert isinstance(mat.metadata["dagster/row_count"].value, int), key
        table = "publish.pub_candidates" if key == "publication_tables" else key.replace("/", ".")
        assert mat.metadata["dagster/table_name"].value == table, key
        assert mat.metadata["dagster/column_schema"].value.columns, key


def test_figures_and_descriptions_are_the_warehouses(materialized) -> None:
    mat = materialized["marts/fct_member_months"]
    assert mat.metadata["dagster/row_count"].value == 48  # tests/test_member_months.py
    columns = {c.name: c for c in mat.metadata["dagster/column_schema"].value.columns}
    assert columns["member_months"].type == "bigint"
    assert columns["member_months"].description == load_descriptions().column(
        "marts.fct_member_months", "member_months"
    )
    candidates = materialized["marts/fct_candidates"]
    assert candidates.metadata["dagster/row_count"].value == 3  # High adult, child, Low adult


def test_marts_have_a_preview_without_member_identifiers(materialized) -> None:
    preview = materialized["marts/fct_member_months"].metadata["preview"].value
    lines = preview.splitlines()
    assert lines[0].startswith("| as_of | month_start | month_end | county |")
    assert len(lines) == 2 + 5
    for key, mat in materialized.items():
        if not key.startswith("marts/") and key != "publication_tables":
            assert "preview" not in mat.metadata, key
            continue
        header = mat.metadata["preview"].value.splitlines()[0]
        assert not set(header.strip("| ").split(" | ")) & IDENTIFYING_COLUMNS, key
        assert not any(member in mat.metadata["preview"].value for member in MEMBERS), key


def test_the_published_list_shows_in_the_catalog(materialized) -> None:
    mat = materialized["publication_tables"]
    assert mat.metadata["dagster/row_count"].value == 3
    assert mat.metadata["candidates_new"].value == 3
    columns = {c.name: c.description for c in mat.metadata["dagster/column_schema"].value.columns}
    assert columns["change_status"].startswith("new (never on an earlier list)")
    preview = mat.metadata["preview"].value
    assert "| as_of | tier | reason |" in preview and "member_id" not in preview
