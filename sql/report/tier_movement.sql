-- Report: tier movement since the last publication: members by their tier on the previous
-- list (or "not on the previous list") and their tier tonight (or "dropped": on no tier
-- tonight). Every member of either list is in exactly one cell.
with

moves as (
    select
        coalesce(previous_tier, 'not on the previous list') as previous_tier,
        tier
    from publish.pub_candidates
    union all
    select
        previous_tier,
        'dropped' as tier
    from publish.pub_dropped
),

final as (
    select
        previous_tier,
        tier,
        count(*) as members
    from moves
    group by all
)

select * from final
order by
    coalesce(list_position(getvariable('tier_order'), previous_tier), 99),
    coalesce(list_position(getvariable('tier_order'), tier), 99)
