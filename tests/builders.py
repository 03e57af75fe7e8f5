"""Hand-built members for rule tests: raw rows in, marts out.

Each test states a member in a few calls (an ED visit on a date, a stay from A to B, a void),
so the expected answer is obvious from the test itself. The builder writes the raw layer of a
real DuckDB file (the same tables ingest fills) and runs the real SQL models on it.
"""

from __future__ import annotations

import atexit
import dataclasses
import itertools
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.config import RuleConfig, load_rules
from pipelines.contract import (
    CARE_MANAGEMENT_STATUS,
    ELIGIBILITY,
    MEDICAL_CLAIMS,
    FileKind,
)
from pipelines.ingest.raw_layer import open_raw_layer, replace_rows
from pipelines.paths import EXPECTATIONS_DIR
from pipelines.rules.models import build_models
from pipelines.warehouse import create_raw_schema

AS_OF = date(2026, 6, 30)
ADULT_BIRTH = date(1980, 1, 15)
CHILD_BIRTH = date(2015, 1, 15)

AVOIDABLE_DX = "J069"  # acute URI: on the DHCS list; NYU figure 1.0
NOT_AVOIDABLE_DX = "S0990XA"  # head injury: not on the DHCS list; NYU: injury, not classified
ACUTE_DX = "I214"  # NSTEMI: CCS 100, an acute category (CMS PRA PR4)
CHEMO_DX = "Z5111"  # always planned
KNEE_REPLACEMENT = "0SRD0J9"  # CCS 152 arthroplasty knee: potentially planned (PR3)

_POLARS_TYPES = {
    "string": pl.Utf8,
    "integer": pl.Int64,
    "date": pl.Date,
    "decimal": pl.Float64,
    "boolean": pl.Boolean,
}


def _frame(kind: FileKind, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {c.name: _POLARS_TYPES[c.dtype] for c in kind.columns}
    unknown = {k for row in rows for k in row} - set(schema)
    if unknown:
        raise KeyError(f"not in the {kind.name} contract: {sorted(unknown)}")
    return pl.DataFrame(
        [{name: row.get(name) for name in schema} for row in rows], schema=schema, orient="row"
    )


@dataclass
class RawBuilder:
    """Raw rows for a handful of members; claim ids are generated unless given."""

    claims: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    eligibility: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _claim_id(self) -> str:
        return f"C{next(self._ids):07d}"

    def member(
        self,
        member_id: str,
        birth_date: date = ADULT_BIRTH,
        start: date = date(2020, 1, 1),
        end: date | None = None,
        **fields: Any,
    ) -> str:
        self.eligibility.append(
            {
                "member_id": member_id,
                "enrollment_start_date": start,
                "enrollment_end_date": end,
                "birth_date": birth_date,
                "sex": "F",
                "county": "Alameda",
                "plan_code": "P1",
                **fields,
            }
        )
        return member_id

    def claim(
        self,
        member_id: str,
        lines: list[dict[str, Any]],
        *,
        claim_id: str | None = None,
        **header: Any,
    ) -> str:
        """One claim: header fields repeated on every line, as extracts deliver them."""
        claim_id = claim_id or self._claim_id()
        first_day = min(line["service_from_date"] for line in lines)
        header.setdefault("paid_date", first_day + timedelta(days=30))
        header.setdefault("claim_frequency_code", "1")
        self.claims[claim_id] = [
            {
                "claim_id": claim_id,
                "claim_line_number": n,
                "member_id": member_id,
                "paid_amount": 100.0,
                **header,
                **line,
            }
            for n, line in enumerate(lines, start=1)
        ]
        return claim_id

    def ed_visit(
        self, member_id: str, day: date, dx: str = AVOIDABLE_DX, kind: str = "institutional"
    ) -> str:
        if kind == "institutional":
            line = {"bill_type": "131", "revenue_code": "0450", "hcpcs_code": "99283"}
        else:
            line = {"place_of_service": "23", "hcpcs_code": "99283"}
        return self.claim(
            member_id,
            [{**line, "service_from_date": day, "service_to_date": day}],
            claim_type=kind,
            principal_diagnosis_code=dx,
        )

    def stay(
        self,
        member_id: str,
        admit: date,
        discharge: date,
        *,
        setting: str = "hospital",
        dx: str = ACUTE_DX,
        procedure: str | None = None,
        admission_type: str = "1",
        status: str = "01",
        **fields: Any,
    ) -> str:
        return self.claim(
            member_id,
            [
                {
                    "revenue_code": "0120" if setting == "hospital" else "0190",
                    "service_from_date": admit,
                    "service_to_date": discharge,
                }
            ],
            claim_type="institutional",
            bill_type="111" if setting == "hospital" else "211",
            admission_date=admit,
            discharge_date=discharge,
            admission_type_code=admission_type,
            discharge_status_code=status,
            principal_diagnosis_code=dx,
            principal_procedure_code=procedure,
            **fields,
        )

    def void(self, claim_id: str, paid_date: date | None = None) -> str:
        return self._new_version(claim_id, "8", paid_date, {})

    def replace(self, claim_id: str, paid_date: date | None = None, **changes: Any) -> str:
        return self._new_version(claim_id, "7", paid_date, changes)

    def _new_version(
        self, claim_id: str, frequency: str, paid_date: date | None, changes: dict[str, Any]
    ) -> str:
        original = self.claims[claim_id]
        new_id = self._claim_id()
        paid = paid_date or (original[0]["paid_date"] + timedelta(days=30))
        self.claims[new_id] = [
            {
                **line,
                **changes,
                "claim_id": new_id,
                "claim_frequency_code": frequency,
                "original_claim_id": claim_id,
                "paid_date": paid,
            }
            for line in original
        ]
        return new_id

    def status(self, member_id: str, status: str, day: date) -> None:
        self.statuses.append({"member_id": member_id, "status": status, "status_date": day})

    def frames(self) -> dict[str, pl.DataFrame]:
        lines = [line for claim in self.claims.values() for line in claim]
        return {
            MEDICAL_CLAIMS.name: _frame(MEDICAL_CLAIMS, lines),
            ELIGIBILITY.name: _frame(ELIGIBILITY, self.eligibility),
            CARE_MANAGEMENT_STATUS.name: _frame(CARE_MANAGEMENT_STATUS, self.statuses),
        }


def write_raw(
    con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame], raw_dir: Path | None = None
) -> None:
    """Write frames as the raw layer's rows, with dummy lineage (as ingest would, minus the
    landing files); see write_raw_rows."""
    for kind, frame in frames.items():
        rows = frame.with_columns(
            pl.lit("0" * 64).alias("_file_sha256"),
            pl.lit(f"{kind}_test.csv").alias("_source_file"),
            pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_source_row"),
        )
        con.register("test_raw_rows", rows)
        try:
            write_raw_rows(con, kind, "test_raw_rows", raw_dir)
        finally:
            con.unregister("test_raw_rows")


