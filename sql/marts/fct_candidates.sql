-- fct_candidates
-- The candidate list: one row per member with a tier (High, Moderate, Low or Monitoring) after
-- exclusions. Minimum necessary fields: no names, no birth dates. Within a tier members rank
-- by score (highest first), then the most recent event date, then member_id (tier_rank).
-- as_of: the night this table holds (the run's as-of date), on every row.
with

outcomes as (
    select * from intermediate.int_member_outcomes
    where tier is not null
),

final as (
    select
        cast(getvariable('as_of') as date) as as_of,
        member_id,
        plan_code,
        county,
        age_group,
        tier,
        row_number() over (
            partition by tier
            order by score desc nulls last, last_event_date desc nulls last, member_id
        ) as tier_rank,
        score,
        criteria_met,
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
        first_event_date,
        last_event_date
    from outcomes
    order by
        list_position(getvariable('tier_order'), tier),
        tier_rank
)

select * from final
