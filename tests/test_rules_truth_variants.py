"""The generator's truth equals the SQL on every compared column under six rule sets, on a
small generated population (1,500 members, the planted edges included): the avoidable ED
methods dhcs, nyu threshold, nyu fractional and all, moderate_margin 2, changed child
thresholds. One extract, one raw layer; each rule set rebuilds the models and recomputes the
truth from the same episodes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import polars as pl
import pytest

from pipelines.config import RuleConfig, load_rules
from pipelines.rules.models import build_models
from pipelines.synth.generate import Settings, generate, truth_inputs
from pipelines.synth.truth import compute_truth
from pipelines.synth.verify import COMPARED, mismatches
from tests.builders import with_ed_measure, write_raw

AS_OF = dt.date(2026, 11, 21)


def _rule_sets() -> dict[str, RuleConfig]:
    base = load_rules()
    return {
        "dhcs": base,
        "nyu_threshold": with_ed_measure(base, "nyu", "threshold"),
        "nyu_fractional": with_ed_measure(base, "nyu", "fractional"),
        "all": with_ed_measure(base, "all"),
        "moderate_margin_2": dataclasses.replace(base, moderate_margin=2),
        "child_thresholds_4_1": dataclasses.replace(
            base, child=dataclasses.replace(base.child, ed_visits=4, unplanned_stays=1)
        ),
    }


RULE_SETS = _rule_sets()


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("variants")
    s = Settings(members=1500, months=24, as_of=AS_OF, seed=99, out=out / "extract")
    generate(s)
    frames = {
        kind: pl.concat([pl.read_parquet(p) for p in sorted(s.out.glob(f"{kind}*.parquet"))])
        for kind in ("medical_claims", "eligibility", "care_management_status")
    }
    con = duckdb.connect(str(out / "w.duckdb"))
    write_raw(con, frames)
    yield con, truth_inputs(s), pl.read_parquet(s.out / "truth.parquet")
    con.close()


def test_written_truth_is_the_default_rules_truth(population):
    _, inputs, written = population
    again = compute_truth(
        inputs["episodes"], inputs["members"], inputs["spans"], inputs["statuses"], AS_OF,
        load_rules(),
    )  # fmt: skip
    assert again.equals(written)


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_truth_equals_sql_on_every_column(population, name: str):
    con, inputs, _ = population
    rules = RULE_SETS[name]
    build_models(con, AS_OF, rules)
    truth = compute_truth(
        inputs["episodes"], inputs["members"], inputs["spans"], inputs["statuses"], AS_OF, rules
    )
    assert "score" in COMPARED
    assert {c: n for c, n in mismatches(con, truth).items() if n} == {}
    # The rule set decides something: every run holds High members and real ED visits.
    assert truth.filter(pl.col("tier") == "High").height > 0
    assert truth["ed_visits_12m"].sum() > 0
