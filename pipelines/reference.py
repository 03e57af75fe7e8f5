"""Reference code lists (reference/*.csv) and their sources and versions (code_lists.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from pipelines.paths import REFERENCE_DIR

REF_SCHEMA = "ref"


@dataclass(frozen=True)
class CodeList:
    name: str
    path: Path
    source: str
    version: str


@cache
def code_lists(directory: Path = REFERENCE_DIR) -> dict[str, CodeList]:
    with open(directory / "code_lists.toml", "rb") as f:
        raw = tomllib.load(f)
    return {
        name: CodeList(name, directory / spec["file"], spec["source"], spec["version"])
        for name, spec in raw.items()
    }


def read_code_list(name: str) -> pl.DataFrame:
    """A code list with every column as text: codes keep their leading zeros."""
    return pl.read_csv(code_lists()[name].path, infer_schema=False)


def codes(name: str, code_system: str | None = None) -> list[str]:
    df = read_code_list(name)
    if code_system is not None:
        df = df.filter(pl.col("code_system") == code_system)
    return df["code"].to_list()


def load_reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Load every code list into schema `ref`, plus `ref.code_list_versions`."""
    con.execute(f"create schema if not exists {REF_SCHEMA}")
    versions = []
    for cl in code_lists().values():
        df = read_code_list(cl.name)  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f"create or replace table {REF_SCHEMA}.{cl.name} as select * from df")
        versions.append(
            {"code_list": cl.name, "file": cl.path.name, "source": cl.source, "version": cl.version}
        )
    versions_df = pl.DataFrame(versions)  # noqa: F841
    con.execute(
        f"create or replace table {REF_SCHEMA}.code_list_versions as select * from versions_df"
    )
