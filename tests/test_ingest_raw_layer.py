"""The raw layer as Parquet files: one file per storage bucket per landed file, listed with
the ledger row; orphans of a killed load removed; a folder of another layout or warehouse
refused; a previous release's raw tables migrated; the analysts' copy reads its own night."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.contract import MEDICAL_CLAIMS
from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from pipelines.ingest.raw_layer import LAYOUT_FILE, RawLayoutError
from pipelines.warehouse import (
    RAW_BUCKETS,
    connect,
    create_raw_schema,
    publish_warehouse,
    raw_columns,
)
from tests.ingest_helpers import claim, ingest, raw_files_on_disk, write_csv


def _claims(members: int, lines: int = 3, prefix: str = "C") -> list[dict[str, str]]:
    return [
        claim(member_id=f"M{m}", claim_id=f"{prefix}{m}", claim_line_number=str(line))
        for m in range(members)
        for line in range(1, lines + 1)
    ]


def test_each_landed_file_is_one_file_per_bucket_and_a_member_lives_in_one(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", _claims(60))
    write_csv(landing / "medical_claims_2.csv", _claims(20, prefix="D"))
    con, report = ingest(tmp_path / "w.duckdb", landing)
    assert [f.rows_loaded for f in report.files] == [180, 60]

    listed = con.execute(
        "select g.source_file, f.bucket, f.path, f.rows from raw.raw_files f "
        "join raw.load_ledger g using (file_sha256) order by f.path"
    ).fetchall()
    on_disk = raw_files_on_disk(tmp_path / "raw")
    assert sorted(str(p) for p in on_disk) == sorted(path for _, _, path, _ in listed)
    for name, sha in con.execute("select source_file, file_sha256 from raw.load_ledger").fetchall():
        mine = [(bucket, path, rows) for n, bucket, path, rows in listed if n == name]
        loaded = {f.name: f.rows_loaded for f in report.files}[name]
        assert sum(rows for *_, rows in mine) == loaded  # the files hold every loaded row
        assert len({bucket for bucket, *_ in mine}) == len(mine)  # one file per bucket
        for bucket, path, _ in mine:
            assert Path(path).parent.name == f"bucket={bucket:02d}"
            assert Path(path).name.startswith(f"{sha}_")
            assert Path(path).parent.parent.name == "medical_claims"
    # Every row's bucket is hash(member_id) % 16, in the view and in the folder it is read from.
    assert con.execute(
        f"select count(*) from raw.medical_claims where _bucket <> hash(member_id) % {RAW_BUCKETS}"
    ).fetchone() == (0,)
    assert con.execute(
        "select count(*) from (select member_id from raw.medical_claims "
        "group by member_id having count(distinct _bucket) > 1)"
    ).fetchone() == (0,)
    assert con.execute("select count(distinct _bucket) from raw.medical_claims").fetchone()[0] > 8
    assert reconcile(con) == []
    # No raw row is in the DuckDB file: raw.medical_claims is a view over the listed files.
    assert con.execute(
        "select count(*) from duckdb_views() where schema_name = 'raw' "
        "and view_name = 'medical_claims'"
    ).fetchone() == (1,)


def test_an_empty_kind_is_a_typed_empty_view(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", _claims(2))
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    described = con.execute("describe raw.care_management_status").fetchall()
    assert [row[0] for row in described][-6:] == [
        "_file_sha256",
        "_source_file",
        "_source_row",
        "_extra",
        "_row_hash",
        "_bucket",
    ]
    assert con.execute("select count(*) from raw.care_management_status").fetchone() == (0,)
    claims = [(row[0], row[1]) for row in con.execute("describe raw.medical_claims").fetchall()]
    assert claims == [*raw_columns(MEDICAL_CLAIMS), ("_bucket", "INTEGER")]


def test_orphans_of_a_killed_load_are_removed_at_the_next_start(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", _claims(30))
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    listed = sorted(raw_files_on_disk(tmp_path / "raw"))
    # What a load killed before its commit leaves: files of a sha no ledger row has, and a
    # half-written rewrite beside a listed file.
    killed = listed[0].with_name("f" * 64 + "_0.parquet")
    shutil.copyfile(listed[0], killed)
    half = listed[1].with_name(listed[1].name + ".tmp")
    half.write_bytes(b"PAR1")
    assert any("is not listed" in p for p in reconcile(con))

    ingest_landing(con, landing, IngestSettings(run_quality=False))
    assert raw_files_on_disk(tmp_path / "raw") == listed
    assert not half.exists()
    assert reconcile(con) == []


def test_a_raw_folder_of_another_layout_or_warehouse_is_refused(tmp_path, landing):
    write_csv(landing / "medical_claims_1.csv", _claims(3))
    con, _ = ingest(tmp_path / "w.duckdb", landing)
    layout_file = tmp_path / "raw" / LAYOUT_FILE
    layout = json.loads(layout_file.read_text())
    assert (layout["buckets"], layout["bucket_of"]) == (16, "hash(member_id) % 16")

    layout_file.write_text(json.dumps({**layout, "buckets": 8}))
    with pytest.raises(RawLayoutError, match=r"another layout \(buckets: the folder has 8"):
        ingest_landing(con, landing)
    changed_hash = {**layout, "probe": {**layout["probe"], "hash": "1"}}
    layout_file.write_text(json.dumps(changed_hash))
    with pytest.raises(RawLayoutError, match="Run the release and DuckDB version that wrote it"):
        ingest_landing(con, landing)
    layout_file.write_text(json.dumps(layout))
    con.close()

    # A second warehouse beside the first would share raw/: refused, nothing written.
    other = duckdb.connect(str(tmp_path / "other.duckdb"))
    write_csv(landing / "medical_claims_2.csv", _claims(3, prefix="D"))
    with pytest.raises(RawLayoutError, match="belongs to another warehouse"):
        ingest_landing(other, landing)
    ingest_landing(other, landing, IngestSettings(run_quality=False, raw_dir=tmp_path / "raw2"))
    assert other.execute("select count(*) from raw.medical_claims").fetchone() == (18,)
    assert len(raw_files_on_disk(tmp_path / "raw2")) > 1


def test_a_previous_release_raw_table_is_moved_into_the_layout_once(tmp_path, landing):
    """A warehouse whose raw rows are DuckDB tables (the previous release): the first ingest
    writes them as each landed file's Parquet files and drops the table; nothing is lost."""
    write_csv(landing / "medical_claims_1.csv", _claims(25))
    old = tmp_path / "old.duckdb"
    with duckdb.connect(str(tmp_path / "made.duckdb")) as made:  # the rows and ledger to keep
        ingest_landing(made, landing, IngestSettings(run_quality=False, raw_dir=tmp_path / "x"))
        rows = made.execute(
            "select * exclude (_bucket) from raw.medical_claims order by _source_row"
        ).fetchall()
        ledger_rows = made.execute("select * from raw.load_ledger").fetchall()
    with duckdb.connect(str(old)) as con:  # what the previous release left
        con.execute("create schema raw")
        columns = ", ".join(f"{n} {t}" for n, t in raw_columns(MEDICAL_CLAIMS))
        con.execute(f"create table raw.medical_claims ({columns})")
        marks = ", ".join("?" for _ in raw_columns(MEDICAL_CLAIMS))
        con.executemany(f"insert into raw.medical_claims values ({marks})", rows)
        create_raw_schema(con)
        con.executemany(
            f"insert into raw.load_ledger values ({', '.join('?' for _ in ledger_rows[0])})",
            ledger_rows,
        )
        report = ingest_landing(con, landing, IngestSettings(run_quality=False))
        assert report.files == []  # already loaded: nothing ingested twice
        assert con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw' "
            "and table_name = 'medical_claims'"
        ).fetchone() == (0,)
        assert (
            con.execute(
                "select * exclude (_bucket) from raw.medical_claims order by _source_row"
            ).fetchall()
            == rows
        )
        assert sum(r for (r,) in con.execute("select rows from raw.raw_files").fetchall()) == 75
        assert reconcile(con) == []


