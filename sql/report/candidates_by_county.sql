-- Report: tonight's candidates per county and tier (unknown county shown as such), counties
-- with the most High members first, then the most members.
with

counts as (
    select
        coalesce(county, '(unknown)') as label,
        tier,
        count(*) as members
    from publish.pub_candidates
    group by county, tier
),

ranked as (
    select
        *,
        sum(members) filter (where tier = 'High') over (partition by label) as high_members,
        sum(members) over (partition by label) as all_members
    from counts
)

select label, tier, members from ranked
order by
    high_members desc nulls last,
    all_members desc,
    label,
    list_position(getvariable('tier_order'), tier)
