"""Real-world deliveries (issue 8): every landing entry ends the night in one recorded state,
with a reason a person understands."""

from __future__ import annotations

import gzip
import os
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import pipelines.ingest.files as files_module
from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from tests.ingest_helpers import claim, csv_bytes, ingest, write_csv, write_parquet


def _night(con, run_id: str | None = None) -> list[tuple]:
    """(entry, kind, state, reason) of every landing entry of the newest (or given) run."""
    run = (
        run_id
        or con.execute(
            "select run_id from raw.night_files order by recorded_at desc limit 1"
        ).fetchone()[0]
    )
    return con.execute(
        "select entry_name, kind, state, reason from raw.night_files where run_id = ? "
        "order by entry_name",
        [run],
    ).fetchall()


def _message(con, entry: str) -> str:
    return con.execute(
        "select message from raw.night_files where entry_name = ? order by recorded_at desc",
        [entry],
    ).fetchone()[0]


def test_kind_matching_is_case_insensitive(tmp_path, landing):
    write_csv(landing / "Medical_Claims_part2.csv", [claim()])
    write_csv(landing / "MEDICAL_CLAIMS_3.CSV", [claim(claim_id="C3")])
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert [(f.name, f.kind, f.status) for f in report.files] == [
        ("MEDICAL_CLAIMS_3.CSV", "medical_claims", "loaded"),
        ("Medical_Claims_part2.csv", "medical_claims", "loaded"),
    ]
    assert con.execute("select count(*) from raw.medical_claims").fetchone() == (2,)


