"""Member-hash buckets give exactly the single run's results (issue 5).

Three proofs here: hand-built members whose claim chains cross members and buckets (the one
place the SQL is not per member); the real Dagster job on data/sample with 4 buckets,
publishing the same bytes as a single run; and a second night of corrections and a new
eligibility snapshot, so what is in force reaches every bucket. tests/test_cli.py runs 2
buckets under Dagster's multiprocess executor (ECM_EXECUTOR), each step in its own process,
from the command line.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import load_rules
from pipelines.contract import ELIGIBILITY, MEDICAL_CLAIMS
from pipelines.defs.rules_assets import MODELS
from pipelines.rules.buckets import (
    attach_bucket_raw,
    attach_plan,
    bucket_file,
    bucket_of,
    build_bucket,
    merge_buckets,
    plan_file,
    prepare_buckets,
)
from tests.builders import AS_OF, NOT_AVOIDABLE_DX, RawBuilder, build, write_raw
from tests.conftest import Deployment
from tests.ingest_helpers import write_contract_parquet
from tests.test_cli import Night, small_plan
from tests.test_rules_members import scenarios

PUBLISHED = ("candidates.parquet", "candidates.csv", "evidence.parquet", "exclusions.parquet")
MARTS = (
    "fct_candidates",
    "fct_evidence",
    "fct_exclusions",
    "fct_member_measures",
    "fct_member_months",
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cross_member_chains() -> RawBuilder:
    """The rule-edge members, plus corrections that carry another member's id."""
    b = scenarios()
    for member in ("moved_from", "receiver", "voided_from", "voider", "chain_one", "chain_two"):
        b.member(member)
    # A replacement re-assigns an ED visit to another member: it counts for receiver only.
    b.replace(b.ed_visit("moved_from", date(2026, 3, 1)), member_id="receiver")
    # A void sent under another member's id still removes voided_from's visit.
    b.void(b.ed_visit("voided_from", date(2026, 3, 2)))
    b.claims[list(b.claims)[-1]][0]["member_id"] = "voider"
    # A chain of three through two buckets: chain_one's stay, replaced under chain_two, replaced
    # again under chain_one with a non-acute diagnosis.
    stay = b.stay("chain_one", date(2026, 2, 10), date(2026, 2, 12))
    second = b.replace(stay, member_id="chain_two")
    b.replace(second, member_id="chain_one", principal_diagnosis_code=NOT_AVOIDABLE_DX)
    return b


def _tables(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    return [
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = ? "
            "and schema_name in ('staging', 'intermediate', 'marts') order by all",
            [database],
        ).fetchall()
    ]


