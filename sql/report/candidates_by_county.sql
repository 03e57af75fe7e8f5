-- Report: tonight's candidates per county (unknown county shown as such), largest first.
select coalesce(county, '(unknown)') as label, count(*) as value
from publish.pub_candidates
group by all
order by value desc, label
