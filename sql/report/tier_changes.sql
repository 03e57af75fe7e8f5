-- Report: what changed since the last publication, per tier. For each tier: members tonight,
-- on the previous list, and tonight's new, continuing and returning members; dropped counts
-- the members of the previous list in that tier who are on no tier tonight. The previous
-- list is the latest publication before this as-of date (none on the first night).
with

tonight as (
    select tier, change_status from publish.pub_candidates
),

previous as (
    select tier from history.published_candidates
    where as_of = (
        select max(as_of) from history.publications where as_of < getvariable('as_of')
    )
),

dropped as (
    select previous_tier as tier from publish.pub_dropped
),

tiers as (
    select unnest(getvariable('tier_order')) as tier
),

final as (
    select
        tiers.tier,
        (select count(*) from tonight where tonight.tier = tiers.tier) as tonight,
        (select count(*) from previous where previous.tier = tiers.tier) as previous,
        (select count(*) from tonight where tonight.tier = tiers.tier
            and change_status = 'new') as new,
        (select count(*) from tonight where tonight.tier = tiers.tier
            and change_status = 'continuing') as continuing,
        (select count(*) from tonight where tonight.tier = tiers.tier
            and change_status = 'returning') as returning,
        (select count(*) from dropped where dropped.tier = tiers.tier) as dropped
    from tiers
)

select * from final
order by list_position(getvariable('tier_order'), tier)
