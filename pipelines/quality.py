"""Great Expectations 1.x suites (expectations/*.json) run over a pandas DataFrame.

Why this shape:
- dagster-ge pins GX below 1.0, so GX 1.x is called directly with an ephemeral context: no
  project folder, no stores; the suite JSON in expectations/ is the only configuration.
- GX 1.24's SQL datasource over duckdb-engine fails with MetricResolutionError, so batches are
  pandas. Dates must reach GX as `datetime.date` objects (Arrow's default conversion): GX
  parses a suite's "2000-01-01" bounds into dates and cannot compare them with Timestamps.
- Pandas validation costs about a second per million rows per date-range expectation, and a
  40-million-row frame would not fit the memory budget, so callers hand in a bounded sample
  (the ingest uses a repeatable reservoir sample per file) when the table is large. Row-level
  guarantees (types, required, codes, keys) do not depend on GX: the ingest enforces them in
  SQL for every row. The suites are the documented, declarative second look.
- Results carry counts only, never unexpected values (they could be member ids).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.paths import EXPECTATIONS_DIR

if TYPE_CHECKING:  # GX takes seconds to import: only when a suite actually runs.
    import great_expectations as gx


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None
    error: str | None = None


@dataclass(frozen=True)
class ValidationSummary:
    suite: str
    success: bool
    rows: int
    outcomes: tuple[ExpectationOutcome, ...]

    @property
    def failed(self) -> list[str]:
        return [
            f"{o.expectation}({o.column})" if o.column else o.expectation
            for o in self.outcomes
            if not o.success
        ]

    def to_json(self) -> dict:
        return asdict(self)


def load_suite(suite_name: str, suite_dir: Path = EXPECTATIONS_DIR) -> gx.ExpectationSuite:
    """A suite from expectations/<suite_name>.json (GX 1.x suite JSON)."""
    import great_expectations as gx

    raw = json.loads((suite_dir / f"{suite_name}.json").read_text())
    raw.pop("id", None)
    return gx.ExpectationSuite(**raw)


def _context() -> gx.data_context.AbstractDataContext:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def validate(
    suite_name: str,
    dataframe: pd.DataFrame,
    *,
    suite_dir: Path = EXPECTATIONS_DIR,
    result_dir: Path | None = None,
    result_name: str | None = None,
) -> ValidationSummary:
    """Validate a DataFrame against a suite; optionally write the summary JSON to result_dir."""
    suite = load_suite(suite_name, suite_dir)
    batch = (
        _context()
        .data_sources.add_pandas("frame")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": dataframe})
    )
    result = batch.validate(suite, result_format="BASIC")
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        error = None
        if not r.success and r.exception_info:
            info = r.exception_info
            messages = (
                [info.get("exception_message")]
                if "exception_message" in info
                else [v.get("exception_message") for v in info.values() if isinstance(v, dict)]
            )
            error = "; ".join(m for m in messages if m) or None
        outcomes.append(
            ExpectationOutcome(
                expectation=config.type,
                column=config.kwargs.get("column") or config.kwargs.get("column_A"),
                success=bool(r.success),
                unexpected_count=r.result.get("unexpected_count"),
                error=error,
            )
        )
    summary = ValidationSummary(
        suite=suite_name,
        success=bool(result.success),
        rows=len(dataframe),
        outcomes=tuple(outcomes),
    )
    if result_dir is not None:
        result_dir.mkdir(parents=True, exist_ok=True)
        path = result_dir / f"{result_name or suite_name}.json"
        path.write_text(json.dumps(summary.to_json(), indent=2, default=str))
    return summary
