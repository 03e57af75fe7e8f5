"""The nightly job: every asset of the graph for one as-of date."""

import importlib

import dagster as dg

NIGHTLY_JOB = "nightly"

nightly_job = dg.define_asset_job(
    NIGHTLY_JOB,
    selection=dg.AssetSelection.all(),
    description="Ingest tonight's landing files, apply the rules, publish the candidate lists.",
    # The executor is the deployment's (PipelineSettings.executor, see executor_for): by default
    # one process, since the graph is a chain, DuckDB parallelizes inside each query, and the
    # run's warehouse lock is held once for the whole run. docs/scale_out.md has the others.
)

# Executors by setting name: (module, attribute). Cluster executors import only when chosen.
EXECUTORS = {
    "in_process": ("dagster", "in_process_executor"),
    "multiprocess": ("dagster", "multiprocess_executor"),
    "k8s": ("dagster_k8s", "k8s_job_executor"),
    "celery": ("dagster_celery", "celery_executor"),
}
# What the multiprocess executor's fork server imports before forking the steps.
FORKSERVER_PRELOAD = ["pipelines.defs"]


def executor_for(name: str) -> dg.ExecutorDefinition:
    """The executor a deployment names in ECM_EXECUTOR: switching it changes no logic."""
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; one of {', '.join(EXECUTORS)}")
    module, attribute = EXECUTORS[name]
    try:
        executor = getattr(importlib.import_module(module), attribute)
    except ImportError as error:
        raise ImportError(f"executor {name!r} needs the {module} package installed") from error
    if name == "multiprocess":
        # Each step forks from a server that imported the pipeline once, instead of spawning
        # an interpreter that imports Dagster, DuckDB and the pipeline again (seconds a step).
        return executor.configured(
            {"start_method": {"forkserver": {"preload_modules": FORKSERVER_PRELOAD}}}
        )
    return executor


def nightly_job_for(**settings: object) -> dg.JobDefinition:
    """The nightly job bound to explicit settings, rebuildable in another process.

    For dg.build_reconstructable_job: the multiprocess and cluster executors start each step
    in a new process, which rebuilds the job from this function and these keyword arguments.
    """
    from pipelines.defs import build_definitions
    from pipelines.defs.resources import PipelineSettings

    return build_definitions(PipelineSettings(**settings)).resolve_job_def(NIGHTLY_JOB)
