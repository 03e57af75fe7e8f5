"""`python -m pipelines adapt tuva --input DIR --landing DIR`: the adapters' command line.

Exit codes: 0 every row and value mapped (or `--accept-unmapped`); 1 some rows were rejected
or values could not be carried (written to the reject file and the report); 2 nothing could
start, or a whole file could not be read (named in the error).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.adapt.tuva import REJECTS_FILE, REPORT_DIR, REPORT_FILE, AdaptError, adapt_tuva


def add_parser(sub: argparse._SubParsersAction) -> None:
    adapt = sub.add_parser("adapt", help="map another data model's files into landing files")
    models = adapt.add_subparsers(dest="model", required=True)
    tuva = models.add_parser(
        "tuva", help="Tuva Project input layer (medical_claim, eligibility), CSV or Parquet"
    )
    tuva.add_argument("--input", type=Path, required=True, help="folder of Tuva files")
    tuva.add_argument("--landing", type=Path, required=True, help="landing folder to write")
    tuva.add_argument(
        "--member-id-from",
        choices=["member_id", "person_id"],
        default="member_id",
        help="the Tuva column our member_id comes from, in both tables (default member_id)",
    )
    tuva.add_argument(
        "--report-dir",
        type=Path,
        help=f"folder for {REJECTS_FILE} and {REPORT_FILE} (default <landing>/{REPORT_DIR}, "
        "a hidden folder the ingest passes over)",
    )
    tuva.add_argument(
        "--accept-unmapped",
        action="store_true",
        help="exit 0 even when rows were rejected or values not mapped (they are still reported)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        report = adapt_tuva(
            args.input,
            args.landing,
            member_id_from=args.member_id_from,
            report_dir=args.report_dir,
        )
    except AdaptError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for line in report.summary():
        print(line)
    where = args.report_dir or args.landing / REPORT_DIR
    print(f"rejected rows: {where / REJECTS_FILE}; report: {where / REPORT_FILE}")
    if report.failed_files:
        print(f"error: {len(report.failed_files)} file(s) could not be mapped", file=sys.stderr)
        return 2
    if report.problems and not args.accept_unmapped:
        print(
            f"error: {report.problems} row(s) or value(s) could not be mapped "
            "(see above; --accept-unmapped to accept)",
            file=sys.stderr,
        )
        return 1
    return 0
