"""Landing Parquet kept as delivered: a clean file in the contract's exact columns and types is
copied into the raw layer byte for byte (no rewrite by bucket) and reads exactly as the rows
the load would have written; anything else (a row to normalize, a conflicting duplicate, a
column of another type) is written by bucket as before. Corrections against kept files, a
killed load's leftovers, reconcile and the layout upgrade hold on the new files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipelines.contract import ELIGIBILITY, MEDICAL_CLAIMS, FileKind
from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from pipelines.ingest.fastpath import _holds_control_character
from pipelines.ingest.raw_layer import (
    LAYOUT_FILE,
    RawLayoutError,
    files_holding,
    files_overlapping,
    key_index_path,
)
from pipelines.ingest.validate import literal
from pipelines.warehouse import connect, is_landed, raw_columns, raw_relation
from tests.ingest_helpers import claim, raw_files_on_disk, write_contract_parquet


def _ingest(db: Path, landing: Path, keep: bool = True) -> duckdb.DuckDBPyConnection:
    db.parent.mkdir(parents=True, exist_ok=True)
    con = connect(db)
    ingest_landing(con, landing, IngestSettings(run_quality=False, keep_landed=keep))
    return con


def _raw(con: duckdb.DuckDBPyConnection, kind: FileKind) -> list[tuple]:
    names = ", ".join(name for name, _ in raw_columns(kind))
    return con.execute(f"select {names}, _bucket from raw.{kind.name} order by all").fetchall()


def _listed(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select g.source_file, f.bucket, f.path, f.rows from raw.raw_files f "
        "join raw.load_ledger g using (file_sha256) order by g.source_file, f.path"
    ).fetchall()


def _claims(n: int, prefix: str = "C", **overrides: str) -> list[dict[str, str]]:
    return [
        claim(member_id=f"M{i % 7}", claim_id=f"{prefix}{i}", claim_line_number="1", **overrides)
        for i in range(n)
    ]


def test_a_kept_file_reads_as_the_rows_the_load_would_write(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    claims = _claims(30)
    claims[3]["service_to_date"] = ""  # defaults to the from date
    claims[4]["paid_amount"] = ""
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, claims)
    spans = [
        {"member_id": "M1", "enrollment_start_date": "2025-01-01", "birth_date": "1980-02-03"},
        {
            "member_id": "M2",
            "enrollment_start_date": "2025-01-01",
            "enrollment_end_date": "9999-12-31",  # open: stored as null
            "birth_date": "2015-05-06",
            "in_ecm": "true",
        },
    ]
    write_contract_parquet(landing / "eligibility_20261101.parquet", ELIGIBILITY, spans)

    kept = _ingest(tmp_path / "kept.duckdb", landing)
    written = _ingest(tmp_path / "written" / "w.duckdb", landing, keep=False)

    for name, bucket, path, rows in _listed(kept):
        assert bucket is None
        assert Path(path).parent.parent.name == "landed"
        assert Path(path).name == name  # as delivered, under its content hash
        assert Path(path).read_bytes() == (landing / name).read_bytes()
        assert Path(key_index_path(path)).is_file()
        assert rows == {"medical_claims_1.parquet": 30, "eligibility_20261101.parquet": 2}[name]
    assert all(bucket is not None for _, bucket, _, _ in _listed(written))
    for kind in (MEDICAL_CLAIMS, ELIGIBILITY):
        assert _raw(kept, kind) == _raw(written, kind)
        assert (
            kept.execute(f"describe raw.{kind.name}").fetchall()
            == written.execute(f"describe raw.{kind.name}").fetchall()
        )
    assert kept.execute(
        "select service_to_date, paid_amount from raw.medical_claims where claim_id = 'C3'"
    ).fetchone() == (kept.execute("select date '2026-03-04'").fetchone()[0], 125.5)
    assert kept.execute(
        "select enrollment_end_date from raw.eligibility where member_id = 'M2'"
    ).fetchone() == (None,)
    assert reconcile(kept) == []


def test_a_kept_file_read_on_its_own_has_the_lineage_of_its_path(tmp_path):
    """raw_relation's per_file reads (a night's files, the raw suites) give the rows, lineage
    and bucket share of the one read over every file, a written-by-bucket file among them."""
    landing = tmp_path / "landing"
    landing.mkdir()
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(30))
    write_contract_parquet(landing / "medical_claims_2.parquet", MEDICAL_CLAIMS, _claims(9, "D"))
    needs_checks = _claims(5, "E")
    needs_checks[0]["revenue_code"] = "450"  # padded by the full checks: written by bucket
    write_contract_parquet(landing / "medical_claims_3.parquet", MEDICAL_CLAIMS, needs_checks)
    con = _ingest(tmp_path / "w.duckdb", landing)
    paths = [p for (p,) in con.execute("select path from raw.raw_files order by path").fetchall()]
    assert sum(is_landed(p) for p in paths) == 2 and len(paths) > 2

    def rows(relation: str) -> list[tuple]:
        return con.execute(f"select * from {relation} order by all").fetchall()

    every = rows(raw_relation(MEDICAL_CLAIMS, paths))
    assert len(every) == 44
    per_file = raw_relation(MEDICAL_CLAIMS, paths, per_file=True)
    assert rows(per_file) == every
    assert (
        con.execute(
            f"select distinct _file_sha256, _source_file from {per_file} order by 2"
        ).fetchall()
        == con.execute("select file_sha256, source_file from raw.load_ledger order by 2").fetchall()
    )
    share = "_bucket % 4 = 1"
    assert rows(raw_relation(MEDICAL_CLAIMS, paths, share, per_file=True)) == rows(
        raw_relation(MEDICAL_CLAIMS, paths, share)
    )


def test_corrections_and_duplicates_against_kept_files(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(20))
    con = _ingest(tmp_path / "w.duckdb", landing)
    later = _claims(20)[:4]
    for row in later[:3]:
        row["paid_amount"] = "99.00"  # three corrections; the fourth line is identical
    write_contract_parquet(landing / "medical_claims_2.parquet", MEDICAL_CLAIMS, later)
    ingest_landing(con, landing, IngestSettings(run_quality=False))

    assert con.execute(
        "select source_file, source_row, by_source_file, by_source_row, reason "
        "from raw.superseded_rows order by source_row"
    ).fetchall() == [
        ("medical_claims_1.parquet", 1, "medical_claims_2.parquet", 1, "correction"),
        ("medical_claims_1.parquet", 2, "medical_claims_2.parquet", 2, "correction"),
        ("medical_claims_1.parquet", 3, "medical_claims_2.parquet", 3, "correction"),
        ("medical_claims_1.parquet", 4, "medical_claims_2.parquet", 4, "duplicate"),
    ]
    in_force = con.execute(
        "select claim_id, paid_amount, _source_file from raw.rows_in_force('medical_claims') "
        "where claim_id in ('C0', 'C3', 'C4') order by 1"
    ).fetchall()
    assert [(c, float(p), f) for c, p, f in in_force] == [
        ("C0", 99.0, "medical_claims_2.parquet"),
        ("C3", 125.5, "medical_claims_2.parquet"),
        ("C4", 125.5, "medical_claims_1.parquet"),
    ]
    assert reconcile(con) == []


def test_a_file_needing_the_full_checks_is_written_by_bucket(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    rows = _claims(10)
    rows[5]["revenue_code"] = "450"  # normalized to 0450 by the full checks: not as delivered
    rows[6]["member_id"] = None  # required: quarantined
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, rows)
    con = _ingest(tmp_path / "w.duckdb", landing)

    assert all(bucket is not None for _, bucket, _, _ in _listed(con))
    assert not list((tmp_path / "raw").glob("*/keys/*"))  # the tried key index is gone
    # and so is the copy made beside it, with its folder
    assert not list((tmp_path / "raw").glob("*/landed/*"))
    assert con.execute(
        "select revenue_code from raw.medical_claims where claim_id = 'C5'"
    ).fetchone() == ("0450",)
    assert con.execute("select source_row, reason from raw.quarantine").fetchall() == [
        (7, "missing_required")
    ]
    assert reconcile(con) == []


def test_a_conflicting_duplicate_is_quarantined_and_the_file_written_by_bucket(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    rows = _claims(6)
    rows.append({**rows[2], "paid_amount": "1.00"})  # row 7: key of row 3, other content
    rows.append(dict(rows[1]))  # row 8: identical to row 2
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, rows)
    con = _ingest(tmp_path / "w.duckdb", landing)

    assert all(bucket is not None for _, bucket, _, _ in _listed(con))
    assert not list((tmp_path / "raw").glob("*/landed/*"))  # the tried copy is gone
    assert con.execute("select source_row, reason from raw.quarantine").fetchall() == [
        (7, "duplicate_key")
    ]
    assert con.execute(
        "select source_row, by_source_row, reason from raw.superseded_rows"
    ).fetchall() == [(8, 2, "duplicate")]
    assert con.execute("select count(*) from raw.medical_claims").fetchone() == (7,)
    assert reconcile(con) == []


def test_an_identical_repeat_keeps_the_file(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    rows = _claims(4)
    rows.append(dict(rows[0]))  # row 5 repeats row 1 exactly
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, rows)
    con = _ingest(tmp_path / "w.duckdb", landing)

    assert [bucket for _, bucket, _, _ in _listed(con)] == [None]
    assert con.execute(
        "select source_row, by_source_row, reason from raw.superseded_rows"
    ).fetchall() == [(5, 1, "duplicate")]
    assert con.execute("select count(*) from raw.rows_in_force('medical_claims')").fetchone() == (
        4,
    )
    assert reconcile(con) == []


def test_another_type_or_an_extra_column_is_written_by_bucket(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    path = write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(5))
    duckdb.execute(
        f"copy (select * replace (cast(paid_amount as double) as paid_amount), 'x' as note "
        f"from read_parquet({literal(str(path))})) to {literal(f'{path}.tmp')} (format parquet)"
    )
    Path(f"{path}.tmp").replace(path)
    con = _ingest(tmp_path / "w.duckdb", landing)
    assert all(bucket is not None for _, bucket, _, _ in _listed(con))
    assert con.execute("select count(*), count(_extra) from raw.medical_claims").fetchone() == (
        5,
        5,
    )


def test_a_killed_loads_kept_file_and_key_index_are_removed_and_named(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(5))
    con = _ingest(tmp_path / "w.duckdb", landing)
    raw = tmp_path / "raw" / "medical_claims"
    orphan_sha = hashlib.sha256(b"never committed").hexdigest()
    (raw / "landed" / orphan_sha).mkdir()
    (raw / "landed" / orphan_sha / "medical_claims_2.parquet").write_bytes(b"x")
    (raw / "keys" / f"{orphan_sha}.parquet").write_bytes(b"x")

    problems = reconcile(con)
    assert len(problems) == 2 and all("is not listed" in p for p in problems)
    ingest_landing(con, landing, IngestSettings(run_quality=False))  # opens the layer
    assert not (raw / "landed" / orphan_sha).exists()
    assert not (raw / "keys" / f"{orphan_sha}.parquet").exists()
    assert reconcile(con) == []
    assert [p.name for p in raw_files_on_disk(tmp_path / "raw")] == ["medical_claims_1.parquet"]


def test_reconcile_names_a_missing_or_short_key_index(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(5))
    con = _ingest(tmp_path / "w.duckdb", landing)
    (path,) = [p for _, _, p, _ in _listed(con)]
    index = Path(key_index_path(path))
    duckdb.execute(
        f"copy (select * from read_parquet({literal(str(index))}) where _source_row < 5) "
        f"to {literal(f'{index}.tmp')} (format parquet)"
    )
    Path(f"{index}.tmp").replace(index)
    assert reconcile(con) == [
        f"medical_claims_1.parquet: key index {index} holds 4 rows, the file 5"
    ]
    index.unlink()
    assert reconcile(con) == [f"medical_claims_1.parquet: key index {index} is missing"]


def _columns(con, path: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select name from parquet_schema(?) where num_children is null", [path]
        ).fetchall()
    ]


def test_older_layouts_are_upgraded_and_version_1_refused(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(5))
    con = _ingest(tmp_path / "w.duckdb", landing)
    layout = tmp_path / "raw" / LAYOUT_FILE
    recorded = json.loads(layout.read_text())
    assert recorded["version"] == 5
    layout.write_text(json.dumps({**recorded, "version": 2}))
    ingest_landing(con, landing, IngestSettings(run_quality=False))
    assert json.loads(layout.read_text())["version"] == 5

    # A version-3 key index has no key hash and, as up to version 4, the landed file's hash
    # and name on every row: the upgrade adds the hash and drops the lineage, and a correction
    # delivered after the upgrade is matched through it, named by its landed file.
    (landed, sha) = con.execute("select path, file_sha256 from raw.raw_files").fetchone()
    index = key_index_path(landed)
    assert "_file_sha256" not in _columns(con, index)
    v3 = (
        f"select claim_id, claim_line_number, {literal(sha)} as _file_sha256, "
        "'medical_claims_1.parquet' as _source_file, _source_row, _row_hash, _clean "
        f"from read_parquet({literal(index)})"
    )
    con.execute(f"copy ({v3}) to {literal(index + '.v3')} (format parquet)")
    Path(index + ".v3").replace(index)
    layout.write_text(json.dumps({**recorded, "version": 3}))
    corrected = _claims(5)[2:3]
    corrected[0]["paid_amount"] = "1.00"
    write_contract_parquet(landing / "medical_claims_2.parquet", MEDICAL_CLAIMS, corrected)
    ingest_landing(con, landing, IngestSettings(run_quality=False))
    assert json.loads(layout.read_text())["version"] == 5
    assert _columns(con, index) == [
        "claim_id",
        "claim_line_number",
        "_source_row",
        "_row_hash",
        "_clean",
        "_key_hash",
    ]
    assert con.execute(
        f"select count(*), count(_key_hash), count(*) filter (where _key_hash = "
        f"hash(claim_id, claim_line_number)) from read_parquet({literal(index)})"
    ).fetchone() == (5, 5, 5)
    assert con.execute(
        "select source_file, source_row, reason from raw.superseded_rows"
    ).fetchall() == [("medical_claims_1.parquet", 3, "correction")]
    assert reconcile(con) == []

    layout.write_text(json.dumps({**recorded, "version": 1}))
    with pytest.raises(RawLayoutError, match="version"):
        ingest_landing(con, landing, IngestSettings(run_quality=False))


def test_an_older_file_list_with_a_required_bucket_takes_landed_files(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    con.execute("create schema raw")
    con.execute(
        "create table raw.raw_files (kind varchar not null, file_sha256 varchar not null, "
        "bucket integer not null, path varchar not null, rows bigint not null)"
    )
    landing = tmp_path / "landing"
    landing.mkdir()
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(5))
    ingest_landing(con, landing, IngestSettings(run_quality=False))
    assert [bucket for _, bucket, _, _ in _listed(con)] == [None]
    assert con.execute("select count(*) from raw.medical_claims").fetchone() == (5,)


@pytest.mark.parametrize("keep", [True, False])
def test_earlier_files_outside_the_key_range_are_not_read_and_corrections_still_match(
    tmp_path, keep
):
    landing = tmp_path / "landing"
    landing.mkdir()
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(6, "A"))
    write_contract_parquet(landing / "medical_claims_2.parquet", MEDICAL_CLAIMS, _claims(6, "B"))
    con = _ingest(tmp_path / "w.duckdb", landing, keep)
    paths = [p for (p,) in con.execute("select path from raw.raw_files order by path").fetchall()]
    of = dict(
        con.execute(
            "select f.path, g.source_file from raw.raw_files f join raw.load_ledger g "
            "using (file_sha256)"
        ).fetchall()
    )

    def files(lo: str, hi: str) -> set[str]:
        return {of[p] for p in files_overlapping(con, MEDICAL_CLAIMS, paths, lo, hi)}

    both = {"medical_claims_1.parquet", "medical_claims_2.parquet"}
    assert files("A0", "A5") == {"medical_claims_1.parquet"}
    assert files("B2", "B2") == {"medical_claims_2.parquet"}
    assert files("A3", "B1") == both
    assert files("C0", "C9") == set()
    assert files("0", "Z") == both
    # No range (a file without keys) rules nothing out.
    assert files_overlapping(con, MEDICAL_CLAIMS, paths, None, None) == paths

    corrected = _claims(6, "B")[4:5]
    corrected[0]["paid_amount"] = "2.00"
    write_contract_parquet(landing / "medical_claims_3.parquet", MEDICAL_CLAIMS, corrected)
    ingest_landing(con, landing, IngestSettings(run_quality=False, keep_landed=keep))
    assert con.execute(
        "select source_file, source_row, by_source_file, reason from raw.superseded_rows"
    ).fetchall() == [("medical_claims_2.parquet", 5, "medical_claims_3.parquet", "correction")]
    assert reconcile(con) == []


@pytest.mark.parametrize("keep", [True, False])
def test_files_holding_leaves_out_the_files_whose_key_range_holds_none_of_the_claims(
    tmp_path, keep
):
    """Kept files by their key indexes' statistics, bucketed files by their own: every file
    holding one of the claims is kept, in the order asked about, and a file whose claim id
    range holds none of them is left out."""
    landing = tmp_path / "landing"
    landing.mkdir()
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(6, "A"))
    write_contract_parquet(landing / "medical_claims_2.parquet", MEDICAL_CLAIMS, _claims(6, "B"))
    con = _ingest(tmp_path / "w.duckdb", landing, keep)
    rows = con.execute(
        "select f.path, g.source_file from raw.raw_files f join raw.load_ledger g "
        "using (file_sha256) order by f.path desc"
    ).fetchall()
    paths = [p for p, _ in rows]
    of = dict(rows)
    assert all(is_landed(p) == keep for p in paths)

    def holding(*claims: str) -> list[str]:
        keys = " union all ".join(f"select {literal(c)} as claim_id" for c in claims)
        return files_holding(con, MEDICAL_CLAIMS, paths, keys)

    def holders(*claims: str) -> set[str]:
        return {
            p
            for p in paths
            if con.execute(
                f"select count(*) from {raw_relation(MEDICAL_CLAIMS, [p])} "
                f"where claim_id in ({', '.join(literal(c) for c in claims)})"
            ).fetchone()[0]
        }

    for claims in [("A3",), ("B2",), ("A1", "B4"), ("A0", "A5")]:
        found = holding(*claims)
        assert holders(*claims) <= set(found), claims
        assert found == [p for p in paths if p in found], "the order of the paths"
        landed_in = {"A": "medical_claims_1.parquet", "B": "medical_claims_2.parquet"}
        assert {of[p] for p in found} == {landed_in[c[0]] for c in claims}
    assert holding("Z9") == [] and holding("A6") == []  # after every A file's range: none
    assert files_holding(con, MEDICAL_CLAIMS, [], "select 'A1' as claim_id") == []


def test_a_control_character_in_a_contract_parquet_file_takes_the_full_checks(tmp_path):
    """control_free_columns reads the identifiers' bytes through Arrow: a control character
    anywhere (claim_id in one file, DEL in member_id in another) sends its row to the full
    checks and the file to the bucketed write; multibyte text and nulls do not."""
    landing = tmp_path / "landing"
    landing.mkdir()
    first = _claims(6)
    first[2]["claim_id"] = "C2\x01"
    first[4]["member_id"] = "Mé"  # UTF-8 bytes above 0x7f: not control characters
    write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, first)
    second = _claims(4, "D")
    second[3]["member_id"] = "M\x7f3"
    write_contract_parquet(landing / "medical_claims_2.parquet", MEDICAL_CLAIMS, second)
    clean = _claims(3, "E")
    clean[1]["member_id"] = "Mü"
    write_contract_parquet(landing / "medical_claims_3.parquet", MEDICAL_CLAIMS, clean)
    con = _ingest(tmp_path / "w.duckdb", landing)

    assert con.execute(
        "select source_file, source_row, column_name, reason from raw.quarantine order by all"
    ).fetchall() == [
        ("medical_claims_1.parquet", 3, "claim_id", "control_character"),
        ("medical_claims_2.parquet", 4, "member_id", "control_character"),
    ]
    kept = {name for name, bucket, _, _ in _listed(con) if bucket is None}
    assert kept == {"medical_claims_3.parquet"}
    assert con.execute(
        "select member_id from raw.medical_claims where claim_id in ('C4', 'E1') order by 1"
    ).fetchall() == [("Mé",), ("Mü",)]
    assert reconcile(con) == []


def test_holds_control_character_on_arrow_slices_and_types():
    """The byte test reads only the slice's own values and casts what is not text."""
    values = ["a", "b\x1f", None, "é", "d\x7f"]
    for array in (pa.array(values, pa.string()), pa.array(values, pa.large_string())):
        assert _holds_control_character(array)
        assert not _holds_control_character(array.slice(2, 2))  # None, "é"
        assert _holds_control_character(array.slice(4))
        assert not _holds_control_character(array.slice(0, 1))
    assert not _holds_control_character(pa.array([1, None, 3]))
    assert not _holds_control_character(pa.array([], pa.string()))


