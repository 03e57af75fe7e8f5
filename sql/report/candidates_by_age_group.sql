-- Report: tonight's candidates per age group (adult: 21+, child: under 21).
select age_group as label, count(*) as value
from publish.pub_candidates
group by all
order by label
