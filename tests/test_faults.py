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
import shutil
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
from pipelines.ingest.validate import literal
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


def _landing_with_a_night(root: Path) -> Path:
    """The sample landing and one more night's claims: corrected lines, replacements and voids
    of earlier claims, and new claims (chosen by a hash of their key: deterministic)."""
    landing = root / "landing"
    shutil.copytree(SAMPLE_DIR, landing)
    claims = literal(str(SAMPLE_DIR / "medical_claims_part0001.parquet"))
    with duckdb.connect() as con:
        con.execute(
            f"""copy (
            select * replace (paid_amount + 1 as paid_amount) from read_parquet({claims})
            where hash(claim_id, claim_line_number) % 50 = 0
            union all
            select * replace (claim_id || '-R' as claim_id, '7' as claim_frequency_code,
                claim_id as original_claim_id, paid_date + 30 as paid_date)
            from read_parquet({claims}) where claim_frequency_code = '1' and hash(claim_id) % 97 = 0
            union all
            select * replace (claim_id || '-V' as claim_id, '8' as claim_frequency_code,
                claim_id as original_claim_id, paid_date + 40 as paid_date)
            from read_parquet({claims}) where hash(claim_id) % 89 = 1
            union all
            select * replace (claim_id || '-N' as claim_id,
                service_from_date + 1 as service_from_date, service_to_date + 1 as service_to_date)
            from read_parquet({claims}) where claim_frequency_code = '1' and hash(claim_id) % 61 = 2
            ) to {literal(str(landing / "medical_claims_night2.parquet"))} (format parquet)"""
        )
    return landing


def test_kill_while_claim_models_are_brought_forward_then_rerun(sample_run: Deployment, tmp_path):
    """A second night's claims bring the claim-level models forward (pipelines/rules/
    increment.py). Killed inside that step, the rerun publishes what an uninterrupted night
    does, and so does a night that rebuilds those models from every line instead."""
    landing = _landing_with_a_night(tmp_path)
    reference = Deployment(sample_run.copy_to(tmp_path / "reference").root, landing)
    process = _cli(reference)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    brought = r"intermediate\.int_ed_lines: [\d,]+ rows \(brought forward: [\d,]+ claims"
    assert re.search(brought, err), err[-2000:]

    killed = Deployment(sample_run.copy_to(tmp_path / "killed").root, landing)
    _killed(killed, "rules.increment.spliced")
    assert killed.run().success
    assert_same_lists(killed.out / "latest", reference.out / "latest")

    rebuilt = Deployment(sample_run.copy_to(tmp_path / "rebuilt").root, landing)
    with duckdb.connect(str(rebuilt.warehouse.with_suffix(".work.duckdb"))) as con:
        con.execute("delete from raw.kept_model_files")
    assert rebuilt.run().success
    assert_same_lists(rebuilt.out / "latest", reference.out / "latest")
    for deployment in (reference, killed, rebuilt):
        with duckdb.connect(str(deployment.warehouse), read_only=True) as con:
            assert con.sql("select count(*) from raw.kept_model_files").fetchall() == [(2,)]
