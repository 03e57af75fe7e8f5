"""The code location `dagster dev` loads (see [tool.dagster] in pyproject.toml)."""

from pipelines.defs import build_definitions

defs = build_definitions()
