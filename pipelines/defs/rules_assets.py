"""The rules stage as Dagster assets: one asset per SQL model, built in one step or in buckets.

Each file in sql/<layer>/ is an asset keyed <layer>/<name>, with its lineage read from the SQL
(the dbt-style graph shows in the UI). With one bucket (the default) all run in one step
against one connection: DuckDB parallelizes inside a query, and one step avoids reopening the
warehouse twenty times. With B buckets the same assets are built by a plan step (what the
buckets read, written once by the run's writer), B bucket steps (one per member-hash bucket,
each reading only its share of the raw layer, in parallel under a multiprocess or cluster
executor) and one merge step that writes the run's warehouse (pipelines/rules/buckets.py says
why that is exact). The
asset keys are the same either way, so the checks and publication do not change.
"""

import datetime as dt
import os
from collections.abc import Iterator

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from pipelines.config import load_rules
from pipelines.defs.ingest_assets import raw_landing, reference_code_lists
from pipelines.defs.metadata import table_metadata
from pipelines.defs.partitions import as_of_partitions
from pipelines.defs.resources import PipelineSettings
from pipelines.descriptions import apply_descriptions
from pipelines.rules.buckets import (
    BucketInput,
    build_bucket,
    merge_buckets,
    prepare_buckets,
    split_config,
)
from pipelines.rules.models import (
    Model,
    ModelResult,
    build_models,
    discover_models,
    drop_model_tables,
)

MODELS = discover_models()
# The model whose materialization carries each bucket's raw input (the claim lines it read).
CLAIM_LINES_MODEL = "staging.stg_medical_claims"


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def _spec(model: Model) -> dg.AssetSpec:
    deps = {_key(ref) for ref in model.depends_on}
    if model.layer == "staging":
        deps.add(raw_landing.key)
    deps.add(reference_code_lists.key)
    return dg.AssetSpec(
        key=_key(model.table),
        deps=sorted(deps, key=lambda k: k.to_user_string()),
        group_name=model.layer,
        kinds={"duckdb", "sql"},
        description="\n".join(model.rule_comment()),
        metadata={"sql_file": str(model.path.relative_to(model.path.parents[2]))},
        partitions_def=as_of_partitions,
    )


