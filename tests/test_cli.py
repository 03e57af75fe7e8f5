"""The command line end to end on tiny hand-built landings: real Dagster runs, real DuckDB.

What an operator sees last: the gate and its figure, or tonight's accounting; any as-of date
in range; an older night never replaces the analysts' latest; settings from the environment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.accounting import summary_lines
from pipelines.cli import build_parser, main, settings_from_args
from pipelines.contract import ELIGIBILITY, MEDICAL_CLAIMS
from pipelines.defs.partitions import today_pacific
from pipelines.defs.resources import make_resources
from pipelines.warehouse import CONNECTION_CONFIG
from tests.builders import RawBuilder, stricter_suites


class Night:
    """One deployment's folders, and the CLI run against them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.landing = root / "landing"
        self.out = root / "out"
        self.warehouse = root / "warehouse" / "ecm.duckdb"
        self.landing.mkdir(parents=True)

    def args(self, *extra: str) -> list[str]:
        return [
            "--landing", str(self.landing), "--out", str(self.out),
            "--warehouse", str(self.warehouse), *extra,
        ]  # fmt: skip

    def run(self, as_of: str, *extra: str, log_level: str = "ERROR") -> int:
        return main(["run", "--as-of", as_of, *self.args("--log-level", log_level, *extra)])

    def write(self, builder: RawBuilder, claims_name: str = "medical_claims_1.csv") -> None:
        frames = builder.frames()
        frames[ELIGIBILITY.name].write_csv(self.landing / "eligibility_1.csv")
        frames[MEDICAL_CLAIMS.name].write_csv(self.landing / claims_name)

    def published(self) -> list[str]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return [
                str(d)
                for (d,) in con.execute(
                    "select as_of from history.publications order by as_of"
                ).fetchall()
            ]


def last_lines(text: str, n: int = 12) -> list[str]:
    return text.strip().splitlines()[-n:]


def small_plan(high: int = 3, others: int = 3, visits_from: date = date(2026, 6, 1)) -> RawBuilder:
    """`high` adults with 5 avoidable ED visits a week apart from `visits_from`, and `others`
    enrolled members with one visit each."""
    b = RawBuilder()
    for n in range(high):
        member = b.member(f"H{n:03d}")
        for k in range(5):
            b.ed_visit(member, visits_from + dt.timedelta(days=7 * k))
    for n in range(others):
        b.ed_visit(b.member(f"L{n:03d}"), visits_from)
    return b


def test_an_as_of_date_out_of_range_is_one_clear_line_and_exit_2(tmp_path, capsys):
    night = Night(tmp_path)
    tomorrow = (today_pacific() + dt.timedelta(days=1)).isoformat()
    for as_of, says in (
        ("1999-12-31", "before the earliest as-of date 2000-01-01"),
        (tomorrow, "after today"),
    ):
        assert night.run(as_of) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: as-of {as_of} is") and says in err[0]
    code = main(["backfill", "--from", "1999-12-30", "--to", "2000-01-02", *night.args()])
    assert code == 2
    assert "before the earliest" in capsys.readouterr().err
    assert not night.out.exists(), "nothing ran"


@pytest.mark.parametrize("log_level", ["DEBUG", "INFO", "WARNING", "ERROR"])
def test_an_empty_landing_on_an_old_date_names_the_gate_last(tmp_path, capfd, log_level):
    night = Night(tmp_path)
    (night.landing / "README.txt").write_text("deliveries go here")
    # 2018-11-30 died with DagsterUnknownPartitionError before: any date from 2000 runs now.
    assert night.run("2018-11-30", log_level=log_level) == 1
    lines = last_lines(capfd.readouterr().err, 8)
    assert lines[0].endswith("FAILED for as-of 2018-11-30; nothing was published")
    assert lines[1:] == [
        "  files: 1 ignored",
        "  rows tonight: read 0, loaded 0, quarantined 0",
        "  gates: 2 of 4 passed (failed: landing_not_empty, required_kinds_loaded)",
        "  failed check raw_landing:landing_gates:",
        "    gate landing_not_empty: the landing folder holds no landing files tonight (1 "
        "entries ignored: README.txt). Deliver tonight's files (names start with "
        "medical_claims, eligibility, care_management_status; see docs/contract.md) or check "
        "--landing, then rerun.",
        "    gate required_kinds_loaded: required kind medical_claims has no loaded rows (no "
        "medical_claims* file in the landing folder). Deliver a valid medical_claims file, "
        "then rerun.",
        "    gate required_kinds_loaded: required kind eligibility has no loaded rows (no "
        "eligibility* file in the landing folder). Deliver a valid eligibility file, then rerun.",
    ]
    assert not (night.out / "latest").exists()