def test_buckets_equal_a_single_build_when_claim_chains_cross_members(tmp_path: Path):
    builder = _cross_member_chains()
    rules, buckets = load_rules(), 4
    single = tmp_path / "single" / "single.duckdb"  # its own folder: its own raw layer
    single.parent.mkdir()
    build(builder, single, AS_OF, rules).close()
    work = tmp_path / "work.duckdb"
    with duckdb.connect(str(work)) as con:
        write_raw(con, builder.frames())
        spread = con.execute(
            f"select {bucket_of('member_id', buckets)}, member_id from raw.eligibility "
            "where member_id in ('moved_from', 'receiver', 'voided_from', 'voider', "
            "'chain_one', 'chain_two') order by member_id"
        ).fetchall()
        lines = con.execute("select count(*) from raw.medical_claims").fetchall()[0][0]
        own = dict(
            con.execute(
                f"select _bucket % {buckets}, count(*) from raw.medical_claims group by all"
            ).fetchall()
        )
        plan = prepare_buckets(con, work=work, buckets=buckets, run_token="t")
    # The corrections must cross buckets, or this test proves nothing.
    assert len({bucket for bucket, _ in spread}) == buckets, spread
    # Lines of claims chained across buckets, each read by the bucket that lacks it: the moved
    # visit's original and replacement (2), the voided visit and its void (2), the stay chain's
    # claim under chain_two and its two claims under chain_one (3); one line per claim.
    assert plan.rows == 7, plan

    read = [
        build_bucket(
            work=work, bucket=bucket, buckets=buckets, as_of=AS_OF, rules=rules, run_token="t"
        )[0].rows
        for bucket in range(buckets)
    ]
    # Each bucket reads its own members' lines and the chained lines, nothing else.
    assert sum(read) == lines + plan.rows
    assert all(read[b] >= own.get(b, 0) for b in range(buckets)), (read, own)
    with duckdb.connect(str(work)) as con:
        _, inputs = merge_buckets(
            con, work=work, buckets=buckets, as_of=AS_OF, rules=rules, run_token="t"
        )
        assert [i.claim_lines for i in inputs] == read
        con.execute(f"attach '{single}' as single (read_only)")
        tables = _tables(con, "work")
        assert tables == _tables(con, "single")
        assert len(tables) == len([m for m in MODELS if m.materialized == "table"])
        for table in tables:
            for left, right in ((table, f"single.{table}"), (f"single.{table}", table)):
                extra = con.execute(
                    f"select count(*) from (from {left} except all from {right})"
                ).fetchall()[0][0]
                assert extra == 0, f"{left} has {extra} rows not in {right}"
        for mart in MARTS:  # the marts in the same order too
            assert con.sql(f"from marts.{mart}").fetchall() == (
                con.sql(f"from single.marts.{mart}").fetchall()
            ), mart
        counted = dict(
            con.execute(
                "select member_id, ed_visits_12m + unplanned_hospital_stays_12m "
                "from marts.fct_member_measures where member_id in ("
                + ", ".join(f"'{member}'" for _, member in spread)
                + ")"
            ).fetchall()
        )
    # Each correction counts once, for the member on the latest version.
    assert counted == {
        "moved_from": 0,
        "receiver": 1,
        "voided_from": 0,
        "voider": 0,
        "chain_one": 1,
        "chain_two": 0,
    }
    assert not any(bucket_file(work, b).exists() for b in range(buckets))
    assert not plan_file(work).exists()


