"""Fault campaign: kill the run (SIGKILL) at each stage, start a second run during one, and
read the logs. Each kill uses a failpoint (pipelines/faults.py) so it lands at a known step.

After any kill: no half publication is visible, the previous one stays intact, and a rerun
publishes exactly what an uninterrupted run does (byte for byte).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.faults import ENV
from pipelines.ingest import reconcile
from pipelines.paths import ROOT, SAMPLE_DIR
from tests.conftest import SAMPLE_AS_OF, Deployment

COMPARED_FILES = ("candidates.parquet", "candidates.csv", "evidence.parquet", "exclusions.parquet")


def _cli(deployment: Deployment, *, failpoint: str | None = None, log_level: str = "INFO"):
    # Buffered output, as a scheduler's pipe gets it (PYTHONUNBUFFERED would hide a lost
    # buffer).
    env = {
        k: v for k, v in os.environ.items() if k not in (ENV, "DAGSTER_HOME", "PYTHONUNBUFFERED")
    }
    if failpoint:
        env[ENV] = failpoint
    command = [
        sys.executable, "-m", "pipelines", "run",
        "--as-of", SAMPLE_AS_OF,
        "--landing", str(deployment.landing),
        "--out", str(deployment.out),
        "--warehouse", str(deployment.warehouse),
        "--log-level", log_level,
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _killed(deployment: Deployment, failpoint: str) -> None:
    process = _cli(deployment, failpoint=failpoint)
    _, err = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, err[-2000:]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_no_half_publication(out: Path) -> None:
    """Everything a reader can reach is a whole publication that matches its manifest."""
    if not out.exists():
        return
    for link in [p for p in out.iterdir() if p.is_symlink()]:
        target = link.resolve()
        manifest = json.loads((target / "manifest.json").read_text())
        for name, entry in manifest["files"].items():
            assert _sha(target / name) == entry["sha256"], f"{link.name}/{name}"
    for run in (out / "runs").glob("*/*"):
        if not run.name.startswith("."):
            assert (run / "manifest.json").exists(), f"visible run folder without manifest: {run}"


def assert_same_lists(folder: Path, reference: Path) -> None:
    for name in COMPARED_FILES:
        assert _sha(folder / name) == _sha(reference / name), name


def test_kill_during_ingest_then_rerun(sample_run: Deployment, tmp_path):
    deployment = Deployment(tmp_path / "d")
    _killed(deployment, "ingest.file_committed")

    assert not (deployment.out / "latest").exists(), "nothing published by a killed first run"
    assert_no_half_publication(deployment.out)
    work = deployment.warehouse.with_suffix(".work.duckdb")
    with duckdb.connect(str(work), read_only=True) as con:
        assert con.sql("select count(*) from raw.load_ledger").fetchall() == [(1,)]
        assert reconcile(con) == []

    assert deployment.run().success
    assert_same_lists(deployment.out / "latest", sample_run.out / "latest")
    with duckdb.connect(str(deployment.warehouse), read_only=True) as con:
        ledger = con.sql("select count(*), sum(rows_read) from raw.load_ledger").fetchall()
        assert reconcile(con) == []
    files = [p for p in SAMPLE_DIR.iterdir() if not p.name.startswith("truth")]
    assert ledger[0][0] == len(files), "every file loaded exactly once"


@pytest.mark.parametrize(
    "failpoint",
    [
        "rules.after.int_stays",
        "publish.files_written",
        "publish.folder_renamed",
        "publish.before_history",
        "publish.before_warehouse",
    ],
)
def test_kill_during_rules_or_publication_then_rerun(
    sample_run: Deployment, tmp_path, failpoint: str
):
    deployment = sample_run.copy_to(tmp_path / "d")
    previous = (deployment.out / "latest").resolve()
    previous_manifest = (previous / "manifest.json").read_bytes()

    _killed(deployment, failpoint)

    assert_no_half_publication(deployment.out)
    assert (previous / "manifest.json").read_bytes() == previous_manifest
    if failpoint in ("rules.after.int_stays", "publish.files_written", "publish.folder_renamed"):
        assert (deployment.out / "latest").resolve() == previous, "latest moved before success"
    with duckdb.connect(str(deployment.warehouse), read_only=True) as con:
        con.sql("select count(*) from marts.fct_candidates").fetchall()  # analysts unaffected

    assert deployment.run().success
    assert_no_half_publication(deployment.out)
    assert_same_lists(deployment.out / "latest", sample_run.out / "latest")
    assert not list((deployment.out / "runs" / SAMPLE_AS_OF).glob(".tmp-*"))


def test_second_run_is_refused_while_one_runs(sample_run: Deployment, tmp_path):
    deployment = sample_run.copy_to(tmp_path / "d")
    lock = Path(f"{deployment.warehouse.with_suffix('.work.duckdb')}.lock")
    lock.unlink(missing_ok=True)
    first = _cli(deployment, failpoint="rules.after.int_stays=sleep:60")
    try:
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None and time.monotonic() < deadline, "first run never started"
            time.sleep(0.1)
        second = deployment.run()
        assert not second.success
        messages = [str(getattr(e.event_specific_data, "error", "")) for e in second.all_events]
        assert any("another run" in m and str(first.pid) in m for m in messages)
    finally:
        first.kill()
        first.communicate(timeout=60)
    assert_no_half_publication(deployment.out)


def test_run_logs_carry_no_member_ids(tmp_path):
    deployment = Deployment(tmp_path / "d")
    process = _cli(deployment, log_level="DEBUG")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    # `python -m pipelines` leaves without the interpreter's teardown: its last line, printed
    # just before, still reaches the caller.
    assert out.rstrip().endswith(f"publications: {deployment.out}"), out[-500:]
    ids = set(pl.read_parquet(SAMPLE_DIR / "eligibility.parquet")["member_id"])
    logged = set(re.findall(r"[A-Za-z0-9]+", out + err))
    assert len(out + err) > 10_000, "the DEBUG log is not empty"
    assert not ids & logged