def test_rejected_night_then_the_corrected_file_publishes_and_an_older_night_keeps_latest(
    tmp_path, capfd, monkeypatch
):
    night = Night(tmp_path)
    plan = small_plan()
    night.write(plan)
    good = (night.landing / "medical_claims_1.csv").read_text()
    broken = good.replace("member_id", "member", 1)  # the header lost a required column
    (night.landing / "medical_claims_1.csv").write_text(broken)

    assert night.run("2026-11-20") == 1
    err = "\n".join(last_lines(capfd.readouterr().err))
    assert "gate no_file_rejected: medical_claims_1.csv was rejected: medical_claims_1.csv: " in err
    assert "required column 'member_id' is missing" in err
    assert "Deliver a corrected file" in err
    assert not (night.out / "latest").exists()

    # Night 2: the corrected file under the same name. ECM_BUCKETS reaches the CLI's run.
    (night.landing / "medical_claims_1.csv").write_text(good)
    monkeypatch.setenv("ECM_BUCKETS", "2")
    assert night.run("2026-11-21", log_level="INFO") == 0
    monkeypatch.delenv("ECM_BUCKETS")
    captured = capfd.readouterr()
    assert "bucket 1/2" in captured.err, "the run was built with ECM_BUCKETS=2"
    assert last_lines(captured.out, 6)[:4] == [
        next(line for line in captured.out.splitlines() if line.startswith("run ")),
        "  files: 1 loaded, 1 already_loaded",
        "  rows tonight: read 18, loaded 18, quarantined 0",
        "  gates: 6 of 6 passed (claims_members_known, landing_not_empty, no_file_rejected, "
        "quarantine_within_limit, required_kinds_loaded, tier_change_within_limit)",
    ]
    assert (night.out / "latest").resolve() == (night.out / "2026-11-21").resolve()
    assert night.published() == ["2026-11-21"]
    analysts = hashlib.sha256(night.warehouse.read_bytes()).hexdigest()

    # An older night publishes its own folder, but the analysts keep the newest night.
    assert night.run("2026-11-10") == 0
    assert (night.out / "2026-11-10" / "manifest.json").exists()
    assert (night.out / "latest").resolve() == (night.out / "2026-11-21").resolve()
    assert hashlib.sha256(night.warehouse.read_bytes()).hexdigest() == analysts
    assert night.published() == ["2026-11-21"]


def test_a_tier_collapse_is_blocked_until_the_operator_allows_it(tmp_path, capfd):
    night = Night(tmp_path)
    # 25 High members on 2025-06-30, whose visits are out of every window by 2026-11-21.
    night.write(small_plan(high=25, others=2, visits_from=date(2025, 3, 1)))
    assert night.run("2025-06-30") == 0
    capfd.readouterr()

    assert night.run("2026-11-21") == 1
    err = "\n".join(last_lines(capfd.readouterr().err))
    assert "failed check publication_tables:tier_change_gate:" in err
    assert (
        "gate tier_change_within_limit: tier High: 0 members tonight against 25 on 2025-06-30 "
        "(100% change; limit 25% and at least 20 members)" in err
    )
    assert not (night.out / "2026-11-21").exists()

    assert night.run("2026-11-21", "--allow-tier-change") == 0
    out = capfd.readouterr().out
    assert "  override: --allow-tier-change" in out
    with duckdb.connect(str(night.warehouse), read_only=True) as con:
        recorded = con.execute(
            "select subject, passed, figure from raw.night_gates "
            "where gate = 'tier_change_within_limit' and override = '--allow-tier-change' "
            "order by subject"
        ).fetchall()
    assert [(tier, passed) for tier, passed, _ in recorded] == [
        ("High", True),
        ("Low", True),
        ("Moderate", True),
        ("Monitoring", True),
    ]
    assert recorded[0][2] == 100.0  # High: 25 -> 0, published because the operator allowed it


