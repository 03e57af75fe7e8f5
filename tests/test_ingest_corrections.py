"""Corrections and snapshots (issue 8 item 5), night after night on one warehouse: the real
ingest, the real gates and the real SQL models.

As-of 2026-06-30. M1 is an adult with three unplanned hospital stays in six months (High).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.config import load_gates, load_rules
from pipelines.gates import landing_gates
from pipelines.ingest import IngestSettings, ingest_landing, reconcile
from pipelines.rules.models import build_models
from tests.builders import RawBuilder, build, query
from tests.ingest_helpers import claim, write_csv

AS_OF = dt.date(2026, 6, 30)
ELIGIBILITY_HEADER = ["member_id", "enrollment_start_date", "birth_date", "in_ecm"]


def _stay(claim_id: str, month: int, **overrides: str) -> dict[str, str]:
    day = f"2026-{month:02d}-10"
    end = f"2026-{month:02d}-12"
    return claim(
        claim_id=claim_id,
        member_id="M1",
        service_from_date=day,
        service_to_date=end,
        admission_date=day,
        discharge_date=end,
        revenue_code="0120",
        principal_diagnosis_code="I214",
        admission_type_code="1",
        **overrides,
    )


STAY_HEADER = [*claim(), "admission_date", "discharge_date", "admission_type_code"]


def _span(member: str, in_ecm: str = "false") -> dict[str, str]:
    return {
        "member_id": member,
        "enrollment_start_date": "2020-01-01",
        "birth_date": "1980-01-15",
        "in_ecm": in_ecm,
    }


def _night(con, landing: Path, run_id: str) -> dict[str, bool]:
    """Ingest, gate and build the models; returns gate -> passed (all its results)."""
    ingest_landing(con, landing, IngestSettings(run_quality=False), run_id=run_id)
    gates: dict[str, bool] = {}
    for r in landing_gates(con, run_id, load_gates()):
        gates[r.gate] = gates.get(r.gate, True) and r.passed
    build_models(con, AS_OF, load_rules())
    assert reconcile(con) == []
    return gates


def _m1(con) -> tuple:
    """M1's unplanned stays in 12 months, tier and exclusion reason."""
    return con.execute(
        """
        select m.unplanned_hospital_stays_12m, c.tier, x.exclusion_reason
        from marts.fct_member_measures m
        left join marts.fct_candidates c using (member_id)
        left join marts.fct_exclusions x using (member_id)
        where m.member_id = 'M1'
        """
    ).fetchone()


def test_a_claim_correction_changes_the_members_counts(con, landing):
    stays = [_stay("S1", 1), _stay("S2", 2), _stay("S3", 3)]
    write_csv(landing / "medical_claims_1.csv", stays, STAY_HEADER)
    write_csv(landing / "eligibility_1.csv", [_span("M1")], ELIGIBILITY_HEADER)
    assert all(_night(con, landing, "n1").values())
    assert _m1(con) == (3, "High", None)

    # Night 2: S2 re-delivered with a correction (an outpatient bill type: no stay) and S1
    # identical (a duplicate: counted, not an error, no quarantine).
    write_csv(
        landing / "medical_claims_2.csv",
        [_stay("S1", 1), _stay("S2", 2, bill_type="131")],
        STAY_HEADER,
    )
    gates = _night(con, landing, "n2")
    assert all(gates.values()), gates
    assert _m1(con)[0] == 2
    assert con.execute(
        "select source_file, source_row, by_source_file, reason from raw.superseded_rows "
        "order by source_row"
    ).fetchall() == [
        ("medical_claims_1.csv", 1, "medical_claims_2.csv", "duplicate"),
        ("medical_claims_1.csv", 2, "medical_claims_2.csv", "correction"),
    ]
    assert con.execute(
        "select rows_read, rows_loaded, rows_quarantined, rows_superseded, rows_duplicate "
        "from raw.night_files where run_id = 'n2' and entry_name = 'medical_claims_2.csv'"
    ).fetchone() == (2, 2, 0, 1, 1)
    # The old version is kept in raw, out of force.
    assert con.execute(
        "select count(*) from raw.medical_claims where claim_id = 'S2'"
    ).fetchone() == (2,)


