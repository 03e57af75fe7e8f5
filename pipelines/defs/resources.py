"""Resources: where tonight's files land, where the warehouse and publications live."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines.defs.warehouse_resource import RunWarehouse
from pipelines.paths import EXPECTATIONS_DIR, ROOT, SAMPLE_DIR


class PipelineSettings(dg.ConfigurableResource):
    """Paths of one deployment. Defaults run the shipped sample from the repo root."""

    landing_dir: str = str(SAMPLE_DIR)
    output_dir: str = str(ROOT / "out")
    warehouse_path: str = str(ROOT / "warehouse" / "ecm.duckdb")
    # The quality suites; a plan may point this at stricter copies of expectations/.
    expectations_dir: str = str(EXPECTATIONS_DIR)
    # Member-hash buckets of the rules stage (docs/scale_out.md); 1 builds in one step.
    buckets: int = 1
    # Dagster executor of the nightly job: in_process | multiprocess | k8s | celery.
    executor: str = "in_process"

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
    def work_warehouse(self) -> Path:
        """The run's own database (one writer); analysts never open it."""
        return self.warehouse.with_suffix(".work.duckdb")


def settings_from_env() -> PipelineSettings:
    """Settings for `dagster dev` and the schedule: ECM_* environment variables override."""
    defaults = PipelineSettings()
    return PipelineSettings(
        landing_dir=os.environ.get("ECM_LANDING_DIR", defaults.landing_dir),
        output_dir=os.environ.get("ECM_OUTPUT_DIR", defaults.output_dir),
        warehouse_path=os.environ.get("ECM_WAREHOUSE", defaults.warehouse_path),
        buckets=int(os.environ.get("ECM_BUCKETS", defaults.buckets)),
        executor=os.environ.get("ECM_EXECUTOR", defaults.executor),
    )


def duckdb_config() -> dict[str, object]:
    """DuckDB limits: spill to disk instead of dying on a large night."""
    return {
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
