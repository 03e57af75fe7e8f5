"""The night's matching of re-delivered claim lines (pipelines/ingest/matching.py).

The same four deliveries give the same superseded rows, rows in force and ledger counts
whether they land in one night (matched together, once), one per night (matched one by one)
or two nights; a run killed between its loads and the matching leaves the files pending,
reconcile names them, and the next ingest matches them before it loads anything.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.contract import DUCKDB_TYPES, FILE_KINDS
from pipelines.ingest import IngestSettings, ingest_landing, matching, raw_layer, reconcile
from pipelines.ingest.raw_layer import key_hash_sql, overlapping
from tests.ingest_helpers import claim, ingest_killed_at, write_contract_parquet, write_csv

CLAIMS = FILE_KINDS["medical_claims"]


def _deliveries(folder: Path) -> list[Path]:
    """a: history. b corrects a's C1/1, repeats a's C2/1 unchanged, adds C4/1 twice (an
    identical repeat within the file). c corrects C1/1 again and C2/1, repeats a's C3/1
    unchanged. d (Parquet, kept as delivered) corrects c's C1/1 and repeats b's C4/1."""
    folder.mkdir(parents=True, exist_ok=True)
    a = [claim(claim_id="C1"), claim(claim_id="C1", claim_line_number="2"),
         claim(claim_id="C2"), claim(claim_id="C3")]  # fmt: skip
    b = [claim(claim_id="C1", paid_amount="10.00"), claim(claim_id="C2"),
         claim(claim_id="C4"), claim(claim_id="C4")]  # fmt: skip
    c = [claim(claim_id="C1", paid_amount="20.00"), claim(claim_id="C2", paid_amount="5.00"),
         claim(claim_id="C3")]  # fmt: skip
    d = [claim(claim_id="C1", paid_amount="30.00"), claim(claim_id="C4")]
    return [
        write_csv(folder / "medical_claims_a.csv", a),
        write_csv(folder / "medical_claims_b.csv", b),
        write_csv(folder / "medical_claims_c.csv", c),
        write_contract_parquet(folder / "medical_claims_d.parquet", CLAIMS, d),
    ]


EXPECTED = [
    ("medical_claims_a.csv", "C1|1", "medical_claims_b.csv", 1, "correction"),
    ("medical_claims_a.csv", "C2|1", "medical_claims_b.csv", 2, "duplicate"),
    ("medical_claims_a.csv", "C3|1", "medical_claims_c.csv", 3, "duplicate"),
    ("medical_claims_b.csv", "C1|1", "medical_claims_c.csv", 1, "correction"),
    ("medical_claims_b.csv", "C2|1", "medical_claims_c.csv", 2, "correction"),
    ("medical_claims_b.csv", "C4|1", "medical_claims_b.csv", 3, "duplicate"),
    ("medical_claims_b.csv", "C4|1", "medical_claims_d.parquet", 2, "duplicate"),
    ("medical_claims_c.csv", "C1|1", "medical_claims_d.parquet", 1, "correction"),
]
# (file, corrections, duplicates) each file made, as the ledger records them.
LEDGER = [
    ("medical_claims_a.csv", 0, 0),
    ("medical_claims_b.csv", 1, 2),
    ("medical_claims_c.csv", 2, 1),
    ("medical_claims_d.parquet", 1, 1),
]
IN_FORCE = [
    ("C1", 1, "30.00", "medical_claims_d.parquet"),
    ("C1", 2, "125.50", "medical_claims_a.csv"),
    ("C2", 1, "5.00", "medical_claims_c.csv"),
    ("C3", 1, "125.50", "medical_claims_c.csv"),
    ("C4", 1, "125.50", "medical_claims_d.parquet"),
]


def _facts(con: duckdb.DuckDBPyConnection) -> tuple[list, list, list]:
    superseded = con.execute(
        "select source_file, key_value, by_source_file, by_source_row, reason "
        "from raw.superseded_rows order by all"
    ).fetchall()
    ledger = con.execute(
        "select source_file, rows_superseded, rows_duplicate from raw.load_ledger order by 1"
    ).fetchall()
    in_force = con.execute(
        "select claim_id, claim_line_number, paid_amount::varchar, _source_file "
        "from raw.rows_in_force('medical_claims') order by all"
    ).fetchall()
    return superseded, ledger, in_force


def _ingest(con: duckdb.DuckDBPyConnection, landing: Path):
    return ingest_landing(con, landing, IngestSettings(run_quality=False))


@pytest.mark.parametrize("nights", [[4], [1, 1, 1, 1], [1, 3], [2, 2]])
def test_the_same_deliveries_give_the_same_rows_in_force_however_they_are_split_into_nights(
    tmp_path, nights
):
    files = _deliveries(tmp_path / "all")
    landing = tmp_path / "landing"
    landing.mkdir()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    start = 0
    for n in nights:
        for path in files[start : start + n]:
            shutil.copy(path, landing / path.name)
        report = _ingest(con, landing)
        assert [f.status for f in report.files] == ["loaded"] * n
        start += n
    superseded, ledger, in_force = _facts(con)
    assert superseded == EXPECTED
    assert ledger == LEDGER
    assert in_force == IN_FORCE
    assert con.execute("select count(*) from raw.load_ledger where not matched").fetchone() == (0,)
    assert reconcile(con) == []


def test_the_report_and_the_nights_record_carry_each_files_matches(tmp_path):
    landing = tmp_path / "landing"
    _deliveries(landing)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = _ingest(con, landing)
    assert [(f.name, f.rows_superseded, f.rows_duplicate) for f in report.files] == LEDGER
    assert (
        con.execute(
            "select entry_name, rows_superseded, rows_duplicate from raw.night_files order by 1"
        ).fetchall()
        == LEDGER
    )


def test_equal_key_hashes_of_different_keys_pair_nothing(tmp_path):
    """Keys are matched on their hash first, then as text: an earlier row whose key hash
    equals tonight's key (a collision, forged here in its key index) is not superseded."""
    landing = tmp_path / "landing"
    landing.mkdir()
    # C1 .. C99: the file's key range holds tonight's C9, so its key index is read.
    history = [claim(claim_id="C1"), claim(claim_id="C99")]
    write_contract_parquet(landing / "medical_claims_a.parquet", CLAIMS, history)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _ingest(con, landing)
    (index,) = (tmp_path / "raw" / "medical_claims" / "keys").glob("*.parquet")
    line = DUCKDB_TYPES[CLAIMS.by_name["claim_line_number"].dtype]
    forged = con.execute(
        f"select {key_hash_sql(CLAIMS)} from (select 'C9' as claim_id, "
        f"cast(1 as {line}) as claim_line_number)"
    ).fetchone()[0]
    tmp = index.with_name("forged.tmp")
    con.execute(
        f"copy (select * replace (case when claim_id = 'C1' then {forged}::ubigint "
        f"else _key_hash end as _key_hash) from read_parquet('{index}')) to '{tmp}' "
        "(format parquet)"
    )
    os.replace(tmp, index)
    write_contract_parquet(
        landing / "medical_claims_b.parquet", CLAIMS, [claim(claim_id="C9", paid_amount="1.00")]
    )
    report = _ingest(con, landing)
    assert [(f.name, f.rows_superseded, f.rows_duplicate) for f in report.files] == [
        ("medical_claims_b.parquet", 0, 0)
    ]
    assert con.execute("select count(*) from raw.superseded_rows").fetchone() == (0,)
    assert con.execute(
        "select claim_id from raw.rows_in_force('medical_claims') order by 1"
    ).fetchall() == [("C1",), ("C9",), ("C99",)]