def test_an_eligibility_snapshot_replaces_the_previous_one(con, landing):
    stays = [_stay("S1", 1), _stay("S2", 2), _stay("S3", 3)]
    write_csv(landing / "medical_claims_1.csv", stays, STAY_HEADER)
    write_csv(landing / "eligibility_1.csv", [_span("M1"), _span("M2")], ELIGIBILITY_HEADER)
    _night(con, landing, "n1")
    assert _m1(con) == (3, "High", None)

    # Night 2: the full-refresh file has the same keys (not duplicates: a new snapshot), M1
    # now in ECM, and M2 gone.
    (landing / "eligibility_1.csv").unlink()
    write_csv(landing / "eligibility_2.csv", [_span("M1", "true")], ELIGIBILITY_HEADER)
    gates = _night(con, landing, "n2")
    assert all(gates.values()), gates
    assert con.execute("select count(*) from raw.quarantine").fetchone() == (0,)
    assert con.execute(
        "select member_id, in_ecm from staging.stg_eligibility order by member_id"
    ).fetchall() == [("M1", True)]
    assert _m1(con) == (3, None, "in_ecm")

    # Night 3: an incremental file adds M3 and corrects M1; the night-2 snapshot stays.
    write_csv(
        landing / "eligibility_incremental_3.csv",
        [_span("M1"), _span("M3")],
        ELIGIBILITY_HEADER,
    )
    _night(con, landing, "n3")
    assert con.execute(
        "select member_id, in_ecm from staging.stg_eligibility order by member_id"
    ).fetchall() == [("M1", False), ("M3", False)]
    assert _m1(con) == (3, "High", None)


def test_a_snapshot_with_every_row_quarantined_blocks_and_keeps_nothing_stale(con, landing):
    write_csv(landing / "medical_claims_1.csv", [_stay("S1", 1)], STAY_HEADER)
    write_csv(landing / "eligibility_1.csv", [_span("M1")], ELIGIBILITY_HEADER)
    _night(con, landing, "n1")
    bad = [{**_span("M1"), "birth_date": "15/01/1980"}]
    write_csv(landing / "eligibility_2.csv", bad, ELIGIBILITY_HEADER)
    gates = _night(con, landing, "n2")
    assert not gates["required_kinds_loaded"] and not gates["quarantine_within_limit"]


def test_night_one_rejected_night_two_corrected_publishes(con, landing):
    """The rejected bytes block night 1; the corrected file under the same name replaces
    them: night 2 judges the files in force tonight and passes. Rows of the first delivery
    that come again unchanged are duplicates, not quarantined rows."""
    rows = [claim(claim_id=f"C{i}") for i in range(1, 11)]
    write_csv(landing / "eligibility_1.csv", [_span("M1")], ELIGIBILITY_HEADER)
    (landing / "medical_claims_1.csv").write_text(
        "|".join(rows[0]) + "\n" + "\n".join("|".join(r.values()) for r in rows) + "\n"
    )
    gates = _night(con, landing, "n1")
    assert not gates["no_file_rejected"]

    write_csv(landing / "medical_claims_1.csv", rows)
    gates = _night(con, landing, "n2")
    assert all(gates.values()), gates

    # Night 3: 2 of 10 rows bad (20% > 1%): blocked. Night 4: the corrected file, 8 rows
    # unchanged: passes (duplicates do not count against the quarantine limit).
    more = [claim(claim_id=f"D{i}") for i in range(1, 11)]
    bad = [*more[:8], {**more[8], "service_from_date": "x"}, {**more[9], "paid_amount": "y"}]
    write_csv(landing / "medical_claims_2.csv", bad)
    assert not _night(con, landing, "n3")["quarantine_within_limit"]
    write_csv(landing / "medical_claims_2.csv", more)
    gates = _night(con, landing, "n4")
    assert all(gates.values()), gates
    assert con.execute(
        "select rows_read, rows_loaded, rows_quarantined, rows_duplicate from raw.night_files "
        "where run_id = 'n4' and entry_name = 'medical_claims_2.csv'"
    ).fetchone() == (10, 10, 0, 8)


