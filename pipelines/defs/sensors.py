"""Start a run when new landing files arrive, once they have stopped changing."""

import datetime as dt
import hashlib
import json
from pathlib import Path

import dagster as dg

from pipelines.contract import ignore_rule_of
from pipelines.defs.jobs import nightly_job
from pipelines.defs.partitions import previous_day
from pipelines.defs.resources import PipelineSettings


def landing_snapshot(landing: Path) -> dict[str, list[int]]:
    """Name -> [size, mtime_ns] of every landing entry the night accounts for: any name, kind
    or not, file or not (a folder, a dangling link: the run records them as rejected). Only
    entries a documented rule ignores (hidden files, README, ...) are left out."""
    if not landing.is_dir():
        return {}
    snapshot = {}
    for p in sorted(landing.iterdir()):
        if ignore_rule_of(p.name) is not None:
            continue
        st = p.lstat()
        snapshot[p.name] = [st.st_size, st.st_mtime_ns]
    return snapshot


def fingerprint(snapshot: dict[str, list[int]]) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest()[:16]


@dg.sensor(job=nightly_job, minimum_interval_seconds=60, name="landing_sensor")
def landing_sensor(
    context: dg.SensorEvaluationContext, settings: PipelineSettings
) -> dg.SensorResult | dg.SkipReason:
    """The cursor holds the last snapshot seen and the last one run. A file still being
    written changes between two ticks, so a run starts only when two ticks agree."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    snapshot = landing_snapshot(settings.landing)
    current = fingerprint(snapshot)
    stable = cursor.get("seen") == current
    new_cursor = json.dumps({"seen": current, "ran": cursor.get("ran")})
    if not snapshot:
        return dg.SkipReason(f"no landing files in {settings.landing}")
    if not stable:
        return dg.SensorResult(
            skip_reason="landing files changed; waiting for them to settle", cursor=new_cursor
        )
    if cursor.get("ran") == current:
        return dg.SensorResult(skip_reason="no new landing files", cursor=new_cursor)
    as_of = previous_day(dt.datetime.now(dt.UTC))
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"{as_of}-{current}", partition_key=as_of)],
        cursor=json.dumps({"seen": current, "ran": current}),
    )
