-- Report: members per tier on every published list up to tonight (the history kept in the
-- warehouse, and tonight's list, which joins the history only once published). A tier with
-- no member on a night counts 0, so every line has a point on every night; a night that
-- listed no one has no point. Earlier nights come from history.published_tiers (members per
-- tier per night), not from every earlier list.
with

nights as (
    select as_of, tier, members from history.published_tiers
    where as_of < getvariable('as_of')
    union all
    select getvariable('as_of') as as_of, tier, count(*) as members
    from publish.pub_candidates
    group by tier
),

grid as (
    select distinct
        nights.as_of,
        tiers.tier
    from nights
    cross join (select unnest(getvariable('tier_order')) as tier) as tiers
),

final as (
    select
        grid.as_of,
        grid.tier,
        cast(coalesce(sum(nights.members), 0) as bigint) as members
    from grid
    left join nights
        on nights.as_of = grid.as_of
        and nights.tier = grid.tier
    group by all
)

select * from final
order by as_of, list_position(getvariable('tier_order'), tier)
