"""Command line: `python -m pipelines run --as-of DATE --landing DIR --out DIR --warehouse PATH`
and `python -m pipelines backfill --from DATE --to DATE ...` (same folders).

Runs the same Dagster job the nightly schedule runs, in this process, and exits non-zero when
any step or blocking check fails. Users' scripts call this: keep the flags stable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import dagster as dg

from pipelines.adapt import command as adapt_command
from pipelines.defs.resources import PipelineSettings
from pipelines.runner import execute_nightly, failed_checks, failure_messages, succeeded


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    folders = argparse.ArgumentParser(add_help=False)
    folders.add_argument("--landing", type=Path, required=True, help="folder of landing files")
    folders.add_argument("--out", type=Path, required=True, help="folder for publications")
    folders.add_argument("--warehouse", type=Path, required=True, help="DuckDB warehouse file")
    folders.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[folders], help="run the nightly job for one as-of date")
    run.add_argument("--as-of", type=_date, required=True, help="as-of date, YYYY-MM-DD")
    backfill = sub.add_parser(
        "backfill",
        parents=[folders],
        help="run the nightly job for every as-of date in a range, oldest first",
    )
    backfill.add_argument("--from", dest="start", type=_date, required=True)
    backfill.add_argument("--to", dest="end", type=_date, required=True)
    adapt_command.add_parser(sub)
    return parser


def _instance() -> dg.DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set (run history in the UI)."""
    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run(args: argparse.Namespace) -> int:
    if not args.landing.is_dir():
        print(f"error: landing folder not found: {args.landing}", file=sys.stderr)
        return 2
    settings = PipelineSettings(
        landing_dir=str(args.landing.resolve()),
        output_dir=str(args.out.resolve()),
        warehouse_path=str(args.warehouse.resolve()),
    )
    with _instance() as instance:
        result = execute_nightly(settings, args.as_of, instance=instance, log_level=args.log_level)
    checks = failed_checks(result)
    if succeeded(result):
        print(f"run {result.run_id} succeeded for as-of {args.as_of}")
        print(f"  warehouse: {settings.warehouse}")
        print(f"  publications: {settings.output}")
        return 0
    print(f"run {result.run_id} FAILED for as-of {args.as_of}", file=sys.stderr)
    for name in checks:
        print(f"  failed check: {name}", file=sys.stderr)
    for message in failure_messages(result):
        print(f"  error: {message}", file=sys.stderr)
    return 1


def backfill(args: argparse.Namespace) -> int:
    """One run per as-of date, in date order (each night's change status reads the one
    before); stops at the first failure so no later night builds on a missing one."""
    start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
    if end < start:
        print(f"error: --to {args.end} is before --from {args.start}", file=sys.stderr)
        return 2
    day = start
    while day <= end:
        args.as_of = day.isoformat()
        if (code := run(args)) != 0:
            return code
        day += dt.timedelta(days=1)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return {"run": run, "backfill": backfill, "adapt": adapt_command.run}[args.command](args)
