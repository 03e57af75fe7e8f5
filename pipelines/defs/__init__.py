"""Dagster definitions, one module per kind of thing (assets, checks, jobs, schedules...)."""

from __future__ import annotations

import dagster as dg

from pipelines.defs import ingest_assets, publish_assets, rules_assets
from pipelines.defs.jobs import executor_for, nightly_job
from pipelines.defs.resources import PipelineSettings, make_resources, settings_from_env
from pipelines.defs.schedules import nightly_schedule
from pipelines.defs.sensors import landing_sensor

# rules_assets is built per deployment: its step layout depends on the bucket count.
MODULES = [ingest_assets, publish_assets]


def build_definitions(settings: PipelineSettings | None = None) -> dg.Definitions:
    """All definitions bound to one deployment's paths (the CLI passes its own)."""
    settings = settings or settings_from_env()
    return dg.Definitions(
        assets=[*dg.load_assets_from_modules(MODULES), rules_assets.rules_models_for(settings)],
        asset_checks=dg.load_asset_checks_from_modules(MODULES),
        jobs=[nightly_job],
        schedules=[nightly_schedule],
        sensors=[landing_sensor],
        resources=make_resources(settings),
        executor=executor_for(settings.executor),
    )
