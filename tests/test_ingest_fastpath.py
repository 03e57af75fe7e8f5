"""The fast path changes nothing: the same raw and quarantine rows as the full checks alone.

fastpath.py loads rows that look clean as delivered with plain casts and sends the rest
through validate.py. These tests load the same files twice, once with the fast path and once
with every row through the full checks (IngestSettings(fast_path=False)), and compare every
column of every raw and quarantine row.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from tests.ingest_helpers import csv_bytes, write_parquet

_VALUES = {
    "claim_id": st.sampled_from(["C1", "C2", "", " C3", "C3 "]),
    "claim_line_number": st.sampled_from(["1", "2", "01", "x", "", "-1", "1.0", " 2"]),
    "member_id": st.sampled_from(["M1", "", "  ", "M\t1"]),
    "claim_type": st.sampled_from(["institutional", "professional", "other", ""]),
    "claim_frequency_code": st.sampled_from(["1", "7", "8", "9", "", " 7"]),
    "bill_type": st.sampled_from(["111", "11", "1a1", "", " 111"]),
    "revenue_code": st.sampled_from(["450", "0450", "45", "04500", "abc", "", " 0450"]),
    "place_of_service": st.sampled_from(["3", "23", "230", "", "2 "]),
    "hcpcs_code": st.sampled_from(["99284", "9928", "G0381", ""]),
    "service_from_date": st.sampled_from(
        ["2026-03-04", "2026-02-30", "03/04/2026", "", "2026/03/04"]
    ),
    "service_to_date": st.sampled_from(["2026-03-05", "", "2026-1-1", "2026-03-05 "]),
    "discharge_status_code": st.sampled_from(["1", "01", "30", "001", "x1", ""]),
    "principal_diagnosis_code": st.sampled_from(["J45909", "", " J45909"]),
    "facility_npi": st.sampled_from(["1234567893", "123456789", "123456789X", ""]),
    "paid_amount": st.sampled_from(["1", "1.25", "1.255", "abc", "", "-3", " 4.5", "1e2"]),
    "plan_note": st.sampled_from(["", "x", " y "]),
}
_HEADER = list(_VALUES)


def _load(landing: Path, db: Path, fast_path: bool) -> tuple[list, list, list]:
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))
    ingest_landing(con, landing, IngestSettings(run_quality=False, fast_path=fast_path))
    assert reconcile(con) == []
    raw = con.execute(
        "select * exclude (_extra), _extra::varchar from raw.medical_claims "
        "order by _source_file, _source_row"
    ).fetchall()
    quarantined = con.execute("select * from raw.quarantine order by all").fetchall()
    ledger = con.execute(
        "select * exclude (loaded_at) from raw.load_ledger order by all"
    ).fetchall()
    con.close()
    return raw, quarantined, ledger


def _same_both_ways(landing: Path, tmp: Path) -> None:
    fast = _load(landing, tmp / "fast" / "w.duckdb", fast_path=True)
    full = _load(landing, tmp / "full" / "w.duckdb", fast_path=False)
    assert fast == full


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(st.lists(st.fixed_dictionaries(_VALUES), max_size=8), min_size=1, max_size=2))
def test_csv_fast_path_equals_full_checks(files):
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        landing.mkdir()
        for i, rows in enumerate(files):
            (landing / f"medical_claims_{i}.csv").write_bytes(csv_bytes(rows, _HEADER))
        _same_both_ways(landing, Path(tmp))


def test_parquet_native_and_text_columns_fast_path_equals_full_checks(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    n = 6
    write_parquet(
        landing / "medical_claims_n.parquet",
        pa.table(
            {
                "claim_id": ["C1", "C1", "C2", "C3", None, "C4"],
                "claim_line_number": pa.array([1, 2, 1, 1, 1, None], pa.int32()),
                "member_id": ["M1", " M1", "M2", "M3", "M4", "M5"],
                "claim_type": ["institutional", "professional"] * 3,
                "bill_type": ["111", None, None, None, "111", None],
                "revenue_code": pa.array([450, None, 1, 12345, 450, None], pa.int64()),
                "place_of_service": [None, "23", None, "3", None, "23"],
                "service_from_date": pa.array(
                    [dt.datetime(2026, 3, 4), dt.datetime(2026, 3, 4, 12)] * 3, pa.timestamp("us")
                ),
                "service_to_date": pa.array([None, dt.date(2026, 3, 5)] * 3, pa.date32()),
                "principal_diagnosis_code": ["J45909"] * n,
                "paid_date": ["2026-04-01", "2026-4-1", None, "", "x", "2026-04-02"],
                "paid_amount": pa.array(
                    [Decimal("1.50"), None, Decimal("-2.25"), Decimal("3.00"), None, None],
                    pa.decimal128(18, 2),
                ),
                "in_ecm": [True, False, None, True, False, None],
            }
        ),
    )
    write_parquet(
        landing / "medical_claims_o.parquet",
        pa.table(
            {
                "claim_id": ["C1", "C9"],
                "claim_line_number": pa.array([1.0, 1.5], pa.float64()),
                "member_id": ["M1", "M9"],
                "claim_type": ["professional"] * 2,
                "place_of_service": ["23", "23"],
                "service_from_date": ["2026-03-04", "2026-03-04"],
                "principal_diagnosis_code": ["J45909", "J45909"],
                "paid_amount": [1.5, 2.0],
            }
        ),
    )
    _same_both_ways(landing, tmp_path)
