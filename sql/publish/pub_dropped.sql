-- Members on the previous publication who are not on tonight's list, and why:
-- the exclusion reason when they are now excluded, otherwise no_qualifying_events
-- (no ED visit or counted stay left in the 12-month look-back). as_of is tonight.
with

earlier as (
    select * from history.published_candidates
    where as_of < getvariable('as_of')
),

previous as (
    select
        as_of,
        member_id,
        tier,
        criteria_met
    from earlier
    where as_of = (
        select max(as_of) from history.publications where as_of < getvariable('as_of')
    )
),

exclusions as (
    select * from marts.fct_exclusions
),

final as (
    select
        cast(getvariable('as_of') as date) as as_of,
        previous.member_id,
        previous.as_of as previous_as_of,
        previous.tier as previous_tier,
        previous.criteria_met as previous_criteria_met,
        coalesce(exclusions.exclusion_reason, 'no_qualifying_events') as drop_reason
    from previous
    anti join marts.fct_candidates as candidates using (member_id)
    left join exclusions using (member_id)
)

select * from final
order by member_id
