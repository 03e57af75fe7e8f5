"""Command line: `python -m pipelines run --as-of DATE --landing DIR --out DIR --warehouse PATH`
and `python -m pipelines backfill --from DATE --to DATE ...` (same folders).

Runs the same Dagster job the nightly schedule runs, in this process, and exits non-zero when
any step or blocking check fails. Users' scripts call this: keep the flags stable. Settings
come from the environment (ECM_*, like the schedule and the UI), then these flags.

The last lines say what happened, at every --log-level: on success tonight's accounting
(files by state, rows, gates); on failure each failed gate or suite with its figure, the file
and rows concerned and what to do, or the error. Exit codes: 0 published, 1 the night failed
or was blocked, 2 the command itself is wrong (a date out of range, a missing folder).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from pipelines.accounting import summary_lines
from pipelines.adapt import command as adapt_command
from pipelines.defs.partitions import as_of_problem
from pipelines.defs.resources import PipelineSettings, settings_from_env
from pipelines.runner import (
    check_failures,
    execute_nightly,
    failure_messages,
    gate_results,
    landing_metadata,
    nightly_instance,
    succeeded,
)
from pipelines.warehouse import NIGHT_FILE_STATES


class UsageError(Exception):
    """The command cannot run as given: one line, exit 2."""


def _date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percent: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a percent must not be negative: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--landing", type=Path, help="folder of landing files (ECM_LANDING_DIR)")
    common.add_argument("--out", type=Path, help="folder for publications (ECM_OUTPUT_DIR)")
    common.add_argument("--warehouse", type=Path, help="DuckDB warehouse file (ECM_WAREHOUSE)")
    common.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    tier = common.add_mutually_exclusive_group()
    tier.add_argument(
        "--max-tier-change",
        type=_percent,
        metavar="PCT",
        help="this run only: the tier-change gate's limit in percent (config/rules.toml "
        "gates.max_tier_change_percent otherwise)",
    )
    tier.add_argument(
        "--allow-tier-change",
        action="store_true",
        help="this run only: a tier count may move any amount (recorded with the gate)",
    )
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common], help="run the nightly job for one as-of date")
    run.add_argument("--as-of", type=_date, required=True, help="as-of date, YYYY-MM-DD")
    backfill = sub.add_parser(
        "backfill",
        parents=[common],
        help="run the nightly job for every as-of date in a range, oldest first",
    )
    backfill.add_argument("--from", dest="start", type=_date, required=True)
    backfill.add_argument("--to", dest="end", type=_date, required=True)
    adapt_command.add_parser(sub)
    return parser


def settings_from_args(args: argparse.Namespace) -> PipelineSettings:
    """The environment's settings with this command's flags on top (settings_from_env)."""
    return settings_from_env(
        landing_dir=str(args.landing.resolve()) if args.landing else None,
        output_dir=str(args.out.resolve()) if args.out else None,
        warehouse_path=str(args.warehouse.resolve()) if args.warehouse else None,
        max_tier_change_percent=args.max_tier_change,
        allow_tier_change=args.allow_tier_change or None,
    )


def _check_as_of(text: str) -> None:
    if problem := as_of_problem(dt.date.fromisoformat(text)):
        raise UsageError(problem)


def _run_one(settings: PipelineSettings, as_of: str, log_level: str) -> int:
    with nightly_instance(settings) as instance:
        result = execute_nightly(settings, as_of, instance=instance, log_level=log_level)
    gates = gate_results(result)
    landing = landing_metadata(result)
    files = {s: int(landing.get(f"files_{s}", 0)) for s in NIGHT_FILE_STATES}
    accounting = summary_lines(files, landing, gates) if landing else []
    if succeeded(result):
        print(f"run {result.run_id} succeeded for as-of {as_of}")
        for line in accounting:
            print(f"  {line}")
        print(f"  warehouse: {settings.warehouse}")
        print(f"  publications: {settings.output}")
        return 0
    err = sys.stderr
    print(f"run {result.run_id} FAILED for as-of {as_of}; nothing was published", file=err)
    for line in accounting:
        print(f"  {line}", file=err)
    for check, reasons in check_failures(result):
        print(f"  failed check {check}:", file=err)
        for reason in reasons or ["(no reason given; see the run's logs)"]:
            print(f"    {reason}", file=err)
    for message in failure_messages(result):
        print(f"  error: {message}", file=err)
    return 1


def _settings(args: argparse.Namespace) -> PipelineSettings:
    try:
        settings = settings_from_args(args)
    except ValueError as error:
        raise UsageError(str(error).splitlines()[0]) from None
    if not settings.landing.is_dir():
        raise UsageError(f"landing folder not found: {settings.landing}")
    return settings


def run(args: argparse.Namespace) -> int:
    _check_as_of(args.as_of)
    return _run_one(_settings(args), args.as_of, args.log_level)


def backfill(args: argparse.Namespace) -> int:
    """One run per as-of date, in date order (each night's change status reads the one
    before); stops at the first failure so no later night builds on a missing one."""
    start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
    if end < start:
        raise UsageError(f"--to {args.end} is before --from {args.start}")
    _check_as_of(args.start)
    _check_as_of(args.end)
    settings = _settings(args)
    day = start
    while day <= end:
        if (code := _run_one(settings, day.isoformat(), args.log_level)) != 0:
            return code
        day += dt.timedelta(days=1)
    return 0


def exit_without_teardown(code: int) -> NoReturn:
    """End the process once it has answered, without the interpreter's teardown.

    Why: finalizing the interpreter's modules (Dagster's and SQLAlchemy's graphs; a nightly
    run does not import GX) took another 0.6 s of every run's wall, 0.3 s of it Dagster's
    alone, a fixed cost a user and the nightly schedule waited for while nothing was left
    to do. Call it only when everything the process writes is committed, closed and
    published (the warehouse connections are closed by their resources, the Dagster instance
    by its context manager); the log handlers and the standard streams are flushed here.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {"run": run, "backfill": backfill, "adapt": adapt_command.run}
        return commands[args.command](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a bug or the environment: the trace, then one clear line
        traceback.print_exc()
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(
            f"error: {type(error).__name__}: {first} (the trace above says where)", file=sys.stderr
        )
        return 1
