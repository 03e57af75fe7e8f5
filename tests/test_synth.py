"""The synthetic generator: determinism, the landing contract, and truth that matches the files.

Small extracts under tmp_path; the planted scenarios carry the rule edges of docs/method.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.config import load_rules
from pipelines.contract import CARE_MANAGEMENT_STATUS, ELIGIBILITY, MEDICAL_CLAIMS, FileKind
from pipelines.measures import COUNT_COLUMNS, OUTCOME_COLUMNS, WINDOW_COLUMNS
from pipelines.reference import codes
from pipelines.synth.__main__ import main
from pipelines.synth.calendar import add_months, to_days
from pipelines.synth.codes import load_codes
from pipelines.synth.eligibility import sample_members, sample_spans
from pipelines.synth.planted import planted_scenarios

AS_OF = dt.date(2026, 11, 21)
MEMBERS = 600  # enough for three copies of every scenario
KINDS = (MEDICAL_CLAIMS, ELIGIBILITY, CARE_MANAGEMENT_STATUS)


def _run(out: Path, seed: int = 7, fmt: str = "parquet", members: int = MEMBERS) -> Path:
    main(
        [
            "--members",
            str(members),
            "--months",
            "24",
            "--as-of",
            AS_OF.isoformat(),
            "--seed",
            str(seed),
            "--out",
            str(out),
            "--format",
            fmt,
        ]
    )
    return out


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("parquet"))


@pytest.fixture(scope="module")
def csv_extract(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("csv"), fmt="csv")


def _read(out: Path, kind: FileKind) -> pl.DataFrame:
    files = sorted(out.glob(f"{kind.name}*.parquet"))
    assert files, kind.name
    return pl.concat([pl.read_parquet(f) for f in files])


@pytest.fixture(scope="module")
def claims(extract) -> pl.DataFrame:
    return _read(extract, MEDICAL_CLAIMS)


@pytest.fixture(scope="module")
def truth(extract) -> pl.DataFrame:
    return pl.read_parquet(extract / "truth.parquet")


def _digests(out: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(out.iterdir())}


def test_same_seed_same_bytes_other_seed_differs(extract, tmp_path):
    again = _digests(_run(tmp_path / "again"))
    assert again == _digests(extract)
    other = _digests(_run(tmp_path / "other", seed=8))
    assert other.keys() == again.keys()
    assert other["medical_claims_part0001.parquet"] != again["medical_claims_part0001.parquet"]


def test_every_kind_is_written_with_the_contract_columns(extract, csv_extract):
    for out, fmt in ((extract, "parquet"), (csv_extract, "csv")):
        for kind in KINDS:
            files = list(out.glob(f"{kind.name}*.{fmt}"))
            assert files, (kind.name, fmt)
            for f in files:
                cols = (
                    pl.read_parquet_schema(f)
                    if fmt == "parquet"
                    else pl.read_csv(f, n_rows=1, infer_schema=False).schema
                )
                assert list(cols) == [c.name for c in kind.columns]


def test_csv_values_parse_as_the_contract_types(csv_extract):
    for kind in KINDS:
        df = pl.concat(
            [pl.read_csv(f, infer_schema=False) for f in csv_extract.glob(f"{kind.name}*.csv")]
        )
        for col in kind.columns:
            s = df[col.name]
            if col.required:
                assert s.null_count() == 0 and (s != "").all(), col.name
            if col.required_when:
                other, value = col.required_when
                assert df.filter(pl.col(other) == value)[col.name].null_count() == 0, col.name
            v = s.drop_nulls()
            if col.dtype == "date":
                v.str.to_date("%Y-%m-%d", strict=True)
            elif col.dtype == "integer":
                v.cast(pl.Int64, strict=True)
            elif col.dtype == "decimal":
                v.cast(pl.Float64, strict=True)
            elif col.dtype == "boolean":
                assert set(v.unique()) <= {"true", "false"}, col.name
            if col.length:
                assert (v.str.len_chars() == col.length).all(), col.name
            if col.digits_only:
                assert v.str.contains(r"^\d+$").all(), col.name
            if col.allowed:
                assert set(v.unique()) <= set(col.allowed), col.name


def test_claim_keys_unique_and_versions_point_at_claims(claims):
    assert claims.select("claim_id", "claim_line_number").is_duplicated().sum() == 0
    versions = claims.filter(pl.col("claim_frequency_code").is_in(["7", "8"]))
    assert versions.height > 0
    assert versions["original_claim_id"].null_count() == 0
    assert versions["original_claim_id"].is_in(claims["claim_id"].implode()).all()
    originals = claims.filter(pl.col("claim_frequency_code") == "1")
    assert originals["original_claim_id"].null_count() == originals.height
    later = versions.join(
        claims.select("claim_id", p0="paid_date").unique(),
        left_on="original_claim_id",
        right_on="claim_id",
    )
    assert (later["paid_date"] >= later["p0"]).all()


def test_routine_claims_volume_and_skew(claims, truth):
    per_member = claims.group_by("member_id").len()["len"]
    assert 25 <= claims.height / truth.height <= 60
    assert per_member.median() < per_member.mean()  # skewed: most members have few lines


def test_truth_has_one_row_per_member_and_the_shared_columns(extract, truth):
    elig = _read(extract, ELIGIBILITY)
    assert truth["member_id"].is_unique().all()
    assert set(truth["member_id"]) == set(elig["member_id"])
    for col in ("scenario", *COUNT_COLUMNS, *WINDOW_COLUMNS, *OUTCOME_COLUMNS, "score"):
        assert col in truth.columns
    assert truth["member_id"].str.contains(r"^M\d{9}$").all()


def test_counts_are_consistent(truth):
    for c in (
        "ed_visits",
        "avoidable_ed_visits",
        "unplanned_hospital_stays",
        "unplanned_snf_stays",
    ):
        assert (truth[f"{c}_6m"] >= 0).all()
        assert (truth[f"{c}_6m"] <= truth[f"{c}_12m"]).all()
    assert (truth["avoidable_ed_visits_12m"] <= truth["ed_visits_12m"]).all()
    assert (truth["best_window_ed_visits"] <= truth["avoidable_ed_visits_12m"]).all()
    has_window = truth["best_window_ed_start"].is_not_null()
    assert (has_window == (truth["best_window_ed_visits"] > 0)).all()
    assert (
        (
            truth.filter(has_window).select(
                pl.col("best_window_ed_end") >= pl.col("best_window_ed_start")
            )
        )
        .to_series()
        .all()
    )
    assert set(truth["tier"].drop_nulls()) == {"High", "Moderate", "Low", "Monitoring"}


def test_every_scenario_is_planted_several_times(truth):
    names = {m.scenario for m in planted_scenarios(AS_OF, load_rules())}
    counts = dict(truth.group_by("scenario").len().iter_rows())
    assert all(counts.get(n, 0) == 3 for n in names), counts
    assert counts["background"] == MEMBERS - 3 * len(names)


# scenario: (best_window_ed_visits, best_window_stays, ed_visits_12m, tier, exclusion_reason)
EXPECTED = {
    "adult_ed_at_threshold": (5, 0, 5, "High", None),
    "adult_ed_one_short": (4, 0, 4, "Moderate", None),
    "adult_stays_at_threshold": (0, 3, 0, "High", None),
    "adult_stays_one_short": (0, 2, 0, "Moderate", None),
    "child_ed_at_threshold": (0, 0, 3, "High", None),
    "child_ed_one_short": (0, 0, 2, "Moderate", None),
    "child_stays_at_threshold": (0, 1, 0, "High", None),
    "child_stays_one_short": (0, 1, 0, "Moderate", None),
    "adult_ed_spread_seven_months": (4, 0, 5, "Moderate", None),
    "adult_ed_window_not_latest": (5, 0, 5, "High", None),
    "turns_21_on_as_of": (0, 0, 3, "Low", None),
    "turns_21_day_after_as_of": (0, 0, 3, "High", None),
    "ed_exactly_12_months_before": (0, 0, 2, "Moderate", None),
    "ed_day_after_12_months_before": (0, 0, 3, "High", None),
    "same_day_facility_professional": (4, 0, 4, "Moderate", None),
    "ed_then_admission_next_day": (0, 3, 0, "High", None),
    "direct_transfer": (0, 2, 0, "Moderate", None),
    "snf_95_days": (0, 2, 0, "Moderate", None),
    "snf_89_days": (0, 3, 0, "High", None),
    "hospital_then_snf": (0, 3, 0, "High", None),
    "elective_chemotherapy": (0, 2, 0, "Moderate", None),
    "elective_planned_procedure": (0, 2, 0, "Moderate", None),
    "elective_acute_unplanned": (0, 3, 0, "High", None),
    "voided_event": (4, 0, 4, "Moderate", None),
    "replaced_claim": (5, 0, 5, "High", None),
    "disenrolled": (5, 0, 5, None, "not_enrolled"),
    "in_ecm": (5, 0, 5, None, "in_ecm"),
    "deceased_in_hospice": (5, 0, 5, None, "deceased"),
    "declined": (5, 0, 5, "Monitoring", None),
    "declined_low": (0, 0, 1, "Low", None),
    "status_after_as_of": (5, 0, 5, "High", None),
    "in_ecm_earlier_span_only": (5, 0, 5, "High", None),
    "no_events": (0, 0, 0, None, None),
    # Issue 9, under the default rules (avoidable = the DHCS list).
    "nyu_sum_exactly_half": (0, 0, 5, "Low", None),
    "nyu_only_avoidable": (0, 0, 5, "Low", None),
    "pr3_procedure_emergency_admission": (0, 2, 0, "Moderate", None),
    "secondary_procedure_transplant": (0, 2, 0, "Moderate", None),
    "code_absent_from_ccs_map": (0, 3, 0, "High", None),
    "pos23_reading_not_a_visit": (4, 0, 4, "Moderate", None),
    "midnight_crossing_visit": (4, 0, 4, "Moderate", None),
    "ed_line_inside_stay": (0, 3, 0, "High", None),
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_planted_scenario_truth(truth, scenario):
    rows = truth.filter(pl.col("scenario") == scenario)
    got = (
        rows.select(
            "best_window_ed_visits",
            "best_window_stays",
            "ed_visits_12m",
            "tier",
            "exclusion_reason",
        )
        .unique()
        .rows()
    )
    assert got == [EXPECTED[scenario]]


def test_window_edges(truth):
    def one(scenario: str) -> dict:
        return truth.filter(pl.col("scenario") == scenario).row(0, named=True)

    early = one("adult_ed_window_not_latest")
    assert early["avoidable_ed_visits_6m"] == 0
    assert (early["best_window_ed_start"], early["best_window_ed_end"]) == (
        dt.date(2025, 11, 22),
        dt.date(2026, 5, 21),
    )
    assert one("turns_21_on_as_of")["age_group"] == "adult"
    assert one("turns_21_day_after_as_of")["age_group"] == "child"
    assert one("hospital_then_snf")["unplanned_snf_stays_12m"] == 1
    assert one("snf_95_days")["unplanned_snf_stays_12m"] == 0
    assert one("disenrolled")["would_be_tier"] == "High"
    assert one("adult_ed_at_threshold")["criteria_met"] == "adult_ed"
    assert one("adult_ed_at_threshold")["score"] == 1.0


def _members_of(truth: pl.DataFrame, scenario: str) -> pl.Series:
    return truth.filter(pl.col("scenario") == scenario)["member_id"].implode()


def test_planted_claim_shapes(claims, truth):
    void = claims.filter(pl.col("member_id").is_in(_members_of(truth, "voided_event")))
    voided = void.filter(pl.col("claim_frequency_code") == "8")["original_claim_id"].unique()
    assert voided.len() >= 3  # each copy voids its ED visit's facility and professional claims
    replaced = claims.filter(pl.col("member_id").is_in(_members_of(truth, "replaced_claim")))
    assert (replaced["claim_frequency_code"] == "7").any()
    transfer = claims.filter(pl.col("member_id").is_in(_members_of(truth, "direct_transfer")))
    assert (transfer["discharge_status_code"] == "02").sum() > 0
    snf = claims.filter(pl.col("member_id").is_in(_members_of(truth, "snf_95_days")))
    assert snf.filter(pl.col("bill_type").str.starts_with("21"))["claim_id"].n_unique() >= 3 * 4


def test_ed_visits_in_claims_match_truth(claims, truth):
    """Re-derive ED visits from the claim lines (method.md 1 and 3) and compare for everyone."""
    rank = pl.col("claim_frequency_code").replace_strict({"1": 0, "7": 1, "8": 2})
    family = pl.coalesce("original_claim_id", "claim_id").alias("family")
    latest = (
        claims.select("claim_id", "claim_frequency_code", "paid_date", family)
        .unique("claim_id")
        .sort("paid_date", rank, "claim_id")
        .group_by("family")
        .last()
        .filter(pl.col("claim_frequency_code") != "8")
    )
    live = claims.filter(pl.col("claim_id").is_in(latest["claim_id"].implode()))
    ed_rev, ed_hcpcs = codes("ed_codes", "revenue"), codes("ed_codes", "hcpcs")
    ed_pos = codes("ed_codes", "place_of_service")
    ed_pos_em = codes("ed_codes", "ed_pos_procedure")
    inst = pl.col("claim_type") == "institutional"
    hcpcs = pl.col("hcpcs_code")
    is_ed = (inst & (pl.col("revenue_code").is_in(ed_rev) | hcpcs.is_in(ed_hcpcs))) | (
        ~inst
        & (
            hcpcs.is_in(ed_hcpcs)
            | (pl.col("place_of_service").is_in(ed_pos) & hcpcs.is_in(ed_pos_em))
        )
    )
    # ED claims -> visits: overlapping claims, or claims a day apart with a professional one.
    ed_claims = (
        live.filter(is_ed)
        .group_by("member_id", "claim_id")
        .agg(
            inst=inst.first(),
            start=pl.col("service_from_date").min(),
            end=pl.col("service_to_date").max(),
            dx=pl.col("principal_diagnosis_code").first(),
        )
        .sort("member_id", "start", "end", "claim_id")
    )
    prior_end = pl.col("end").cum_max().shift(1).over("member_id")
    prior_prof = (~pl.col("inst")).shift(1).over("member_id")
    new_visit = (
        prior_end.is_null()
        | (pl.col("start") > prior_end + pl.duration(days=1))
        | ((pl.col("start") > prior_end) & pl.col("inst") & ~prior_prof)
    )
    visits = (
        ed_claims.with_columns(visit=new_visit.cast(pl.Int32).cum_sum().over("member_id"))
        .sort("member_id", "visit", ~pl.col("inst"), "claim_id")
        .group_by("member_id", "visit")
        .agg(date=pl.col("start").min(), dx=pl.col("dx").first())
    )
    stays = (
        live.filter(pl.col("bill_type").str.starts_with("11"))
        .select("member_id", adm="admission_date", dis="discharge_date")
        .unique()
    )
    day = pl.duration(days=1)
    folded = (
        visits.join(stays, on="member_id")
        .filter(
            (pl.col("date") >= pl.col("adm") - day)
            & ((pl.col("date") <= pl.col("adm")) | (pl.col("date") < pl.col("dis")))
        )
        .select("member_id", "date")
        .unique()
    )
    start = dt.date(2025, 11, 21)
    counted = (
        visits.join(folded, on=["member_id", "date"], how="anti")
        .filter((pl.col("date") > start) & (pl.col("date") <= AS_OF))
        .group_by("member_id")
        .agg(
            ed=pl.len(),
            avoidable=pl.col("dx").is_in(codes("dhcs_avoidable_ed_diagnoses")).sum(),
        )
    )
    cmp = truth.join(counted, on="member_id", how="left").with_columns(
        pl.col("ed", "avoidable").fill_null(0)
    )
    bad = cmp.filter(
        (pl.col("ed") != pl.col("ed_visits_12m"))
        | (pl.col("avoidable") != pl.col("avoidable_ed_visits_12m"))
    )
    assert bad.height == 0, bad.select("member_id", "scenario", "ed", "ed_visits_12m").head()
    assert cmp["ed"].sum() > 100


def test_too_few_members_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        _run(tmp_path, members=10)


def test_no_enrollment_span_ends_before_it_starts_at_scale():
    """Rare histories (a late start after a death) only show at scale: 200,000 members."""
    as_of = dt.date(2026, 11, 21)
    rng = np.random.default_rng([3, 0])
    members = sample_members(rng, np.arange(200_000, dtype=np.int64), load_codes(), to_days(as_of))
    spans = sample_spans(rng, members, to_days(add_months(as_of, -24)) + 1, to_days(as_of))
    assert (spans.end >= spans.start).all()
