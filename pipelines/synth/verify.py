"""Compare a warehouse's member measures with a generator's truth.parquet.

    python -m pipelines.synth.verify --warehouse warehouse/ecm.duckdb \
        --truth data/sample/truth.parquet

Prints, per compared column, how many members differ (none, when the SQL implements
docs/method.md as the generator planted it) and exits non-zero on any difference. Member ids
are not printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import polars as pl

from pipelines.measures import COUNT_COLUMNS, OUTCOME_COLUMNS, WINDOW_COLUMNS

# Every column the truth and the member mart share, the score included.
COMPARED = (*COUNT_COLUMNS, *WINDOW_COLUMNS, *OUTCOME_COLUMNS, "score")


def mismatches(con: duckdb.DuckDBPyConnection, truth: pl.DataFrame) -> dict[str, int]:
    """Members whose value differs from the truth, per column (missing members count too)."""
    columns = ", ".join(COMPARED)
    got = pl.from_arrow(
        con.sql(f"select member_id, {columns} from marts.fct_member_measures").to_arrow_table()
    )
    joined = truth.select("member_id", *COMPARED).join(
        got, on="member_id", how="full", suffix="_sql", coalesce=True
    )
    counts = {}
    for column in COMPARED:
        differs = pl.col(column).cast(pl.Utf8).fill_null("-") != pl.col(f"{column}_sql").cast(
            pl.Utf8
        ).fill_null("-")
        counts[column] = joined.filter(differs).height
    # Members in only one of the two.
    counts["member_id"] = 2 * joined.height - truth.height - got.height
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.synth.verify", description=__doc__)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args(argv)
    truth = pl.read_parquet(args.truth)
    with duckdb.connect(str(args.warehouse), read_only=True) as con:
        counts = mismatches(con, truth)
    print(f"members in truth: {truth.height:,}")
    for column, n in counts.items():
        print(f"  {column:32} {'ok' if n == 0 else f'{n:,} differ'}")
    differing = sum(1 for n in counts.values() if n)
    print("all columns equal" if not differing else f"{differing} columns differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
