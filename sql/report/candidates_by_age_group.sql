-- Report: tonight's candidates per age group (adult: 21 and over, child: under 21) and tier.
with

counts as (
    select
        age_group as label,
        tier,
        count(*) as members
    from publish.pub_candidates
    group by age_group, tier
)

select * from counts
order by label, list_position(getvariable('tier_order'), tier)