def test_settings_come_from_the_environment_then_the_flags(monkeypatch, tmp_path):
    monkeypatch.setenv("ECM_BUCKETS", "4")
    monkeypatch.setenv("ECM_EXECUTOR", "multiprocess")
    monkeypatch.setenv("ECM_LANDING_DIR", str(tmp_path / "env_landing"))
    monkeypatch.setenv("ECM_DUCKDB_MEMORY_LIMIT", "700MB")
    monkeypatch.setenv("ECM_DUCKDB_THREADS", "3")
    args = build_parser().parse_args(
        ["run", "--as-of", "2026-11-21", "--landing", str(tmp_path), "--max-tier-change", "60"]
    )
    settings = settings_from_args(args)
    assert (settings.buckets, settings.executor) == (4, "multiprocess")
    assert settings.landing_dir == str(tmp_path.resolve())  # the flag wins over the variable
    assert (settings.max_tier_change_percent, settings.allow_tier_change) == (60.0, False)
    # Every DuckDB connection of the run is configured from the same settings.
    assert settings.duckdb_config() == {
        **CONNECTION_CONFIG,
        "memory_limit": "700MB",
        "threads": 3,
    }
    assert make_resources(settings)["duckdb"].connection_config == settings.duckdb_config()
    monkeypatch.setenv("ECM_BUCKETS", "many")
    with pytest.raises(ValueError, match="ECM_BUCKETS"):
        settings_from_args(args)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "ECM_BUCKETS",
            "3",
            "invalid settings: buckets (ECM_BUCKETS) = '3': 3 rules buckets do not divide the "
            "raw layer's 16 storage buckets; use one of 1, 2, 4, 8, 16",
        ),
        (
            "ECM_EXECUTOR",
            "spark",
            "invalid settings: executor (ECM_EXECUTOR) = 'spark': unknown executor 'spark'; "
            "one of in_process, multiprocess, k8s, celery",
        ),
        (
            "ECM_DUCKDB_THREADS",
            "-1",
            "invalid settings: duckdb_threads (ECM_DUCKDB_THREADS) = '-1': threads must be 0 "
            "(every core) or more, not -1",
        ),
    ],
)
def test_a_setting_out_of_range_is_one_line_naming_it_and_exit_2(
    monkeypatch, tmp_path, capsys, variable, value, message
):
    monkeypatch.setenv(variable, value)
    night = Night(tmp_path)
    assert night.run("2026-11-21") == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {message}"]
    assert not night.warehouse.parent.exists()


def test_the_cli_runs_under_ecm_executor_and_ecm_buckets(monkeypatch, tmp_path, capfd):
    """ECM_EXECUTOR=multiprocess: every step in a process of its own, each bucket too, and
    the same list as a single in-process run of the same landing."""
    single, night = Night(tmp_path / "single"), Night(tmp_path / "night")
    for deployment in (single, night):
        deployment.write(small_plan())
    assert single.run("2026-11-21") == 0
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("ECM_EXECUTOR", "multiprocess")
    monkeypatch.setenv("ECM_BUCKETS", "2")
    capfd.readouterr()
    assert night.run("2026-11-21") == 0, capfd.readouterr().err
    assert last_lines(capfd.readouterr().out, 6)[1:3] == [
        "  files: 2 loaded",
        "  rows tonight: read 24, loaded 24, quarantined 0",
    ]
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        assert run.tags["dagster/partition"] == "2026-11-21"
        pids = {
            entry.dagster_event.step_key: entry.dagster_event.pid
            for entry in instance.all_logs(run.run_id)
            if entry.dagster_event and entry.dagster_event.event_type_value == "STEP_START"
        }
    assert {"rules_models.rules_bucket_00", "rules_models.rules_bucket_01"} <= set(pids)
    assert len(set(pids.values())) == len(pids), "one process per step"
    assert os.getpid() not in set(pids.values()), pids
    for name in ("candidates.csv", "evidence.csv", "exclusions.csv"):
        published = (night.out / "latest" / name).read_bytes()
        assert published == (single.out / "latest" / name).read_bytes(), name


