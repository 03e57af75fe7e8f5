"""Hand-built members for the rules on real code lists (issue 9): ED visits as HEDIS and the
Tuva encounter grouper count them, avoidable ED under the DHCS list and the NYU algorithm
(threshold and fractional), planned stays under the CMS PRA v4.0 as published.

As-of 2026-06-30; one small warehouse per rule set.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from pipelines.config import load_rules
from tests.builders import (
    ACUTE_DX,
    AVOIDABLE_DX,
    KNEE_REPLACEMENT,
    NOT_AVOIDABLE_DX,
    RawBuilder,
    build,
    mart_rows,
    query,
    with_ed_measure,
)

D = date
NYU_HALF_DX = "A6000"  # NYU: epct 0.5, nothing else: figure exactly 0.5
NYU_ONLY_DX = "R0789"  # chest pain: not on the DHCS list; NYU figure 0.6111111111
NOT_IN_NYU_DX = "U071"  # COVID-19: newer than the NYU table and the CCS 2019 maps
ATRIAL_FLUTTER = "I4892"  # CCS 106, not acute
ABLATION = "02583ZZ"  # CCS 49, on the PR3 ICD-10-PCS list
KIDNEY_TRANSPLANT = "0TY00Z0"  # CCS 105: PR1
NEW_PROCEDURE = "XW033E5"  # not in the CCS 2019 procedure map


def _professional(b: RawBuilder, member: str, day: date, hcpcs: str, dx: str = AVOIDABLE_DX):
    line = {"place_of_service": "23", "hcpcs_code": hcpcs}
    return b.claim(
        member,
        [{**line, "service_from_date": day, "service_to_date": day}],
        claim_type="professional",
        principal_diagnosis_code=dx,
    )


def scenarios() -> RawBuilder:
    b = RawBuilder()
    # ED lines.
    b.member("pos23_radiology")  # a chest X-ray read with place of service 23: no visit
    _professional(b, "pos23_radiology", D(2026, 3, 1), "71046")
    b.member("pos23_office_em")  # an E&M code with place of service 23: a visit
    _professional(b, "pos23_office_em", D(2026, 3, 1), "99213")
    b.member("pos23_critical_care")
    _professional(b, "pos23_critical_care", D(2026, 3, 1), "99291")
    b.member("midnight")  # facility on the 1st, professional on the 2nd: one visit
    b.ed_visit("midnight", D(2026, 3, 1), dx=AVOIDABLE_DX)
    b.ed_visit("midnight", D(2026, 3, 2), dx=NOT_AVOIDABLE_DX, kind="professional")
    b.member("two_facility_days")  # two facility claims on consecutive days: two visits
    b.ed_visit("two_facility_days", D(2026, 3, 1))
    b.ed_visit("two_facility_days", D(2026, 3, 2))
    b.member("chain")  # facility 1st, professional 2nd, professional 3rd: one visit
    b.ed_visit("chain", D(2026, 3, 1))
    b.ed_visit("chain", D(2026, 3, 2), kind="professional")
    b.ed_visit("chain", D(2026, 3, 3), kind="professional")
    b.member("professional_first")  # professional on the 1st, facility on the 2nd: one visit
    b.ed_visit("professional_first", D(2026, 3, 1), kind="professional")
    b.ed_visit("professional_first", D(2026, 3, 2))
    # A professional claim on the 1st inside a facility claim of the 1st-2nd, then a facility
    # claim on the 3rd: the latest end so far (the 2nd) is a facility's, so two visits.
    b.member("facility_outlasts")
    b.ed_visit("facility_outlasts", D(2026, 3, 1), kind="professional")
    b.claim(
        "facility_outlasts",
        [
            {
                "bill_type": "131",
                "revenue_code": "0450",
                "service_from_date": D(2026, 3, 1),
                "service_to_date": D(2026, 3, 2),
            }
        ],
        claim_type="institutional",
        principal_diagnosis_code=AVOIDABLE_DX,
    )
    b.ed_visit("facility_outlasts", D(2026, 3, 3))
    b.member("ed_inside_stay")  # an ED line inside a stay belongs to it; discharge day: new
    b.stay("ed_inside_stay", D(2026, 3, 10), D(2026, 3, 15))
    b.ed_visit("ed_inside_stay", D(2026, 3, 12))
    b.ed_visit("ed_inside_stay", D(2026, 3, 15))

    # Avoidable: one visit per diagnosis, a month apart.
    b.member("avoidable_mix")
    for month, dx in enumerate(
        (AVOIDABLE_DX, NYU_HALF_DX, NYU_ONLY_DX, NOT_AVOIDABLE_DX, NOT_IN_NYU_DX), start=1
    ):
        b.ed_visit("avoidable_mix", D(2026, month, 5), dx=dx)
    # Five NYU-only visits: not avoidable under DHCS; 5 visits under NYU threshold; 3.055 under
    # fractional (Moderate needs 4: Low).
    b.member("nyu_five")
    for month in (1, 2, 3, 4, 5):
        b.ed_visit("nyu_five", D(2026, month, 5), dx=NYU_ONLY_DX)
    # Seven NYU-only visits: 4.277 under fractional (Moderate), 7 under threshold (High).
    b.member("nyu_seven")
    for day in (1, 8, 15, 22):
        b.ed_visit("nyu_seven", D(2026, 2, day), dx=NYU_ONLY_DX)
    for day in (1, 8, 15):
        b.ed_visit("nyu_seven", D(2026, 3, day), dx=NYU_ONLY_DX)

    # Planned stays (CMS PRA v4.0).
    b.member("ablation")  # PR3 procedure, non-acute diagnosis, emergency admission: planned
    b.stay("ablation", D(2026, 2, 1), D(2026, 2, 3), dx=ATRIAL_FLUTTER, procedure=ABLATION)
    b.ed_visit("ablation", D(2026, 4, 1), dx=NOT_AVOIDABLE_DX)  # Low: listed with evidence
    b.member("pr3_with_pr4")  # PR3 procedure with an acute (PR4) diagnosis: unplanned
    b.stay(
        "pr3_with_pr4",
        D(2026, 2, 1),
        D(2026, 2, 3),
        dx=ACUTE_DX,
        procedure=KNEE_REPLACEMENT,
        admission_type="3",
    )
    b.member("secondary_transplant")  # PR1 as the second procedure: planned
    b.stay(
        "secondary_transplant",
        D(2026, 2, 1),
        D(2026, 2, 9),
        dx=ACUTE_DX,
        procedure="0DTJ4ZZ",
        procedure_code_2=KIDNEY_TRANSPLANT,
    )
    b.member("transplant_second_claim")  # PR1 on the second claim of a transfer: planned
    b.stay("transplant_second_claim", D(2026, 2, 1), D(2026, 2, 3), status="82")
    b.stay(
        "transplant_second_claim",
        D(2026, 2, 4),
        D(2026, 2, 9),
        procedure=KIDNEY_TRANSPLANT,
    )
    b.member("delivery")  # delivery diagnosis: planned
    b.stay("delivery", D(2026, 2, 1), D(2026, 2, 3), dx="Z370")
    b.member("unmapped")  # codes newer than the CCS maps: counted, the stay is unplanned
    b.stay("unmapped", D(2026, 2, 1), D(2026, 2, 3), dx=NOT_IN_NYU_DX, procedure=NEW_PROCEDURE)
    return b


def _rules(name: str):
    rules = load_rules()
    if name == "dhcs":
        return rules
    return with_ed_measure(rules, "nyu", name.removeprefix("nyu_"))


@pytest.fixture(scope="module", params=["dhcs", "nyu_threshold", "nyu_fractional"])
def warehouse(request: pytest.FixtureRequest, tmp_path_factory) -> tuple[str, Any]:
    path = tmp_path_factory.mktemp(request.param) / "w.duckdb"
    con = build(scenarios(), path, rules=_rules(request.param))
    yield request.param, con
    con.close()


@pytest.fixture(scope="module")
def dhcs(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    con = build(scenarios(), tmp_path_factory.mktemp("dhcs") / "w.duckdb")
    yield con
    con.close()


def _visits(con: duckdb.DuckDBPyConnection, member: str) -> list[dict[str, Any]]:
    return query(
        con,
        "select ed_date, ed_end_date, principal_diagnosis_code, claim_ids, is_folded,"
        " avoidable_method, avoidable_figure, avoidable_not_classified_as, avoidable_weight"
        f" from intermediate.int_ed_visits where member_id = '{member}' order by ed_date",
    ).to_dicts()


def _stay(con: duckdb.DuckDBPyConnection, member: str) -> dict[str, Any]:
    rows = query(
        con,
        "select admission_date, discharge_date, procedure_codes, is_planned, planned_reason,"
        f" is_counted from intermediate.int_stays where member_id = '{member}'",
    ).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_pos23_line_needs_an_em_or_critical_care_code(dhcs):
    assert _visits(dhcs, "pos23_radiology") == []
    assert len(_visits(dhcs, "pos23_office_em")) == 1
    assert len(_visits(dhcs, "pos23_critical_care")) == 1
    measures = mart_rows(dhcs, "marts.fct_member_measures")
    assert measures["pos23_radiology"]["ed_visits_12m"] == 0
    assert measures["pos23_radiology"]["tier"] is None


def test_facility_and_professional_across_midnight_are_one_visit(dhcs):
    (visit,) = _visits(dhcs, "midnight")
    assert (visit["ed_date"], visit["ed_end_date"]) == (D(2026, 3, 1), D(2026, 3, 2))
    assert len(visit["claim_ids"]) == 2
    # The facility claim's diagnosis decides.
    assert visit["principal_diagnosis_code"] == AVOIDABLE_DX
    (chain,) = _visits(dhcs, "chain")
    assert (chain["ed_date"], chain["ed_end_date"]) == (D(2026, 3, 1), D(2026, 3, 3))
    assert [v["ed_date"] for v in _visits(dhcs, "two_facility_days")] == [
        D(2026, 3, 1),
        D(2026, 3, 2),
    ]
    (professional_first,) = _visits(dhcs, "professional_first")
    assert (professional_first["ed_date"], professional_first["ed_end_date"]) == (
        D(2026, 3, 1),
        D(2026, 3, 2),
    )
    assert [(v["ed_date"], v["ed_end_date"]) for v in _visits(dhcs, "facility_outlasts")] == [
        (D(2026, 3, 1), D(2026, 3, 2)),
        (D(2026, 3, 3), D(2026, 3, 3)),
    ]
    measures = mart_rows(dhcs, "marts.fct_member_measures")
    assert measures["midnight"]["ed_visits_12m"] == 1
    assert measures["two_facility_days"]["ed_visits_12m"] == 2


def test_ed_line_inside_a_stay_belongs_to_it(dhcs):
    inside, discharge_day = _visits(dhcs, "ed_inside_stay")
    assert inside["ed_date"] == D(2026, 3, 12) and inside["is_folded"]
    assert discharge_day["ed_date"] == D(2026, 3, 15) and not discharge_day["is_folded"]
    assert mart_rows(dhcs, "marts.fct_member_measures")["ed_inside_stay"]["ed_visits_12m"] == 1


EXPECTED_MIX = {  # per method: (weight, figure, not classified as) for each visit in date order
    "dhcs": [("1", None, None), ("0", None, None), ("0", None, None), ("0", None, None),
             ("0", None, None)],
    "nyu_threshold": [
        ("1", "1.0000000000", None),
        ("0", "0.5000000000", None),  # exactly 0.5 is not above the threshold
        ("1", "0.6111111111", None),
        ("0", None, "injury"),
        ("0", None, "not in the NYU table"),
    ],
    "nyu_fractional": [
        ("1", "1.0000000000", None),
        ("0.5", "0.5000000000", None),
        ("0.611", "0.6111111111", None),
        ("0", None, "injury"),
        ("0", None, "not in the NYU table"),
    ],
}  # fmt: skip


def test_each_visit_says_which_method_and_figure_decided_it(warehouse):
    method, con = warehouse
    got = [
        (
            str(Decimal(v["avoidable_weight"]).normalize()),
            None if v["avoidable_figure"] is None else f"{v['avoidable_figure']:.10f}",
            v["avoidable_not_classified_as"],
        )
        for v in _visits(con, "avoidable_mix")
    ]
    assert got == EXPECTED_MIX[method]
    assert {v["avoidable_method"] for v in _visits(con, "avoidable_mix")} == {method}
    m = mart_rows(con, "marts.fct_member_measures")["avoidable_mix"]
    assert (
        m["avoidable_ed_visits_12m"]
        == {
            "dhcs": Decimal(1),
            "nyu_threshold": Decimal(2),
            "nyu_fractional": Decimal("2.111"),
        }[method]
    )
    evidence = query(
        con,
        "select avoidable_method, avoidable_figure, avoidable_weight, why_counted"
        " from marts.fct_evidence where member_id = 'avoidable_mix' order by event_date",
    ).to_dicts()
    assert [e["avoidable_weight"] for e in evidence] == [
        Decimal(w) for w, _, _ in EXPECTED_MIX[method]
    ]
    if method == "dhcs":
        assert evidence[0]["why_counted"].startswith(
            f"ED visit, principal diagnosis {AVOIDABLE_DX}, avoidable (on the DHCS list)"
        )
    else:
        assert "NYU noner+epct+edcnpa 0.6111111111 counts" in evidence[2]["why_counted"]
        assert "NYU: not classified (injury)" in evidence[3]["why_counted"]


def test_adult_rule_under_each_method(warehouse):
    method, con = warehouse
    m = mart_rows(con, "marts.fct_member_measures")
    five, seven = m["nyu_five"], m["nyu_seven"]
    expected = {
        "dhcs": ((Decimal(0), "Low"), (Decimal(0), "Low")),
        "nyu_threshold": ((Decimal(5), "High"), (Decimal(7), "High")),
        "nyu_fractional": ((Decimal("3.055"), "Low"), (Decimal("4.277"), "Moderate")),
    }[method]
    assert (five["best_window_ed_visits"], five["tier"]) == expected[0]
    assert (seven["best_window_ed_visits"], seven["tier"]) == expected[1]
    assert five["ed_visits_12m"] == 5 and seven["ed_visits_12m"] == 7
    if method == "nyu_fractional":
        assert seven["score"] == pytest.approx(round(4.277 / 5, 3))


def test_planned_stays_follow_the_published_pra(dhcs):
    ablation = _stay(dhcs, "ablation")
    assert (ablation["is_planned"], ablation["planned_reason"]) == (True, "pr3_procedure")
    acute = _stay(dhcs, "pr3_with_pr4")
    assert (acute["is_planned"], acute["is_counted"]) == (False, True)
    transplant = _stay(dhcs, "secondary_transplant")
    assert transplant["procedure_codes"] == ["0DTJ4ZZ", KIDNEY_TRANSPLANT]
    assert transplant["planned_reason"] == "pr1_procedure"
    merged = _stay(dhcs, "transplant_second_claim")  # status 82 merges the transfer
    assert (merged["admission_date"], merged["discharge_date"]) == (D(2026, 2, 1), D(2026, 2, 9))
    assert merged["planned_reason"] == "pr1_procedure"
    assert _stay(dhcs, "delivery")["planned_reason"] == "delivery_newborn"
    unmapped = _stay(dhcs, "unmapped")
    assert (unmapped["is_planned"], unmapped["is_counted"]) == (False, True)
    evidence = query(
        dhcs,
        "select why_counted from marts.fct_evidence"
        " where member_id = 'ablation' and event_type = 'hospital_stay'",
    ).to_dicts()
    assert evidence == [
        {
            "why_counted": "not counted: planned stay (CMS PRA PR3: potentially planned"
            " procedure, diagnosis not acute)"
        }
    ]


def test_codes_missing_from_the_ccs_maps_are_counted(dhcs):
    rows = query(
        dhcs, "select code_kind, code, stays from intermediate.int_unmapped_codes"
    ).to_dicts()
    assert rows == [
        {"code_kind": "diagnosis", "code": NOT_IN_NYU_DX, "stays": 1},
        {"code_kind": "procedure", "code": NEW_PROCEDURE, "stays": 1},
    ]