def test_claims_that_replace_each_other_count_once(tmp_path):
    """A replaces B and B replaces A (a cycle): one family rooted at the smallest claim_id;
    its latest version (paid date) counts, and so does nothing else of the cycle. A claim
    replacing a member of the cycle joins the same family."""
    b = RawBuilder()
    b.member("cycle")
    b.stay("cycle", dt.date(2026, 2, 1), dt.date(2026, 2, 3))
    a = b.stay("cycle", dt.date(2026, 3, 1), dt.date(2026, 3, 3))
    c = b.stay("cycle", dt.date(2026, 3, 1), dt.date(2026, 3, 3))
    for claim_id, other, paid in ((a, c, 10), (c, a, 11)):
        for line in b.claims[claim_id]:
            line.update(
                claim_frequency_code="7",
                original_claim_id=other,
                paid_date=dt.date(2026, 4, paid),
            )
    con = build(b, tmp_path / "w.duckdb")
    assert query(
        con,
        "select claim_id, family_root_id, is_current from intermediate.int_claim_versions "
        "order by claim_id",
    ).rows() == [(a, min(a, c), False), (c, min(a, c), True)]
    assert query(
        con, "select count(*) from intermediate.int_stays where member_id = 'cycle'"
    ).rows() == [(2,)]


def test_claims_of_members_the_snapshot_in_force_lacks_are_unknown(con, landing):
    """The claims_members_known gate judges the eligibility snapshot in force: M2 enrolled
    on night 1 and missing from night 2's full snapshot makes M2's claims unknown."""
    write_csv(landing / "medical_claims_1.csv", [claim(claim_id="C1", member_id="M2")])
    write_csv(landing / "eligibility_1.csv", [_span("M1"), _span("M2")], ELIGIBILITY_HEADER)
    assert _night(con, landing, "n1")["claims_members_known"]
    write_csv(landing / "eligibility_1.csv", [_span("M1")], ELIGIBILITY_HEADER)
    assert not _night(con, landing, "n2")["claims_members_known"]


def test_a_corrected_line_drops_its_earlier_procedures(con, landing):
    """Night 1: an elective stay with a potentially planned procedure (procedure_code_2) and a
    non-acute diagnosis is planned. Night 2 corrects the line without that procedure: the
    stay is unplanned, the earlier version's procedure no longer counts."""
    header = [*STAY_HEADER, "procedure_code_2"]
    elective = {"admission_type_code": "3", "principal_diagnosis_code": "M1711"}
    write_csv(
        landing / "medical_claims_1.csv",
        [{**_stay("S1", 3), **elective, "procedure_code_2": "0SRD0J9"}],
        header,
    )
    write_csv(landing / "eligibility_1.csv", [_span("M1")], ELIGIBILITY_HEADER)
    _night(con, landing, "n1")
    planned = "select is_planned from intermediate.int_stays where member_id = 'M1'"
    assert con.execute(planned).fetchall() == [(True,)]
    write_csv(
        landing / "medical_claims_2.csv",
        [{**_stay("S1", 3), **elective, "procedure_code_2": ""}],
        header,
    )
    _night(con, landing, "n2")
    assert con.execute(planned).fetchall() == [(False,)]


def test_members_with_claims_and_no_eligibility_follow_the_lines_in_force(con, landing):
    """int_members finds such members from the claim lines per member kept between nights:
    a line corrected to another member moves them, a void removes them, and the kept counts
    give the same members as counts rebuilt from every line in force."""

    def members() -> list[str]:
        return [
            m
            for (m,) in con.execute(
                "select member_id from intermediate.int_members order by 1"
            ).fetchall()
        ]

    write_csv(landing / "eligibility_1.csv", [_span("M1")], ELIGIBILITY_HEADER)
    write_csv(
        landing / "medical_claims_1.csv",
        [claim(claim_id="C1", member_id="M1"), claim(claim_id="C2", member_id="U1")],
    )
    _night(con, landing, "n1")
    assert members() == ["M1", "U1"]

    # C2's line delivered again under U2 (the earlier delivery is out of force), and a new
    # member's claim.
    write_csv(
        landing / "medical_claims_2.csv",
        [claim(claim_id="C2", member_id="U2"), claim(claim_id="C3", member_id="U3")],
    )
    _night(con, landing, "n2")
    assert members() == ["M1", "U2", "U3"]

    # C3 voided: U3's only claim no longer counts.
    void = claim(claim_id="V3", member_id="U3", claim_frequency_code="8", original_claim_id="C3")
    write_csv(
        landing / "medical_claims_3.csv",
        [void],
        [*claim(), "claim_frequency_code", "original_claim_id"],
    )
    _night(con, landing, "n3")
    assert members() == ["M1", "U2"]

    con.execute("delete from raw.claim_member_lines")
    con.execute("delete from raw.claim_count_files")
    build_models(con, AS_OF, load_rules())
    assert members() == ["M1", "U2"]
