-- Report: published nights whose gates were overridden for that run (e.g. a tier count
-- allowed to move more than the limit), so a jump in the trend has its explanation: the
-- nights in the history and tonight, with the gate and the override recorded with it.
with

published_runs as (
    select as_of, run_id from history.publications
    where as_of < getvariable('as_of')
    union all
    select cast(getvariable('as_of') as date) as as_of, getvariable('landing_run_id') as run_id
)

select distinct
    published_runs.as_of,
    gates.gate,
    gates.override
from raw.night_gates as gates
inner join published_runs
    on published_runs.run_id = gates.run_id
where gates.override is not null
order by published_runs.as_of, gates.gate
