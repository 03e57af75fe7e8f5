"""The bad-input corpus: each landing problem ends with an exact reason, column and row."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipelines.ingest import reconcile
from tests.ingest_helpers import (
    HEADER,
    claim,
    counts,
    ingest,
    quarantine,
    write_csv,
    write_csv_gz,
    write_parquet,
)


def _ledger(con, name: str) -> tuple:
    return con.execute(
        "select status, error, rows_read, rows_loaded, rows_quarantined from raw.load_ledger "
        "where source_file = ?",
        [name],
    ).fetchone()


def test_missing_required_column_rejects_the_file_and_others_still_load(tmp_path, landing):
    header = [h for h in HEADER if h != "member_id"]
    write_csv(landing / "medical_claims_a.csv", [claim()], header=header)
    write_csv(landing / "medical_claims_b.csv", [claim(claim_id="C2")])
    con, report = ingest(tmp_path / "w.duckdb", landing)

    rejected = report.rejected
    assert [f.name for f in rejected] == ["medical_claims_a.csv"]
    assert rejected[0].error == "medical_claims_a.csv: required column 'member_id' is missing"
    assert _ledger(con, "medical_claims_a.csv") == ("rejected", rejected[0].error, 0, 0, 0)
    assert quarantine(con) == [("medical_claims_a.csv", 0, "member_id", None, "missing_column")]
    assert _ledger(con, "medical_claims_b.csv")[0] == "loaded"
    assert con.execute("select claim_id from raw.medical_claims").fetchall() == [("C2",)]
    assert reconcile(con) == []


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("service_from_date", "11/21/2026", "bad_date"),
        ("service_from_date", "2026-02-30", "bad_date"),
        ("service_to_date", "2026-1-5", "bad_date"),
        ("paid_amount", "12,50 USD", "bad_decimal"),
        ("paid_amount", "1.005", "value_does_not_fit"),
        ("claim_line_number", "two", "bad_integer"),
        ("claim_line_number", "1.5", "bad_integer"),
        ("bill_type", "11", "bad_format"),
        ("bill_type", "1A1", "bad_format"),
        ("bill_type", "01111", "bad_format"),
        ("revenue_code", "04500", "bad_length"),
        ("claim_type", "Institutional", "not_allowed"),
        ("member_id", "   ", "missing_required"),
        ("bill_type", "", "missing_required"),
    ],
)
def test_bad_value_quarantines_the_row(tmp_path, landing, column, value, reason):
    rows = [
        claim(),
        claim(**{"claim_line_number": "2", column: value}),
        claim(claim_line_number="3"),
    ]
    write_csv(landing / "medical_claims_x.csv", rows)
    con, report = ingest(tmp_path / "w.duckdb", landing)

    original = value or None  # an empty CSV field is read as null
    assert quarantine(con) == [("medical_claims_x.csv", 2, column, original, reason)]
    loaded = con.execute(
        "select _source_row from raw.medical_claims order by _source_row"
    ).fetchall()
    assert loaded == [(1,), (3,)]
    f = report.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (3, 2, 1)
    row_json = con.execute("select row_json from raw.quarantine").fetchone()[0]
    assert f'"{column}":"{value}"' in row_json if value else f'"{column}":null' in row_json
    assert reconcile(con) == []


def test_several_bad_columns_are_one_quarantined_row(tmp_path, landing):
    write_csv(
        landing / "medical_claims_x.csv",
        [claim(service_from_date="2026-13-01", paid_amount="abc", bill_type="11")],
    )
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert quarantine(con) == [
        ("medical_claims_x.csv", 1, "bill_type", "11", "bad_format"),
        ("medical_claims_x.csv", 1, "paid_amount", "abc", "bad_decimal"),
        ("medical_claims_x.csv", 1, "service_from_date", "2026-13-01", "bad_date"),
    ]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (1, 0, 1)
    assert reconcile(con) == []


def test_a_repeated_key_in_a_file_is_quarantined_across_files_the_later_corrects(tmp_path, landing):
    """In one file a key with two contents is ambiguous: the first stands, the repeat is
    quarantined; an identical repeat is a duplicate (not an error). A later file (the next
    in the delivery, by name) re-delivering a key corrects it: the earlier row is kept in raw
    but superseded (raw.superseded_rows), and staging reads the later one."""
    write_csv(
        landing / "medical_claims_1.csv",
        [
            claim(paid_amount="1"),
            claim(claim_line_number="2"),
            claim(paid_amount="3"),
            claim(claim_line_number="2"),
        ],
    )
    write_csv(
        landing / "medical_claims_2.csv",
        [claim(claim_id="C9"), claim(claim_line_number="01", paid_amount="4")],
    )
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert quarantine(con) == [
        ("medical_claims_1.csv", 3, "claim_id,claim_line_number", "C1|1", "duplicate_key"),
    ]
    assert con.execute(
        "select source_file, source_row, by_source_file, by_source_row, reason "
        "from raw.superseded_rows order by all"
    ).fetchall() == [
        ("medical_claims_1.csv", 1, "medical_claims_2.csv", 2, "correction"),
        ("medical_claims_1.csv", 4, "medical_claims_1.csv", 2, "duplicate"),
    ]
    in_force = con.execute(
        "select claim_id, claim_line_number, paid_amount::varchar, _source_file "
        "from raw.rows_in_force('medical_claims') order by all"
    ).fetchall()
    assert in_force == [
        ("C1", 1, "4.00", "medical_claims_2.csv"),
        ("C1", 2, "125.50", "medical_claims_1.csv"),
        ("C9", 1, "125.50", "medical_claims_2.csv"),
    ]
    assert [
        (f.rows_loaded, f.rows_quarantined, f.rows_superseded, f.rows_duplicate)
        for f in report.files
    ] == [(3, 1, 0, 1), (2, 0, 1, 0)]
    assert reconcile(con) == []


def test_empty_file_is_rejected_with_a_clear_reason(tmp_path, landing):
    (landing / "medical_claims_empty.csv").write_bytes(b"")
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert report.rejected[0].error == (
        "medical_claims_empty.csv: the file is empty (0 bytes, no header)"
    )
    assert quarantine(con) == [("medical_claims_empty.csv", 0, None, None, "empty_file")]


def test_header_only_file_loads_zero_rows(tmp_path, landing):
    write_csv(landing / "medical_claims_h.csv", [], header=HEADER)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert _ledger(con, "medical_claims_h.csv") == ("loaded", None, 0, 0, 0)
    assert counts(con) == (0, 0, 1)
    assert reconcile(con) == []


def test_non_utf8_row_is_quarantined_and_later_rows_keep_their_numbers(tmp_path, landing):
    body = (
        ",".join(HEADER)
        + "\n"
        + "C1,1,M1,institutional,111,0450,,2026-03-04,,J45909,1\n"
        + "C2,1,M\xe9,institutional,111,0450,,2026-03-04,,J45909,1\n"
        + "C3,1,M3,institutional,111,0450,,2026-03-04,,J45909,1\n"
    ).encode("latin-1")
    (landing / "medical_claims_latin1.csv").write_bytes(body)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    rows = quarantine(con)
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("medical_claims_latin1.csv", 2, "member_id", "bad_encoding")
    ]
    assert rows[0][3] == "C2,1,M\\xe9,institutional,111,0450,,2026-03-04,,J45909,1"
    loaded = con.execute("select claim_id, _source_row from raw.medical_claims order by 2")
    assert loaded.fetchall() == [("C1", 1), ("C3", 3)]
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 2, 1)
    assert reconcile(con) == []


def test_row_with_wrong_number_of_fields_is_unparseable(tmp_path, landing):
    body = (
        ",".join(HEADER)
        + "\n"
        + 'C1,1,M1,institutional,111,0450,,2026-03-04,,"J45\n909",1\n'
        + "C2,1,M2,institutional,111\n"
        + "C3,1,M3,institutional,111,0450,,2026-03-04,,J45909,1,extra\n"
        + "C4,1,M4,institutional,111,0450,,2026-03-04,,J45909,1\n"
    ).encode()
    (landing / "medical_claims_ragged.csv").write_bytes(body)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    rows = quarantine(con)
    assert [(r[1], r[3], r[4]) for r in rows] == [
        (2, "C2,1,M2,institutional,111", "wrong_field_count"),
        (3, "C3,1,M3,institutional,111,0450,,2026-03-04,,J45909,1,extra", "wrong_field_count"),
    ]
    loaded = con.execute("select claim_id, _source_row from raw.medical_claims order by 2")
    assert loaded.fetchall() == [("C1", 1), ("C4", 4)]
    assert reconcile(con) == []


def test_gzip_csv_loads_normally(tmp_path, landing):
    write_csv_gz(landing / "medical_claims_z.csv.gz", [claim(), claim(claim_line_number="2")])
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert report.files[0].file_format == "csv.gz"
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 2, 0)


def test_parquet_with_strings_for_typed_columns(tmp_path, landing):
    table = pa.table(
        {
            "claim_id": ["C1", "C1", "C1"],
            "claim_line_number": ["1", "x", "3"],
            "member_id": ["M1", "M1", "M1"],
            "claim_type": ["professional"] * 3,
            "place_of_service": ["23", "23", "3"],
            "service_from_date": ["2026-03-04", "2026-03-04", "2026-03-05"],
            "principal_diagnosis_code": ["J45909"] * 3,
            "paid_amount": [1.5, 2.0, 3.25],
        }
    )
    write_parquet(landing / "medical_claims_p.parquet", table)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert quarantine(con) == [
        ("medical_claims_p.parquet", 2, "claim_line_number", "x", "bad_integer")
    ]
    loaded = con.execute(
        "select claim_line_number, place_of_service, service_from_date::varchar, "
        "service_to_date::varchar, paid_amount::varchar, _source_row "
        "from raw.medical_claims order by _source_row"
    ).fetchall()
    assert loaded == [
        (1, "23", "2026-03-04", "2026-03-04", "1.50", 1),
        (3, "03", "2026-03-05", "2026-03-05", "3.25", 3),
    ]
    assert reconcile(con) == []


def test_parquet_native_types_and_timestamps_at_midnight(tmp_path, landing):
    import datetime as dt

    table = pa.table(
        {
            "claim_id": ["C1", "C2"],
            "claim_line_number": pa.array([1, 1], pa.int32()),
            "member_id": ["M1", "M2"],
            "claim_type": ["professional"] * 2,
            "place_of_service": ["23", "23"],
            "service_from_date": pa.array(
                [dt.datetime(2026, 3, 4), dt.datetime(2026, 3, 4, 12, 30)], pa.timestamp("us")
            ),
            "principal_diagnosis_code": ["J45909"] * 2,
            "revenue_code": pa.array([450, None], pa.int64()),
        }
    )
    write_parquet(landing / "medical_claims_n.parquet", table)
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    assert quarantine(con) == [
        ("medical_claims_n.parquet", 2, "service_from_date", "2026-03-04 12:30:00", "bad_date")
    ]
    loaded = con.execute(
        "select revenue_code, service_from_date::varchar from raw.medical_claims"
    ).fetchall()
    assert loaded == [("0450", "2026-03-04")]


def test_unknown_extra_column_is_kept_in_extra(tmp_path, landing):
    rows = [dict(claim(), plan_note="see file"), dict(claim(claim_line_number="2"), plan_note="")]
    write_csv(landing / "medical_claims_e.csv", rows)
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    extras = con.execute(
        "select _extra['plan_note'] from raw.medical_claims order by _source_row"
    ).fetchall()
    assert extras == [("see file",), (None,)]


def test_codes_are_normalized(tmp_path, landing):
    write_csv(
        landing / "medical_claims_n.csv",
        [
            claim(revenue_code="450", member_id="  M1 ", service_to_date=""),
            claim(
                claim_line_number="2",
                claim_type="professional",
                bill_type="",
                revenue_code="",
                place_of_service="3",
            ),
        ],
    )
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    assert quarantine(con) == []
    loaded = con.execute(
        "select member_id, bill_type, revenue_code, place_of_service, "
        "service_to_date::varchar from raw.medical_claims order by _source_row"
    ).fetchall()
    assert loaded == [
        ("M1", "111", "0450", None, "2026-03-04"),
        ("M1", None, None, "03", "2026-03-05"),
    ]


def test_eligibility_booleans(tmp_path, landing):
    header = ["member_id", "enrollment_start_date", "birth_date", "in_ecm", "hospice"]
    rows = [
        dict(zip(header, ["M1", "2025-01-01", "1960-05-06", "Y", "false"], strict=True)),
        dict(zip(header, ["M2", "2025-01-01", "1960-05-06", "maybe", ""], strict=True)),
    ]
    write_csv(landing / "eligibility_2026.csv", rows, header=header)
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    assert quarantine(con) == [("eligibility_2026.csv", 2, "in_ecm", "maybe", "bad_boolean")]
    assert con.execute("select in_ecm, hospice, pace from raw.eligibility").fetchall() == [
        (True, False, None)
    ]
