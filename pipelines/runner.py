"""Run the nightly job (what the CLI, the benchmark and the tests call) under the deployment's
executor, and read what a run found from its events: failed checks with their reasons,
tonight's accounting.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from pipelines.config import load_gates
from pipelines.defs import build_definitions
from pipelines.defs.jobs import NIGHTLY_JOB
from pipelines.defs.resources import PipelineSettings
from pipelines.gates import TierOverride
from pipelines.paths import ROOT

RAW_LANDING = "raw_landing"
IN_PROCESS = "in_process"
# What a run returns, in this process (execute_in_process) or from the executor (execute_job).
RunResult = dg.ExecuteInProcessResult | dg.JobExecutionResult


def run_tags(settings: PipelineSettings) -> dict[str, str]:
    """Tags that record a run's overrides where the UI and the run history show them."""
    override = TierOverride(settings.max_tier_change_percent, settings.allow_tier_change)
    described = override.describe(load_gates())
    return {"ecm/tier_change_override": described} if described else {}


@contextmanager
def nightly_instance(
    settings: PipelineSettings, use_dagster_home: bool = True
) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance a run records to: DAGSTER_HOME's when set (the run shows in the
    UI); else an ephemeral one in memory, or, for an executor that runs steps in other
    processes (they read the run from the instance), a temporary one on disk."""
    if use_dagster_home and os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        with dg.DagsterInstance.get() as instance:
            yield instance
    elif settings.executor == IN_PROCESS:
        with dg.DagsterInstance.ephemeral() as instance:
            yield instance
    else:
        with (
            tempfile.TemporaryDirectory(prefix="ecm-dagster-") as home,
            dg.DagsterInstance.local_temp(home) as instance,
        ):
            yield instance


def execute_nightly(
    settings: PipelineSettings,
    as_of: str,
    *,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "INFO",
) -> RunResult:
    """The same job the schedule runs, bound to `settings`, for partition `as_of`, under the
    settings' executor: in this process, or each step where the executor puts it (another
    process, a pod), the job rebuilt there from the same settings."""
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if settings.executor == IN_PROCESS:
        job = build_definitions(settings).resolve_job_def(NIGHTLY_JOB)
        return job.execute_in_process(
            partition_key=as_of,
            instance=instance or dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
            run_config=run_config,
            tags=run_tags(settings),
        )
    if instance is None or instance.is_ephemeral:
        raise ValueError(
            f"executor {settings.executor!r} runs steps in other processes, which read the run "
            "from a Dagster instance on disk: pass one (runner.nightly_instance)"
        )
    job = dg.build_reconstructable_job(
        "pipelines.defs.jobs",
        "nightly_job_for",
        reconstructable_kwargs=settings.fields(),
        reconstructor_working_directory=str(ROOT),
    )
    return dg.execute_job(
        job,
        instance=instance,
        run_config=run_config,
        tags={**run_tags(settings), "dagster/partition": as_of},
    )


def _evaluations(result: RunResult) -> list:
    return [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]


def failed_checks(result: RunResult) -> list[str]:
    """Asset checks that ran and failed (a failed blocking check also skips what follows)."""
    return [e.asset_check_key.to_user_string() for e in _evaluations(result) if not e.passed]


def check_failures(result: RunResult) -> list[tuple[str, list[str]]]:
    """(check, reason lines) of every failed check: the gate or suite, its figure, the file
    and rows concerned, and what to do, as the check described it."""
    return [
        (e.asset_check_key.to_user_string(), (e.description or "").splitlines())
        for e in _evaluations(result)
        if not e.passed
    ]


def gate_results(result: RunResult) -> list[dict]:
    """Every gate the run evaluated, with its figure and threshold (from the checks' metadata)."""
    gates: list[dict] = []
    for e in _evaluations(result):
        if "gates" in e.metadata:
            gates.extend(e.metadata["gates"].value)
    return gates


def landing_metadata(result: RunResult) -> dict[str, object]:
    """The raw_landing materialization's metadata: tonight's files by state and rows."""
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.to_user_string() == (
            RAW_LANDING
        ):
            return {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()}
    return {}


def succeeded(result: RunResult) -> bool:
    return result.success and not failed_checks(result)


def failure_messages(result: RunResult) -> list[str]:
    """The errors behind a failed run: the innermost cause's last line each (Dagster wraps a
    step's exception), without repeats (the step, the resource and the run report the same
    error) and without failed blocking checks (check_failures gives their reasons)."""
    messages: list[str] = []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and error.cause is not None:
            error = error.cause
        if error is None or error.cls_name == "DagsterAssetCheckFailedError":
            continue
        lines = error.message.strip().splitlines()
        message = lines[-1] if lines else error.cls_name
        if message not in messages:
            messages.append(message)
    return messages
