"""Dagster definitions, one module per kind of thing (assets, checks, jobs, schedules...)."""

from __future__ import annotations

import dagster as dg

from pipelines.defs import ingest_assets, publish_assets, rules_assets
from pipelines.defs.jobs import nightly_job
from pipelines.defs.resources import PipelineSettings, make_resources, settings_from_env
from pipelines.defs.schedules import nightly_schedule
from pipelines.defs.sensors import landing_sensor

MODULES = [ingest_assets, rules_assets, publish_assets]


def build_definitions(settings: PipelineSettings | None = None) -> dg.Definitions:
    """All definitions bound to one deployment's paths (the CLI passes its own)."""
    return dg.Definitions(
        assets=dg.load_assets_from_modules(MODULES),
        asset_checks=dg.load_asset_checks_from_modules(MODULES),
        jobs=[nightly_job],
        schedules=[nightly_schedule],
        sensors=[landing_sensor],
        resources=make_resources(settings or settings_from_env()),
    )
