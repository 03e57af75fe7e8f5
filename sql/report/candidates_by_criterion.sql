-- Report: members meeting each PoF 2 criterion (a member meeting two counts in both).
select criterion as label, count(*) as value
from (
    select unnest(string_split(criteria_met, ';')) as criterion
    from publish.pub_candidates
    where criteria_met is not null
)
group by all
order by label
