"""The nightly schedule: 02:00 Pacific, for the day that just ended.

Not `build_schedule_from_partitioned_job`: the partitions run through today (so an operator
can run today's date by hand), and a schedule built from them would run the day that has
just begun instead of the one that just ended.
"""

import dagster as dg

from pipelines.defs.jobs import nightly_job
from pipelines.defs.partitions import TIMEZONE, previous_day


@dg.schedule(
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE,
    name="nightly_schedule",
    description="Every night at 02:00 America/Los_Angeles, for the day that just ended.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    as_of = previous_day(context.scheduled_execution_time)
    return dg.RunRequest(run_key=as_of, partition_key=as_of)
