"""The per-member measures and outcomes, named once.

`marts.fct_member_measures` (the SQL) and the generator's truth.parquet both carry these
columns under these names, so the truth comparison is a join, not a mapping.
"""

COUNT_COLUMNS = (
    "ed_visits_6m",
    "ed_visits_12m",
    "avoidable_ed_visits_6m",
    "avoidable_ed_visits_12m",
    "unplanned_hospital_stays_6m",
    "unplanned_hospital_stays_12m",
    "unplanned_snf_stays_6m",
    "unplanned_snf_stays_12m",
    "best_window_ed_visits",
    "best_window_stays",
)
WINDOW_COLUMNS = (
    "best_window_ed_start",
    "best_window_ed_end",
    "best_window_stays_start",
    "best_window_stays_end",
)
OUTCOME_COLUMNS = (
    "age_group",  # adult | child
    "criteria_met",  # e.g. "adult_ed;adult_stays"; null when none
    "tier",  # High | Moderate | Low | Monitoring; null when excluded or no tier
    "would_be_tier",  # the tier before exclusions; null when no tier
    "exclusion_reason",  # deceased | not_enrolled | hospice | pace | waiver_1915c | in_ecm
)
TIERS = ("High", "Moderate", "Low", "Monitoring")
CRITERIA = ("adult_ed", "adult_stays", "child_ed", "child_stays")
EXCLUSION_REASONS = ("deceased", "not_enrolled", "hospice", "pace", "waiver_1915c", "in_ecm")
