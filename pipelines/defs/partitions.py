"""The nightly run is partitioned by as-of date: the day whose claims picture it publishes.

Any date from the earliest as-of date (ECM_EARLIEST_AS_OF, default 2000-01-01) through today
in Pacific time is a partition, so a backtest or the replay of a historical extract runs like
any night. Daily time-window partitions are computed, not stored: ~9,800 of them cost the UI
and a backfill nothing until a range is launched (a backfill launches one run per date).
`end_offset=1` makes today's date a partition (Dagster's default stops at yesterday).
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Callable
from zoneinfo import ZoneInfo

import dagster as dg

TIMEZONE = "America/Los_Angeles"
EARLIEST_AS_OF_ENV = "ECM_EARLIEST_AS_OF"
DEFAULT_EARLIEST_AS_OF = "2000-01-01"


def earliest_as_of() -> dt.date:
    """The first as-of date a deployment accepts (read once, when the definitions load)."""
    text = os.environ.get(EARLIEST_AS_OF_ENV) or DEFAULT_EARLIEST_AS_OF
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{EARLIEST_AS_OF_ENV} is not an ISO date (YYYY-MM-DD): {text!r}"
        ) from None


def today_pacific() -> dt.date:
    return dt.datetime.now(ZoneInfo(TIMEZONE)).date()


def previous_day(now: dt.datetime) -> str:
    """The as-of date of the night that just ended at `now` (Pacific)."""
    return (now.astimezone(ZoneInfo(TIMEZONE)).date() - dt.timedelta(days=1)).isoformat()


EARLIEST_AS_OF = earliest_as_of()

as_of_partitions = dg.DailyPartitionsDefinition(
    start_date=EARLIEST_AS_OF.isoformat(), timezone=TIMEZONE, end_offset=1
)


def as_of_problem(day: dt.date) -> str | None:
    """Why `day` cannot be an as-of date, or None when it can."""
    if day < EARLIEST_AS_OF:
        return (
            f"as-of {day} is before the earliest as-of date {EARLIEST_AS_OF} "
            f"(set {EARLIEST_AS_OF_ENV} to go further back)"
        )
    if day > (today := today_pacific()):
        return f"as-of {day} is after today ({today}, {TIMEZONE}): a night cannot be run ahead"
    return None


def partitioned_check(**kwargs: object) -> Callable[[Callable], dg.AssetChecksDefinition]:
    """`dg.asset_check` partitioned by as-of date, like the asset it checks.

    A blocking check of a partitioned asset must be partitioned to run in that partition's
    run, and Dagster 1.13 marks `partitions_def` on a check as preview: it warns on every
    import, so every command (`--help` included) printed it. We use it knowingly; this is the
    one place the preview API is called, and only that warning is silenced, only here.
    """

    def decorate(fn: Callable) -> dg.AssetChecksDefinition:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message="Specifying a partitions_def on an AssetCheckSpec",
                category=dg.PreviewWarning,
            )
            return dg.asset_check(partitions_def=as_of_partitions, **kwargs)(fn)

    return decorate
