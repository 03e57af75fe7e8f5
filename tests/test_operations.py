"""Nightly operation: schedule, sensor, blocking gates, history of publications, readers."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import time

import dagster as dg
import polars as pl

from pipelines.cli import main
from pipelines.defs import build_definitions
from pipelines.defs.jobs import NIGHTLY_JOB
from pipelines.defs.resources import PipelineSettings
from pipelines.defs.sensors import landing_sensor, previous_day
from pipelines.runner import failed_checks
from tests.builders import stricter_suites
from tests.conftest import SAMPLE_AS_OF, Deployment


def test_schedule_and_sensor_target_the_nightly_job():
    defs = build_definitions(PipelineSettings())
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.job_name == NIGHTLY_JOB
    assert schedule.execution_timezone == "America/Los_Angeles"
    assert schedule.cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("landing_sensor").job_name == NIGHTLY_JOB


def test_sensor_waits_for_files_to_settle_then_requests_yesterday(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "eligibility_1.csv").write_text("member_id\n")
    settings = PipelineSettings(landing_dir=str(landing))

    def tick(cursor):
        ctx = dg.build_sensor_context(cursor=cursor, resources={"settings": settings})
        return landing_sensor(ctx)

    first = tick(None)
    assert not first.run_requests, "a file seen once may still be being written"
    second = tick(first.cursor)
    [request] = second.run_requests
    assert request.partition_key == previous_day(dt.datetime.now(dt.UTC))
    third = tick(second.cursor)
    assert not third.run_requests, "nothing new: no second run"
    (landing / "eligibility_1.csv").write_text("member_id\nM1\n")  # grows: wait again
    assert not tick(third.cursor).run_requests


def test_failing_expectation_blocks_publication_and_keeps_the_previous(
    sample_run: Deployment, tmp_path
):
    deployment = sample_run.copy_to(tmp_path / "d")
    before = (deployment.out / "latest").resolve()
    before_manifest = (before / "manifest.json").read_bytes()
    strict = stricter_suites(tmp_path / "strict_suites", "pub_candidates", "tier", ["High"])

    result = deployment.run(expectations_dir=str(strict))

    assert "publication_tables:candidates_suite" in failed_checks(result)
    materialized = {
        e.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert "publication" not in materialized
    assert (deployment.out / "latest").resolve() == before
    assert (before / "manifest.json").read_bytes() == before_manifest
    assert len(list((deployment.out / "runs" / SAMPLE_AS_OF).iterdir())) == 1


def test_new_continuing_returning_and_dropped_across_three_nights(tmp_path):
    deployment = Deployment(tmp_path / "d")
    nights = ["2026-09-21", "2026-10-21", "2026-11-21"]
    # The sample's planted events cluster before 2026-11-21: High moves 80 -> 112 from
    # 10-21, which the tier-change gate rightly blocks (tests/test_cli.py); allowed here.
    for night in nights:
        assert deployment.run(night, allow_tier_change=True).success, night
    lists = {n: pl.read_parquet(deployment.out / n / "candidates.parquet") for n in nights}
    first, second, third = (set(lists[n]["member_id"]) for n in nights)

    status = dict(lists[nights[2]].select("member_id", "change_status").iter_rows())
    assert {m for m, s in status.items() if s == "continuing"} == third & second
    assert {m for m, s in status.items() if s == "returning"} == (third & first) - second
    assert {m for m, s in status.items() if s == "new"} == third - first - second
    assert {m for m, s in status.items() if s == "returning"}, "the sample has returning members"

    dropped = pl.read_parquet(deployment.out / nights[2] / "dropped.parquet")
    assert set(dropped["member_id"]) == second - third
    assert dropped.height > 0
    assert dropped["drop_reason"].null_count() == 0
    # The latest pointer is the newest night; each night keeps its own publication.
    assert (deployment.out / "latest").resolve() == (deployment.out / nights[2]).resolve()


READER = textwrap.dedent(
    """
    import pathlib, sys, time, duckdb
    path, stop = sys.argv[1], pathlib.Path(sys.argv[2])
    done = errors = 0
    while not stop.exists():
        try:
            with duckdb.connect(path, read_only=True) as con:
                con.sql("select count(*) from marts.fct_candidates").fetchall()
            done += 1
        except Exception as error:
            errors += 1
            print(type(error).__name__, str(error)[:200], file=sys.stderr)
        time.sleep(0.02)
    print(done, errors)
    """
)


def test_analyst_keeps_querying_through_a_full_run(sample_run: Deployment, tmp_path):
    """DuckDB allows one writer process or many readers: the run writes its own file and
    swaps the analysts' copy in, so a reader in another process never fails."""
    deployment = sample_run.copy_to(tmp_path / "d")
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(deployment.warehouse), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        result = deployment.run()
        time.sleep(0.5)
    finally:
        stop.touch()
    out, err = reader.communicate(timeout=60)
    assert result.success
    done, errors = map(int, out.split())
    assert (errors, err) == (0, "")
    assert done > 20, "the reader kept querying while the run wrote"


def test_published_files_and_warehouse_are_not_world_readable(sample_run: Deployment):
    work = sample_run.warehouse.with_suffix(".work.duckdb")
    for path in (sample_run.warehouse, work, sample_run.warehouse.parent):
        assert path.stat().st_mode & 0o007 == 0, path.name
    for path in (sample_run.out / "latest").iterdir():
        assert path.stat().st_mode & 0o007 == 0, path.name


def test_backfill_over_a_date_range_publishes_each_night_in_order(tmp_path):
    deployment = Deployment(tmp_path / "d")
    code = main(
        [
            "backfill", "--from", "2026-11-19", "--to", "2026-11-21",
            "--landing", str(deployment.landing), "--out", str(deployment.out),
            "--warehouse", str(deployment.warehouse), "--log-level", "WARNING",
        ]
    )  # fmt: skip
    assert code == 0
    nights = ["2026-11-19", "2026-11-20", "2026-11-21"]
    for night in nights:
        manifest = json.loads((deployment.out / night / "manifest.json").read_text())
        assert manifest["as_of"] == night
    assert (deployment.out / "latest").resolve() == (deployment.out / nights[-1]).resolve()
    # Nights run oldest first: the last one compares with the night before it.
    last = pl.read_parquet(deployment.out / nights[-1] / "candidates.parquet")
    assert (last["change_status"] == "continuing").sum() > 0.9 * last.height
