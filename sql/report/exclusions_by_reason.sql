-- Report: members who would have a tier tonight but are not referred, per exclusion reason
-- (the first that applies, in the published order) and the tier they would have had.
select
    exclusion_reason,
    would_be_tier,
    count(*) as members
from publish.pub_exclusions
group by exclusion_reason, would_be_tier
order by
    list_position(getvariable('exclusion_order'), exclusion_reason),
    list_position(getvariable('tier_order'), would_be_tier)
