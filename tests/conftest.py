"""Shared fixtures: one real nightly run on data/sample, reused by the end-to-end tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.resources import PipelineSettings
from pipelines.paths import SAMPLE_DIR
from pipelines.runner import execute_nightly

SAMPLE_AS_OF = "2026-11-21"


@dataclass(frozen=True)
class Deployment:
    """One deployment's folders under a test's tmp_path."""

    root: Path
    landing: Path = SAMPLE_DIR

    def settings(self, **overrides: object) -> PipelineSettings:
        return PipelineSettings(
            **{
                "landing_dir": str(self.landing),
                "output_dir": str(self.out),
                "warehouse_path": str(self.warehouse),
                **overrides,
            }
        )

    def run(self, as_of: str = SAMPLE_AS_OF, **overrides: object) -> dg.ExecuteInProcessResult:
        return execute_nightly(self.settings(**overrides), as_of, log_level="WARNING")

    def copy_to(self, root: Path) -> Deployment:
        """Another deployment starting from this one's state (warehouse and publications)."""
        shutil.copytree(self.root, root, symlinks=True)
        return Deployment(root, self.landing)

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def warehouse(self) -> Path:
        """The analysts' database (the run writes its own `.work.duckdb` beside it)."""
        return self.root / "warehouse" / "ecm.duckdb"


@pytest.fixture(autouse=True)
def _own_dagster_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run under test records to its own ephemeral instance, never to DAGSTER_HOME: `make
    test` exports the developer's (the UI's history), which the xdist workers would share."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    deployment = Deployment(tmp_path_factory.mktemp("sample_run"))
    result = deployment.run()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return deployment


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """An empty landing folder for one test."""
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


@pytest.fixture
def con(tmp_path: Path):
    """A connection to a new warehouse file (a file, not :memory:, as the pipeline uses)."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        yield connection
