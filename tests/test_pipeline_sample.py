"""End to end on data/sample: the real Dagster job, the real warehouse, the published Parquet."""

from __future__ import annotations

import hashlib
import json

import duckdb
import polars as pl
import pytest

from pipelines.measures import TIERS
from pipelines.paths import SAMPLE_DIR
from pipelines.synth.verify import mismatches
from tests.conftest import SAMPLE_AS_OF, Deployment


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _query(deployment: Deployment, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(deployment.warehouse), read_only=True) as con:
        return pl.from_arrow(con.sql(sql).to_arrow_table())


def test_marts_equal_truth_for_every_member(sample_run: Deployment):
    truth = pl.read_parquet(SAMPLE_DIR / "truth.parquet")
    with duckdb.connect(str(sample_run.warehouse), read_only=True) as con:
        differing = {c: n for c, n in mismatches(con, truth).items() if n}
    assert differing == {}
    # The sample holds the planted rule edges, and every tier is populated.
    assert truth["scenario"].drop_nulls().n_unique() >= 20
    assert set(truth["tier"].drop_nulls()) == set(TIERS)


def test_publication_is_complete_and_its_manifest_checks_out(sample_run: Deployment):
    latest = sample_run.out / "latest"
    assert latest.resolve() == (sample_run.out / SAMPLE_AS_OF).resolve()
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["as_of"] == SAMPLE_AS_OF
    for name, entry in manifest["files"].items():
        assert _sha(latest / name) == entry["sha256"], name
    candidates = pl.read_parquet(latest / "candidates.parquet")
    by_tier = dict(candidates.group_by("tier").len().iter_rows())
    assert manifest["rows_by_tier"] == {t: by_tier.get(t, 0) for t in TIERS}
    assert manifest["thresholds"]["adult_ed_visits"] == 5
    assert "dhcs_avoidable_ed_diagnoses" in manifest["code_list_versions"]
    assert pl.read_csv(latest / "candidates.csv", infer_schema=False).height == candidates.height


def test_candidates_sorted_by_tier_then_score_and_one_row_per_member(sample_run: Deployment):
    candidates = pl.read_parquet(sample_run.out / "latest" / "candidates.parquet")
    assert candidates["member_id"].is_unique().all()
    order = candidates.with_columns(
        tier_order=pl.col("tier").replace_strict({t: i for i, t in enumerate(TIERS)})
    )
    assert order["tier_order"].is_sorted()
    for (_,), tier in order.group_by(["tier"]):
        assert tier["score"].is_sorted(descending=True)
    # First night: nobody was listed before.
    assert set(candidates["change_status"]) == {"new"}


def test_every_flagged_member_has_evidence_matching_the_counts(sample_run: Deployment):
    latest = sample_run.out / "latest"
    candidates = pl.read_parquet(latest / "candidates.parquet")
    evidence = pl.read_parquet(latest / "evidence.parquet")
    flagged = candidates.filter(pl.col("criteria_met").is_not_null())
    assert flagged.height > 0
    assert set(flagged["member_id"]) <= set(evidence["member_id"])
    counted_ed = (
        evidence.filter((pl.col("event_type") == "ed_visit") & pl.col("counted") & pl.col("in_12m"))
        .group_by("member_id")
        .len("from_evidence")
    )
    check = candidates.join(counted_ed, on="member_id", how="left").with_columns(
        pl.col("from_evidence").fill_null(0)
    )
    assert (check["ed_visits_12m"] == check["from_evidence"]).all()


def test_ingest_reconciles_every_file(sample_run: Deployment):
    ledger = _query(sample_run, "select * from raw.load_ledger")
    assert ledger.height >= 3
    assert (ledger["status"] == "loaded").all()
    assert (ledger["rows_read"] == ledger["rows_loaded"] + ledger["rows_quarantined"]).all()
    loaded = _query(
        sample_run,
        "select _file_sha256 as file_sha256, count(*) as n from ("
        " select _file_sha256 from raw.medical_claims union all"
        " select _file_sha256 from raw.eligibility union all"
        " select _file_sha256 from raw.care_management_status) group by all",
    )
    joined = ledger.join(loaded, on="file_sha256", how="left").with_columns(
        pl.col("n").fill_null(0)
    )
    assert (joined["rows_loaded"] == joined["n"]).all()


@pytest.fixture(scope="module")
def rerun(sample_run: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The same night run again on a copy of the first run's state."""
    again = sample_run.copy_to(tmp_path_factory.mktemp("rerun") / "d")
    result = again.run()
    assert result.success
    return again


def test_rerun_of_the_same_night_publishes_byte_identical_lists(
    sample_run: Deployment, rerun: Deployment
):
    runs = sorted((rerun.out / "runs" / SAMPLE_AS_OF).iterdir())
    assert len(runs) == 2, "the rerun publishes a second run folder beside the first"
    first, second = runs
    for name in ("candidates.parquet", "candidates.csv", "evidence.parquet", "exclusions.parquet"):
        assert _sha(first / name) == _sha(second / name), name
    # The rerun compares with earlier as-of dates only, so its candidates are still "new".
    assert set(pl.read_parquet(second / "candidates.parquet")["change_status"]) == {"new"}


def test_rerun_loads_nothing_new(sample_run: Deployment, rerun: Deployment):
    sql = "select count(*) as n, sum(rows_read) as rows from raw.load_ledger"
    assert _query(rerun, sql).equals(_query(sample_run, sql))
    sql = "select count(*) as n from raw.medical_claims"
    assert _query(rerun, sql).equals(_query(sample_run, sql))
