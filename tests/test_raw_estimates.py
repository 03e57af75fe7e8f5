"""The raw views give DuckDB's planner a row estimate no smaller than the rows they hold.

DuckDB estimates a file list's rows from its first file. With a night's small corrections
file listed first, the claims view was taken for a few thousand rows at 1M members, so the
in-force anti-join built its hash table on every claim line and ran out of memory."""

from __future__ import annotations

import hashlib
import re

import duckdb

from pipelines.warehouse import connect
from tests.ingest_helpers import claim, csv_bytes, ingest

BIG = 3000


def _estimate(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    plan = con.execute(f"explain {sql}").fetchall()[0][1]
    return max(int(n.replace(",", "")) for n in re.findall(r"~([\d,]+) rows", plan))


def test_a_small_file_listed_first_does_not_shrink_the_estimate(tmp_path, landing):
    big = csv_bytes(
        [claim(member_id=f"M{m}", claim_id=f"C{m}", claim_line_number="1") for m in range(BIG)]
    )
    # One line per storage bucket (members M0.. cover all 16), with content chosen so that its
    # sha256, hence each of its Parquet files, sorts before the big file's in every bucket.
    members = [f"M{m}" for m in range(64)]
    for cents in range(1000):
        small = csv_bytes(
            [claim(member_id=m, claim_id=f"X{m}", paid_amount=f"1.{cents:02d}") for m in members]
        )
        if hashlib.sha256(small).hexdigest() < hashlib.sha256(big).hexdigest():
            break
    (landing / "medical_claims_history.csv").write_bytes(big)
    (landing / "medical_claims_night.csv").write_bytes(small)
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    rows = con.execute("select count(*) from raw.medical_claims").fetchone()[0]
    assert rows == BIG + len(members)
    assert _estimate(con, "select * from raw.medical_claims") >= rows
    plan = con.execute(
        "explain select count(*) from raw.rows_in_force('medical_claims') "
        "where service_from_date >= date '2000-01-01'"
    ).fetchall()[0][1]
    assert "RIGHT_ANTI" not in plan  # the anti-join's hash table holds the few superseded rows


def test_warehouse_joins_build_on_the_side_the_sql_names(tmp_path, landing):
    """The diagnosis fill's IN (lines without a diagnosis) and the in-force anti-join build
    their hash tables on the sides the SQL names, whatever the estimates say
    (warehouse.PLANNER_CONFIG): here DuckDB's own choice builds on the claim lines."""
    members = 5000
    lines = [
        claim(member_id=f"M{m}", claim_id=f"C{m}", claim_line_number=str(n))
        for m in range(members)
        for n in (1, 2)
    ]
    lines.append(claim(claim_id="C7", claim_line_number="3", principal_diagnosis_code=""))
    corrections = [
        claim(member_id=f"M{m}", claim_id=f"C{m}", claim_line_number="1", paid_amount="9.99")
        for m in range(0, members, 5)
    ]
    (landing / "medical_claims_1.csv").write_bytes(csv_bytes(lines))
    (landing / "medical_claims_2_corrections.csv").write_bytes(csv_bytes(corrections))
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    con.close()
    fill = (
        "select count(*) from raw.rows_in_force('medical_claims') "
        "where principal_diagnosis_code is not null and claim_id in ("
        "select claim_id from raw.rows_in_force('medical_claims') "
        "where principal_diagnosis_code is null)"
    )
    with connect(tmp_path / "w.duckdb") as con:
        assert con.execute("select count(*) from raw.superseded_rows").fetchone() == (1000,)
        assert con.execute(fill).fetchone() == (2,)
        plan = con.execute(f"explain {fill}").fetchall()[0][1]
        assert "RIGHT_" not in plan