def test_killed_before_the_nights_matching_then_the_next_ingest_matches_first(tmp_path):
    landing = tmp_path / "landing"
    files = _deliveries(tmp_path / "all")
    landing.mkdir()
    shutil.copy(files[0], landing / files[0].name)
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    _ingest(con, landing)
    con.close()
    for path in files[1:3]:
        shutil.copy(path, landing / path.name)
    ingest_killed_at("ingest.files_loaded", db, landing)

    con = duckdb.connect(str(db))
    assert con.execute(
        "select source_file from raw.load_ledger where not matched order by 1"
    ).fetchall() == [("medical_claims_b.csv",), ("medical_claims_c.csv",)]
    problems = reconcile(con)
    assert problems == [
        f"medical_claims_{x}.csv: loaded, but its keys were not matched against earlier "
        "deliveries (a run stopped before the night's matching; the next ingest matches them)"
        for x in "bc"
    ]
    assert con.execute("select count(*) from raw.superseded_rows").fetchone() == (1,)  # b's C4

    shutil.copy(files[3], landing / files[3].name)
    report = _ingest(con, landing)
    assert [f.name for f in report.files] == ["medical_claims_d.parquet"]
    assert [s.name for s in report.skipped] == [p.name for p in files[:3]]
    superseded, ledger, in_force = _facts(con)
    assert superseded == EXPECTED
    assert ledger == LEDGER
    assert in_force == IN_FORCE
    assert reconcile(con) == []


