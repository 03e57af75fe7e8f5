-- Report: candidates per as-of date: earlier publications from the history kept in the
-- warehouse, and tonight's list (recorded in the history only once it is published).
select label, value
from (
    select
        strftime(as_of, '%Y-%m-%d') as label,
        count(*) as value
    from history.published_candidates
    where as_of < getvariable('as_of')
    group by as_of
    union all
    select
        strftime(getvariable('as_of'), '%Y-%m-%d') as label,
        count(*) as value
    from publish.pub_candidates
)
order by label