@dg.multi_asset(specs=[_spec(m) for m in MODELS], name="rules_models", can_subset=False)
def rules_models(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    as_of = dt.date.fromisoformat(context.partition_key)
    rules = load_rules()
    with duckdb.get_connection() as con:
        results = build_models(con, as_of, rules)
        apply_descriptions(con)  # so the catalog's column schema carries them
        metadata = [_metadata(con, result, as_of, rules.version) for result in results]
    for result, result_metadata in zip(results, metadata, strict=True):
        context.log.info(result.summary())
        yield dg.MaterializeResult(asset_key=_key(result.table), metadata=result_metadata)


def _metadata(
    con: duckdb.DuckDBPyConnection, result: ModelResult, as_of: dt.date, rules_version: str
) -> dict[str, object]:
    """The catalog's standard metadata (row count, column schema with the descriptions, a
    preview of each mart), and the run's figures."""
    is_mart = result.table.startswith("marts.")
    return {
        **table_metadata(con, result.table, result.rows, preview=is_mart),
        "seconds": round(result.seconds, 3),
        # Brought forward by tonight's claims files (pipelines/rules/increment.py): the claims
        # or members whose rows were rebuilt; absent when the model was built from every line.
        **({f"rebuilt_{result.rebuilt[1]}": result.rebuilt[0]} if result.rebuilt else {}),
        "as_of": as_of.isoformat(),
        "rules_version": rules_version,
    }


def _output_name(model: Model) -> str:
    return f"{model.layer}__{model.name}"


def _run_token(context: dg.OpExecutionContext) -> str:
    """Ties bucket files to the run that built them; a re-execution from failure (which may
    rerun the merge alone) keeps its root run's token, so it can still use them."""
    return context.run.root_run_id or context.run_id


def _concurrent_buckets(settings: PipelineSettings) -> int:
    """Buckets sharing this machine's cores and memory at once: only the multiprocess
    executor runs several here; a cluster executor gives each step its own pod or worker."""
    if settings.executor != "multiprocess":
        return 1
    return max(1, min(settings.buckets, os.cpu_count() or 1))


def _plan_op(buckets: int) -> dg.OpDefinition:
    """What every bucket reads besides its raw files, written once by the run's writer."""

    @dg.op(name="rules_bucket_plan", ins={"raw_landing": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
    def _plan(
        context: dg.OpExecutionContext, settings: PipelineSettings, duckdb: DuckDBResource
    ) -> None:
        with duckdb.get_connection() as con:
            result = prepare_buckets(
                con, work=settings.work_warehouse, buckets=buckets, run_token=_run_token(context)
            )
        context.log.info(f"bucket plan: {result.summary()}")

    return _plan


def _bucket_op(bucket: int, buckets: int) -> dg.OpDefinition:
    """Bucket `bucket`: staging and intermediate for its members, in its own DuckDB file.

    It needs only `settings`, not the run's `duckdb` resource: it reads the plan file and its
    share of the raw layer's Parquet files, and writes its own file, so parallel buckets never
    wait on the run's lock, nor the run's other steps on them.
    """

    @dg.op(
        name=f"rules_bucket_{bucket:02d}",
        ins={"planned": dg.In(dg.Nothing), "reference_code_lists": dg.In(dg.Nothing)},
        out=dg.Out(dg.Nothing),
        tags={"ecm/bucket": str(bucket)},
    )
    def _build(context: dg.OpExecutionContext, settings: PipelineSettings) -> None:
        as_of = dt.date.fromisoformat(context.partition_key)
        results = build_bucket(
            work=settings.work_warehouse,
            bucket=bucket,
            buckets=buckets,
            as_of=as_of,
            rules=load_rules(),
            run_token=_run_token(context),
            config=split_config(settings.duckdb_config(), _concurrent_buckets(settings)),
        )
        for result in results:
            context.log.info(f"bucket {bucket}/{buckets} {result.summary()}")

    return _build


def _merge_op(buckets: int) -> dg.OpDefinition:
    """The single writer: gathers the buckets into the run's warehouse, builds the marts."""

    @dg.op(
        name="rules_merge",
        ins={"buckets_built": dg.In(dg.Nothing)},
        out={_output_name(m): dg.Out(dg.Nothing) for m in MODELS},
    )
    def _merge(
        context: dg.OpExecutionContext, settings: PipelineSettings, duckdb: DuckDBResource
    ) -> Iterator[dg.Output]:
        as_of = dt.date.fromisoformat(context.partition_key)
        rules = load_rules()
        with duckdb.get_connection() as con:
            drop_model_tables(con, MODELS)
            results, inputs = merge_buckets(
                con,
                work=settings.work_warehouse,
                buckets=buckets,
                as_of=as_of,
                rules=rules,
                run_token=_run_token(context),
            )
            apply_descriptions(con)
            metadata = [_metadata(con, result, as_of, rules.version) for result in results]
        claims = next(i for i, r in enumerate(results) if r.table == CLAIM_LINES_MODEL)
        metadata[claims]["bucket_input_lines"] = _input_metadata(inputs)
        names = {m.table: _output_name(m) for m in MODELS}
        for result, result_metadata in zip(results, metadata, strict=True):
            context.log.info(result.summary())
            yield dg.Output(None, output_name=names[result.table], metadata=result_metadata)

    return _merge


def _input_metadata(inputs: list[BucketInput]) -> dg.MetadataValue:
    """Each bucket's raw input (claim lines read) and seconds, on the claim lines model's
    materialization: a bucket reads about 1/B of the lines, plus chained claims' lines."""
    return dg.MetadataValue.json(
        {
            f"{i.bucket:02d}": {"claim_lines": i.claim_lines, "seconds": round(i.seconds, 3)}
            for i in inputs
        }
    )


def bucketed_rules_models(buckets: int) -> dg.AssetsDefinition:
    """The same assets as `rules_models`, built by `buckets` bucket steps and a merge step."""
    plan = _plan_op(buckets)
    merge = _merge_op(buckets)
    bucket_ops = [_bucket_op(b, buckets) for b in range(buckets)]

    @dg.graph(name="rules_models", out={_output_name(m): dg.GraphOut() for m in MODELS})
    def rules_graph(raw_landing, reference_code_lists):
        planned = plan(raw_landing=raw_landing)
        built = [
            op(planned=planned, reference_code_lists=reference_code_lists) for op in bucket_ops
        ]
        return merge(buckets_built=built)._asdict()

    specs = {_output_name(m): _spec(m) for m in MODELS}
    return dg.AssetsDefinition.from_graph(
        rules_graph,
        keys_by_input_name={
            "raw_landing": raw_landing.key,
            "reference_code_lists": reference_code_lists.key,
        },
        keys_by_output_name={name: spec.key for name, spec in specs.items()},
        internal_asset_deps={
            name: {dep.asset_key for dep in spec.deps} for name, spec in specs.items()
        },
        partitions_def=as_of_partitions,
        group_names_by_output_name={name: spec.group_name for name, spec in specs.items()},
        descriptions_by_output_name={name: spec.description for name, spec in specs.items()},
        metadata_by_output_name={name: spec.metadata for name, spec in specs.items()},
        tags_by_output_name={name: spec.tags for name, spec in specs.items()},
    )


def rules_models_for(settings: PipelineSettings) -> dg.AssetsDefinition:
    """One step by default; bucket steps and a merge when the deployment sets buckets > 1
    (PipelineSettings checks that the count divides the raw layer's storage buckets)."""
    return rules_models if settings.buckets == 1 else bucketed_rules_models(settings.buckets)