def test_every_entry_gets_a_state_with_a_reason(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", [claim()])
    write_csv(landing / "claims_2026-10.csv", [claim(claim_id="C9")])
    with zipfile.ZipFile(landing / "medical_claims_2.csv.zip", "w") as z:
        z.writestr("medical_claims_2.csv", csv_bytes([claim(claim_id="C2")]))
    (landing / "medical_claims_3.7z").write_bytes(b"7z\xbc\xaf\x27\x1c")
    (landing / "medical_claims_4.xlsx").write_bytes(b"PK")
    (landing / "medical_claims_old").mkdir()
    (landing / "medical_claims_5.csv").symlink_to(landing / "gone.csv")
    (landing / "truth.parquet").write_bytes(b"PAR1")
    (landing / "README.txt").write_text("notes")
    (landing / ".DS_Store").write_bytes(b"\0")
    (landing / "notes.md").write_text("notes")

    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert _night(con) == [
        (".DS_Store", None, "ignored", "hidden"),
        ("README.txt", None, "ignored", "documentation"),
        ("claims_2026-10.csv", None, "rejected", "unknown_kind"),
        ("medical_claims_1.csv", "medical_claims", "loaded", None),
        ("medical_claims_2.csv.zip", "medical_claims", "rejected", "unsupported_compression"),
        ("medical_claims_3.7z", "medical_claims", "rejected", "unsupported_compression"),
        ("medical_claims_4.xlsx", "medical_claims", "rejected", "unsupported_format"),
        ("medical_claims_5.csv", "medical_claims", "rejected", "dangling_link"),
        ("medical_claims_old", "medical_claims", "rejected", "not_a_file"),
        ("notes.md", None, "ignored", "documentation"),
        ("truth.parquet", None, "ignored", "ground_truth"),
    ]
    assert _message(con, "claims_2026-10.csv") == (
        "claims_2026-10.csv: the name does not start with a landing kind (care_management_status,"
        " eligibility, medical_claims; any case)"
    )
    assert _message(con, "medical_claims_5.csv") == (
        "medical_claims_5.csv: a link to a file that does not exist"
    )
    assert report.ignored == [".DS_Store", "README.txt", "notes.md", "truth.parquet"]
    assert con.execute("select count(*) from raw.medical_claims").fetchone() == (1,)
    assert reconcile(con) == []


def test_a_file_without_read_permission_is_rejected_not_a_stack_trace(
    tmp_path, landing, monkeypatch
):
    locked = write_csv(landing / "medical_claims_locked.csv", [claim()])
    write_csv(landing / "medical_claims_ok.csv", [claim(claim_id="C2")])
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads anything: refuse the open as the kernel would
        real_open = open

        def refusing_open(path, *args, **kwargs):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(files_module, "open", refusing_open, raising=False)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert _night(con) == [
        ("medical_claims_locked.csv", "medical_claims", "rejected", "no_permission"),
        ("medical_claims_ok.csv", "medical_claims", "loaded", None),
    ]
    assert "file permissions" in _message(con, "medical_claims_locked.csv")


@pytest.mark.parametrize(
    ("delimiter", "called"), [("|", "a pipe (|)"), ("\t", "a tab"), (";", "a semicolon (;)")]
)
def test_wrong_delimiter_is_named(tmp_path, landing, delimiter, called):
    text = csv_bytes([claim()]).decode().replace(",", delimiter)
    (landing / "medical_claims_1.csv").write_text(text)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    (f,) = report.files
    assert (f.status, f.reason) == ("rejected", "wrong_delimiter")
    assert f.error == (
        f"medical_claims_1.csv: the fields are separated by {called}, not a comma; deliver "
        "comma-separated CSV"
    )
    assert _night(con)[0][2:] == ("rejected", "wrong_delimiter")


def test_bad_encoding_and_corrupt_compression(tmp_path, landing):
    (landing / "medical_claims_latin1.csv").write_bytes(
        csv_bytes([claim()]).replace(b"claim_id", b"claim_id\xe9", 1)
    )
    (landing / "medical_claims_gz.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate")
    whole = gzip.compress(csv_bytes([claim(claim_id=f"C{i}") for i in range(5000)]))
    (landing / "medical_claims_cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    assert [row[2:] for row in _night(con)] == [
        ("rejected", "corrupt_compression"),
        ("rejected", "corrupt_compression"),
        ("rejected", "bad_encoding"),
    ]


@pytest.mark.parametrize(
    ("column", "array", "stored"),
    [
        ("service_from_date", pa.array([20260304], pa.int64()), "BIGINT"),
        ("member_id", pa.array([1001], pa.int64()), "BIGINT"),
        (
            "member_id",
            pa.array([{"id": "M1"}], pa.struct([("id", pa.string())])),
            "STRUCT(id VARCHAR)",
        ),
    ],
)
def test_parquet_column_of_the_wrong_type_rejects_the_file_naming_both_types(
    tmp_path, landing, column, array, stored
):
    row = claim()
    table = pa.table({k: pa.array([v]) for k, v in row.items()})
    table = table.set_column(table.schema.get_field_index(column), column, array)
    write_parquet(landing / "medical_claims_typed.parquet", table)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    (f,) = report.files
    assert (f.status, f.reason) == ("rejected", "wrong_type")
    assert f.error.startswith(
        f"medical_claims_typed.parquet: column '{column}' is stored as {stored};"
    )
    expected = "date (DATE)" if column.endswith("date") else "string (VARCHAR)"
    assert f"the contract reads it as {expected}" in f.error
    assert con.execute("select count(*) from raw.medical_claims").fetchone() == (0,)


def test_parquet_conversions_the_contract_defines_load(tmp_path, landing):
    """A digit code stored as an integer is padded back; a midnight timestamp is a date."""
    row = claim(place_of_service="", revenue_code="0450")
    table = pa.table({k: pa.array([v]) for k, v in row.items()})
    table = table.set_column(
        table.schema.get_field_index("revenue_code"), "revenue_code", pa.array([450], pa.int32())
    )
    table = table.set_column(
        table.schema.get_field_index("service_from_date"),
        "service_from_date",
        pa.array([pa.scalar(1772582400000000, pa.timestamp("us"))]),
    )
    write_parquet(landing / "medical_claims_typed.parquet", table)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert report.files[0].status == "loaded", report.files[0].error
    assert con.execute(
        "select revenue_code, service_from_date::varchar from raw.medical_claims"
    ).fetchall() == [("0450", "2026-03-04")]


def test_the_sensor_sees_every_entry_not_only_known_kinds(landing):
    from pipelines.defs.sensors import landing_snapshot

    (landing / "claims_2026-10.csv").write_text("x")
    (landing / "medical_claims_dir").mkdir()
    (landing / "medical_claims_5.csv").symlink_to(landing / "gone.csv")
    (landing / "README").write_text("x")
    (landing / ".hidden").write_text("x")
    assert sorted(landing_snapshot(landing)) == [
        "claims_2026-10.csv",
        "medical_claims_5.csv",
        "medical_claims_dir",
    ]


def test_a_rejected_entry_blocks_the_night_until_it_is_removed(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", [claim()])
    (landing / "claims_2026-10.csv").write_text("x")
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    (landing / "claims_2026-10.csv").unlink()
    ingest_landing(con, landing, run_id="night-2")
    assert _night(con, "night-2") == [
        ("medical_claims_1.csv", "medical_claims", "already_loaded", None)
    ]


def _rows_of(con) -> list[tuple]:
    return con.execute(
        "select claim_id, _source_row from raw.medical_claims order by _source_row"
    ).fetchall()


def test_an_unterminated_quote_is_quarantined_alone_and_the_rest_loads(tmp_path, landing):
    lines = csv_bytes([claim(claim_id=f"C{i}") for i in range(1, 11)]).decode().splitlines()
    lines[3] = lines[3].replace("C3,", '"C3,', 1)  # data row 3 opens a quote it never closes
    (landing / "medical_claims_q.csv").write_text("\n".join(lines) + "\n")
    con, report = ingest(tmp_path / "w.duckdb", landing)
    (f,) = report.files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (10, 9, 1)
    assert [r[1] for r in _rows_of(con)] == [1, 2, 4, 5, 6, 7, 8, 9, 10]
    assert con.execute(
        "select source_row, reason, original_value, row_json from raw.quarantine"
    ).fetchall() == [
        (3, "unterminated_quote", lines[3], '{"line": 4, "fields": null, "expected": 11}')
    ]
    assert reconcile(con) == []


def test_a_record_with_the_wrong_field_count_is_quarantined_with_its_line(tmp_path, landing):
    rows = [claim(claim_id=f"C{i}", note=f"n{i}") for i in range(1, 6)]
    rows[3]["note"] = "a note\nwith a line break"  # quoted: a legal break inside a record
    text = csv_bytes(rows).decode()
    text = text.replace(",n2\n", ",n2,extra\n").replace(",n3\n", ",n3\n\n")
    (landing / "medical_claims_f.csv").write_text(text)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    (f,) = report.files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (5, 4, 1)
    assert _rows_of(con) == [("C1", 1), ("C3", 3), ("C4", 4), ("C5", 5)]
    assert con.execute(
        "select _extra['note'] from raw.medical_claims where claim_id = 'C4'"
    ).fetchone() == ("a note\nwith a line break",)
    (q,) = con.execute("select source_row, reason, row_json from raw.quarantine").fetchall()
    assert q == (2, "wrong_field_count", '{"line": 3, "fields": 13, "expected": 12}')
    assert reconcile(con) == []


def test_malformed_records_and_parser_rejects_together_keep_their_rows(tmp_path, landing):
    lines = csv_bytes([claim(claim_id=f"C{i}") for i in range(1, 9)]).decode().splitlines()
    lines[2] = lines[2].replace("C2,", '"C2,', 1)  # unterminated: row 2
    lines[5] = lines[5] + ",x"  # wrong field count: row 5
    body = ("\n".join(lines) + "\n").encode().replace(b"C7,", b"C7\xff,", 1)  # bad byte: row 7
    (landing / "medical_claims_m.csv").write_bytes(body)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    (f,) = report.files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (8, 5, 3)
    assert [r[1] for r in _rows_of(con)] == [1, 3, 4, 6, 8]
    assert con.execute(
        "select source_row, reason from raw.quarantine order by source_row"
    ).fetchall() == [(2, "unterminated_quote"), (5, "wrong_field_count"), (7, "bad_encoding")]
    assert reconcile(con) == []


def test_parquet_rows_are_counted_from_the_footer(tmp_path, landing):
    from pipelines.ingest.records import count_records

    table = pa.table({k: pa.array([v] * 7) for k, v in claim().items()})
    path = write_parquet(landing / "medical_claims_p.parquet", table)
    assert count_records(path, "parquet") == 7
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert (report.files[0].rows_read, report.files[0].rows_loaded) == (7, 7)


# Row rules and real-world tolerance (issue 8 items 3 and 4).


def _span(**overrides: str) -> dict[str, str]:
    row = {
        "member_id": "M1",
        "enrollment_start_date": "2025-01-01",
        "enrollment_end_date": "",
        "birth_date": "1980-05-05",
        "death_date": "",
    }
    row.update(overrides)
    return row


def _quarantined(con) -> list[tuple]:
    return con.execute(
        "select source_file, source_row, column_name, reason from raw.quarantine "
        "order by source_file, source_row, column_name"
    ).fetchall()


def _warnings(con) -> list[tuple]:
    return con.execute(
        "select source_file, source_row, column_name, reason from raw.row_warnings "
        "order by source_file, source_row, reason"
    ).fetchall()


@pytest.mark.parametrize("fast_path", [True, False])
def test_row_rules_quarantine_or_warn_naming_column_and_reason(tmp_path, landing, fast_path):
    write_csv(
        landing / "medical_claims_1.csv",
        [
            claim(claim_id="C1"),
            claim(claim_id="C2", service_from_date="2026-03-05", service_to_date="2026-03-04"),
            claim(claim_id="C3", admission_date="2026-03-04", discharge_date="2026-03-03"),
            claim(claim_id="C4", principal_diagnosis_code=""),
            claim(claim_id="C5\x00", member_id="M5"),
            claim(claim_id="C6", member_id="M\t6"),
            claim(claim_id="C7", admission_date="2026-03-04", discharge_date="2026-03-04"),
        ],
        header=[*claim(), "admission_date", "discharge_date"],
    )
    write_csv(
        landing / "eligibility_1.csv",
        [
            _span(member_id="E1"),
            _span(member_id="E2", enrollment_end_date="2024-12-31"),
            _span(member_id="E3", death_date="1979-01-01"),
            _span(member_id="E4", birth_date="2026-02-01", enrollment_end_date="2025-12-31"),
            _span(member_id="E5", birth_date="2025-01-20"),
            _span(member_id="E6", enrollment_end_date="9999-12-31"),
            _span(member_id="E7", birth_date="2025-03-01"),  # adult enrolled before birth
        ],
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = ingest_landing(con, landing, IngestSettings(run_quality=False, fast_path=fast_path))
    assert _quarantined(con) == [
        ("eligibility_1.csv", 2, "enrollment_end_date", "end_before_start"),
        ("eligibility_1.csv", 3, "death_date", "death_before_birth"),
        ("eligibility_1.csv", 4, "birth_date", "born_after_enrollment_end"),
        ("eligibility_1.csv", 7, "birth_date", "born_after_enrollment_start"),
        ("medical_claims_1.csv", 2, "service_to_date", "to_before_from"),
        ("medical_claims_1.csv", 3, "discharge_date", "discharge_before_admission"),
        ("medical_claims_1.csv", 5, "claim_id", "control_character"),
        ("medical_claims_1.csv", 6, "member_id", "control_character"),
    ]
    assert _warnings(con) == [
        ("eligibility_1.csv", 5, "birth_date", "born_in_enrollment_start_month"),
        ("medical_claims_1.csv", 4, "principal_diagnosis_code", "missing_principal_diagnosis"),
    ]
    by_name = {f.name: f for f in report.files}
    assert (
        by_name["medical_claims_1.csv"].rows_loaded,
        by_name["medical_claims_1.csv"].rows_warned,
    ) == (3, 1)
    assert (by_name["eligibility_1.csv"].rows_loaded, by_name["eligibility_1.csv"].rows_warned) == (
        3,
        1,
    )
    assert con.execute(
        "select member_id, enrollment_end_date from raw.eligibility order by member_id"
    ).fetchall() == [("E1", None), ("E5", None), ("E6", None)]  # 9999-12-31: open
    assert con.execute(
        "select entry_name, rows_warned from raw.night_files order by entry_name"
    ).fetchall() == [("eligibility_1.csv", 1), ("medical_claims_1.csv", 1)]
    assert reconcile(con) == []


@pytest.mark.parametrize("fast_path", [True, False])
def test_codes_are_normalized_and_bill_types_take_letters(tmp_path, landing, fast_path):
    write_csv(
        landing / "medical_claims_1.csv",
        [
            claim(claim_id="C1", bill_type="13I", principal_diagnosis_code="j45.909"),
            claim(claim_id="C2", bill_type="0111", principal_diagnosis_code=" R07 .89"),
            claim(claim_id="C3", bill_type="11i", principal_diagnosis_code="I10"),
            claim(claim_id="C4", bill_type="0131"),
        ],
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = ingest_landing(con, landing, IngestSettings(run_quality=False, fast_path=fast_path))
    assert report.files[0].rows_loaded == 4
    assert con.execute(
        "select claim_id, bill_type, principal_diagnosis_code from raw.medical_claims "
        "order by claim_id"
    ).fetchall() == [
        ("C1", "13I", "J45909"),
        ("C2", "111", "R0789"),
        ("C3", "11I", "I10"),
        ("C4", "131", "J45909"),
    ]


def test_a_parquet_decimal_that_does_not_fit_is_quarantined_never_rounded(tmp_path, landing):
    import decimal

    values = [decimal.Decimal("12.3400"), decimal.Decimal("12.3456")]
    table = pa.table(
        {
            **{k: pa.array([v, v]) for k, v in claim().items() if k != "claim_line_number"},
            "claim_line_number": pa.array([1, 2], pa.int64()),
        }
    )
    table = table.set_column(
        table.schema.get_field_index("paid_amount"),
        "paid_amount",
        pa.array(values, pa.decimal128(12, 4)),
    )
    write_parquet(landing / "medical_claims_d.parquet", table)
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert con.execute("select paid_amount::varchar from raw.medical_claims").fetchall() == [
        ("12.34",)
    ]
    assert con.execute(
        "select source_row, column_name, original_value, reason from raw.quarantine"
    ).fetchall() == [(2, "paid_amount", "12.3456", "value_does_not_fit")]


def test_a_file_that_cannot_be_read_when_hashed_is_rejected(tmp_path, landing, monkeypatch):
    """Listed, then unreadable by the time it is hashed (removed or locked meanwhile)."""
    import pipelines.ingest.load as load_module

    write_csv(landing / "medical_claims_1.csv", [claim()])
    write_csv(landing / "medical_claims_2.csv", [claim(claim_id="C2")])
    real = load_module.snapshot

    def locked(path):
        if path.name == "medical_claims_1.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(load_module, "snapshot", locked)
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    assert _night(con) == [
        ("medical_claims_1.csv", "medical_claims", "rejected", "no_permission"),
        ("medical_claims_2.csv", "medical_claims", "loaded", None),
    ]


def test_reconcile_finds_a_superseded_row_missing_from_raw(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", [claim(paid_amount="1")])
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    write_csv(landing / "medical_claims_2.csv", [claim(paid_amount="2")])
    ingest_landing(con, landing, IngestSettings(run_quality=False))
    assert reconcile(con) == []
    gone = con.execute(
        "delete from raw.raw_files where file_sha256 = (select file_sha256 from raw.load_ledger "
        "where source_file = 'medical_claims_1.csv') returning path"
    ).fetchall()
    for (path,) in gone:
        Path(path).unlink()
    assert "medical_claims_1.csv: 1 superseded rows are no longer in raw" in reconcile(con)
