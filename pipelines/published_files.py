"""What each published file holds, column by column, in words a care manager can use.

One source: the manifest's column definitions and the README's table of published columns
(between the `published-columns` markers, rewritten by `python -m pipelines.docs`) are both
generated from here, and a test fails when a published table has a column not defined here
or a definition names a column the table does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.measures import CRITERIA, EXCLUSION_REASONS, TIERS

LIST_SEPARATOR = ";"  # how a list column is written in the CSV (Parquet keeps the list)


@dataclass(frozen=True)
class PublishedFile:
    name: str  # file stem: <name>.parquet and <name>.csv
    table: str  # the publish.* table it is written from
    holds: str  # what one row is, in one sentence
    columns: dict[str, str]  # column -> meaning, in the table's column order


_AS_OF = "The night this list is for (the as-of date): every row of a file carries it."
_MEMBER = "The plan's member id, as delivered in eligibility and claims."

CANDIDATES = PublishedFile(
    "candidates",
    "publish.pub_candidates",
    "One row per member on tonight's list, sorted by tier (High, Moderate, Low, Monitoring), "
    "then score, highest first.",
    {
        "as_of": _AS_OF,
        "member_id": _MEMBER,
        "tier": f"One of {', '.join(TIERS)}. High meets the ECM high-utilizer criteria (refer "
        "for ECM); Moderate is one event short of a threshold; Low had an ED visit or "
        "unplanned stay in 12 months; Monitoring would be High or Moderate but declined or "
        "could not be reached.",
        "reason": "Why the member is on the list, in one sentence: the counts, their period and "
        "the threshold they are compared with (and for Monitoring, why and since when).",
        "change_status": "new (never on an earlier list), continuing (on the previous list) or "
        "returning (on an earlier list, but not the previous one).",
        "previous_tier": "The tier on the previous list; empty when not on it.",
        "monitoring_reason": "Monitoring only: declined (the member declined care management) "
        "or unreachable (could not be reached), from the care-management status file.",
        "monitoring_since": "Monitoring only: the date of that care-management status.",
        "plan_code": "The member's health plan (from the latest enrollment span).",
        "county": "The member's county (from the latest enrollment span).",
        "pcp_npi": "The assigned primary care provider's NPI, from eligibility; empty when none "
        "was delivered.",
        "age_group": "adult (21 or older on the as-of date) or child (under 21): which rule "
        "applies.",
        "tier_rank": "Position within the tier (1 is first to call).",
        "score": "How far past the thresholds: each measure of the member's rule divided by "
        "its threshold, added up. 1.0 or more meets a criterion.",
        "criteria_met": f"The criteria met, joined by ';': {', '.join(CRITERIA)}; empty when "
        "none (Moderate, Low).",
        "ed_visits_6m": "ED visits in the 6 months to the as-of date (a visit folded into a "
        "hospital admission is not counted here).",
        "ed_visits_12m": "ED visits in the 12 months to the as-of date.",
        "avoidable_ed_visits_6m": "Avoidable ED visits in the 6 months to the as-of date, by "
        "the rules' method (the DHCS avoidable list by default, or the NYU ED algorithm; with "
        "NYU fractional a sum of fractions, so 3 decimals).",
        "avoidable_ed_visits_12m": "Avoidable ED visits in the 12 months to the as-of date.",
        "unplanned_hospital_stays_6m": "Unplanned hospital stays admitted in the 6 months to "
        "the as-of date.",
        "unplanned_hospital_stays_12m": "Unplanned hospital stays admitted in the 12 months to "
        "the as-of date.",
        "unplanned_snf_stays_6m": "Unplanned short-term skilled-nursing stays admitted in the 6 "
        "months to the as-of date.",
        "unplanned_snf_stays_12m": "Unplanned short-term skilled-nursing stays admitted in the "
        "12 months to the as-of date.",
        "best_window_ed_visits": "Adults only: the ED visits the adult rule counts in the best "
        "six-month window (the one with the most; 3 decimals with NYU fractional).",
        "best_window_stays": "Adults only: unplanned hospital and short-term SNF stays in the "
        "best six-month window.",
        "best_window_ed_start": "Adults only: first day of the best six-month ED window.",
        "best_window_ed_end": "Adults only: last day of the best six-month ED window.",
        "best_window_stays_start": "Adults only: first day of the best six-month stays window.",
        "best_window_stays_end": "Adults only: last day of the best six-month stays window.",
        "first_event_date": "Date of the earliest counted ED visit or stay in the 12 months.",
        "last_event_date": "Date of the latest counted ED visit or stay in the 12 months.",
    },
)

EVIDENCE = PublishedFile(
    "evidence",
    "publish.pub_evidence",
    "One row per ED visit or hospital or SNF stay in the 12 months behind a listed member, "
    "counted or not, with the claims it came from.",
    {
        "as_of": _AS_OF,
        "member_id": _MEMBER,
        "event_id": "The event's id in tonight's evidence (a visit's or a stay's).",
        "event_type": "ed_visit, hospital_stay or snf_stay.",
        "event_date": "The visit date, or the admission date of a stay.",
        "end_date": "The discharge date of a stay (the visit date for an ED visit).",
        "claim_ids": "The claims that make up the event (in the CSV joined by ';').",
        "principal_diagnosis_code": "The principal diagnosis (ICD-10-CM) the event was judged by.",
        "avoidable": "ED visits: avoidable by the rules' method (the DHCS list, or NYU).",
        "avoidable_method": "ED visits: the method that decided avoidable: dhcs, nyu_threshold "
        "or nyu_fractional.",
        "avoidable_figure": "ED visits under NYU: the diagnosis's non-emergent + primary-care "
        "treatable + preventable probability; empty under dhcs or when NYU does not classify it "
        "(injury, mental health, alcohol, drug, unknown code).",
        "avoidable_weight": "ED visits: what the visit adds to the avoidable count (1 or 0, or "
        "the NYU fraction).",
        "planned": "Stays: planned (transplant, chemotherapy, rehabilitation, delivery, or a "
        "planned procedure for a non-acute condition); planned stays do not count.",
        "planned_reason": "Stays: why planned: pr1_procedure, pr2_diagnosis, pr3_procedure (CMS "
        "Planned Readmission Algorithm tables) or delivery_newborn; empty when unplanned.",
        "short_term": "SNF stays: shorter than the short-term limit (90 days by default).",
        "via_ed": "Stays: the member came through the ED (the ED visit is part of the stay).",
        "counted": "The event counts toward the member's measures.",
        "in_12m": "In the 12 months to the as-of date.",
        "in_6m": "In the 6 months to the as-of date.",
        "in_best_ed_window": "Counted in the adult's best six-month ED window.",
        "in_best_stays_window": "Counted in the adult's best six-month stays window.",
        "why_counted": "Why the event counts or not, in words.",
    },
)

EXCLUSIONS = PublishedFile(
    "exclusions",
    "publish.pub_exclusions",
    "One row per member who would have a tier but is not referred, with the reason.",
    {
        "as_of": _AS_OF,
        "member_id": _MEMBER,
        "would_be_tier": "The tier the member would have had.",
        "criteria_met": "The criteria met, joined by ';' (as on the list).",
        "exclusion_reason": f"The first reason, in this order: {', '.join(EXCLUSION_REASONS)}.",
        "exclusion_reasons": "Every reason that applies (in the CSV joined by ';').",
    },
)

DROPPED = PublishedFile(
    "dropped",
    "publish.pub_dropped",
    "One row per member on the previous list who is not on tonight's, with the reason.",
    {
        "as_of": _AS_OF,
        "member_id": _MEMBER,
        "previous_as_of": "The as-of date of the previous list.",
        "previous_tier": "The member's tier on the previous list.",
        "previous_criteria_met": "The criteria met on the previous list.",
        "drop_reason": "An exclusion reason (the member is now excluded) or "
        "no_qualifying_events (no ED visit or counted stay left in the 12 months).",
    },
)

PUBLISHED_FILES = (CANDIDATES, EVIDENCE, EXCLUSIONS, DROPPED)

README_BEGIN = "<!-- published-columns: generated by python -m pipelines.docs -->"
README_END = "<!-- /published-columns -->"


def readme_table() -> str:
    """The README's table of published columns, between its markers."""
    lines = [README_BEGIN]
    for published in PUBLISHED_FILES:
        lines += [
            "",
            f"`{published.name}.parquet` / `{published.name}.csv`: {published.holds}",
            "",
            "| column | meaning |",
            "|---|---|",
        ]
        lines += [f"| {name} | {meaning} |" for name, meaning in published.columns.items()]
    lines += ["", README_END]
    return "\n".join(lines)


def replace_readme_table(readme: str) -> str:
    """The README text with its published-columns table regenerated."""
    start, end = readme.index(README_BEGIN), readme.index(README_END) + len(README_END)
    return readme[:start] + readme_table() + readme[end:]
