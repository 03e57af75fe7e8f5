"""Resources: where tonight's files land, where the warehouse and publications live."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import ValidationError, field_validator

from pipelines.defs.jobs import EXECUTORS
from pipelines.defs.warehouse_resource import RunWarehouse
from pipelines.paths import EXPECTATIONS_DIR, ROOT, SAMPLE_DIR
from pipelines.warehouse import CONNECTION_CONFIG, RAW_BUCKETS


class PipelineSettings(dg.ConfigurableResource):
    """Everything a run reads from its deployment: paths, buckets, executor, DuckDB limits and
    the run's gate overrides. Defaults run the shipped sample from the repo root."""

    landing_dir: str = str(SAMPLE_DIR)
    output_dir: str = str(ROOT / "out")
    warehouse_path: str = str(ROOT / "warehouse" / "ecm.duckdb")
    # The raw layer's Parquet files (pipelines/ingest/raw_layer.py); empty: raw/ beside the
    # warehouse. A local folder here; any URL DuckDB reads and writes in production.
    raw_dir: str = ""
    # The quality suites; a plan may point this at stricter copies of expectations/.
    expectations_dir: str = str(EXPECTATIONS_DIR)
    # Member-hash buckets of the rules stage (docs/scale_out.md); 1 builds in one step. A
    # divisor of the raw layer's RAW_BUCKETS storage buckets: rules bucket b reads the storage
    # buckets p with p % buckets == b.
    buckets: int = 1
    # Dagster executor of the nightly job: in_process | multiprocess | k8s | celery.
    executor: str = "in_process"
    # DuckDB limits of every connection the run opens: beyond the memory limit DuckDB spills
    # to a folder beside the database instead of dying on a large night. 0 threads: every
    # core this process may use. Buckets running at once share them (buckets.split_config).
    # 3GB: at 5M members 3.3 GiB peak RSS and no slower than 6GB (docs/benchmarks.md).
    duckdb_memory_limit: str = "3GB"
    duckdb_threads: int = 0
    # Per-run overrides of the tier-change gate (the CLI's --max-tier-change and
    # --allow-tier-change); None / False: config/rules.toml [gates] applies.
    max_tier_change_percent: float | None = None
    allow_tier_change: bool = False

    @field_validator("buckets")
    @classmethod
    def _buckets_divide_the_storage_buckets(cls, buckets: int) -> int:
        if buckets < 1 or RAW_BUCKETS % buckets:
            divisors = [d for d in range(1, RAW_BUCKETS + 1) if RAW_BUCKETS % d == 0]
            raise ValueError(
                f"{buckets} rules buckets do not divide the raw layer's {RAW_BUCKETS} storage "
                f"buckets; use one of {', '.join(map(str, divisors))}"
            )
        return buckets

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, executor: str) -> str:
        if executor not in EXECUTORS:
            raise ValueError(f"unknown executor {executor!r}; one of {', '.join(EXECUTORS)}")
        return executor

    @field_validator("duckdb_threads")
    @classmethod
    def _threads_not_negative(cls, threads: int) -> int:
        if threads < 0:
            raise ValueError(f"threads must be 0 (every core) or more, not {threads}")
        return threads

    def duckdb_config(self) -> dict[str, object]:
        """The config of every DuckDB connection of the run: its limits, the storage version
        the analysts' CLI reads, the planner's join sides (pipelines/warehouse.py)."""
        return {
            **CONNECTION_CONFIG,
            "memory_limit": self.duckdb_memory_limit,
            "threads": self.duckdb_threads or len(os.sched_getaffinity(0)),
        }

    def fields(self) -> dict[str, object]:
        """The settings as keyword arguments: what rebuilds them in another process (the
        multiprocess and cluster executors rebuild the job from them)."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)

    @property
    def output(self) -> Path:
        return Path(self.output_dir)

    @property
    def expectations(self) -> Path:
        return Path(self.expectations_dir)

    @property
    def warehouse(self) -> Path:
        """The analysts' database: replaced whole, atomically, after a successful run."""
        return Path(self.warehouse_path)

    @property
    def raw(self) -> Path:
        """The raw layer's folder, shared by the run's and the analysts' database."""
        return Path(self.raw_dir) if self.raw_dir else self.warehouse.parent / "raw"

    @property
    def work_warehouse(self) -> Path:
        """The run's own database (one writer); analysts never open it."""
        return self.warehouse.with_suffix(".work.duckdb")

    @property
    def stage(self) -> Path:
        """The ingest's staging folder (a CSV converted to Parquet, rows set aside): the run's
        own, beside its database and DuckDB's spill folder, so what a killed run left there
        is removed by the next run (it holds the warehouse's lock), never left in /tmp."""
        return Path(f"{self.work_warehouse}.stage")


# Environment variables of the settings, by field (README "Settings").
ENVIRONMENT = {
    "landing_dir": "ECM_LANDING_DIR",
    "output_dir": "ECM_OUTPUT_DIR",
    "warehouse_path": "ECM_WAREHOUSE",
    "raw_dir": "ECM_RAW_DIR",
    "expectations_dir": "ECM_EXPECTATIONS_DIR",
    "buckets": "ECM_BUCKETS",
    "executor": "ECM_EXECUTOR",
    "duckdb_memory_limit": "ECM_DUCKDB_MEMORY_LIMIT",
    "duckdb_threads": "ECM_DUCKDB_THREADS",
}


def settings_from_env(**overrides: object) -> PipelineSettings:
    """The one way settings are built (CLI, schedule, sensor, UI, benchmark): defaults, then
    ECM_* environment variables, then explicit overrides (CLI flags; None means not given)."""
    fields = {
        field: os.environ[variable]
        for field, variable in ENVIRONMENT.items()
        if os.environ.get(variable)
    }
    given = {k: v for k, v in overrides.items() if v is not None}
    fields.update(given)
    try:
        return PipelineSettings(**fields)
    except ValidationError as error:  # name the setting, who set it, its value and the rule
        problems = []
        for problem in error.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "settings"
            source = "given" if field in given else ENVIRONMENT.get(field, "default")
            message = str(problem["msg"]).removeprefix("Value error, ")
            problems.append(f"{field} ({source}) = {fields.get(field)!r}: {message}")
        raise ValueError("invalid settings: " + "; ".join(problems)) from None


def make_resources(settings: PipelineSettings) -> dict[str, object]:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        "settings": settings,
        "duckdb": RunWarehouse(
            database=str(settings.work_warehouse), connection_config=settings.duckdb_config()
        ),
    }