def test_overlapping_ranges_are_found_as_a_pairwise_comparison_finds_them():
    """raw_layer.overlapping sorts once; every pair compared is the reference."""
    rng = random.Random(20261204)
    for _ in range(500):
        ranges = {}
        for i in range(rng.randint(0, 8)):
            lo = rng.randint(0, 30)
            ranges[f"f{i}"] = (lo, lo + rng.randint(0, 6))
        pairwise = {
            a
            for a, (alo, ahi) in ranges.items()
            for b, (blo, bhi) in ranges.items()
            if a != b and alo <= bhi and blo <= ahi
        }
        assert overlapping(ranges) == pairwise, ranges


def test_files_whose_key_ranges_are_apart_are_not_sorted_and_others_still_pair(tmp_path):
    """Kept Parquet files carry exact key statistics: one whose claim ids overlap no other
    pending file's cannot repeat their keys; two that overlap are paired as always."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for name, ids in (("a", ["A1", "A2"]), ("b", ["B1", "B2"]), ("c", ["B2", "B3"])):
        rows = [claim(claim_id=i, paid_amount=f"{n}.00") for n, i in enumerate(ids, 1)]
        write_contract_parquet(landing / f"medical_claims_{name}.parquet", CLAIMS, rows)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    paths = []
    original = raw_layer.files_sharing_keys

    def spy(con, kind, candidates):
        shared = original(con, kind, candidates)
        paths.append(sorted(Path(p).name for p in shared))
        return shared

    raw_layer.files_sharing_keys = spy
    try:
        _ingest(con, landing)
    finally:
        raw_layer.files_sharing_keys = original
    assert paths == [["medical_claims_b.parquet", "medical_claims_c.parquet"]]
    assert con.execute(
        "select source_file, key_value, by_source_file, reason from raw.superseded_rows"
    ).fetchall() == [("medical_claims_b.parquet", "B2|1", "medical_claims_c.parquet", "correction")]


def test_a_failed_matching_names_the_files_and_the_next_ingest_matches_them(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    _deliveries(landing)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))

    def out_of_memory(con, kind, now):
        raise duckdb.OutOfMemoryException("could not allocate")

    monkeypatch.setattr(matching, "_match_kind", out_of_memory)
    with pytest.raises(RuntimeError) as failed:
        _ingest(con, landing)
    assert str(failed.value).startswith(
        "matching the keys of medical_claims_a.csv, medical_claims_b.csv, medical_claims_c.csv, "
        "medical_claims_d.parquet against earlier deliveries failed: "
    )
    assert len(reconcile(con)) == 4
    assert con.execute("select count(*) from raw.superseded_rows").fetchone() == (1,)  # b's C4

    monkeypatch.undo()
    report = _ingest(con, landing)
    assert report.files == [] and len(report.skipped) == 4
    superseded, ledger, in_force = _facts(con)
    assert (superseded, ledger, in_force) == (EXPECTED, LEDGER, IN_FORCE)
    assert reconcile(con) == []
