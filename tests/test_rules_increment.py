"""Claim-level models brought forward night to night (pipelines/rules/increment.py) give the
same tables as a rebuild from every line, night after night, whatever the nights deliver.

Two warehouses ingest the same landing night after night: one brings its incremental tables
forward, the other forgets their record before every build and so rebuilds them from every
line. After each night every incremental table, the models built on them and the marts must
hold the same rows. The nights deliver what real claims feeds do to version families:
replacements and voids, a correction that makes an office claim an ED claim, a line added
to a claim delivered earlier, a replacement whose original arrives later, a claim whose two
lines name different originals (joining two families), a replacement corrected into an
original (splitting its family), a replacement cycle delivered over two nights, a claim
moved to another member (a stay claim, then an ED claim in no family), and a principal
diagnosis taken away from a claim's first line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.config import load_rules
from pipelines.contract import MEDICAL_CLAIMS
from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from pipelines.paths import SQL_DIR
from pipelines.rules import increment
from pipelines.rules.models import build_models, discover_models, prepare
from pipelines.warehouse import is_landed
from tests.builders import RawBuilder, build
from tests.ingest_helpers import write_contract_parquet, write_csv

AS_OF = dt.date(2026, 6, 30)
HEADER = [
    "claim_id",
    "claim_line_number",
    "member_id",
    "claim_type",
    "claim_frequency_code",
    "original_claim_id",
    "bill_type",
    "revenue_code",
    "place_of_service",
    "hcpcs_code",
    "service_from_date",
    "service_to_date",
    "admission_date",
    "discharge_date",
    "admission_type_code",
    "principal_diagnosis_code",
    "procedure_code_2",
    "paid_date",
    "paid_amount",
]
ELIGIBILITY_HEADER = ["member_id", "enrollment_start_date", "birth_date", "in_ecm"]
MEMBERS = ("M1", "M2", "M3", "M4")
INCREMENTAL = [m.table for m in discover_models() if m.incremental and m.materialized == "table"]
COMPARED = [
    *INCREMENTAL,
    "intermediate.int_ed_visits",
    "intermediate.int_stays",
    "intermediate.int_events",
    "marts.fct_member_measures",
    "marts.fct_candidates",
    "marts.fct_evidence",
]


def _line(claim_id: str, number: int, member: str, kind: str, day: int, **fields: str):
    """One claim line of a kind: 'ed' (facility, revenue 0450), 'stay' (hospital inpatient),
    'office' (a professional office visit) or 'ed_pro' (professional, POS 23, ED E&M)."""
    date = f"2026-{(day - 1) // 28 + 1:02d}-{(day - 1) % 28 + 1:02d}"
    kinds = {
        "ed": {"claim_type": "institutional", "bill_type": "131", "revenue_code": "0450"},
        "stay": {
            "claim_type": "institutional",
            "bill_type": "111",
            "revenue_code": "0120",
            "admission_date": date,
            "discharge_date": date,
            "admission_type_code": "1",
        },
        "office": {"claim_type": "professional", "place_of_service": "11", "hcpcs_code": "99213"},
        "ed_pro": {"claim_type": "professional", "place_of_service": "23", "hcpcs_code": "99283"},
    }
    return {
        "claim_id": claim_id,
        "claim_line_number": str(number),
        "member_id": member,
        "service_from_date": date,
        "service_to_date": date,
        "principal_diagnosis_code": "J069",
        "paid_date": "2026-06-01",
        "paid_amount": "100.00",
        **kinds[kind],
        **fields,
    }


def _replaces(original: str, paid: str = "2026-06-10") -> dict[str, str]:
    return {"claim_frequency_code": "7", "original_claim_id": original, "paid_date": paid}


def _voids(original: str) -> dict[str, str]:
    return {"claim_frequency_code": "8", "original_claim_id": original, "paid_date": "2026-06-20"}


NIGHTS: list[list[dict[str, str]]] = [
    # Night 1: ED, stay and office claims; a family (C4 replaced by R4); a replacement of a
    # claim never delivered (R9 of C9).
    [
        _line("C1", 1, "M1", "ed", 10),
        _line("C2", 1, "M1", "stay", 20, procedure_code_2="0SRD0J9"),
        _line("C2", 2, "M1", "stay", 21, principal_diagnosis_code=""),
        _line("C3", 1, "M2", "office", 30),
        _line("C4", 1, "M2", "ed", 40),
        _line("R4", 1, "M2", "ed", 40, **_replaces("C4")),
        _line("R9", 1, "M3", "ed_pro", 50, **_replaces("C9")),
        _line("C5", 1, "M3", "ed", 60),
        _line("C6", 1, "M4", "stay", 70),
    ],
    # Night 2: C3 corrected into an ED claim, with a line added; C1 voided; C2 replaced by an
    # outpatient claim; C9 (R9's original) arrives, paid later than R9; a cycle begins (A
    # replaces B).
    [
        _line("C3", 1, "M2", "ed_pro", 30),
        _line("C3", 2, "M2", "office", 30),
        _line("V1", 1, "M1", "ed", 10, **_voids("C1")),
        _line("R2", 1, "M1", "ed", 20, bill_type="131", **_replaces("C2")),
        _line("C9", 1, "M3", "ed_pro", 50, paid_date="2026-06-15"),
        _line("B", 1, "M4", "ed", 80),
        _line("A", 1, "M4", "ed", 80, **_replaces("B", "2026-06-05")),
    ],
    # Night 3: the cycle closes (B replaces A); J's two lines name C4 and C5, joining their
    # families; R4 corrected into an original (its family splits); C6 moves to member M1;
    # C2's first line loses its principal diagnosis (the claim's diagnosis comes from line 2
    # no more: neither line has one).
    [
        _line("B", 1, "M4", "ed", 80, **_replaces("A", "2026-06-06")),
        _line("J", 1, "M3", "ed", 90, **_replaces("C4", "2026-06-25")),
        _line("J", 2, "M3", "ed", 90, **_replaces("C5", "2026-06-25")),
        _line("R4", 1, "M2", "ed", 40),
        _line("C6", 1, "M1", "stay", 70),
        _line("C2", 1, "M1", "stay", 20, principal_diagnosis_code="", procedure_code_2=""),
    ],
    # Night 4: the same lines again (duplicates), a new ED claim, and R9 voided.
    [
        _line("C3", 1, "M2", "ed_pro", 30),
        _line("C7", 1, "M2", "ed", 100),
        _line("V9", 1, "M3", "ed_pro", 50, **_voids("R9")),
    ],
    # Night 5: C7, a claim in no family, moved to M1: M2's visit of it goes too. C8's line has
    # an impossible date: quarantined at ingest, it never reaches the models.
    [
        _line("C7", 1, "M1", "ed", 100),
        _line("C8", 1, "M1", "ed", 100, service_from_date="2026-13-45"),
    ],
]


def _night(con: duckdb.DuckDBPyConnection, landing: Path, night: int, *, forget: bool) -> bool:
    """Ingest tonight's landing and build the models; returns whether the incremental tables
    were brought forward (rather than rebuilt)."""
    ingest_landing(con, landing, IngestSettings(run_quality=False), run_id=f"n{night}")
    if forget:
        increment.forget(con)
    results = build_models(con, AS_OF, load_rules())
    assert reconcile(con) == []
    brought = {r.rebuilt is not None for r in results if r.table in INCREMENTAL}
    assert len(brought) == 1, "every incremental table brought forward, or none"
    return brought.pop()


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"select * from {table} order by all").fetchall()


def _side_by_side(
    root: Path, nights: list[list[dict[str, str]]], landing_format: str = "csv"
) -> duckdb.DuckDBPyConnection:
    """Run the nights through two warehouses, one bringing its incremental tables forward and
    one rebuilding them every night; after each night every compared table must hold the
    same rows. Returns the first warehouse's connection; fails unless every night after the
    first brought its tables forward. Claims land as CSV (written into the raw layer by
    bucket) or as contract Parquet (kept as delivered, found through their key indexes)."""
    landing = root / "landing"
    landing.mkdir()
    write_csv(
        landing / "eligibility_1.csv",
        [
            {
                "member_id": m,
                "enrollment_start_date": "2020-01-01",
                "birth_date": "1980-01-15",
                "in_ecm": "false",
            }
            for m in MEMBERS
        ],
        ELIGIBILITY_HEADER,
    )
    (root / "kept").mkdir()
    (root / "rebuilt").mkdir()
    kept = duckdb.connect(str(root / "kept" / "w.duckdb"))
    rebuilt = duckdb.connect(str(root / "rebuilt" / "w.duckdb"))
    brought_forward = []
    for night, lines in enumerate(nights, start=1):
        if landing_format == "csv":
            write_csv(landing / f"medical_claims_{night}.csv", lines, HEADER)
        else:
            write_contract_parquet(
                landing / f"medical_claims_{night}.parquet", MEDICAL_CLAIMS, lines
            )
        brought_forward.append(_night(kept, landing, night, forget=False))
        assert not _night(rebuilt, landing, night, forget=True)
        for table in COMPARED:
            assert _rows(kept, table) == _rows(rebuilt, table), (night, table)
    assert brought_forward == [False] + [True] * (len(nights) - 1)
    paths = [
        p
        for (p,) in kept.execute(
            "select path from raw.raw_files where kind = 'medical_claims'"
        ).fetchall()
    ]
    assert all(is_landed(p) == (landing_format == "parquet") for p in paths)
    return kept


def test_tables_brought_forward_equal_tables_rebuilt_every_night(tmp_path: Path):
    kept = _side_by_side(tmp_path, NIGHTS)
    assert kept.execute(
        "select source_file, source_row, column_name, original_value from raw.quarantine"
    ).fetchall() == [("medical_claims_5.csv", 2, "service_from_date", "2026-13-45")]

    # What the nights did, read from the tables (so the comparison above compared something).
    versions = dict(
        kept.execute("select claim_id, is_current from intermediate.int_claim_versions").fetchall()
    )
    assert versions == {
        "A": False,
        "B": True,
        "C1": False,
        "V1": False,
        "C2": False,
        "R2": True,
        "C4": False,  # J joins C4's family (two chains as deep: the smaller root) ...
        "C5": True,  # ... so C5 stays its own family's latest version
        "J": True,
        "C9": False,
        "R9": False,
        "V9": False,
    }
    assert _rows(kept, "intermediate.int_claim_links") == [
        ("A", "B"),
        ("B", "A"),
        ("J", "C4"),
        ("J", "C5"),
        ("R2", "C2"),
        ("R9", "C9"),
        ("V1", "C1"),
        ("V9", "R9"),
    ]
    ed_claims = [
        c for (c,) in kept.execute("select claim_id from intermediate.int_ed_lines").fetchall()
    ]
    assert sorted(ed_claims) == ["B", "C3", "C5", "C7", "J", "J", "R2", "R4"]
    assert kept.execute(
        "select claim_id, member_id, principal_diagnosis_code from intermediate.int_stay_claims"
    ).fetchall() == [("C6", "M1", "J069")]


def test_kept_landing_files_brought_forward_equal_rebuilt(tmp_path: Path):
    """The first four nights as contract Parquet: a night's scope is read from the kept files
    holding its claims, found through their key indexes (night 5's impossible date cannot be
    written as a Parquet date)."""
    kept = _side_by_side(tmp_path, NIGHTS[:4], "parquet")
    current = kept.execute(
        "select claim_id from intermediate.int_claim_versions where is_current order by 1"
    ).fetchall()
    assert current == [("B",), ("C5",), ("J",), ("R2",)]  # as after night 5


def _random_nights(seed: int, nights: int) -> list[list[dict[str, str]]]:
    """Nights of random deliveries over a few claims: new claims (some replacing or voiding a
    random claim, delivered or not), lines delivered again with other content (another
    kind, member, diagnosis, paid date or original), and lines added to earlier claims."""
    rng = random.Random(seed)
    delivered: dict[str, int] = {}  # claim id -> its highest line number so far
    out = []

    def line(claim_id: str, number: int) -> dict[str, str]:
        fields = {
            "paid_date": f"2026-06-{rng.randint(1, 28):02d}",
            "principal_diagnosis_code": rng.choice(["J069", "", "S0990XA", "I214"]),
        }
        if rng.random() < 0.4:
            fields["claim_frequency_code"] = rng.choice(["7", "8"])
            fields["original_claim_id"] = rng.choice([*delivered, "GHOST"])
        kind = rng.choice(["ed", "stay", "office", "ed_pro"])
        return _line(claim_id, number, rng.choice(MEMBERS), kind, rng.randint(1, 170), **fields)

    for night in range(nights):
        lines: dict[tuple[str, int], dict[str, str]] = {}
        for event in range(rng.randint(6, 12)):
            roll = rng.random()
            if roll < 0.4 or not delivered:
                claim_id = f"N{night}-{event}"
                numbers = range(1, rng.randint(1, 3) + 1)
            elif roll < 0.8:
                claim_id = rng.choice(sorted(delivered))
                numbers = [rng.randint(1, delivered[claim_id])]
            else:
                claim_id = rng.choice(sorted(delivered))
                numbers = [delivered[claim_id] + 1]
            for number in numbers:
                lines[(claim_id, number)] = line(claim_id, number)
        for claim_id, number in lines:
            delivered[claim_id] = max(delivered.get(claim_id, 0), number)
        out.append(list(lines.values()))
    return out


@pytest.mark.parametrize(("seed", "landing_format"), [(7, "csv"), (11, "csv"), (7, "parquet")])
def test_random_nights_brought_forward_equal_rebuilt(
    tmp_path: Path, seed: int, landing_format: str
):
    nights = _random_nights(seed, 4)
    kept = _side_by_side(tmp_path, nights, landing_format)
    # The nights made version families, and the families reached the ED lines.
    assert kept.execute("select count(*) from intermediate.int_claim_links").fetchone()[0] > 3
    assert kept.execute("select count(*) from intermediate.int_ed_lines").fetchone()[0] > 3


def test_a_night_rebuilds_when_its_inputs_differ_from_the_record(tmp_path: Path):
    """Other SQL, a row taken out of force by no new file, or a raw layer the ingest did not
    write: every table is rebuilt from every line, and the rebuilt tables are recorded."""
    landing = tmp_path / "landing"
    landing.mkdir()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    rules = load_rules()
    write_csv(landing / "medical_claims_1.csv", NIGHTS[0], HEADER)
    assert not _night(con, landing, 1, forget=False)
    models = discover_models()

    def planned(sql_models=models) -> bool:
        prepare(con, AS_OF, rules)
        night = increment.plan(con, sql_models)
        return night is not None and not night.full

    assert planned()
    # Other SQL: a copy of sql/ with one incremental model's text changed.
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    ed_lines = sql_dir / "intermediate" / "int_ed_lines.sql"
    ed_lines.write_text(ed_lines.read_text() + "\n-- changed\n")
    assert not planned(discover_models(sql_dir))
    # Rows out of force by a file tonight did not deliver.
    con.execute(
        "insert into raw.superseded_rows select kind, file_sha256, source_file, 1, null, "
        "file_sha256, source_file, 1, 'correction', now() from raw.load_ledger "
        "where kind = 'medical_claims'"
    )
    assert not planned()
    con.execute("delete from raw.superseded_rows")
    assert planned()
    # A setting the incremental models do not read changes nothing; the record stays.
    later = dataclasses.replace(rules, stays=dataclasses.replace(rules.stays, transfer_gap_days=3))
    prepare(con, AS_OF, later)
    assert not increment.plan(con, models).full


def test_raw_rows_written_outside_the_ingest_are_always_rebuilt(tmp_path: Path):
    builder = RawBuilder()
    builder.member("M1")
    builder.ed_visit("M1", dt.date(2026, 5, 1))
    con = build(builder, tmp_path / "w.duckdb")
    prepare(con, AS_OF, load_rules())
    assert increment.plan(con, discover_models()).full


@pytest.mark.parametrize("rounds", [1])
def test_a_walk_longer_than_the_limit_rebuilds(tmp_path: Path, monkeypatch, rounds: int):
    """A chain of three links is gathered in two rounds; with one round allowed, the night
    rebuilds every table, and they still equal a rebuild."""
    landing = tmp_path / "landing"
    landing.mkdir()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    write_csv(
        landing / "medical_claims_1.csv",
        [
            _line("K1", 1, "M1", "ed", 10),
            _line("K2", 1, "M1", "ed", 10, **_replaces("K1", "2026-06-02")),
            _line("K3", 1, "M1", "ed", 10, **_replaces("K2", "2026-06-03")),
        ],
        HEADER,
    )
    _night(con, landing, 1, forget=False)
    write_csv(
        landing / "medical_claims_2.csv",
        [_line("K4", 1, "M1", "ed", 10, **_replaces("K3", "2026-06-04"))],
        HEADER,
    )
    monkeypatch.setattr(increment, "MAX_LINK_ROUNDS", rounds)
    assert not _night(con, landing, 2, forget=False)
    assert dict(
        con.execute("select claim_id, is_current from intermediate.int_claim_versions").fetchall()
    ) == {"K1": False, "K2": False, "K3": False, "K4": True}
