"""Property: whatever text lands in a CSV, ingest does not crash and every row is accounted."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from tests.ingest_helpers import HEADER, claim, csv_bytes

_VALUES = {
    "claim_id": st.sampled_from(["C1", "C2", "", " C3 "]),
    "claim_line_number": st.sampled_from(["1", "2", "01", "x", "", "-1", "1.0"]),
    "member_id": st.sampled_from(["M1", "", "  "]),
    "claim_type": st.sampled_from(["institutional", "professional", "other", ""]),
    "bill_type": st.sampled_from(["111", "11", "1a1", ""]),
    "revenue_code": st.sampled_from(["450", "0450", "45", "04500", "abc", ""]),
    "place_of_service": st.sampled_from(["3", "23", "230", ""]),
    "service_from_date": st.sampled_from(["2026-03-04", "2026-02-30", "03/04/2026", ""]),
    "service_to_date": st.sampled_from(["2026-03-05", "", "2026-1-1"]),
    "principal_diagnosis_code": st.sampled_from(["J45909", ""]),
    "paid_amount": st.sampled_from(["1", "1.25", "1.255", "abc", "", "-3"]),
}
_ROW = st.fixed_dictionaries(_VALUES)
_ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(_ROW, max_size=12),
    noise=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(HEADER), _ANY_TEXT), max_size=4),
    raw_lines=st.lists(st.binary(max_size=20), max_size=2),
)
def test_rows_in_equals_loaded_plus_quarantined(rows, noise, raw_lines):
    for i, column, text in noise:
        if i < len(rows):
            rows[i][column] = text
    body = csv_bytes(rows, HEADER)
    for line in raw_lines:
        body += line.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        landing.mkdir()
        (landing / "medical_claims_prop.csv").write_bytes(body)
        con = duckdb.connect(str(Path(tmp) / "w.duckdb"))
        report = ingest_landing(con, landing, IngestSettings(run_quality=False))
        assert len(report.files) == 1
        f = report.files[0]
        if f.status == "loaded":
            assert f.rows_read == f.rows_loaded + f.rows_quarantined
        assert reconcile(con) == []
        again = ingest_landing(con, landing, IngestSettings(run_quality=False))
        assert again.files == []
        con.close()


_MUTATIONS = st.sampled_from([b'"', b",", b"\x00", b"\xff", b"\r", b'""', b"", b" "])


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    line=st.integers(1, 12),
    at=st.integers(0, 200),
    insert=_MUTATIONS,
    delete=st.integers(0, 3),
)
def test_one_mutated_record_costs_at_most_itself(line, at, insert, delete):
    """Any bytes changed inside one record of a valid file (no line break added): the file
    still has 12 records, read = loaded + quarantined, and every other record loads with its
    row number (an unterminated quote swallowed the rest of the file before)."""
    rows = [claim(claim_id=f"C{i}", member_id=f"M{i}") for i in range(1, 13)]
    lines = csv_bytes(rows).split(b"\n")
    target = lines[line]
    at = min(at, len(target))
    lines[line] = target[:at] + insert + target[at + delete :]
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        landing.mkdir()
        (landing / "medical_claims_m.csv").write_bytes(b"\n".join(lines))
        con = duckdb.connect(str(Path(tmp) / "w.duckdb"))
        report = ingest_landing(con, landing, IngestSettings(run_quality=False))
        (f,) = report.files
        assert f.status == "loaded", f.error
        assert (f.rows_read, f.rows_loaded + f.rows_quarantined) == (12, 12)
        loaded = dict(
            con.execute("select _source_row, claim_id from raw.medical_claims").fetchall()
        )
        for i in range(1, 13):
            if i != line:
                assert loaded.get(i) == f"C{i}", (i, lines[line])
        assert reconcile(con) == []
        con.close()


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.tuples(st.integers(0, 2_000), _MUTATIONS | st.just(b"\n")), max_size=4))
def test_any_mutation_accounts_for_every_counted_record(cuts):
    """Any mutation of a valid file: the independent count = loaded + quarantined, or the
    file is rejected whole (nothing of it loaded)."""
    from pipelines.ingest.records import count_records

    body = bytearray(csv_bytes([claim(claim_id=f"C{i}") for i in range(1, 13)]))
    for at, insert in cuts:
        at = min(at, len(body))
        body[at:at] = insert
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        landing.mkdir()
        path = landing / "medical_claims_m.csv"
        path.write_bytes(bytes(body))
        con = duckdb.connect(str(Path(tmp) / "w.duckdb"))
        report = ingest_landing(con, landing, IngestSettings(run_quality=False))
        (f,) = report.files
        raw = con.execute("select count(*) from raw.medical_claims").fetchone()[0]
        if f.status == "loaded":
            assert f.rows_read == count_records(path, "csv")
            assert f.rows_read == f.rows_loaded + f.rows_quarantined == raw + f.rows_quarantined
        else:
            assert raw == 0 and f.reason, f.error
        assert reconcile(con) == []
        con.close()
