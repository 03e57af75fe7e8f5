"""Publication: tables, the blocking quality gates on them, then files, report and warehouse.

Order matters: `publication_tables` builds publish.* in the run's warehouse; its checks are
blocking, so `publication` (the files, the manifest, the `latest` pointer and the analysts'
warehouse) never runs after a failed suite, and the previous publication stays in place.
"""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.accounting import night_accounting
from pipelines.config import load_gates, load_rules
from pipelines.defs.gate_checks import gate_check_result, tonight_run_id
from pipelines.defs.metadata import table_metadata
from pipelines.defs.partitions import as_of_partitions, partitioned_check
from pipelines.defs.resources import PipelineSettings
from pipelines.descriptions import apply_descriptions
from pipelines.faults import failpoint
from pipelines.gates import TierOverride, record_gates
from pipelines.gates import tier_change_gate as tier_change_gate_of
from pipelines.measures import TIERS
from pipelines.paths import SQL_DIR
from pipelines.publish import (
    build_publication_tables,
    record_history,
    write_publication,
)
from pipelines.quality import validate_table
from pipelines.report import render_report
from pipelines.warehouse import newest_publication, publish_warehouse

MARTS = [
    dg.AssetKey(["marts", name])
    for name in ("fct_candidates", "fct_evidence", "fct_exclusions", "fct_member_measures")
]
CHECKS_SQL = SQL_DIR / "checks"


def _as_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


@dg.asset(
    group_name="publish",
    kinds={"duckdb"},
    deps=MARTS,
    partitions_def=as_of_partitions,
    description="publish.* tables: tonight's candidates with new / continuing / returning, "
    "their evidence, exclusions, and who dropped off since the previous publication.",
)
def publication_tables(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    with duckdb.get_connection() as con:
        build_publication_tables(con, _as_of(context))
        apply_descriptions(con)  # the catalog's column schema shows them
        listed = con.execute("select count(*) from publish.pub_candidates").fetchall()[0][0]
        catalog = table_metadata(con, "publish.pub_candidates", listed, preview=True)
        counts = dict(
            con.execute(
                "select change_status, count(*) from publish.pub_candidates group by all"
            ).fetchall()
        )
        dropped = con.execute("select count(*) from publish.pub_dropped").fetchall()[0][0]
    return dg.MaterializeResult(
        metadata={
            **catalog,
            **{f"candidates_{k}": v for k, v in sorted(counts.items())},
            "dropped": dropped,
        }
    )


def _validation_dir(settings: PipelineSettings, context: dg.AssetCheckExecutionContext):
    return settings.output / "validation" / context.partition_key / context.run.run_id


@partitioned_check(asset=publication_tables, blocking=True)
def candidates_suite(
    context: dg.AssetCheckExecutionContext, settings: PipelineSettings, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    """GX suite expectations/pub_candidates.json over tonight's candidate list, computed in
    DuckDB (pipelines/quality.py; the same figures as GX's pandas run, without the frame)."""
    result_dir = _validation_dir(settings, context)
    with duckdb.get_connection() as con:
        summary = validate_table(
            con,
            "pub_candidates",
            "publish.pub_candidates",
            suite_dir=settings.expectations,
            result_dir=result_dir,
        )
    failures = summary.describe_failures()
    return dg.AssetCheckResult(
        passed=summary.success,
        description="\n".join(failures) if failures else None,
        metadata={
            "rows": summary.rows,
            "failed_expectations": dg.MetadataValue.json(summary.failed),
            "result": dg.MetadataValue.path(str(result_dir / "pub_candidates.json")),
        },
    )


@partitioned_check(asset=publication_tables, blocking=True)
def every_flag_has_evidence(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Every listed member has evidence, and each member's counted events in the evidence
    equal the counts on the list (the evidence is the count, itemized)."""
    with duckdb.get_connection() as con:
        rows = con.execute((CHECKS_SQL / "evidence_matches_counts.sql").read_text()).fetchall()
    return dg.AssetCheckResult(
        passed=not rows,
        metadata={
            "members_failing": len(rows),
            "problems": dg.MetadataValue.json(sorted({problem for _, problem in rows})),
        },
    )


@partitioned_check(asset=publication_tables, blocking=True)
def tier_change_gate(
    context: dg.AssetCheckExecutionContext, settings: PipelineSettings, duckdb: DuckDBResource
) -> dg.AssetCheckResult:
    """No tier's member count moves more than gates.max_tier_change_percent (and at least
    gates.min_tier_change_members) from the last publication; the CLI's --max-tier-change /
    --allow-tier-change override it for one run, and the override is recorded with the gate."""
    override = TierOverride(settings.max_tier_change_percent, settings.allow_tier_change)
    with duckdb.get_connection() as con:
        results = tier_change_gate_of(con, _as_of(context), load_gates(), override)
        record_gates(con, _as_of(context), tonight_run_id(con, context), results)
    return gate_check_result(results)


def _checks_of_this_run(context: dg.AssetExecutionContext) -> list[tuple[str, bool]]:
    """The asset checks this run evaluated so far (name, passed), for the report. The
    blocking ones passed, or publication would not run."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    results = {}
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        results[evaluation.check_name] = evaluation.passed
    return sorted(results.items())


@dg.asset(
    group_name="publish",
    kinds={"parquet"},
    deps=[publication_tables],
    partitions_def=as_of_partitions,
    description="Parquet and CSV lists, manifest and run report under <out>/<as_of>, moved "
    "into place atomically; `latest` moves only after success; the analysts' warehouse is "
    "replaced by tonight's.",
)
def publication(
    context: dg.AssetExecutionContext, settings: PipelineSettings, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    as_of = _as_of(context)
    run_id = context.run.run_id
    rules = load_rules()
    with duckdb.get_connection() as con:
        versions = dict(
            con.execute("select code_list, version from ref.code_list_versions").fetchall()
        )
        landing_run_id = tonight_run_id(con, context)
        report = render_report(
            con,
            as_of=as_of,
            run_id=run_id,
            rules=rules,
            checks=_checks_of_this_run(context),
            landing_run_id=landing_run_id,
        )
        pub = write_publication(
            con,
            as_of=as_of,
            run_id=run_id,
            out_dir=settings.output,
            rules=rules,
            code_list_versions=versions,
            report_html=report,
            accounting=night_accounting(con, landing_run_id),
        )
        failpoint("publish.before_history")
        record_history(con, as_of, run_id)
        failpoint("publish.before_warehouse")
        newest = newest_publication(con)
        # An older night publishes its own folder and history, never the analysts' latest.
        size = (
            publish_warehouse(con, settings.work_warehouse, settings.warehouse)
            if newest is None or as_of >= newest
            else None
        )
    context.log.info(f"published {pub.folder}")
    if size is None:
        context.log.info(f"analysts' warehouse kept on {newest}: {as_of} is an older night")
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(pub.folder)),
            "report": dg.MetadataValue.path(str(pub.folder / "report.html")),
            **{f"tier_{t}": pub.manifest["rows_by_tier"][t] for t in TIERS},
            "warehouse_bytes": size or 0,
            "analysts_warehouse": "replaced" if size is not None else f"kept on {newest}",
        }
    )
