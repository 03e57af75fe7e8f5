"""The rules stage as Dagster assets: one asset per SQL model, built in one step.

Each file in sql/<layer>/ is an asset keyed <layer>/<name>, with its lineage read from the SQL
(the dbt-style graph shows in the UI), but all run in one step against one connection: DuckDB
parallelizes inside a query, and one step avoids reopening the warehouse twenty times.
"""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.config import load_rules
from pipelines.defs.ingest_assets import raw_landing, reference_code_lists
from pipelines.defs.partitions import as_of_partitions
from pipelines.rules.models import Model, build_models, discover_models

MODELS = discover_models()


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def _description(model: Model) -> str:
    """The rule comment block at the top of the SQL file."""
    lines = []
    for line in model.path.read_text().splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.lstrip("-").strip())
    return "\n".join(lines[1:] if lines and lines[0] == model.name else lines)


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
        description=_description(model),
        metadata={"sql_file": str(model.path.relative_to(model.path.parents[2]))},
        partitions_def=as_of_partitions,
    )


@dg.multi_asset(specs=[_spec(m) for m in MODELS], name="rules_models", can_subset=False)
def rules_models(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    as_of = dt.date.fromisoformat(context.partition_key)
    rules = load_rules()
    with duckdb.get_connection() as con:
        results = build_models(con, as_of, rules)
    for result in results:
        context.log.info(f"{result.table}: {result.rows:,} rows in {result.seconds:.2f}s")
        yield dg.MaterializeResult(
            asset_key=_key(result.table),
            metadata={
                "rows": result.rows,
                "seconds": round(result.seconds, 3),
                "as_of": as_of.isoformat(),
                "rules_version": rules.version,
            },
        )