def test_the_analysts_copy_reads_its_night_while_a_new_night_writes(tmp_path, landing):
    work = tmp_path / "w.work.duckdb"
    analysts = tmp_path / "w.duckdb"
    write_csv(landing / "medical_claims_1.csv", _claims(30))
    con, _ = ingest(work, landing)
    publish_warehouse(con, work, analysts)

    reader = connect(analysts, read_only=True)  # an analyst's session, left open
    assert reader.execute("select count(*) from raw.medical_claims").fetchone() == (90,)

    write_csv(landing / "medical_claims_2.csv", _claims(10, prefix="D"))
    ingest_landing(con, landing, IngestSettings(run_quality=False))
    assert con.execute("select count(*) from raw.medical_claims").fetchone() == (120,)
    # The open session and a new one on the copy see the night it holds, not the new files.
    assert reader.execute("select count(*) from raw.medical_claims").fetchone() == (90,)
    with connect(analysts, read_only=True) as fresh:
        assert fresh.execute("select count(*) from raw.medical_claims").fetchone() == (90,)
    reader.close()  # (in one process, connections to a path share one open database)
    publish_warehouse(con, work, analysts)
    with connect(analysts, read_only=True) as fresh:
        assert fresh.execute("select count(*) from raw.medical_claims").fetchone() == (120,)
    # The copy holds the file list, not the rows: it stays small whatever the raw history.
    assert analysts.stat().st_size < 5 * 1024 * 1024
