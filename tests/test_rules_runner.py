"""The model runner: discovery order, and a model reading a later layer is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.rules.models import LAYERS, discover_models


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
