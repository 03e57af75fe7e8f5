"""Ingest: tonight's landing files into the raw layer, and the checks that gate the rules."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.accounting import files_markdown, night_accounting
from pipelines.config import load_gates
from pipelines.contract import FILE_KINDS, FileKind
from pipelines.defs.gate_checks import gate_check_result, tonight_run_id
from pipelines.defs.partitions import as_of_partitions, partitioned_check
from pipelines.defs.resources import PipelineSettings
from pipelines.gates import landing_gates as landing_gates_of
from pipelines.gates import record_gates
from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from pipelines.ingest.quality import quality_in_force, suite_name
from pipelines.reference import load_reference_tables
from pipelines.warehouse import NIGHT_ROW_COUNTS


@dg.asset(
    group_name="ingest",
    kinds={"duckdb"},
    partitions_def=as_of_partitions,
    description="Landing files loaded into the raw layer (Parquet files under the raw folder, "
    "read through the raw.<kind> views) with contract types; bad rows in raw.quarantine with a "
    "reason; a ledger keyed by content hash makes reloads no-ops.",
)
def raw_landing(
    context: dg.AssetExecutionContext, settings: PipelineSettings, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        # The suites run as the blocking checks below, over the whole raw layer.
        report = ingest_landing(
            con,
            settings.landing,
            IngestSettings(
                run_quality=False,
                raw_dir=settings.raw,
                keep_landed=settings.buckets == 1,
                stage_directory=settings.stage,
            ),
            as_of=dt.date.fromisoformat(context.partition_key),
            run_id=context.run.run_id,
        )
        night = night_accounting(con, context.run.run_id)
    for f in report.files:
        context.log.info(
            f"{f.name}: {f.status}, read {f.rows_read}, loaded {f.rows_loaded}, "
            f"quarantined {f.rows_quarantined}" + (f" ({f.error})" if f.error else "")
        )
    return dg.MaterializeResult(
        metadata={
            **{f"files_{state}": n for state, n in night["files_by_state"].items()},
            **{total: night[total] for total in NIGHT_ROW_COUNTS},
            "files": dg.MetadataValue.md(files_markdown(night)),
        }
    )


@partitioned_check(asset=raw_landing, blocking=True)
def rows_reconciled(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Every file: rows read = rows loaded + rows quarantined, counted in its raw Parquet files'
    footers and the quarantine table (milliseconds: no raw row is read)."""
    with duckdb.get_connection() as con:
        problems = reconcile(con)
    return dg.AssetCheckResult(
        passed=not problems,
        description="\n".join(
            [
                *problems,
                "Rows do not add up: a pipeline fault, not the data's. Rerun the night; "
                "if it persists, keep the warehouse and report it.",
            ]
        )
        if problems
        else None,
        metadata={"problems": dg.MetadataValue.json(problems)},
    )


@partitioned_check(asset=raw_landing, blocking=True)
def landing_gates(
    context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    """Tonight's landing is complete and plausible: not empty, no file rejected tonight, the
    required kinds loaded, no file above the quarantine limit, claims' members in eligibility
    (pipelines/gates.py; thresholds in config/rules.toml [gates])."""
    with duckdb.get_connection() as con:
        run_id = tonight_run_id(con, context)
        results = landing_gates_of(con, run_id, load_gates())
        record_gates(con, dt.date.fromisoformat(context.partition_key), run_id, results)
    return gate_check_result(results)


def _raw_suite_check(kind: FileKind) -> dg.AssetChecksDefinition:
    @partitioned_check(
        asset=raw_landing,
        name=f"{suite_name(kind)}_suite",
        blocking=True,
        description=f"GX suite expectations/{suite_name(kind)}.json over every row of the "
        f"{kind.name} files in force, computed in DuckDB (pipelines/quality.py); a file is "
        "validated once per suite version (pipelines/ingest/quality.py).",
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        settings: PipelineSettings,
        duckdb: DuckDBResource,
    ) -> dg.AssetCheckResult:
        results = settings.output / "validation" / context.partition_key / context.run.run_id
        with duckdb.get_connection() as con:
            verdict = quality_in_force(con, kind, settings.expectations, results)
        summary = verdict.summary
        failures = summary.describe_failures()
        files = f" ({', '.join(verdict.failing_files)})" if verdict.failing_files else ""
        return dg.AssetCheckResult(
            passed=summary.success,
            description="\n".join(
                [
                    *failures,
                    f"Correct these rows in the {kind.name} file{files} and redeliver it.",
                ]
            )
            if failures
            else None,
            metadata={
                "rows_in_force": summary.rows,
                "files_in_force": verdict.files_in_force,
                "rows_validated": verdict.rows_validated,
                "files_validated": verdict.files_validated,
                "failing_files": dg.MetadataValue.json(list(verdict.failing_files)),
                "failed_expectations": dg.MetadataValue.json(failures),
                "result": dg.MetadataValue.path(str(results / f"{summary.suite}.json")),
            },
        )

    return _check


raw_suite_checks = [_raw_suite_check(kind) for kind in FILE_KINDS.values()]


@dg.asset(
    group_name="ingest",
    kinds={"duckdb"},
    partitions_def=as_of_partitions,
    description="Reference code lists (reference/*.csv) in schema ref, with their versions.",
)
def reference_code_lists(duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        load_reference_tables(con)
        versions = con.execute(
            "select code_list, version from ref.code_list_versions order by code_list"
        ).fetchall()
    return dg.MaterializeResult(metadata={"versions": dg.MetadataValue.json(dict(versions))})
