"""A claim line without a principal diagnosis keeps its place (issue 8 item 4): it takes its
claim's diagnosis from another line; a claim with none still makes its ED visit (not
avoidable) and its stay (unplanned). Hand-built members through the real SQL models."""

from __future__ import annotations

from datetime import date

from pipelines.report import REPORT_SQL
from tests.builders import CHEMO_DX, KNEE_REPLACEMENT, RawBuilder, build, query


def test_lines_without_a_principal_diagnosis_keep_their_events(tmp_path):
    b = RawBuilder()
    b.member("filled")
    days = {"service_from_date": date(2026, 3, 1), "service_to_date": date(2026, 3, 3)}
    # Line 1 has no diagnosis; line 2 has chemotherapy (always planned): the stay is planned.
    b.claim(
        "filled",
        [
            {"revenue_code": "0120", "principal_diagnosis_code": None, **days},
            {"revenue_code": "0250", "principal_diagnosis_code": CHEMO_DX, **days},
        ],
        claim_id="FILL",
        claim_type="institutional",
        bill_type="111",
        admission_date=date(2026, 3, 1),
        discharge_date=date(2026, 3, 3),
        admission_type_code="1",
    )
    b.member("no_dx")
    # Elective with a potentially planned procedure, but no diagnosis at all: nothing shows
    # the stay was planned, so it is unplanned and counts.
    b.stay(
        "no_dx",
        date(2026, 4, 1),
        date(2026, 4, 4),
        dx=None,
        procedure=KNEE_REPLACEMENT,
        admission_type="3",
    )
    b.ed_visit("no_dx", date(2026, 5, 2), dx=None)
    con = build(b, tmp_path / "w.duckdb")

    assert query(
        con,
        "select claim_line_number, principal_diagnosis_code from staging.stg_medical_claims "
        "where claim_id = 'FILL' order by 1",
    ).rows() == [(1, CHEMO_DX), (2, CHEMO_DX)]
    assert query(
        con,
        "select member_id, principal_diagnosis_code, is_planned, is_counted "
        "from intermediate.int_stays order by member_id",
    ).rows() == [("filled", CHEMO_DX, True, False), ("no_dx", None, False, True)]
    assert query(
        con,
        "select member_id, ed_date, principal_diagnosis_code, is_avoidable "
        "from intermediate.int_ed_visits",
    ).rows() == [("no_dx", date(2026, 5, 2), None, False)]
    # The report counts them as a data-quality figure: 1 of 1 visit, 1 of 2 stays.
    figures = con.execute((REPORT_SQL / "events_without_diagnosis.sql").read_text()).fetchall()
    assert figures[0][:4] == (1, 1, 2, 1)
