"""The nightly job: every asset of the graph for one as-of date."""

import dagster as dg

from pipelines.defs.partitions import as_of_partitions

NIGHTLY_JOB = "nightly"

nightly_job = dg.define_asset_job(
    NIGHTLY_JOB,
    selection=dg.AssetSelection.all(),
    partitions_def=as_of_partitions,
    description="Ingest tonight's landing files, apply the rules, publish the candidate lists.",
    # One process: the graph is a chain, DuckDB parallelizes inside each query, and the run's
    # warehouse lock is held once for the whole run.
    executor_def=dg.in_process_executor,
)
