"""Run the nightly job in this process: what the CLI, the benchmark and the tests call."""

from __future__ import annotations

import dagster as dg

from pipelines.defs import build_definitions
from pipelines.defs.jobs import NIGHTLY_JOB
from pipelines.defs.resources import PipelineSettings


def execute_nightly(
    settings: PipelineSettings,
    as_of: str,
    *,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "INFO",
) -> dg.ExecuteInProcessResult:
    """The same job the schedule runs, bound to `settings`, for partition `as_of`."""
    job = build_definitions(settings).resolve_job_def(NIGHTLY_JOB)
    return job.execute_in_process(
        partition_key=as_of,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )


def failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    """Asset checks that ran and failed (a failed blocking check also skips what follows)."""
    return [
        e.asset_check_evaluation_data.asset_check_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.asset_check_evaluation_data.passed
    ]


def succeeded(result: dg.ExecuteInProcessResult) -> bool:
    return result.success and not failed_checks(result)


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    """The errors behind a failed run, first line each, without repeats (the same error is
    reported by the step, the resource and the run)."""
    messages: list[str] = []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is None:
            continue
        message = error.message.strip().splitlines()[-1] if error.message.strip() else ""
        if message and message not in messages:
            messages.append(message)
    return messages
