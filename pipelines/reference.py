"""Reference code lists (reference/*.csv[.gz]) and their provenance (reference/code_lists.toml).

The published value sets the rules use are shipped in the repository (a user's machine has no
sources folder): each list records its source, version, licence, row count and the sha256 of
its CSV text, and the lists built from a published file also record that file's sha256.

    python -m pipelines.reference build --sources DIR   # rebuild reference/ from the sources
    python -m pipelines.reference check [--sources DIR] # shipped files match code_lists.toml
                                                        # (and, with DIR, their sources)

Files over 1 MB are shipped gzip-compressed (no timestamp, so a rebuild is byte-identical);
sha256 is taken over the uncompressed CSV text.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from pipelines.paths import REFERENCE_DIR

REF_SCHEMA = "ref"
MANIFEST = "code_lists.toml"
GZIP_OVER_BYTES = 1_000_000


@dataclass(frozen=True)
class CodeList:
    name: str
    path: Path
    source: str
    version: str
    licence: str = ""
    rows: int | None = None
    sha256: str | None = None
    source_file: str | None = None
    source_sha256: str | None = None


@dataclass(frozen=True)
class Derivation:
    """How a shipped list is derived from a published source file: which columns, renamed."""

    source_file: str
    columns: dict[str, str]  # source column -> shipped column, in shipped order


# The shipped lists built from ../shared/reference_sources (SOURCES.md there). Codes lose
# dots and are upper-cased; every other value is copied as published.
DERIVED: dict[str, Derivation] = {
    "dhcs_avoidable_ed_diagnoses": Derivation(
        "dhcs_avoidable_ed_icd10.csv", {"icd_10_cm": "code", "description": "description"}
    ),
    "nyu_ed_classification": Derivation(
        "nyu_johnston_icd10.csv",
        {
            "icd10": "code",
            "edcnnpa": "edcnnpa",
            "edcnpa": "edcnpa",
            "epct": "epct",
            "noner": "noner",
            "injury": "injury",
            "psych": "psych",
            "alcohol": "alcohol",
            "drug": "drug",
        },
    ),
    "pra_always_planned_procedure_ccs": Derivation(
        "cms_pra_v4_always_planned_ccs_procedure_category.csv",
        {"ccs_procedure_category": "ccs_category", "description": "description"},
    ),
    "pra_always_planned_diagnosis_ccs": Derivation(
        "cms_pra_v4_always_planned_ccs_diagnosis_category.csv",
        {"ccs_diagnosis_category": "ccs_category", "description": "description"},
    ),
    "pra_potentially_planned_procedure_ccs": Derivation(
        "cms_pra_v4_potentially_planned_ccs_procedure_category.csv",
        {"ccs_procedure_category": "ccs_category", "description": "description"},
    ),
    "pra_potentially_planned_procedures": Derivation(
        "cms_pra_v4_potentially_planned_icd_10_pcs.csv",
        {"icd_10_pcs": "code", "description": "description"},
    ),
    "pra_acute_diagnosis_ccs": Derivation(
        "cms_pra_v4_acute_diagnosis_ccs.csv",
        {"ccs_diagnosis_category": "ccs_category", "description": "description"},
    ),
    "pra_acute_diagnoses": Derivation(
        "cms_pra_v4_acute_diagnosis_icd_10_cm.csv",
        {"icd_10_cm": "code", "description": "description"},
    ),
    "ccs_icd10cm": Derivation(
        "ahrq_ccs_icd10cm_2019_1.csv", {"icd_10_cm": "code", "ccs_category": "ccs_category"}
    ),
    "ccs_icd10pcs": Derivation(
        "ahrq_ccs_icd10pcs_2019_1.csv", {"icd_10_pcs": "code", "ccs_category": "ccs_category"}
    ),
}


def _read_manifest(directory: Path) -> dict[str, dict]:
    with open(directory / MANIFEST, "rb") as f:
        return tomllib.load(f)


@cache
def code_lists(directory: Path = REFERENCE_DIR) -> dict[str, CodeList]:
    return {
        name: CodeList(
            name=name,
            path=directory / spec["file"],
            source=spec["source"],
            version=spec["version"],
            licence=spec.get("licence", ""),
            rows=spec.get("rows"),
            sha256=spec.get("sha256"),
            source_file=spec.get("source_file"),
            source_sha256=spec.get("source_sha256"),
        )
        for name, spec in _read_manifest(directory).items()
    }


def _csv_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8")


@cache
def read_code_list(name: str) -> pl.DataFrame:
    """A code list with every column as text: codes keep their leading zeros."""
    return pl.read_csv(io.StringIO(_csv_text(code_lists()[name].path)), infer_schema=False)


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
            {
                "code_list": cl.name,
                "file": cl.path.name,
                "source": cl.source,
                "version": cl.version,
                "licence": cl.licence,
                "rows": cl.rows,
            }
        )
    versions_df = pl.DataFrame(versions)  # noqa: F841
    con.execute(
        f"create or replace table {REF_SCHEMA}.code_list_versions as select * from versions_df"
    )


# ---- build and check -----------------------------------------------------------------------


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _derive(source: Path, derivation: Derivation) -> str:
    """The shipped CSV text of one list: the chosen columns, renamed, codes without dots."""
    with open(source, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(derivation.columns.values())
    for row in rows:
        values = []
        for src, dst in derivation.columns.items():
            value = row[src].strip()
            if dst == "code":
                value = value.replace(".", "").upper()
            values.append(value)
        writer.writerow(values)
    return out.getvalue()


def _write(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)


def _toml_value(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _write_manifest(directory: Path, lists: dict[str, dict]) -> None:
    header = [
        line
        for line in (directory / MANIFEST).read_text().splitlines()
        if line.startswith("#") and line
    ]
    body = []
    for name, spec in lists.items():
        body.append(f"\n[{name}]")
        body += [f"{key} = {_toml_value(value)}" for key, value in spec.items()]
    (directory / MANIFEST).write_text("\n".join(header + body) + "\n")


def build(sources: Path, directory: Path = REFERENCE_DIR) -> list[str]:
    """Rebuild every derived list from `sources` and refresh rows and sha256 of every list."""
    lists = _read_manifest(directory)
    built = []
    for name, spec in lists.items():
        if name in DERIVED:
            derivation = DERIVED[name]
            source = sources / derivation.source_file
            text = _derive(source, derivation)
            compressed = len(text.encode("utf-8")) > GZIP_OVER_BYTES
            stem = name + ".csv"
            spec["file"] = stem + ".gz" if compressed else stem
            for old in (directory / stem, directory / (stem + ".gz")):
                if old.name != spec["file"] and old.exists():
                    old.unlink()
            _write(directory / spec["file"], text)
            spec["source_file"] = derivation.source_file
            spec["source_sha256"] = hashlib.sha256(source.read_bytes()).hexdigest()
            built.append(name)
        text = _csv_text(directory / spec["file"])
        spec["rows"] = text.count("\n") - 1
        spec["sha256"] = sha256_text(text)
    _write_manifest(directory, lists)
    code_lists.cache_clear()
    read_code_list.cache_clear()
    return built


def check(directory: Path = REFERENCE_DIR, sources: Path | None = None) -> list[str]:
    """Every way the shipped lists differ from code_lists.toml (and from `sources`)."""
    problems = []
    lists = _read_manifest(directory)
    for name, spec in lists.items():
        for key in ("file", "source", "version", "licence", "rows", "sha256"):
            if key not in spec:
                problems.append(f"{MANIFEST} [{name}]: no {key}")
        path = directory / spec.get("file", "")
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        text = _csv_text(path)
        rows = text.count("\n") - 1
        if rows != spec.get("rows"):
            problems.append(f"{path}: {rows} rows, {MANIFEST} says {spec.get('rows')}")
        if sha256_text(text) != spec.get("sha256"):
            problems.append(f"{path}: sha256 differs from {MANIFEST}")
        if name in DERIVED and spec.get("source_file") != DERIVED[name].source_file:
            problems.append(f"{MANIFEST} [{name}]: source_file is not {DERIVED[name].source_file}")
        if sources is not None and name in DERIVED:
            source = sources / DERIVED[name].source_file
            if not source.is_file():
                problems.append(f"{source}: missing")
                continue
            if hashlib.sha256(source.read_bytes()).hexdigest() != spec.get("source_sha256"):
                problems.append(f"{source}: sha256 differs from {MANIFEST} source_sha256")
            if _derive(source, DERIVED[name]) != text:
                problems.append(f"{path}: differs from what {source.name} builds")
    for name in DERIVED:
        if name not in lists:
            problems.append(f"{MANIFEST}: no [{name}]")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.reference", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build_p = sub.add_parser("build", help="rebuild reference/ from a sources folder")
    build_p.add_argument("--sources", type=Path, required=True)
    check_p = sub.add_parser("check", help="verify reference/ against code_lists.toml")
    check_p.add_argument("--sources", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        for name in build(args.sources):
            cl = code_lists()[name]
            print(f"{name:40} {cl.rows:>7,} rows  {cl.path.name}")
        return 0
    problems = check(sources=args.sources)
    for problem in problems:
        print(problem)
    print("reference/ matches code_lists.toml" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
