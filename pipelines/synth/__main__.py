"""Generate a synthetic Medi-Cal landing extract and its truth.

    python -m pipelines.synth --members N --months 24 --as-of YYYY-MM-DD --seed S --out DIR \\
        [--format csv|parquet]

Writes medical_claims_part*.{csv|parquet}, eligibility.*, care_management_status.* (the
landing contract, docs/method.md) and truth.parquet (what was planted) into DIR. The same
arguments give the same bytes. data/sample/ is regenerated with exactly:

    python -m pipelines.synth --members 5000 --months 24 --as-of 2026-11-21 --seed 20261121 \\
        --out data/sample --format parquet
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from pipelines.synth.generate import Settings, generate


def parse_args(argv: list[str] | None = None) -> Settings:
    p = argparse.ArgumentParser(
        prog="python -m pipelines.synth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--members", type=int, required=True)
    p.add_argument("--months", type=int, required=True, help="months of claims history")
    p.add_argument("--as-of", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    a = p.parse_args(argv)
    return Settings(a.members, a.months, a.as_of, a.seed, a.out, a.format)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    counts = generate(parse_args(argv))
    logging.getLogger("pipelines.synth").info("wrote %s", counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