def write_raw_rows(
    con: duckdb.DuckDBPyConnection, kind: str, rows: str, raw_dir: Path | None = None
) -> None:
    """Replace raw.<kind>'s rows with the relation `rows` (any of its columns; the others
    null): Parquet files of the raw layer listed in raw.raw_files, read through the view, as
    the ingest writes them. The raw folder defaults to raw/ beside a file warehouse, a
    temporary folder for :memory:."""
    if raw_dir is None and _is_in_memory(con):
        create_raw_schema(con)
        recorded = con.execute("select min(raw_dir) from raw.raw_layout").fetchone()[0]
        if recorded is None:
            recorded = tempfile.mkdtemp(prefix="ecm_test_raw_")
            atexit.register(shutil.rmtree, recorded, ignore_errors=True)
        raw_dir = Path(recorded)
    replace_rows(con, kind, rows, open_raw_layer(con, raw_dir))


def _is_in_memory(con: duckdb.DuckDBPyConnection) -> bool:
    return not con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()[0]


def build(
    builder: RawBuilder,
    path: Path | str = ":memory:",
    as_of: date = AS_OF,
    rules: RuleConfig | None = None,
) -> duckdb.DuckDBPyConnection:
    """Write the builder's rows and run every model; returns the open connection."""
    con = duckdb.connect(str(path))
    write_raw(con, builder.frames())
    build_models(con, as_of, rules or load_rules())
    return con


def with_ed_measure(
    rules: RuleConfig, ed_measure: str, nyu_method: str = "threshold"
) -> RuleConfig:
    return dataclasses.replace(
        rules,
        adult=dataclasses.replace(rules.adult, ed_measure=ed_measure, nyu_method=nyu_method),
    )


def query(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    """A query's result as a Polars frame, fully fetched (DuckDB 2 keeps partial results open)."""
    return con.sql(sql).pl()


def mart_rows(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, dict[str, Any]]:
    """A member-keyed mart as {member_id: row}."""
    frame = query(con, f"select * from {table}")
    return {row["member_id"]: row for row in frame.iter_rows(named=True)}


def stricter_suites(folder: Path, suite: str, column: str, value_set: list[str]) -> Path:
    """A copy of expectations/ in `folder` whose `suite` also requires `column` in
    `value_set` (a plan's stricter suites, ECM_EXPECTATIONS_DIR)."""
    shutil.copytree(EXPECTATIONS_DIR, folder)
    path = folder / f"{suite}.json"
    spec = json.loads(path.read_text())
    spec["expectations"].append(
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": column, "value_set": value_set},
            "meta": {},
        }
    )
    path.write_text(json.dumps(spec))
    return folder
