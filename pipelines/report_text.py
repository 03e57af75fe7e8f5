"""The run report's words: human names for checks, gates, states and reasons, and its
definitions section. A manager reads "Claims and eligibility delivered", not
`required_kinds_loaded`; an id missing here shows as its words (underscores as spaces)."""

from __future__ import annotations

from pipelines.config import RuleConfig

TIER_MEANINGS = {
    "High": "refer for ECM",
    "Moderate": "one event short",
    "Low": "some ED or hospital use",
    "Monitoring": "declined or unreachable",
}

GATE_NAMES = {
    "landing_not_empty": "Tonight's landing folder has files",
    "no_file_rejected": "No landing file rejected",
    "required_kinds_loaded": "Claims and eligibility delivered and loaded",
    "quarantine_within_limit": "Quarantined rows within the limit, per file",
    "claims_members_known": "Claims' members are in eligibility",
    "tier_change_within_limit": "Tier counts moved within the limit since the last list",
}

CHECK_NAMES = {
    "rows_reconciled": "Every row read was loaded or quarantined",
    "landing_gates": "Landing gates (files, kinds, quarantine, members)",
    "raw_medical_claims_suite": "Claims quality checks, every row",
    "raw_eligibility_suite": "Eligibility quality checks, every row",
    "raw_care_management_status_suite": "Care-management status quality checks, every row",
    "candidates_suite": "Candidate list quality checks",
    "every_flag_has_evidence": "Every listed member's counts match their evidence",
    "tier_change_gate": "Tier change gate",
}

FILE_STATES = {
    "loaded": "loaded",
    "loaded_with_quarantine": "loaded, some rows quarantined",
    "rejected": "rejected",
    "already_loaded": "already loaded on an earlier night",
    "ignored": "ignored (not a landing file)",
}

EXCLUSION_REASONS = {
    "deceased": "Deceased",
    "not_enrolled": "Not enrolled on the as-of date",
    "hospice": "In hospice",
    "pace": "In PACE",
    "waiver_1915c": "In a 1915(c) waiver",
    "in_ecm": "Already in ECM",
}

MONITORING_REASONS = {
    "declined": "Declined care management",
    "unreachable": "Could not be reached",
}

CRITERION_NAMES = {
    "adult_ed": "Adults: avoidable ED visits",
    "adult_stays": "Adults: unplanned stays",
    "child_ed": "Under 21: ED visits",
    "child_stays": "Under 21: unplanned stays",
}


def human(names: dict[str, str], key: str | None) -> str:
    """The human name of an id; the id in words when it has none."""
    if key is None:
        return ""
    return names.get(key, key.replace("_", " "))


def definitions(rules: RuleConfig) -> list[tuple[str, str]]:
    """The definitions section, with tonight's thresholds."""
    adult, child, months = rules.adult, rules.child, rules.windows
    ed = "ED visits" if adult.ed_measure == "all" else "avoidable ED visits"
    return [
        (
            "High",
            f"Meets the ECM high-utilizer criteria: {rules.adult_min_age} and over, "
            f"{adult.ed_visits}+ {ed} or {adult.unplanned_stays}+ unplanned hospital or "
            f"short-term SNF stays in a {months.period_months}-month period within the last "
            f"{months.lookback_months} months; under {rules.adult_min_age}, "
            f"{child.ed_visits}+ ED visits or {child.unplanned_stays}+ unplanned stays in "
            f"{months.lookback_months} months. Refer for ECM.",
        ),
        (
            "Moderate",
            f"{rules.moderate_margin} event(s) short of a threshold: rising risk.",
        ),
        ("Low", f"Any ED visit or unplanned stay in {months.lookback_months} months."),
        (
            "Monitoring",
            "Would be High or Moderate, but declined care management or could not be "
            "reached; kept in view, not called.",
        ),
        ("New", "On tonight's list and never on an earlier one."),
        ("Continuing", "On tonight's list and on the previous one."),
        ("Returning", "On tonight's list and an earlier one, but not the previous one."),
        (
            "Dropped",
            "On the previous list, not on tonight's: excluded now, or no qualifying event left "
            f"in the {months.lookback_months} months.",
        ),
        (
            "Excluded",
            "Would have a tier but is not referred: deceased, not enrolled, hospice, PACE, "
            "1915(c) waiver or already in ECM.",
        ),
        (
            "Member-months",
            "Each member enrolled at the end of a month counts one member-month; a rate per "
            "1,000 member-months is events x 1,000 / member-months (about 83 per 1,000 is "
            "one event per member per year).",
        ),
        (
            "Unplanned stay",
            "A hospital stay or a short-term (under "
            f"{rules.stays.short_term_snf_days} days) skilled-nursing stay that was not planned.",
        ),
        (
            "Claims lag",
            "Days from the end of a service to the claim's payment (median, over the lines "
            f"paid in the last {months.recent_months} months). The most recent weeks are "
            "incomplete by about this much.",
        ),
    ]
