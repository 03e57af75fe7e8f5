"""Benchmark the synthetic extract generator: members, claim lines, wall seconds, peak RSS.

    .venv/bin/python benchmarks/bench_synth.py --members 100000 --format parquet
    .venv/bin/python benchmarks/bench_synth.py --members 1000000 --format parquet

Each run is a fresh subprocess (the real command), so peak RSS is that run's alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

AS_OF, SEED, MONTHS = "2026-11-21", "20261121", "24"


def run(members: int, fmt: str, out: Path) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        "pipelines.synth",
        "--members",
        str(members),
        "--months",
        MONTHS,
        "--as-of",
        AS_OF,
        "--seed",
        SEED,
        "--out",
        str(out),
        "--format",
        fmt,
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"generator failed: {proc.returncode}")
    peak_kib = usage.ru_maxrss  # this run's process alone (os.wait4), not earlier runs
    files = sorted(out.glob(f"medical_claims*.{fmt}"))
    if fmt == "parquet":
        lines = pl.scan_parquet(files).select(pl.len()).collect().item()
    else:
        lines = pl.scan_csv(files, infer_schema=False).select(pl.len()).collect().item()
    size = sum(f.stat().st_size for f in out.iterdir())
    return {
        "members": members,
        "claim_lines": lines,
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(peak_kib / 1024),
        "output_mib": round(size / 2**20),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--members", type=int, nargs="+", default=[100_000])
    p.add_argument("--format", choices=("csv", "parquet"), nargs="+", default=["parquet", "csv"])
    a = p.parse_args()
    for members in a.members:
        for fmt in a.format:
            with tempfile.TemporaryDirectory() as tmp:
                r = run(members, fmt, Path(tmp))
            print(f"format={fmt} " + " ".join(f"{k}={v}" for k, v in r.items()), flush=True)


if __name__ == "__main__":
    main()