def test_today_is_a_partition_but_the_schedule_runs_the_day_that_just_ended():
    from zoneinfo import ZoneInfo

    import dagster as dg

    from pipelines.defs import build_definitions
    from pipelines.defs.partitions import TIMEZONE, as_of_partitions

    assert as_of_partitions.get_first_partition_key() == "2000-01-01"
    assert as_of_partitions.get_last_partition_key() == today_pacific().isoformat()
    defs = build_definitions()
    schedule = defs.resolve_schedule_def("nightly_schedule")
    tick = dt.datetime(2026, 11, 23, 2, 0, tzinfo=ZoneInfo(TIMEZONE))
    [request] = schedule.evaluate_tick(
        dg.build_schedule_context(
            scheduled_execution_time=tick, repository_def=defs.get_repository_def()
        )
    ).run_requests
    assert request.partition_key == "2026-11-22"


def test_missing_eligibility_publishes_no_list(tmp_path, capfd):
    night = Night(tmp_path)
    night.write(small_plan())
    (night.landing / "eligibility_1.csv").unlink()
    assert night.run("2026-11-21") == 1
    err = "\n".join(last_lines(capfd.readouterr().err))
    assert (
        "gate required_kinds_loaded: required kind eligibility has no loaded rows (no "
        "eligibility* file in the landing folder)" in err
    )
    assert not (night.out / "latest").exists() and not night.warehouse.exists()


def test_a_failing_suite_names_expectation_figure_and_rows_last(tmp_path, capfd, monkeypatch):
    """A stricter suite (ECM_EXPECTATIONS_DIR, as a plan would point it) that two rows fail."""
    strict = stricter_suites(tmp_path / "suites", "raw_eligibility", "county", ["Alameda"])
    night = Night(tmp_path / "d")
    plan = small_plan()
    plan.eligibility[1]["county"] = "Fresno"
    plan.eligibility[4]["county"] = "Kern"
    night.write(plan)
    monkeypatch.setenv("ECM_EXPECTATIONS_DIR", str(strict))
    assert night.run("2026-11-21") == 1
    lines = last_lines(capfd.readouterr().err, 3)
    assert lines == [
        "  failed check raw_landing:raw_eligibility_suite:",
        "    suite raw_eligibility: expect_column_values_to_be_in_set(county): 2 of 6 rows "
        "unexpected; e.g. eligibility_1.csv row 2, eligibility_1.csv row 5",
        "    Correct these rows in the eligibility file (eligibility_1.csv) and redeliver it.",
    ]


def test_last_lines_name_warned_corrected_and_redelivered_rows_only_when_there_are_some():
    rows = {"rows_read": 40, "rows_loaded": 38, "rows_quarantined": 2}
    gates = [{"gate": "landing_not_empty", "passed": True, "override": None}]
    assert summary_lines({"loaded": 2}, rows, gates)[1] == (
        "rows tonight: read 40, loaded 38, quarantined 2"
    )
    rows |= {"rows_warned": 3, "rows_superseded": 5, "rows_duplicate": 8}
    assert summary_lines({"loaded": 2}, rows, gates)[1] == (
        "rows tonight: read 40, loaded 38, quarantined 2 (kept with a warning 3, earlier "
        "versions corrected 5, unchanged re-deliveries 8)"
    )
