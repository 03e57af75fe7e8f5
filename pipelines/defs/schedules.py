"""The nightly schedule, built from the partitioned job (no hand-written cron logic)."""

import dagster as dg

from pipelines.defs.jobs import nightly_job

# 02:00 Pacific: runs the partition for the day that just ended (yesterday's as-of date).
nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_job,
    name="nightly_schedule",
    hour_of_day=2,
    minute_of_hour=0,
    description="Every night at 02:00 America/Los_Angeles, for the day that just ended.",
)