@pytest.fixture(scope="module")
def bucketed_run(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    deployment = Deployment(tmp_path_factory.mktemp("bucketed") / "d")
    result = deployment.run(buckets=4)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    steps = {e.step_key for e in result.all_events if e.step_key}
    assert {f"rules_models.rules_bucket_{b:02d}" for b in range(4)} <= steps
    return deployment


def test_bucketed_run_publishes_the_same_bytes_as_a_single_run(
    sample_run: Deployment, bucketed_run: Deployment
):
    for name in PUBLISHED:
        single = sample_run.out / "latest" / name
        assert _sha(bucketed_run.out / "latest" / name) == _sha(single), name
    leftovers = sorted(p.name for p in bucketed_run.warehouse.parent.glob("*.bucket-*"))
    assert leftovers == [], "the merge removes the bucket files"


def test_a_bucketed_night_after_corrections_and_a_new_snapshot_equals_a_single_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """What is in force (superseded rows, the latest eligibility snapshot) reaches every
    bucket: night 2 corrects two of H000's five visits to a non-avoidable diagnosis and
    delivers an eligibility snapshot in which H002 is in ECM."""
    plan = small_plan(high=3, others=3)
    frames = plan.frames()
    claims, eligibility = frames[MEDICAL_CLAIMS.name], frames[ELIGIBILITY.name]
    h000 = claims.filter(pl.col("member_id") == "H000").sort("service_from_date").head(2)
    in_ecm = pl.when(pl.col("member_id") == "H002").then(True).otherwise(pl.col("in_ecm"))
    published = {}
    for name, buckets in (("single", "1"), ("bucketed", "4")):
        monkeypatch.setenv("ECM_BUCKETS", buckets)
        night = Night(tmp_path / name)
        night.write(plan)
        assert night.run("2026-11-20") == 0
        h000.with_columns(principal_diagnosis_code=pl.lit(NOT_AVOIDABLE_DX)).write_csv(
            night.landing / "medical_claims_2.csv"
        )
        (night.landing / "eligibility_1.csv").unlink()
        eligibility.with_columns(in_ecm=in_ecm).write_csv(night.landing / "eligibility_2.csv")
        assert night.run("2026-11-21") == 0
        published[name] = {
            file: (night.out / "latest" / file).read_bytes()
            for file in ("candidates.csv", "exclusions.csv", "dropped.csv")
        }
        with duckdb.connect(str(night.warehouse), read_only=True) as con:
            corrected = con.execute(
                "select count(*) from raw.superseded_rows where reason = 'correction'"
            ).fetchall()
            tiers = dict(con.execute("select member_id, tier from marts.fct_candidates").fetchall())
            excluded = dict(
                con.execute(
                    "select member_id, exclusion_reason from marts.fct_exclusions"
                ).fetchall()
            )
        assert corrected == [(2,)]
        # H000 has 3 avoidable visits left: off the list's High tier; H002 is now in ECM.
        assert tiers.get("H000") != "High" and tiers["H001"] == "High", tiers
        assert "H002" in excluded and "H002" not in tiers, excluded
    assert published["bucketed"] == published["single"]


def test_buckets_over_landing_files_kept_as_delivered_equal_a_single_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A first night loaded by a single run keeps its contract-exact Parquet files as
    delivered (every bucket's rows in one file); a bucketed second night reads its share of
    them by `_bucket`, and publishes what a single second night publishes."""
    plan = small_plan(high=4, others=6)
    frames = plan.frames()
    correction = (
        frames[MEDICAL_CLAIMS.name]
        .filter(pl.col("member_id") == "H001")
        .sort("service_from_date")
        .head(1)
        .with_columns(principal_diagnosis_code=pl.lit(NOT_AVOIDABLE_DX))
    )
    published = {}
    for name, second_night_buckets in (("single", "1"), ("bucketed", "4")):
        night = Night(tmp_path / name)
        for kind in (MEDICAL_CLAIMS, ELIGIBILITY):
            write_contract_parquet(
                night.landing / f"{kind.name}_1.parquet", kind, frames[kind.name].to_dicts()
            )
        monkeypatch.setenv("ECM_BUCKETS", "1")
        assert night.run("2026-11-20") == 0
        with duckdb.connect(str(night.warehouse), read_only=True) as con:
            assert con.execute("select count(*), count(bucket) from raw.raw_files").fetchall() == [
                (2, 0)
            ]
        correction.write_csv(night.landing / "medical_claims_2.csv")
        monkeypatch.setenv("ECM_BUCKETS", second_night_buckets)
        assert night.run("2026-11-21") == 0
        published[name] = {
            file: (night.out / "latest" / file).read_bytes()
            for file in ("candidates.csv", "exclusions.csv", "dropped.csv")
        }
        with duckdb.connect(str(night.warehouse), read_only=True) as con:
            tiers = dict(con.execute("select member_id, tier from marts.fct_candidates").fetchall())
        assert tiers["H000"] == "High" and tiers.get("H001") != "High", tiers
    assert published["bucketed"] == published["single"]

    # Each bucket reads its own members' lines of the kept files, and all of them once.
    work = tmp_path / "bucketed" / "warehouse" / "ecm.duckdb"
    with duckdb.connect(str(work)) as con:
        prepare_buckets(con, work=work, buckets=4, run_token="t")
        total = con.execute("select count(*) from raw.medical_claims").fetchone()[0]
    read, members = 0, []
    for b in range(4):
        with duckdb.connect() as con:
            attach_plan(con, work, 4, "t")
            read += attach_bucket_raw(con, b, 4)
            members.append(
                {m for (m,) in con.execute("select member_id from raw.medical_claims").fetchall()}
            )
            assert con.execute(
                f"select count(*) from raw.medical_claims where {bucket_of('member_id', 4)} <> ?",
                [b],
            ).fetchone() == (0,)
    assert read == total and sum(map(len, members)) == len(set().union(*members))
