"""Run the nightly job in this process (what the CLI, the benchmark and the tests call), and
read what a run found from its events: failed checks with their reasons, tonight's accounting.
"""

from __future__ import annotations

import dagster as dg

from pipelines.config import load_gates
from pipelines.defs import build_definitions
from pipelines.defs.jobs import NIGHTLY_JOB
from pipelines.defs.resources import PipelineSettings
from pipelines.gates import TierOverride

RAW_LANDING = "raw_landing"


def run_tags(settings: PipelineSettings) -> dict[str, str]:
    """Tags that record a run's overrides where the UI and the run history show them."""
    override = TierOverride(settings.max_tier_change_percent, settings.allow_tier_change)
    described = override.describe(load_gates())
    return {"ecm/tier_change_override": described} if described else {}


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
        tags=run_tags(settings),
    )


def _evaluations(result: dg.ExecuteInProcessResult) -> list:
    return [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]


def failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    """Asset checks that ran and failed (a failed blocking check also skips what follows)."""
    return [e.asset_check_key.to_user_string() for e in _evaluations(result) if not e.passed]


def check_failures(result: dg.ExecuteInProcessResult) -> list[tuple[str, list[str]]]:
    """(check, reason lines) of every failed check: the gate or suite, its figure, the file
    and rows concerned, and what to do, as the check described it."""
    return [
        (e.asset_check_key.to_user_string(), (e.description or "").splitlines())
        for e in _evaluations(result)
        if not e.passed
    ]


def gate_results(result: dg.ExecuteInProcessResult) -> list[dict]:
    """Every gate the run evaluated, with its figure and threshold (from the checks' metadata)."""
    gates: list[dict] = []
    for e in _evaluations(result):
        if "gates" in e.metadata:
            gates.extend(e.metadata["gates"].value)
    return gates


def landing_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """The raw_landing materialization's metadata: tonight's files by state and rows."""
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.to_user_string() == (
            RAW_LANDING
        ):
            return {k: v.value for k, v in e.event_specific_data.materialization.metadata.items()}
    return {}


def succeeded(result: dg.ExecuteInProcessResult) -> bool:
    return result.success and not failed_checks(result)


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
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
