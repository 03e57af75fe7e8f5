-- Report: tonight's candidates per tier, in tier order.
select tier as label, count(*) as value
from publish.pub_candidates
group by tier
order by list_position(getvariable('tier_order'), tier)
