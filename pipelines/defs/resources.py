"""Resources: where tonight's files land, where the warehouse and publications live."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines.defs.warehouse_resource import RunWarehouse
from pipelines.paths import EXPECTATIONS_DIR, ROOT, SAMPLE_DIR
from pipelines.warehouse import STORAGE_CONFIG


class PipelineSettings(dg.ConfigurableResource):
    """Paths of one deployment. Defaults run the shipped sample from the repo root."""

    landing_dir: str = str(SAMPLE_DIR)
    output_dir: str = str(ROOT / "out")
    warehouse_path: str = str(ROOT / "warehouse" / "ecm.duckdb")
    # The raw layer's Parquet files (pipelines/ingest/raw_layer.py); empty: raw/ beside the
    # warehouse. A local folder here; any URL DuckDB reads and writes in production.
    raw_dir: str = ""
    # The quality suites; a plan may point this at stricter copies of expectations/.
    expectations_dir: str = str(EXPECTATIONS_DIR)
    # Member-hash buckets of the rules stage (docs/scale_out.md); 1 builds in one step.
    buckets: int = 1
    # Dagster executor of the nightly job: in_process | multiprocess | k8s | celery.
    executor: str = "in_process"
    # Per-run overrides of the tier-change gate (the CLI's --max-tier-change and
    # --allow-tier-change); None / False: config/rules.toml [gates] applies.
    max_tier_change_percent: float | None = None
    allow_tier_change: bool = False

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


# Environment variables of the settings, by field (README "Settings").
ENVIRONMENT = {
    "landing_dir": "ECM_LANDING_DIR",
    "output_dir": "ECM_OUTPUT_DIR",
    "warehouse_path": "ECM_WAREHOUSE",
    "raw_dir": "ECM_RAW_DIR",
    "expectations_dir": "ECM_EXPECTATIONS_DIR",
    "buckets": "ECM_BUCKETS",
    "executor": "ECM_EXECUTOR",
}


def settings_from_env(**overrides: object) -> PipelineSettings:
    """The one way settings are built (CLI, schedule, sensor, UI, benchmark): defaults, then
    ECM_* environment variables, then explicit overrides (CLI flags; None means not given)."""
    fields = {
        field: os.environ[variable]
        for field, variable in ENVIRONMENT.items()
        if os.environ.get(variable)
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return PipelineSettings(**fields)
    except Exception as error:  # pydantic names the field; say which variable set it
        names = ", ".join(f"{f} ({ENVIRONMENT.get(f, 'flag')})" for f in fields)
        raise ValueError(f"invalid settings among {names}: {error}") from None


def duckdb_config() -> dict[str, object]:
    """DuckDB limits (spill to disk instead of dying on a large night), and the storage
    version the analysts' CLI reads."""
    return {
        **STORAGE_CONFIG,
        "memory_limit": os.environ.get("ECM_DUCKDB_MEMORY_LIMIT", "6GB"),
        "threads": int(os.environ.get("ECM_DUCKDB_THREADS", len(os.sched_getaffinity(0)))),
    }


def make_resources(settings: PipelineSettings) -> dict[str, object]:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        "settings": settings,
        "duckdb": RunWarehouse(
            database=str(settings.work_warehouse), connection_config=duckdb_config()
        ),
    }
