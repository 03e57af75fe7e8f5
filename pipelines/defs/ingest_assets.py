"""Ingest: tonight's landing files into the raw layer, and the checks that gate the rules."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.contract import FILE_KINDS, FileKind
from pipelines.defs.partitions import as_of_partitions
from pipelines.defs.resources import PipelineSettings
from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from pipelines.ingest.quality import quality_of_table, suite_name
from pipelines.reference import load_reference_tables


@dg.asset(
    group_name="ingest",
    kinds={"duckdb"},
    partitions_def=as_of_partitions,
    description="Landing files loaded into raw.* with contract types; bad rows in "
    "raw.quarantine with a reason; a ledger keyed by content hash makes reloads no-ops.",
)
def raw_landing(
    context: dg.AssetExecutionContext, settings: PipelineSettings, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        # The suites run as the blocking checks below, over the whole raw layer.
        report = ingest_landing(
            con,
            settings.landing,
            IngestSettings(run_quality=False),
            as_of=dt.date.fromisoformat(context.partition_key),
            run_id=context.run.run_id,
        )
    for f in report.files:
        context.log.info(
            f"{f.name}: {f.status}, read {f.rows_read}, loaded {f.rows_loaded}, "
            f"quarantined {f.rows_quarantined}" + (f" ({f.error})" if f.error else "")
        )
    return dg.MaterializeResult(
        metadata={
            "files_new": len(report.files),
            "files_ignored": dg.MetadataValue.json(list(report.ignored)),
            "rows_read": report.rows_read,
            "rows_loaded": report.rows_loaded,
            "rows_quarantined": report.rows_quarantined,
            "files_rejected": len(report.rejected),
            "files": dg.MetadataValue.md(report.to_markdown()),
        }
    )


@dg.asset_check(asset=raw_landing, blocking=True, partitions_def=as_of_partitions)
def rows_reconciled(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Every file: rows read = rows loaded + rows quarantined, counted in the tables."""
    with duckdb.get_connection() as con:
        problems = reconcile(con)
    return dg.AssetCheckResult(
        passed=not problems, metadata={"problems": dg.MetadataValue.json(problems)}
    )


@dg.asset_check(asset=raw_landing, blocking=True, partitions_def=as_of_partitions)
def no_rejected_files(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """A rejected file means tonight's picture is incomplete: stop before publishing."""
    with duckdb.get_connection() as con:
        rejected = con.execute(
            "select source_file, error from raw.load_ledger where status = 'rejected' "
            "order by source_file"
        ).fetchall()
    return dg.AssetCheckResult(
        passed=not rejected,
        metadata={
            "rejected": dg.MetadataValue.json([{"file": f, "error": e} for f, e in rejected])
        },
    )


# Rows handed to Great Expectations per kind: pipelines/quality.py says why a sample.
QUALITY_SAMPLE_ROWS = 200_000


def _raw_suite_check(kind: FileKind) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_landing,
        name=f"{suite_name(kind)}_suite",
        blocking=True,
        partitions_def=as_of_partitions,
        description=f"GX suite expectations/{suite_name(kind)}.json over raw.{kind.name} "
        f"(a repeatable sample of {QUALITY_SAMPLE_ROWS:,} rows when larger).",
    )
    def _check(
        context: dg.AssetCheckExecutionContext,
        settings: PipelineSettings,
        duckdb: DuckDBResource,
    ) -> dg.AssetCheckResult:
        results = settings.output / "validation" / context.partition_key / context.run.run_id
        with duckdb.get_connection() as con:
            summary = quality_of_table(
                con, kind, QUALITY_SAMPLE_ROWS, settings.expectations, results
            )
        return dg.AssetCheckResult(
            passed=summary.success,
            metadata={
                "rows_validated": summary.rows_validated,
                "failed_expectations": dg.MetadataValue.json(list(summary.failed)),
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
