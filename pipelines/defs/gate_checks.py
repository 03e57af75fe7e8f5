"""What every gate check shares: tonight's run id and the check result a gate list gives."""

from __future__ import annotations

import dagster as dg
import duckdb

from pipelines.gates import GateResult, failure_text
from pipelines.warehouse import RAW_SCHEMA


def tonight_run_id(con: duckdb.DuckDBPyConnection, context: dg.AssetCheckExecutionContext) -> str:
    """The run whose landing rows the gates judge: this run, or, in a re-execution that did
    not rerun the ingest, the run it re-executes."""
    run = context.run
    found = con.execute(
        f"select count(*) from {RAW_SCHEMA}.night_files where run_id = ?", [run.run_id]
    ).fetchone()[0]
    return run.run_id if found or not run.root_run_id else run.root_run_id


def gate_check_result(results: list[GateResult]) -> dg.AssetCheckResult:
    """Failed when any gate failed; the description is the operator's message (the CLI prints
    it), the metadata every gate with its figure and threshold."""
    failed = [r for r in results if not r.passed]
    return dg.AssetCheckResult(
        passed=not failed,
        description=failure_text(results) or None,
        metadata={
            "gates": dg.MetadataValue.json([r.to_json() for r in results]),
            "failed": len(failed),
        },
    )
