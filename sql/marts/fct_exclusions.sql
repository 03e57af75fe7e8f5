-- fct_exclusions
-- Members who would have a tier but are not referred (method 6, step 1): deceased, not
-- enrolled on the as-of date, in hospice, in PACE, in a 1915(c) waiver, or already in ECM.
-- exclusion_reason is the first in that order; exclusion_reasons lists all of them. Nobody is
-- dropped silently: every member with a would-be tier is either a candidate or here.
-- as_of: the night this table holds (the run's as-of date), on every row.
with

outcomes as (
    select * from intermediate.int_member_outcomes
    where exclusion_reason is not null
),

final as (
    select
        cast(getvariable('as_of') as date) as as_of,
        member_id,
        would_be_tier,
        criteria_met,
        exclusion_reason,
        exclusion_reasons
    from outcomes
    order by member_id
)

select * from final
