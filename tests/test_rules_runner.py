"""The model runner: discovery order, a model reading a later layer is refused, a rebuilt
table reuses the blocks of the table it replaces, and the code lists set as variables."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from pipelines.config import load_rules
from pipelines.rules.models import (
    CODE_LIST_VARIABLES,
    LAYERS,
    build_models,
    discover_models,
    prepare,
)
from pipelines.warehouse import connect


def test_models_run_layer_by_layer_after_what_they_read() -> None:
    models = discover_models()
    position = {m.table: i for i, m in enumerate(models)}
    assert [m.layer for m in models] == sorted((m.layer for m in models), key=LAYERS.index)
    for model in models:
        assert model.path.stem == model.name
        for ref in model.depends_on:
            assert position[ref] < position[model.table], (model.table, ref)
    assert {
        "marts.fct_member_measures",
        "marts.fct_candidates",
        "marts.fct_evidence",
        "marts.fct_exclusions",
    } <= set(position)


def test_every_model_states_its_rule_first() -> None:
    for model in discover_models():
        header = [line for line in model.sql().splitlines() if line.startswith("--")]
        assert f"-- {model.name}" in header, model.path
        assert model.sql().rstrip().endswith("select * from final"), model.path


def test_a_model_reading_a_later_layer_is_refused(tmp_path: Path) -> None:
    (tmp_path / "staging").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "staging" / "stg_x.sql").write_text("select * from marts.fct_y")
    (tmp_path / "marts" / "fct_y.sql").write_text("select 1 as a")
    with pytest.raises(ValueError, match="later layer"):
        discover_models(tmp_path)


def _blocks(path: Path) -> int:
    with connect(path, read_only=True) as con:
        return con.execute("select total_blocks from pragma_database_size()").fetchone()[0]


def test_a_rebuilt_table_reuses_last_nights_blocks(tmp_path: Path) -> None:
    """Night after night the file holds the model's table once, not once per rebuild: its
    old blocks are freed (dropped, checkpointed) before tonight's are written."""
    sql = tmp_path / "sql"
    (sql / "intermediate").mkdir(parents=True)
    (sql / "intermediate" / "int_big.sql").write_text(
        "-- int_big\n-- A table big enough to see in the file's blocks.\n"
        "select range as id, md5(range::varchar) as text from range(600000)\n"
    )
    work = tmp_path / "ecm.work.duckdb"
    blocks = []
    for night in range(3):
        with connect(work) as con:
            [result] = build_models(con, date(2026, 11, 21 + night), load_rules(), sql_dir=sql)
            table_blocks = con.execute(
                "select count(distinct block_id) from pragma_storage_info('intermediate.int_big') "
                "where block_id >= 0"
            ).fetchone()[0]
        assert result.rows == 600_000
        blocks.append(_blocks(work))
    assert table_blocks > 20  # the table is a large part of the file
    # Without the drop, the second night adds the table's blocks again (and keeps them).
    assert blocks[2] - blocks[0] < table_blocks / 4, (blocks, table_blocks)


def test_a_model_whose_table_became_a_view_is_not_dropped_as_a_table(tmp_path: Path) -> None:
    (tmp_path / "intermediate").mkdir()
    model = tmp_path / "intermediate" / "int_x.sql"
    model.write_text("-- int_x\n-- One row.\nselect 1 as a\n")
    with connect(tmp_path / "w.duckdb") as con:
        build_models(con, date(2026, 11, 21), load_rules(), sql_dir=tmp_path)
        model.write_text("-- int_x\n-- materialized: view\n-- One row.\nselect 2 as a\n")
        build_models(con, date(2026, 11, 22), load_rules(), sql_dir=tmp_path)
        model.write_text("-- int_x\n-- One row.\nselect 3 as a\n")
        build_models(con, date(2026, 11, 23), load_rules(), sql_dir=tmp_path)
        assert con.execute("select a from intermediate.int_x").fetchall() == [(3,)]


def test_code_list_variables_hold_every_code_each_model_asks_for(tmp_path: Path) -> None:
    """A model reads a code list variable's lists by code_system; a code_system the variable
    lacks would read null and silently match no line, so every one asked for must be there,
    holding exactly the ref table's codes."""
    asked = {
        (name, system)
        for model in discover_models()
        for name, system in re.findall(
            r"getvariable\('([a-z_]+)'\)\['([a-z_]+)'\]", model.path.read_text()
        )
    }
    assert ("ed_codes", "revenue") in asked and ("ed_codes", "ed_pos_procedure") in asked
    with connect(tmp_path / "w.duckdb") as con:
        prepare(con, date(2026, 11, 21), load_rules())
        for name in CODE_LIST_VARIABLES:
            lists = con.execute(f"select getvariable('{name}')").fetchone()[0]
            expected = {
                system: codes
                for system, codes in con.execute(
                    f"select code_system, list(code order by code) from ref.{name} group by all"
                ).fetchall()
            }
            assert lists == expected
        for name, system in asked:
            assert name in CODE_LIST_VARIABLES, name
            codes = con.execute(f"select getvariable('{name}')['{system}']").fetchone()[0]
            assert codes, (name, system)
