"""End-to-end benchmark: synthetic landing files -> the nightly Dagster job -> publication.

    .venv/bin/python benchmarks/bench_pipeline.py --members 100000
    .venv/bin/python benchmarks/bench_pipeline.py --members 100000 1000000 --format both
    ECM_DUCKDB_MEMORY_LIMIT=4GB .venv/bin/python benchmarks/bench_pipeline.py --members 5000000
    .venv/bin/python benchmarks/bench_pipeline.py --members 100000 --steady-night
    .venv/bin/python benchmarks/bench_pipeline.py --plan issue10   # every issue-10 figure

For each (members, format) it generates 24 months of history (or reuses the folder from an
earlier invocation), times DuckDB reading every landing file once (the floor no pipeline can
beat), then runs the real nightly job in a fresh child process and prints wall seconds per
stage (ingest, each rules model, checks, publish), total wall, the child's peak RSS, claim
lines per second and total / floor; a final JSON line carries every figure.

Why a child process: peak RSS is a high-water mark, so the generator's and this script's
memory must not count; the child's own high-water mark (VmHWM since its exec) and the sampled
sum over its process tree are read from /proc (not wait4's ru_maxrss, which Linux floors at
the spawning process's peak). Why the total includes
the child's start-up: the goal is "landing files to publication", and `python -m pipelines
run` pays the imports too. Stage seconds come from the run's STEP_START / STEP_SUCCESS events;
per-model seconds from the `rules_models` materialization metadata. docs/benchmarks.md has
the goals and the results.

`--steady-night` (issue 10): after the cold run, keep its warehouse, land one night's delta
built from the landing folder (`build_delta`: new claims, corrections, a new eligibility
snapshot) and run the next night on it, timed the same way; cold and steady are printed side
by side, and the steady run fails unless every delivered correction is in
raw.superseded_rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF, SEED, MONTHS = "2026-11-21", 20261121, 24
NEXT_AS_OF = "2026-11-22"  # the steady night: the night after the cold run's
# The steady night's delta, chosen by a hash of the key (deterministic for a DuckDB version):
# whole original claims (frequency 1) for new claims, single lines for corrections.
NEW_CLAIMS_PER, CORRECTIONS_PER = 100, 1000
GIB = 1024**3
FLOOR_READS = 2  # the floor is the fastest of this many reads (read_floor)
ROW_COUNT = "dagster/row_count"  # the standard metadata each model materialization carries
BUCKET_INPUTS = "bucket_input_lines"  # a bucketed run's per-bucket raw input, by bucket
# Issue 5's goals, reported against (not asserted): 1M members from Parquet.
GOAL_MEMBERS, GOAL_TOTAL_S, GOAL_RSS_GIB, GOAL_CHECKS_SHARE, GOAL_SCALING = (
    1_000_000,
    180.0,
    6.0,
    0.20,
    1.1,
)
# Issue 10's goals: cold 1M within 14x the floor and 3 GiB, a steady night at 1M in 20 s, 5M
# cold in 4 minutes and 4 GiB, B=4 buckets (multiprocess) within 1.3x of the single run.
GOAL10_FLOOR_X, GOAL10_RSS_1M, GOAL10_STEADY_S = 14.0, 3.0, 20.0
GOAL10_5M_S, GOAL10_RSS_5M, GOAL10_BUCKETS_X = 240.0, 4.0, 1.3
# A landing format that is the Parquet one with its claim lines re-split across the same number
# of files by a hash of claim_id: real deliveries interleave claim ids across files, where the
# generator gives each file its own range (which lets a load skip earlier files by their
# statistics when it matches re-delivered keys).
INTERLEAVED = "parquet-interleaved"
# `--plan issue10`: every configuration issue 10 asks for, from one invocation. Each entry is
# (members, format, settings, steady night after it).
PLANS: dict[str, list[tuple[int, str, dict[str, Any], bool]]] = {
    "issue10": [
        (100_000, "parquet", {}, False),
        (1_000_000, "parquet", {}, True),
        (1_000_000, "parquet", {"buckets": 4, "executor": "multiprocess"}, False),
        (1_000_000, "csv", {}, False),
        (1_000_000, INTERLEAVED, {}, False),
        (5_000_000, "parquet", {}, False),
    ],
}
# Asset group -> benchmark stage; asset checks are their own stage ("checks").
STAGE_OF_GROUP = {
    "ingest": "ingest",
    "staging": "rules",
    "intermediate": "rules",
    "marts": "rules",
    "publish": "publish",
}
STAGES = ("ingest", "rules", "checks", "publish", "other")
# The rest of the child's wall: not in any step, still paid by every nightly run.
OVERHEAD = {
    "startup": "start-up: interpreter, imports, definitions, run launch",
    "between_steps": "Dagster between steps (events, resources, step launch)",
    "shutdown": "shutdown: after the run's last event to process exit",
}


# --------------------------------------------------------------------------------------------
# Child: one nightly run, timings out as JSON. Everything heavy is imported here, so its cost
# lands in the child's wall and RSS, as it would for `python -m pipelines run`.
# --------------------------------------------------------------------------------------------


def child_main(spec_path: str) -> int:
    """Run the nightly job once and write the step timings the parent reports."""
    import duckdb

    from pipelines.defs import build_definitions
    from pipelines.defs.resources import settings_from_env
    from pipelines.runner import execute_nightly, failed_checks, nightly_instance

    spec = json.loads(Path(spec_path).read_text())
    # The same settings the CLI and the schedule build: environment, then these.
    settings = settings_from_env(
        landing_dir=spec["landing"],
        output_dir=spec["out"],
        warehouse_path=spec["warehouse"],
        **spec["settings"],
    )
    # The run's own instance, never DAGSTER_HOME's (on disk for the multiprocess executor).
    with nightly_instance(settings, use_dagster_home=False) as instance:
        result = execute_nightly(settings, spec["as_of"], instance=instance, log_level="WARNING")
        starts: dict[str, float] = {}
        steps: list[dict[str, Any]] = []
        run_start = run_end = None
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type_value
            if kind in ("PIPELINE_START", "RUN_START"):
                run_start = entry.timestamp
            elif kind in ("PIPELINE_SUCCESS", "PIPELINE_FAILURE", "RUN_SUCCESS", "RUN_FAILURE"):
                run_end = entry.timestamp
            elif kind == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
                steps.append(
                    {
                        "step": event.step_key,
                        "seconds": entry.timestamp - starts[event.step_key],
                        "ok": kind == "STEP_SUCCESS",
                        "start": starts[event.step_key],
                        "end": entry.timestamp,
                    }
                )
    stage_of_step: dict[str, str] = {}
    for ad in build_definitions(settings).resolve_asset_graph().assets_defs:
        if not ad.is_executable:
            continue
        if not ad.keys and ad.check_keys:
            stage_of_step[ad.node_def.name] = "checks"
        else:
            group = ad.group_names_by_key[next(iter(ad.keys))]
            stage_of_step[ad.node_def.name] = STAGE_OF_GROUP.get(group, "other")
    for step in steps:
        # A graph-backed asset (the bucketed rules) runs as steps "<node>.<op>".
        step["stage"] = stage_of_step.get(step["step"].split(".")[0], "other")

    models = []
    for event in result.all_events:
        if event.event_type_value != "ASSET_MATERIALIZATION":
            continue
        mat = event.event_specific_data.materialization
        if "seconds" in mat.metadata:
            models.append(
                {
                    "model": mat.asset_key.to_user_string(),
                    "step": event.step_key,
                    "seconds": float(mat.metadata["seconds"].value),
                    "rows": (
                        int(mat.metadata[ROW_COUNT].value) if ROW_COUNT in mat.metadata else None
                    ),
                }
            )
        # Each bucket step's raw input (claim lines it read: about 1/B of the total), which
        # the merge records on the claim lines model (rules_assets._input_metadata).
        inputs = mat.metadata.get(BUCKET_INPUTS)
        for bucket, read in (inputs.value if inputs else {}).items():
            models.append(
                {
                    "model": f"bucket {bucket}: staging and intermediate",
                    "step": f"rules_models.rules_bucket_{bucket}",
                    "seconds": float(read["seconds"]),
                    "rows": None,
                    "input_lines": int(read["claim_lines"]),
                }
            )

    # The settings the run's connections really had (the resource passes duckdb_config()).
    con = duckdb.connect(str(settings.work_warehouse), config=settings.duckdb_config())
    memory_limit, temp_directory, max_temp = con.sql(
        "select current_setting('memory_limit'), current_setting('temp_directory'), "
        "current_setting('max_temp_directory_size')"
    ).fetchall()[0]
    con.close()

    Path(spec["result"]).write_text(
        json.dumps(
            {
                "success": result.success,
                "failed_checks": failed_checks(result),
                "failed_steps": [e.step_key for e in result.all_events if e.is_failure],
                "run_start": run_start,
                "run_end": run_end,
                "steps": steps,
                "models": models,
                "duckdb": {
                    "memory_limit": memory_limit,
                    "threads": settings.duckdb_config()["threads"],
                    "temp_directory": temp_directory,
                    "max_temp_directory_size": max_temp,
                },
            }
        )
    )
    return 0 if result.success else 1


# --------------------------------------------------------------------------------------------
# Parent: data, floor, child run, report.
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    members: int
    format: str
    seed: int
    claim_lines: int = 0
    landing_files: int = 0
    landing_bytes: int = 0
    generate_s: float | None = None
    generate_peak_rss_gib: float | None = None
    generated_now: bool = False
    floor_s: float = 0.0
    floor_reads: list[float] = field(default_factory=list)  # every read; floor_s is the min
    total_s: float = 0.0
    cpu_s: float = 0.0
    run_s: float | None = None
    peak_rss_gib: float = 0.0
    peak_spill_bytes: int = 0
    warehouse_bytes: int = 0  # the analysts' file publication wrote
    raw_bytes: int = 0  # the raw layer's Parquet files (warehouse/raw/), if any
    stages: dict[str, float] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    duckdb: dict[str, Any] = field(default_factory=dict)
    scenario: str = "cold"
    as_of: str = AS_OF
    delta: dict[str, int] = field(default_factory=dict)
    corrections_applied: int | None = None  # raw.superseded_rows, reason correction, tonight
    success: bool = False
    failed_checks: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def lines_per_s(self) -> float:
        return self.claim_lines / self.total_s if self.total_s else 0.0

    @property
    def ratio_to_floor(self) -> float:
        return self.total_s / self.floor_s if self.floor_s else 0.0

    @property
    def checks_share(self) -> float:
        return self.stages.get("checks", 0.0) / self.total_s if self.total_s else 0.0


def _wait(
    cmd: list[str], log: Path, env: dict[str, str] | None = None
) -> tuple[int, float, float, Any, int]:
    """Run `cmd`: exit code, spawn epoch, wall seconds, its own rusage (os.wait4), and its
    peak RSS in KiB (`_TreeMemory`).

    The rusage's CPU seconds (ru_utime + ru_stime) are the child's alone. Its ru_maxrss is
    not used: Linux keeps, across the child's exec, the high-water mark of the memory it was
    spawned from, so the figure is at least this script's own peak (a 4.9 GiB floor scan
    made every later child "peak" at 4.9 GiB).
    """
    with open(log, "wb") as sink:
        spawned, started = time.time(), time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, env=env)
        memory = _TreeMemory(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        peak_kib = memory.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, spawned, wall, usage, peak_kib


class _TreeMemory:
    """Peak RSS of a process and its descendants, sampled from /proc every 0.1 s.

    The figure is the larger of the process's own VmHWM (its high-water mark since exec,
    which no sample can miss) and the largest sampled sum of VmRSS over the process tree
    (the multiprocess executor's step processes run beside the run process, and their
    memory adds up); a peak shorter than the sampling interval can be missed by the sum.
    """

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kib, self.hwm_kib = pid, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak_kib, self.hwm_kib)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            tree = _descendants(self.pid)
            self.peak_kib = max(self.peak_kib, sum(_status_kib(p, "VmRSS") for p in tree))
            self.hwm_kib = max(self.hwm_kib, _status_kib(self.pid, "VmHWM"))


def _descendants(root: int) -> list[int]:
    """`root` and every process below it (by parent pid, from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _status_kib(pid: int, field_name: str) -> int:
    """A memory field of /proc/<pid>/status in KiB; 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def ensure_landing(data_dir: Path, run: Run, fresh: bool) -> Path:
    """The landing folder for (members, seed, format): reused when a finished one is there.

    A `<folder>.done` file is written only after the generator succeeded, so a folder left by
    an interrupted generation is regenerated, never benchmarked half-written.
    """
    landing = data_dir / f"m{run.members}_s{run.seed}_{run.format}"
    done = landing.with_name(landing.name + ".done")
    if run.format == INTERLEAVED:
        source = Run(members=run.members, format="parquet", seed=run.seed)
        interleave(ensure_landing(data_dir, source, fresh), landing, done, fresh)
        run.generate_s, run.generate_peak_rss_gib = source.generate_s, source.generate_peak_rss_gib
        return landing
    if fresh or not done.exists():
        shutil.rmtree(landing, ignore_errors=True)
        done.unlink(missing_ok=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pipelines.synth", "--members", str(run.members)]
        cmd += ["--months", str(MONTHS), "--as-of", AS_OF, "--seed", str(run.seed)]
        cmd += ["--out", str(landing), "--format", run.format]
        log = data_dir / f"{landing.name}.generate.log"
        print(f"generating {run.members:,} members ({run.format}) into {landing} ...", flush=True)
        code, _, wall, _, peak_kib = _wait(cmd, log)
        if code:
            raise SystemExit(f"generator failed ({code}):\n{_tail(log)}")
        done.write_text(json.dumps({"seconds": wall, "peak_rss_kib": peak_kib}))
        run.generated_now = True
    info = json.loads(done.read_text())
    run.generate_s = info["seconds"]
    run.generate_peak_rss_gib = info["peak_rss_kib"] / 1024**2
    return landing


def interleave(source: Path, landing: Path, done: Path, fresh: bool) -> None:
    """`landing`: `source` with its claim lines re-split into as many files by
    `hash(claim_id)`, every other file copied; reused when a finished one is there."""
    import duckdb

    if done.exists() and not fresh:
        return
    shutil.rmtree(landing, ignore_errors=True)
    done.unlink(missing_ok=True)
    landing.mkdir(parents=True)
    claims = sorted(p for p in source.iterdir() if p.name.startswith("medical_claims"))
    for p in source.iterdir():
        if p.is_file() and p not in claims:
            shutil.copy2(p, landing / p.name)
    print(f"re-splitting {len(claims)} claims files of {source} by claim_id ...", flush=True)
    con = duckdb.connect()
    names = [str(p) for p in claims]
    for i, p in enumerate(claims):
        con.execute(
            f"copy (select * from read_parquet({names!r}) where hash(claim_id) % {len(claims)} "
            f"= {i}) to '{landing / p.name}' (format parquet)"
        )
    con.close()
    done.write_text(json.dumps({"interleaved_from": str(source)}))


def read_floor(landing: Path, run: Run) -> None:
    """Seconds for DuckDB to read every landing file once, touching every value: the fastest
    of FLOOR_READS reads (one read varied from 2.97 to 5.69 s at 1M members on this machine,
    moving total / floor by a third; every read is kept in `floor_reads`).

    `sum(hash(COLUMNS(*)))` forces every column of every row to be decoded (a bare count(*)
    on Parquet reads only metadata). Same memory limit and threads as the pipeline, one scan
    per file kind (kinds have different columns). CSV is read as text, as ingest reads it.
    """
    import duckdb

    from pipelines.defs.resources import settings_from_env
    from pipelines.ingest.files import discover

    files, _ = discover(landing)
    by_kind: dict[str, list[str]] = {}
    for lf in files:
        by_kind.setdefault(lf.kind.name, []).append(str(lf.path))
    run.landing_files = len(files)
    run.landing_bytes = sum(lf.path.stat().st_size for lf in files)
    con = duckdb.connect(config=settings_from_env(**run.settings).duckdb_config())
    reads = []
    for _ in range(FLOOR_READS):
        started = time.perf_counter()
        for kind, paths in sorted(by_kind.items()):
            if run.format.startswith("parquet"):
                source = f"read_parquet({paths!r})"
            else:
                source = f"read_csv({paths!r}, header = true, all_varchar = true)"
            rows = con.sql(f"select count(*), sum(hash(COLUMNS(*))) from {source}").fetchall()
            if kind == "medical_claims":
                run.claim_lines = rows[0][0]
        reads.append(round(time.perf_counter() - started, 2))
    run.floor_reads = reads
    run.floor_s = min(reads)
    con.close()


def _tree_bytes(path: Path) -> int:
    """Bytes on disk under `path` (allocated blocks: DuckDB's spill files can be sparse)."""
    total = 0
    try:
        for entry in os.scandir(path):
            if entry.is_file(follow_symlinks=False):
                total += entry.stat().st_blocks * 512
            elif entry.is_dir(follow_symlinks=False):
                total += _tree_bytes(Path(entry.path))
    except FileNotFoundError:
        pass
    return total


def build_delta(landing: Path, delta: Path) -> dict[str, int]:
    """One night's delivery after `landing`'s history, in a folder of its own.

    - new claims: every line of about 1/NEW_CLAIMS_PER of the original claims (frequency 1, so
      no replacement points at them), claim_id + '-N', every date one day later (NEXT_AS_OF);
    - corrections: about 1/CORRECTIONS_PER of all lines, same claim_id + claim_line_number,
      paid_amount + 1.00, in `medical_claims_corrections_*` (other content = a correction);
    - eligibility: the same spans written again in another order, a new full snapshot whose
      bytes differ (the ledger is keyed by content, so a copy would be "already loaded").
    Other kinds (care management status) are not delivered: their snapshot stays in force.
    """
    import duckdb

    shutil.rmtree(delta, ignore_errors=True)
    delta.mkdir(parents=True)
    claims = f"read_parquet('{landing}/medical_claims*.parquet')"
    if not any(landing.glob("medical_claims*.parquet")):
        claims = f"read_csv('{landing}/medical_claims*.csv', header = true)"
    day = NEXT_AS_OF
    dates = ("service_from_date", "service_to_date", "admission_date", "discharge_date")
    shifted = ", ".join(f"{c} + 1 as {c}" for c in (*dates, "paid_date"))
    queries = {
        f"medical_claims_{day}.parquet": f"""
            select * replace (claim_id || '-N' as claim_id, {shifted})
            from {claims}
            where claim_frequency_code = '1' and hash(claim_id) % {NEW_CLAIMS_PER} = 0
            order by claim_id, claim_line_number""",
        f"medical_claims_corrections_{day}.parquet": f"""
            select * replace (paid_amount + 1.00 as paid_amount)
            from {claims}
            where paid_amount is not null
              and hash(claim_id, claim_line_number) % {CORRECTIONS_PER} = 0
            order by claim_id, claim_line_number""",
        f"eligibility_{day}.parquet": f"""
            select * from read_parquet('{landing}/eligibility*.parquet')
            order by member_id desc, enrollment_start_date""",
    }
    if not any(landing.glob("eligibility*.parquet")):
        queries[f"eligibility_{day}.parquet"] = f"""
            select * from read_csv('{landing}/eligibility*.csv', header = true)
            order by member_id desc, enrollment_start_date"""
    con = duckdb.connect()
    counts = {}
    for name, query in queries.items():
        con.sql(f"copy ({query}) to '{delta / name}' (format parquet)")
        counts[name] = con.sql(f"select count(*) from '{delta / name}'").fetchall()[0][0]
    con.close()
    return {
        "new_claim_lines": counts[f"medical_claims_{day}.parquet"],
        "corrected_lines": counts[f"medical_claims_corrections_{day}.parquet"],
        "eligibility_rows": counts[f"eligibility_{day}.parquet"],
    }


def corrections_applied(work: Path, settings: dict[str, Any]) -> int:
    """Rows tonight's corrections file took out of force (raw.superseded_rows), read back."""
    import duckdb

    from pipelines.defs.resources import settings_from_env

    con = duckdb.connect(
        str(work / "warehouse" / "ecm.work.duckdb"),
        read_only=True,
        config=settings_from_env(**settings).duckdb_config(),
    )
    n = con.sql(
        "select count(*) from raw.superseded_rows where reason = 'correction' "
        "and by_source_file like '%medical_claims_corrections_%'"
    ).fetchall()[0][0]
    con.close()
    return n


def run_pipeline(
    landing: Path, work: Path, run: Run, settings: dict[str, Any], fresh: bool = True
) -> None:
    """One nightly run in a fresh child process; a fresh warehouse and output folder unless
    `fresh` is False (the steady night continues the previous run's)."""
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    warehouse = work / "warehouse" / "ecm.duckdb"
    spec = {
        "landing": str(landing),
        "out": str(work / "out"),
        "warehouse": str(warehouse),
        "as_of": run.as_of,
        "result": str(work / "result.json"),
        "settings": settings,
    }
    (work / "spec.json").write_text(json.dumps(spec))
    # DuckDB's default temp_directory for a file database is '<database>.tmp' (the work
    # warehouse's, and any bucket database's beside it).
    spill_root = warehouse.parent
    peak_spill = 0
    stop = threading.Event()

    def watch_spill() -> None:
        nonlocal peak_spill
        while not stop.wait(0.5):
            spilled = sum(_tree_bytes(d) for d in spill_root.glob("*.tmp") if d.is_dir())
            peak_spill = max(peak_spill, spilled)

    watcher = threading.Thread(target=watch_spill, daemon=True)
    watcher.start()
    log = work / "run.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "_child", str(work / "spec.json")]
    # The child runs with DAGSTER_HOME unset: an ephemeral instance, no UI history written.
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    try:
        code, spawned, wall, usage, peak_kib = _wait(cmd, log, env)
    finally:
        stop.set()
        watcher.join()
    run.total_s = wall
    run.peak_rss_gib = peak_kib / 1024**2
    run.cpu_s = usage.ru_utime + usage.ru_stime
    run.peak_spill_bytes = peak_spill
    if not (work / "result.json").exists():
        print(f"run crashed ({code}); last lines of {log}:\n{_tail(log)}", file=sys.stderr)
        return
    result = json.loads((work / "result.json").read_text())
    run.success = bool(result["success"]) and not result["failed_checks"] and code == 0
    run.failed_checks, run.failed_steps = result["failed_checks"], result["failed_steps"]
    run.steps, run.models, run.duckdb = result["steps"], result["models"], result["duckdb"]
    for stage in STAGES:
        run.stages[stage] = _wall_of([s for s in run.steps if s["stage"] == stage])
    in_steps = _wall_of(run.steps)
    if result["run_start"] and result["run_end"]:
        run.run_s = result["run_end"] - result["run_start"]
        run.stages["startup"] = result["run_start"] - spawned
        run.stages["between_steps"] = run.run_s - in_steps
        run.stages["shutdown"] = run.total_s - run.stages["startup"] - run.run_s
    else:
        run.stages["startup"] = run.total_s - in_steps
    if warehouse.exists():
        run.warehouse_bytes = warehouse.stat().st_size
    run.raw_bytes = _tree_bytes(warehouse.parent / "raw")
    if not run.success:
        print(f"run FAILED; last lines of {log}:\n{_tail(log)}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""  # pragma: no cover


def print_run(run: Run) -> None:
    """The human table for one run: stages with their steps, then the headline figures."""
    width = 62
    total = run.total_s or 1.0

    def row(label: str, seconds: float, share: bool = False, indent: int = 0) -> None:
        pct = f"{seconds / total:7.1%}" if share else ""
        print(f"  {' ' * indent}{label:<{width - indent}}{seconds:9.2f}{pct}")

    print()
    status = "ok" if run.success else "FAILED"
    print(
        f"== {run.members:,} members, {run.format} landing, seed {run.seed}, "
        f"{run.scenario} (as of {run.as_of}): {status} =="
    )
    gen = "generated" if run.generated_now else "reused; generated"
    print(
        f"  landing: {run.landing_files} files, {_size(run.landing_bytes)}, "
        f"{run.claim_lines:,} claim lines ({gen} in {run.generate_s:.1f} s, "
        f"generator peak RSS {run.generate_peak_rss_gib:.2f} GiB; not in the total)"
    )
    if run.duckdb:
        d = run.duckdb
        print(
            f"  duckdb: memory_limit {d['memory_limit']}, threads {d['threads']}, "
            f"temp_directory {d['temp_directory']} (max {d['max_temp_directory_size']})"
        )
    if run.settings:
        print(f"  settings: {run.settings}")
    print(f"  {'stage / step':<{width}}{'seconds':>9}{'share':>7}")
    for stage in STAGES:
        steps = [s for s in run.steps if s["stage"] == stage]
        if not steps:
            continue
        row(stage, run.stages[stage], share=True)
        for s in steps:
            row(s["step"] + ("" if s["ok"] else "  (FAILED)"), s["seconds"], indent=2)
            for m in (m for m in run.models if m["step"] == s["step"]):
                rows = "" if m["rows"] is None else f" ({m['rows']:,} rows)"
                if m.get("input_lines") is not None:
                    rows += f" (read {m['input_lines']:,} claim lines)"
                row(m["model"] + rows, m["seconds"], indent=4)
    for key, label in OVERHEAD.items():
        if key in run.stages:
            row(label, run.stages[key], share=True)
    row("TOTAL wall, landing files to publication", run.total_s, share=True)
    print(
        f"  read floor (DuckDB scans every landing value once; fastest of {run.floor_reads}): "
        f"{run.floor_s:.2f} s; "
        f"total / floor = {run.ratio_to_floor:.1f}x"
    )
    print(
        f"  peak RSS {run.peak_rss_gib:.2f} GiB | {run.lines_per_s:,.0f} claim lines/s | "
        f"checks {run.checks_share:.1%} of total | peak spill {_size(run.peak_spill_bytes)} | "
        f"analysts' warehouse {_size(run.warehouse_bytes)} | raw layer {_size(run.raw_bytes)}"
    )
    cores = run.cpu_s / run.total_s if run.total_s else 0.0
    if run.settings.get("executor") == "multiprocess":
        # Its step processes are children of a process the benchmark does not wait for.
        print(f"  child CPU {run.cpu_s:.1f} s: the run process only, not its step processes")
    else:
        print(
            f"  child CPU {run.cpu_s:.1f} s = {cores:.2f} cores busy on average "
            f"(of {os.cpu_count()}; far below on a shared machine means the wall is inflated)"
        )
    if run.run_s and sum(run.stages[s] for s in STAGES) > run.run_s + 0.01:
        print("  (stages overlapped: each is the wall its steps covered; they add up to more)")
    if run.delta:
        print(
            f"  delta: {run.delta}; corrections applied (raw.superseded_rows): "
            f"{run.corrections_applied}"
        )
    if run.failed_checks or run.failed_steps:
        print(f"  failed checks: {run.failed_checks}  failed steps: {run.failed_steps}")


def _wall_of(steps: list[dict[str, Any]]) -> float:
    """Seconds covered by the steps' intervals: steps that ran side by side (the multiprocess
    executor's bucket steps) count once, so a stage is never longer than the run."""
    covered, end = 0.0, float("-inf")
    for start, stop in sorted((s["start"], s["end"]) for s in steps):
        if stop > end:
            covered += stop - max(start, end)
            end = stop
    return covered


def goals(runs: list[Run]) -> dict[str, Any]:
    """Issue 5's and issue 10's goals for whatever this invocation measured."""
    out: dict[str, Any] = {}
    for run in runs:
        if run.scenario == "steady night":
            tag = f"{run.members}_{run.format}"
            out[f"steady_night_{tag}_corrections_applied"] = run.success
            if run.members == GOAL_MEMBERS:  # issue 10: a steady night at 1M in 20 s
                out[f"steady_night_{tag}_s"] = round(run.total_s, 1)
                out[f"steady_night_{tag}_le_20s"] = run.total_s <= GOAL10_STEADY_S
    single = {(r.members, r.format): r for r in runs if r.scenario == "cold"}
    for run in runs:
        if run.scenario.startswith("cold B="):
            base = single.get((run.members, run.format))
            if base and base.total_s and run.success:
                ratio = run.total_s / base.total_s
                tag = f"{run.scenario.split()[1]}_{run.members}_{run.format}"
                out[f"buckets_{tag}_over_single"] = round(ratio, 2)
                out[f"buckets_{tag}_le_1.3x"] = ratio <= GOAL10_BUCKETS_X
            inputs = [m["input_lines"] for m in run.models if m.get("input_lines") is not None]
            if inputs and run.claim_lines:
                out[f"buckets_{run.members}_input_share_max"] = round(
                    max(inputs) / run.claim_lines, 3
                )
    for run in single.values():
        tag = f"{run.members}_{run.format}"
        out[f"checks_share_le_20pct_{tag}"] = run.checks_share <= GOAL_CHECKS_SHARE
        if run.members == GOAL_MEMBERS and run.format == "parquet":
            out["1M_parquet_total_le_180s"] = run.total_s <= GOAL_TOTAL_S
            out["1M_parquet_peak_rss_le_6GiB"] = run.peak_rss_gib <= GOAL_RSS_GIB
            out["1M_parquet_x_floor"] = round(run.ratio_to_floor, 1)
            out["1M_parquet_le_14x_floor"] = run.ratio_to_floor <= GOAL10_FLOOR_X
            out["1M_parquet_peak_rss_le_3GiB"] = run.peak_rss_gib <= GOAL10_RSS_1M
        if run.members >= 5 * GOAL_MEMBERS:
            out[f"{tag}_completes"] = run.success
            out[f"{tag}_le_4min"] = run.success and run.total_s <= GOAL10_5M_S
            out[f"{tag}_peak_rss_le_4GiB"] = run.peak_rss_gib <= GOAL10_RSS_5M
    for fmt in {r.format for r in single.values()}:
        by_members = {m: r for (m, f), r in single.items() if f == fmt and r.success}
        for small, big in ((100_000, 1_000_000),):
            if small in by_members and big in by_members:
                ratio = by_members[big].total_s / by_members[small].total_s
                out[f"scaling_{fmt}_1M_over_100k"] = round(ratio, 2)
                out[f"scaling_{fmt}_le_11x"] = ratio <= 10 * GOAL_SCALING
    return out


def print_side_by_side(cold: Run, steady: Run) -> None:
    """Cold night and the steady night after it: stage by stage, then the headline figures."""
    print()
    print(f"  cold vs steady night, {cold.members:,} members, {cold.format}")
    print(f"  {'':<34}{'cold':>10}{'steady':>10}{'steady/cold':>13}")

    def line(label: str, a: float, b: float, fmt: str = ".2f") -> None:
        ratio = f"{b / a:12.1%}" if a else ""
        print(f"  {label:<34}{a:>10{fmt}}{b:>10{fmt}} {ratio}")

    for key in (*STAGES, *OVERHEAD):
        a, b = cold.stages.get(key, 0.0), steady.stages.get(key, 0.0)
        if a or b:
            line(key, a, b)
    names = {m["model"] for m in cold.models + steady.models}
    for name in sorted(names):
        a = sum(m["seconds"] for m in cold.models if m["model"] == name)
        b = sum(m["seconds"] for m in steady.models if m["model"] == name)
        line(f"  {name}", a, b)
    line("TOTAL wall s", cold.total_s, steady.total_s)
    line("read floor s (tonight's landing)", cold.floor_s, steady.floor_s)
    line("claim lines landed tonight", cold.claim_lines, steady.claim_lines, ",.0f")
    line("peak RSS GiB", cold.peak_rss_gib, steady.peak_rss_gib)
    line("child CPU s", cold.cpu_s, steady.cpu_s)
    print(
        f"  steady night: {steady.delta.get('corrected_lines', 0):,} corrections delivered, "
        f"{steady.corrections_applied:,} applied (raw.superseded_rows)"
    )


def print_summary(runs: list[Run], checked: dict[str, Any]) -> None:
    print()
    head = f"  {'members':>10} {'format':<8} {'scenario':<16} {'lines':>12}"
    head += f" {'total s':>8} {'floor s':>8}"
    print(head + f" {'x floor':>8} {'lines/s':>10} {'RSS GiB':>8} {'checks':>7} status")
    for r in runs:
        print(
            f"  {r.members:>10,} {r.format:<8} {r.scenario:<16} {r.claim_lines:>12,} "
            f"{r.total_s:>8.1f} "
            f"{r.floor_s:>8.2f} {r.ratio_to_floor:>8.1f} {r.lines_per_s:>10,.0f} "
            f"{r.peak_rss_gib:>8.2f} {r.checks_share:>7.1%} {'ok' if r.success else 'FAILED'}"
        )
    for name, value in checked.items():
        print(f"  goal {name}: {value}")


def steady_night(landing: Path, work: Path, cold: Run, settings: dict[str, Any]) -> Run:
    """The night after `cold`: its delta lands and the job runs on the warehouse it left."""
    steady = Run(
        members=cold.members,
        format=cold.format,
        seed=cold.seed,
        settings=settings,
        scenario="steady night",
        as_of=NEXT_AS_OF,
        generate_s=cold.generate_s,
        generate_peak_rss_gib=cold.generate_peak_rss_gib,
    )
    delta = landing.with_name(landing.name + f"_night_{NEXT_AS_OF}")
    steady.delta = build_delta(landing, delta)
    read_floor(delta, steady)
    print(f"running the next night on {delta} ...", flush=True)
    run_pipeline(delta, work, steady, settings, fresh=False)
    steady.corrections_applied = corrections_applied(work, settings)
    if steady.corrections_applied != steady.delta["corrected_lines"]:
        # The figure would not be a steady night with corrections: say so, fail the run.
        print(
            f"steady night: {steady.delta['corrected_lines']:,} corrections delivered but "
            f"{steady.corrections_applied:,} in raw.superseded_rows",
            file=sys.stderr,
        )
        steady.success = False
    print_run(steady)
    print_side_by_side(cold, steady)
    return steady


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, nargs="+", default=[100_000])
    parser.add_argument(
        "--format",
        choices=("parquet", "csv", "both", INTERLEAVED),
        action="append",
        help="landing format; repeat or say 'both' (parquet and csv; default parquet). "
        f"{INTERLEAVED}: the Parquet folder with claim ids interleaved across its files",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / "tmp" / "bench",
        help="generated landing folders, reused across invocations (default tmp/bench/)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="warehouse, spill and publication of each run (default <data-dir>/work)",
    )
    parser.add_argument("--fresh", action="store_true", help="regenerate the landing folders")
    parser.add_argument("--keep", action="store_true", help="keep each run's warehouse and out/")
    parser.add_argument(
        "--steady-night",
        action="store_true",
        help="after each cold run, land one night's delta and time the next night on it",
    )
    parser.add_argument(
        "--memory-limit", help="DuckDB's memory limit (the setting duckdb_memory_limit)"
    )
    parser.add_argument("--threads", type=int, help="DuckDB's threads (duckdb_threads)")
    parser.add_argument(
        "--plan",
        choices=sorted(PLANS),
        help="run a named set of configurations instead of --members/--format "
        "(issue10: cold 100k, 1M + steady night, 1M with 4 buckets, 1M CSV, 1M with claim "
        "ids interleaved across files, 5M)",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another PipelineSettings field for the run, e.g. buckets=4 (repeatable)",
    )
    args = parser.parse_args(argv)

    formats = []
    for f in args.format or ["parquet"]:
        for g in ("parquet", "csv") if f == "both" else (f,):
            if g not in formats:
                formats.append(g)
    work_root = args.work_dir or args.data_dir / "work"
    extra: dict[str, Any] = {}
    for item in args.setting:
        key, _, value = item.partition("=")
        extra[key] = int(value) if value.isdigit() else value
    if args.memory_limit:
        extra["duckdb_memory_limit"] = args.memory_limit
    if args.threads:
        extra["duckdb_threads"] = args.threads

    plan = (
        PLANS[args.plan]
        if args.plan
        else [
            (members, fmt, extra, args.steady_night) for members in args.members for fmt in formats
        ]
    )
    runs: list[Run] = []
    for members, fmt, settings, steady in plan:
        settings = {**extra, **settings}
        run = Run(members=members, format=fmt, seed=args.seed, settings=settings)
        if settings.get("buckets", 1) > 1:
            run.scenario = f"cold B={settings['buckets']}"
        landing = ensure_landing(args.data_dir, run, args.fresh)
        read_floor(landing, run)
        suffix = "" if run.scenario == "cold" else "_" + run.scenario.split()[1]
        work = work_root / f"m{members}_{fmt}{suffix}"
        print(f"running the nightly job on {landing} ...", flush=True)
        run_pipeline(landing, work, run, settings)
        print_run(run)
        runs.append(run)
        if steady and run.success:
            runs.append(steady_night(landing, work, run, settings))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    checked = goals(runs)
    print_summary(runs, checked)
    summary = []
    for r in runs:
        d = asdict(r)
        d.pop("steps")
        d["models"] = {m["model"]: round(m["seconds"], 3) for m in r.models}
        d["stages"] = {k: round(v, 2) for k, v in r.stages.items()}
        d["lines_per_s"], d["ratio_to_floor"] = round(r.lines_per_s), round(r.ratio_to_floor, 2)
        d["checks_share"] = round(r.checks_share, 4)
        for k in ("total_s", "cpu_s", "floor_s", "run_s", "generate_s"):
            d[k] = None if d[k] is None else round(d[k], 2)
        for k in ("peak_rss_gib", "generate_peak_rss_gib"):
            d[k] = None if d[k] is None else round(d[k], 3)
        summary.append(d)
    print(json.dumps({"bench": "pipeline", "as_of": AS_OF, "runs": summary, "goals": checked}))
    return 0 if all(r.success for r in runs) else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_child":
        from pipelines.cli import exit_without_teardown

        # The child ends as `python -m pipelines` does: its wall is the command's.
        exit_without_teardown(child_main(sys.argv[2]))
    sys.exit(main())
