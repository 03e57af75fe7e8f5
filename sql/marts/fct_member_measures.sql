-- materialized: view
-- fct_member_measures
-- One row per member (everyone in eligibility plus anyone with a counting claim): age, the
-- 6- and 12-month counts, the best six-month windows, the criteria met, the tier (null when
-- excluded or no tier), the tier before exclusions, the first exclusion reason, the score and
-- the first and last event dates. Column names are pipelines/measures.py's, shared with the
-- generator's truth. The rules themselves are in int_member_windows and int_member_outcomes.
-- as_of: the night this table holds (the run's as-of date), on every row.
with

outcomes as (
    select * from intermediate.int_member_outcomes
),

final as (
    select
        cast(getvariable('as_of') as date) as as_of,
        member_id,
        age,
        ed_visits_6m,
        ed_visits_12m,
        avoidable_ed_visits_6m,
        avoidable_ed_visits_12m,
        unplanned_hospital_stays_6m,
        unplanned_hospital_stays_12m,
        unplanned_snf_stays_6m,
        unplanned_snf_stays_12m,
        best_window_ed_visits,
        best_window_stays,
        best_window_ed_start,
        best_window_ed_end,
        best_window_stays_start,
        best_window_stays_end,
        age_group,
        criteria_met,
        tier,
        would_be_tier,
        exclusion_reason,
        score,
        first_event_date,
        last_event_date
    from outcomes
    order by member_id
)

select * from final
