-- Gate input: members per tier tonight (publish.pub_candidates) against the last publication
-- before this as-of date (history.published_candidates). No rows on the first publication.
-- A tier that moves by more than gates.max_tier_change_percent and by at least
-- gates.min_tier_change_members members blocks the night (pipelines/gates.py).
with

previous as (
    select max(as_of) as as_of
    from history.publications
    where as_of < getvariable('as_of')
),

previous_counts as (
    select tier, count(*) as members
    from history.published_candidates
    where as_of = (select as_of from previous)
    group by tier
),

tonight_counts as (
    select tier, count(*) as members
    from publish.pub_candidates
    group by tier
),

tiers as (
    select unnest(getvariable('tier_order')) as tier
),

final as (
    select
        (select as_of from previous) as previous_as_of,
        tiers.tier,
        coalesce(previous_counts.members, 0) as previous_members,
        coalesce(tonight_counts.members, 0) as tonight_members
    from tiers
    left join previous_counts on previous_counts.tier = tiers.tier
    left join tonight_counts on tonight_counts.tier = tiers.tier
    where (select as_of from previous) is not null
)

select * from final
