-- The published candidate list for the as-of date: one row per listed member, sorted by tier
-- (High, Moderate, Low, Monitoring), then score (highest first), then the most recent event.
-- change_status compares with earlier publications:
--   new        never on a list published for an earlier as-of date
--   continuing on the list of the previous publication (the latest earlier as-of date)
--   returning  on an earlier list, but not on the previous one
with

candidates as (
    select * from marts.fct_candidates
),

earlier as (
    select * from history.published_candidates
    where as_of < getvariable('as_of')
),

previous as (
    select
        member_id,
        tier
    from earlier
    where as_of = (select max(as_of) from earlier)
),

ever_listed as (
    select distinct member_id from earlier
),

final as (
    select
        candidates.*,
        case
            when previous.member_id is not null then 'continuing'
            when ever_listed.member_id is not null then 'returning'
            else 'new'
        end as change_status,
        previous.tier as previous_tier
    from candidates
    left join previous using (member_id)
    left join ever_listed using (member_id)
)

select * from final
order by
    list_position(getvariable('tier_order'), tier),
    score desc,
    last_event_date desc,
    member_id
