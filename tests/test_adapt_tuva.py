"""The Tuva input-layer adapter on small Tuva-shaped files with real-world quirks, then the real
ingest on what it wrote: every Tuva row is written or rejected, every written row is loaded
or quarantined with a reason.

The files follow the columns Tuva documents (see pipelines/adapt/tuva.toml for the source).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.adapt.tuva import (
    REJECTS_FILE,
    REPORT_DIR,
    REPORT_FILE,
    adapt_tuva,
    load_mapping,
    mapping_table_markdown,
    table_of,
)
from pipelines.cli import main
from pipelines.contract import ELIGIBILITY, MEDICAL_CLAIMS, Column
from pipelines.ingest import IngestSettings, ingest_landing
from pipelines.paths import ROOT

CLAIM_HEADER = [
    "claim_id", "claim_line_number", "claim_type", "person_id", "member_id", "payer", "plan",
    "claim_start_date", "claim_end_date", "claim_line_start_date", "claim_line_end_date",
    "admission_date", "discharge_date", "admit_type_code", "discharge_disposition_code",
    "place_of_service_code", "bill_type_code", "revenue_center_code", "hcpcs_code",
    "rendering_npi", "billing_npi", "facility_npi", "paid_date", "paid_amount",
    "diagnosis_code_type", "diagnosis_code_1", "diagnosis_code_2", "procedure_code_type",
    "procedure_code_1", "data_source", "plan_internal_note",
]  # fmt: skip

# person_id, member_id: P1/M1 ... One quirk per row, named in the first column's comment.
CLAIMS = [
    # ED visit on an inpatient claim: 4-character bill type, dotted diagnosis codes.
    ["C1", "1", "institutional", "P1", "M1", "Plan A", "HMO", "2026-03-04", "2026-03-06",
     "2026-03-04", "2026-03-04", "2026-03-04", "2026-03-06", "1", "01", "", "0111", "0450", "",
     "", "1234567890", "1234567893", "2026-04-01", "1500.00", "icd-10-cm", "J45.909", "r06.02",
     "icd-10-pcs", "", "claims_db", "note"],
    # Outpatient: bill type with a letter, empty admission/discharge, lower-case diagnosis.
    ["C2", "1", "institutional", "P2", "M2", "Plan A", "HMO", "2026-05-10", "2026-05-10",
     "2026-05-10", "2026-05-10", "", "", "", "", "", "13I", "0450", "99284", "", "", "",
     "2026-06-01", "310.10", "icd-10-cm", "r10.9", "", "", "", "claims_db", ""],
    # Professional ED line without line dates (claim dates used), capitalized claim type.
    ["C3", "1", "Professional", "P1", "M1", "Plan A", "HMO", "2026-07-01", "2026-07-01", "",
     "", "", "", "", "", "23", "", "", "99283", "1234567890", "", "", "2026-07-20", "95.00",
     "icd-10-cm", "S0990XA", "", "", "", "claims_db", ""],
    # A claim type our contract lacks.
    ["C4", "1", "dental", "P2", "M2", "Plan A", "HMO", "2026-07-02", "2026-07-02", "2026-07-02",
     "2026-07-02", "", "", "", "", "11", "", "", "D0120", "", "", "", "", "40.00", "icd-10-cm",
     "K02.9", "", "", "", "claims_db", ""],
    # ICD-9 diagnosis codes.
    ["C5", "1", "institutional", "P3", "M3", "Plan A", "HMO", "2015-06-01", "2015-06-03",
     "2015-06-01", "2015-06-03", "2015-06-01", "2015-06-03", "1", "01", "", "111", "0120", "",
     "", "", "", "2015-07-01", "900.00", "icd-9-cm", "493.90", "", "", "", "claims_db", ""],
    # Tuva's catch-all claim type.
    ["C6", "1", "undetermined", "P3", "M3", "Plan A", "HMO", "2026-08-01", "2026-08-01",
     "2026-08-01", "2026-08-01", "", "", "", "", "", "", "", "", "", "", "", "", "", "icd-10-cm",
     "Z00.00", "", "", "", "claims_db", ""],
    # Empty diagnosis_code_type (read as ICD-10-CM); ICD-9 procedure type but no procedure.
    ["C7", "1", "professional", "P2", "M2", "Plan A", "HMO", "2026-09-01", "2026-09-01",
     "2026-09-01", "2026-09-01", "", "", "", "", "11", "", "", "99213", "", "", "", "2026-09-15",
     "80.00", "", "I10", "", "icd-9-pcs", "", "claims_db", ""],
]  # fmt: skip

ELIG_HEADER = [
    "person_id", "member_id", "gender", "race", "birth_date", "death_date", "death_flag",
    "enrollment_start_date", "enrollment_end_date", "payer", "payer_type", "plan", "first_name",
    "last_name", "zip_code", "data_source",
]  # fmt: skip
ELIGIBILITY_ROWS = [
    ["P1", "M1", "female", "white", "1980-05-01", "", "0", "2025-01-01", "9999-12-31", "Plan A",
     "medicaid", "HMO", "Ann", "Able", "90001", "elig_db"],
    ["P2", "M2", "Male", "asian", "2012-02-29", "", "", "2025-06-01", "", "Plan A", "medicaid",
     "HMO", "Ben", "Baker", "90002", "elig_db"],
    ["P3", "M3", "x", "unknown", "1950-01-01", "", "1", "2024-01-01", "2026-06-30", "Plan A",
     "medicaid", "HMO", "Cy", "Cole", "90003", "elig_db"],
]  # fmt: skip


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _claims_parquet(path: Path) -> Path:
    """Typed columns as a warehouse export writes them: DATE, DECIMAL, INTEGER."""
    d = dt.date
    table = pa.table(
        {
            "claim_id": ["C8", "C8"],
            "claim_line_number": pa.array([1, 2], pa.int32()),
            "claim_type": ["institutional", "institutional"],
            "person_id": ["P1", "P1"],
            "member_id": ["M1", "M1"],
            "claim_start_date": [d(2026, 10, 1), d(2026, 10, 1)],
            "claim_end_date": [d(2026, 10, 5), d(2026, 10, 5)],
            "claim_line_start_date": [d(2026, 10, 1), None],
            "claim_line_end_date": [d(2026, 10, 5), None],
            "admission_date": [d(2026, 10, 1), d(2026, 10, 1)],
            "discharge_date": [d(2026, 10, 5), d(2026, 10, 5)],
            "admit_type_code": ["1", "1"],
            "discharge_disposition_code": ["01", "01"],
            "bill_type_code": ["111", "111"],
            "revenue_center_code": ["0120", "0250"],
            "paid_date": [d(2026, 11, 1), d(2026, 11, 1)],
            "paid_amount": pa.array([4000, 12], pa.decimal128(12, 2)),
            "diagnosis_code_type": ["icd-10-cm", "icd-10-cm"],
            "diagnosis_code_1": ["J18.9", "J18.9"],
            "diagnosis_code_13": ["E11.9", None],
            "procedure_code_type": ["icd-10-pcs", "icd-10-pcs"],
            "procedure_code_1": ["5A1955Z", None],
            "procedure_code_2": ["0BH17EZ", None],
        }
    )
    pq.write_table(table, path)
    return path


@pytest.fixture
def tuva_input(tmp_path: Path) -> Path:
    src = tmp_path / "tuva"
    src.mkdir()
    _write_csv(src / "medical_claim.csv", CLAIM_HEADER, CLAIMS)
    _claims_parquet(src / "medical_claim_2026-10.parquet")
    _write_csv(src / "eligibility.csv", ELIG_HEADER, ELIGIBILITY_ROWS)
    _write_csv(src / "pharmacy_claim.csv", ["claim_id"], [["R1"]])
    return src


def _rows(path: Path, columns: list[str]) -> list[tuple]:
    table = pq.read_table(path)
    return list(zip(*(table.column(c).to_pylist() for c in columns), strict=True))


def test_naming_rule() -> None:
    tables = ("medical_claim", "eligibility")
    assert table_of("medical_claim.csv", tables) == "medical_claim"
    assert table_of("Medical_Claim_2026-11.csv.gz", tables) == "medical_claim"
    assert table_of("eligibility-part2.parquet", tables) == "eligibility"
    assert table_of("eligibility.2026.csv", tables) == "eligibility"
    # Our own contract's names and other Tuva tables are not Tuva input-layer files.
    assert table_of("medical_claims_2026.csv", tables) is None
    assert table_of("eligibility_x.json", tables) is None
    assert table_of("pharmacy_claim.csv", tables) is None


def test_claims_mapped_rejected_and_reported(tuva_input: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    report = adapt_tuva(tuva_input, landing)

    assert sorted(p.name for p in landing.iterdir()) == [
        REPORT_DIR,
        "eligibility_tuva.parquet",
        "medical_claims_tuva_medical_claim.parquet",
        "medical_claims_tuva_medical_claim_2026-10.parquet",
    ]
    assert sorted(p.name for p in (landing / REPORT_DIR).iterdir()) == [REPORT_FILE, REJECTS_FILE]
    assert report.ignored == ["pharmacy_claim.csv"]
    by_file = {f.source_file: f for f in report.files}
    claims = by_file["medical_claim.csv"]
    assert (claims.rows_read, claims.rows_written, claims.rows_rejected) == (7, 4, 3)

    out = landing / "medical_claims_tuva_medical_claim.parquet"
    assert pq.read_schema(out).names == [c.name for c in MEDICAL_CLAIMS.columns]
    # Codes pass through as delivered: the ingest is the one place that normalizes them.
    assert _rows(
        out,
        [
            "claim_id", "member_id", "claim_type", "claim_frequency_code", "bill_type",
            "place_of_service", "hcpcs_code", "service_from_date", "service_to_date",
            "admission_date", "discharge_date", "admission_type_code", "discharge_status_code",
            "principal_diagnosis_code", "diagnosis_code_2", "facility_npi", "paid_amount",
        ],
    ) == [
        ("C1", "M1", "institutional", "1", "0111", None, None, "2026-03-04", "2026-03-04",
         "2026-03-04", "2026-03-06", "1", "01", "J45.909", "r06.02", "1234567893", "1500.00"),
        ("C2", "M2", "institutional", "1", "13I", None, "99284", "2026-05-10", "2026-05-10",
         None, None, None, None, "r10.9", None, None, "310.10"),
        ("C3", "M1", "professional", "1", None, "23", "99283", "2026-07-01", "2026-07-01",
         None, None, None, None, "S0990XA", None, None, "95.00"),
        ("C7", "M2", "professional", "1", None, "11", "99213", "2026-09-01", "2026-09-01",
         None, None, None, None, "I10", None, None, "80.00"),
    ]  # fmt: skip

    assert [(v.reason, v.column, v.value, v.rows) for v in claims.rejected] == [
        ("unmapped_claim_type", "claim_type", "dental", 1),
        ("unmapped_claim_type", "claim_type", "undetermined", 1),
        ("unmapped_diagnosis_code_type", "diagnosis_code_type", "icd-9-cm", 1),
    ]
    assert claims.not_mapped == []
    assert [(v.reason, v.rows) for v in claims.notes] == [
        ("service_from_date taken from claim_start_date", 1),
        ("service_to_date taken from claim_end_date", 1),
        ("diagnosis_code_type empty: codes read as icd-10-cm", 1),
    ]
    assert claims.not_carried == {
        "billing_npi": 1,
        "data_source": 7,
        "payer": 7,
        "person_id": 7,
        "plan": 7,
    }
    assert claims.unknown_columns == {"plan_internal_note": 1}
    assert claims.left_empty["original_claim_id"].startswith("Tuva's input layer has no")

    with open(landing / REPORT_DIR / REJECTS_FILE, newline="") as f:
        rejects = list(csv.reader(f))
    assert rejects == [
        ["source_file", "source_row", "column", "value", "reason"],
        ["medical_claim.csv", "4", "claim_type", "dental", "unmapped_claim_type"],
        ["medical_claim.csv", "5", "diagnosis_code_type", "icd-9-cm",
         "unmapped_diagnosis_code_type"],
        ["medical_claim.csv", "6", "claim_type", "undetermined", "unmapped_claim_type"],
    ]  # fmt: skip


def test_parquet_claims_keep_types_and_map_numbered_codes_the_contract_has(
    tuva_input: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    report = adapt_tuva(tuva_input, landing)
    part = next(f for f in report.files if f.source_file == "medical_claim_2026-10.parquet")
    assert (part.rows_read, part.rows_written, part.rows_rejected) == (2, 2, 0)
    out = landing / "medical_claims_tuva_medical_claim_2026-10.parquet"
    schema = pq.read_schema(out)
    assert schema.field("service_from_date").type == pa.date32()
    assert _rows(out, ["claim_line_number", "service_from_date", "principal_procedure_code"]) == [
        (1, dt.date(2026, 10, 1), "5A1955Z"),
        (2, dt.date(2026, 10, 1), None),  # line date empty: the claim's start date
    ]
    # diagnosis_code_13 has no column in our contract (12 diagnoses): reported, not carried.
    assert part.not_carried["diagnosis_code_13"] == 1
    has_procedure_2 = "procedure_code_2" in MEDICAL_CLAIMS.by_name
    assert ("procedure_code_2" in schema.names) == has_procedure_2
    assert ("procedure_code_2" in part.not_carried) == (not has_procedure_2)


def test_numbered_codes_follow_the_contract_at_run_time() -> None:
    """Tuva's procedure_code_2..N go to ours for the numbers the contract has when the adapter
    runs: none before the contract carries them, exactly those after, with no change here."""
    mapping = load_mapping()["medical_claim"]
    base = tuple(c for c in MEDICAL_CLAIMS.columns if not c.name.startswith("procedure_code_"))
    before = replace(mapping, target=replace(MEDICAL_CLAIMS, columns=base)).resolved_columns()
    assert not [c for c in before if c.startswith("procedure_code_")]
    grown = base + tuple(Column(f"procedure_code_{i}", "string") for i in (2, 3))
    after = replace(mapping, target=replace(MEDICAL_CLAIMS, columns=grown)).resolved_columns()
    assert [c for c in after if c.startswith("procedure_code_")] == [
        "procedure_code_2",
        "procedure_code_3",
    ]
    assert after["procedure_code_2"] == ("procedure_code_2",)
    assert after["diagnosis_code_12"] == ("diagnosis_code_12",)
    assert "diagnosis_code_13" not in after


def test_eligibility_mapping(tuva_input: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    report = adapt_tuva(tuva_input, landing)
    elig = next(f for f in report.files if f.source_file == "eligibility.csv")
    out = landing / "eligibility_tuva.parquet"
    assert pq.read_schema(out).names == [c.name for c in ELIGIBILITY.columns]
    assert _rows(
        out,
        ["member_id", "sex", "birth_date", "enrollment_end_date", "plan_code", "death_date",
         "county", "in_ecm", "hospice"],
    ) == [
        ("M1", "F", "1980-05-01", "9999-12-31", "HMO", None, None, None, None),
        ("M2", "M", "2012-02-29", None, "HMO", None, None, None, None),
        ("M3", None, "1950-01-01", "2026-06-30", "HMO", None, None, None, None),
    ]  # fmt: skip
    assert (elig.rows_read, elig.rows_written, elig.rows_rejected) == (3, 3, 0)
    assert [(v.reason, v.column, v.value, v.rows) for v in elig.not_mapped] == [
        ("unmapped_sex", "gender", "x", 1),
        ("death_flag_without_death_date", "death_flag", "1", 1),
    ]
    # Names and zip codes stay behind (minimum necessary), reported by column.
    assert elig.not_carried == {
        "data_source": 3,
        "first_name": 3,
        "last_name": 3,
        "payer": 3,
        "payer_type": 3,
        "person_id": 3,
        "race": 3,
        "zip_code": 3,
    }
    assert set(elig.left_empty) == {
        "county", "aid_code", "pcp_npi", "in_ecm", "hospice", "pace", "waiver_1915c",
    }  # fmt: skip
    # No member identifier or name in the report or the reject file.
    text = (landing / REPORT_DIR / REPORT_FILE).read_text()
    text += (landing / REPORT_DIR / REJECTS_FILE).read_text()
    for secret in ("M1", "M2", "M3", "P1", "Ann", "Able", "90001"):
        assert secret not in text
    assert (
        json.loads((landing / REPORT_DIR / REPORT_FILE).read_text())["files"][0]["rows_read"] == 3
    )


def test_member_id_from_person_id(tuva_input: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    adapt_tuva(tuva_input, landing, member_id_from="person_id")
    claims = _rows(landing / "medical_claims_tuva_medical_claim.parquet", ["member_id"])
    assert claims == [("P1",), ("P2",), ("P1",), ("P2",)]
    elig = _rows(landing / "eligibility_tuva.parquet", ["member_id"])
    assert elig == [("P1",), ("P2",), ("P3",)]


def test_rerun_gives_the_same_bytes(tuva_input: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    adapt_tuva(tuva_input, first)
    adapt_tuva(tuva_input, second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 5
    for path in files:
        assert (first / path).read_bytes() == (second / path).read_bytes(), path


def test_cli_exit_codes(tuva_input: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    landing = tmp_path / "landing"
    args = ["adapt", "tuva", "--input", str(tuva_input), "--landing", str(landing)]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "rejected 1 row(s): unmapped_claim_type (claim_type='dental')" in captured.out
    assert "5 row(s) or value(s) could not be mapped" in captured.err
    assert main([*args, "--accept-unmapped"]) == 0
    # Landing folder = input folder: refused before anything is written.
    assert main(["adapt", "tuva", "--input", str(tuva_input), "--landing", str(tuva_input)]) == 2
    assert not list(tuva_input.glob("*_tuva_*"))


def test_file_without_a_required_column_is_not_mapped(tmp_path: Path) -> None:
    src = tmp_path / "tuva"
    src.mkdir()
    header = [c for c in CLAIM_HEADER if c != "claim_type"]
    _write_csv(src / "medical_claim.csv", header, [r[:2] + r[3:] for r in CLAIMS[:1]])
    landing = tmp_path / "landing"
    report = adapt_tuva(src, landing)
    (outcome,) = report.files
    assert outcome.error == "medical_claim.csv: required column 'claim_type' is missing"
    assert outcome.output_file is None
    assert not (landing / "medical_claims_tuva_medical_claim.parquet").exists()
    assert main(["adapt", "tuva", "--input", str(src), "--landing", str(landing)]) == 2


def test_unparseable_csv_line_is_rejected_with_its_row(tmp_path: Path) -> None:
    src = tmp_path / "tuva"
    src.mkdir()
    path = _write_csv(src / "eligibility.csv", ELIG_HEADER, ELIGIBILITY_ROWS)
    lines = path.read_text().splitlines()
    lines.insert(2, "P9,M9,female")  # data row 2: too few fields
    path.write_text("\n".join(lines) + "\n")
    landing = tmp_path / "landing"
    report = adapt_tuva(src, landing)
    (elig,) = report.files
    assert (elig.rows_read, elig.rows_written, elig.rows_rejected) == (4, 3, 1)
    with open(landing / REPORT_DIR / REJECTS_FILE, newline="") as f:
        (reject,) = list(csv.DictReader(f))
    assert (reject["source_file"], reject["source_row"], reject["value"], reject["reason"]) == (
        "eligibility.csv",
        "2",
        "",
        "wrong_field_count",
    )


def test_ingest_accounts_for_every_adapted_row(tuva_input: Path, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    report = adapt_tuva(tuva_input, landing)
    written = {f.output_file: f.rows_written for f in report.files}
    con = duckdb.connect(str(tmp_path / "ecm.duckdb"))
    ingested = ingest_landing(con, landing, IngestSettings(run_quality=False))
    assert ingested.ignored == [REPORT_DIR]
    loaded = {f.name: f for f in ingested.files}
    assert set(loaded) == set(written)
    for name, n in written.items():
        f = loaded[name]
        assert f.status == "loaded", f.error
        assert f.rows_read == n == f.rows_loaded + f.rows_quarantined, name

    quarantined = con.execute(
        "select source_file, source_row, column_name, original_value, reason "
        "from raw.quarantine order by all"
    ).fetchall()
    # The ingest's tolerance: a 4-character bill type loses its leading 0, letters stay
    # (13I), ICD codes lose dots and are upper-cased, 9999-12-31 is an open end.
    assert quarantined == []
    assert con.execute(
        "select claim_id, bill_type, principal_diagnosis_code, diagnosis_code_2 "
        "from raw.medical_claims order by claim_id, claim_line_number"
    ).fetchall() == [
        ("C1", "111", "J45909", "R0602"),
        ("C2", "13I", "R109", None),
        ("C3", None, "S0990XA", None),
        ("C7", None, "I10", None),
        ("C8", "111", "J189", None),
        ("C8", "111", "J189", None),
    ]
    assert con.execute(
        "select member_id, sex, enrollment_end_date from raw.eligibility order by member_id"
    ).fetchall() == [
        ("M1", "F", None),
        ("M2", "M", None),
        ("M3", None, dt.date(2026, 6, 30)),
    ]


def test_eligibility_parts_become_one_snapshot(tuva_input: Path, tmp_path: Path) -> None:
    """Every eligibility file becomes one landing file; a part that cannot be read stops the
    whole snapshot (members in it would otherwise read as no longer enrolled)."""
    # A second part as Parquet with Tuva's types: DATE, and death_flag as a small integer.
    part = tuva_input / "eligibility_0_1.parquet"
    table = {
        "person_id": ["P4"],
        "member_id": ["M4"],
        "gender": ["female"],
        "birth_date": [dt.date(1990, 1, 1)],
        "enrollment_start_date": [dt.date(2025, 1, 1)],
        "enrollment_end_date": pa.array([None], pa.date32()),
        "death_flag": pa.array([1], pa.int8()),
    }
    pq.write_table(pa.table(table), part)
    landing = tmp_path / "landing"
    report = adapt_tuva(tuva_input, landing)
    parts = [f for f in report.files if f.table == "eligibility"]
    assert [(f.source_file, f.output_file, f.rows_written) for f in parts] == [
        ("eligibility.csv", "eligibility_tuva.parquet", 3),
        ("eligibility_0_1.parquet", "eligibility_tuva.parquet", 1),
    ]
    assert [(v.reason, v.value) for v in parts[1].not_mapped] == [
        ("death_flag_without_death_date", "1")
    ]
    # One file, in source order; the CSV's text and the Parquet's dates meet as ISO text.
    assert _rows(landing / "eligibility_tuva.parquet", ["member_id", "birth_date"]) == [
        ("M1", "1980-05-01"),
        ("M2", "2012-02-29"),
        ("M3", "1950-01-01"),
        ("M4", "1990-01-01"),
    ]

    broken = tmp_path / "broken"
    adapt_tuva(tuva_input, broken)  # a first, good delivery
    del table["member_id"]
    pq.write_table(pa.table(table), part)
    report = adapt_tuva(tuva_input, broken)
    errors = {f.source_file: f.error for f in report.files if f.table == "eligibility"}
    assert errors == {
        "eligibility.csv": "not written: eligibility_0_1.parquet of the same output failed",
        "eligibility_0_1.parquet": "eligibility_0_1.parquet: required column 'member_id' is "
        "missing",
    }
    # The earlier snapshot stays as it was; the claims were still written.
    assert _rows(broken / "eligibility_tuva.parquet", ["member_id"])[-1] == ("M4",)
    assert all(f.error is None for f in report.files if f.table == "medical_claim")
    assert main(["adapt", "tuva", "--input", str(tuva_input), "--landing", str(broken)]) == 2


def test_report_dir_setting(tuva_input: Path, tmp_path: Path) -> None:
    landing, reports = tmp_path / "landing", tmp_path / "reports"
    args = ["adapt", "tuva", "--input", str(tuva_input), "--landing", str(landing)]
    assert main([*args, "--report-dir", str(reports), "--accept-unmapped"]) == 0
    assert sorted(p.name for p in reports.iterdir()) == [REPORT_FILE, REJECTS_FILE]
    assert not (landing / REPORT_DIR).exists()


def test_shipped_example_maps_cleanly(tmp_path: Path) -> None:
    """data/tuva_example, which the README runs end to end: every row mapped, exit 0."""
    landing = tmp_path / "landing"
    args = ["--input", str(ROOT / "data" / "tuva_example"), "--landing", str(landing)]
    assert main(["adapt", "tuva", *args]) == 0
    assert _rows(landing / "medical_claims_tuva_medical_claim.parquet", ["claim_id"]) == [
        (c,) for c in ("H1001", "H1002", "H1003", "P2001", "P2002", "P2003", "O3001", "P3002")
    ]
    assert _rows(landing / "eligibility_tuva.parquet", ["member_id", "sex"]) == [
        ("T001", "F"),
        ("T002", "M"),
        ("T003", "F"),
    ]


def test_readme_shows_the_mapping_table() -> None:
    """The README's table is generated from tuva.toml: regenerate it when the mapping changes
    (`python -c "from pipelines.adapt.tuva import mapping_table_markdown as m; print(m())"`)."""
    assert mapping_table_markdown() in (ROOT / "README.md").read_text()
