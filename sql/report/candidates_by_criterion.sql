-- Report: High members meeting each PoF 2 criterion (a member meeting two counts in both).
-- Monitoring members who would be High are left out: they are not referred.
select criterion as label, count(*) as value
from (
    select unnest(string_split(criteria_met, ';')) as criterion
    from publish.pub_candidates
    where tier = 'High'
)
group by all
order by label