def test_a_kept_file_that_grows_before_the_commit_is_rejected_and_nothing_kept(tmp_path):
    """A kept file's copy is hashed, so the last check before the commit is by size and
    mtime only: a writer still appending is still caught, and nothing of the file stays."""
    landing = tmp_path / "landing"
    landing.mkdir()
    path = write_contract_parquet(landing / "medical_claims_1.parquet", MEDICAL_CLAIMS, _claims(5))

    def still_writing(loaded: Path) -> None:
        with open(loaded, "ab") as f:
            f.write(b"more")

    con = connect(tmp_path / "w.duckdb")
    settings = IngestSettings(run_quality=False)
    report = ingest_landing(con, landing, settings, before_commit=still_writing)
    assert report.files[0].status == "rejected"
    assert "changed while it was loaded" in report.files[0].error
    assert "size went from" in report.files[0].error
    assert raw_files_on_disk(tmp_path / "raw") == []
    assert not list((tmp_path / "raw").glob("*/keys/*"))
    assert reconcile(con) == []

    write_contract_parquet(path, MEDICAL_CLAIMS, _claims(5))  # the writer finishes
    again = ingest_landing(con, landing, settings)
    assert [(f.status, f.rows_loaded) for f in again.files] == [("loaded", 5)]
    assert [bucket for _, bucket, _, _ in _listed(con)] == [None]
    assert reconcile(con) == []
