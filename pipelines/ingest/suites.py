"""Scaffold for the raw-layer GX suites in expectations/raw_<kind>.json, from the contract.

The JSON files are the source of truth and may be edited by hand (tests only check that they
still cover the contract). Rerun `python -m pipelines.ingest.suites` after a contract change
to regenerate them, then re-apply any hand edits.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.contract import FILE_KINDS, FileKind
from pipelines.paths import EXPECTATIONS_DIR

# Plausible date ranges: a value outside them parses but is almost surely a data error.
_DATE_RANGE = ("1900-01-01", "2100-12-31")
_SERVICE_DATE_RANGE = ("2000-01-01", "2100-12-31")
# Pairs (later, earlier) that must be ordered when both are present.
_ORDERED_DATES = {
    "medical_claims": (
        ("service_to_date", "service_from_date"),
        ("discharge_date", "admission_date"),
    ),
    "eligibility": (("enrollment_end_date", "enrollment_start_date"),),
}


def _expectation(type_: str, **kwargs: object) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {}}


def raw_suite(kind: FileKind) -> dict:
    expectations = []
    for c in kind.columns:
        expectations.append(_expectation("expect_column_to_exist", column=c.name))
        if c.required:
            expectations.append(_expectation("expect_column_values_to_not_be_null", column=c.name))
        if c.allowed:
            expectations.append(
                _expectation(
                    "expect_column_values_to_be_in_set", column=c.name, value_set=list(c.allowed)
                )
            )
        if c.length:
            expectations.append(
                _expectation("expect_column_value_lengths_to_equal", column=c.name, value=c.length)
            )
        if c.digits_only:
            expectations.append(
                _expectation("expect_column_values_to_match_regex", column=c.name, regex="^[0-9]+$")
            )
        if c.pattern:
            expectations.append(
                _expectation(
                    "expect_column_values_to_match_regex", column=c.name, regex=f"^{c.pattern}$"
                )
            )
        if c.dtype == "date":
            low, high = _SERVICE_DATE_RANGE if c.name.startswith("service_") else _DATE_RANGE
            expectations.append(
                _expectation(
                    "expect_column_values_to_be_between",
                    column=c.name,
                    min_value=low,
                    max_value=high,
                )
            )
    if "claim_line_number" in kind.by_name:
        expectations.append(
            _expectation(
                "expect_column_values_to_be_between",
                column="claim_line_number",
                min_value=1,
                max_value=9999,
            )
        )
    for later, earlier in _ORDERED_DATES.get(kind.name, ()):
        expectations.append(
            _expectation(
                "expect_column_pair_values_a_to_be_greater_than_b",
                column_A=later,
                column_B=earlier,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    return {
        "name": f"raw_{kind.name}",
        "expectations": expectations,
        "meta": {
            "description": f"Raw layer {kind.name}: rows loaded by the ingest, per file.",
            "generated_from": "pipelines/contract.py via pipelines/ingest/suites.py",
        },
        "notes": None,
    }


def write_suites(directory: Path = EXPECTATIONS_DIR) -> list[Path]:
    written = []
    for kind in FILE_KINDS.values():
        path = directory / f"raw_{kind.name}.json"
        path.write_text(json.dumps(raw_suite(kind), indent=2) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_suites():
        print(p)
