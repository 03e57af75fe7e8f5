"""The nightly run is partitioned by as-of date: the day whose claims picture it publishes."""

import dagster as dg

TIMEZONE = "America/Los_Angeles"

as_of_partitions = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone=TIMEZONE)
