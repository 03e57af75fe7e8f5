-- Report: how fresh the claims behind tonight's list are. Over the claim lines in force with
-- a service date on or before the as-of date: the latest service date, the latest paid date
-- (on or before the as-of date), the days from the latest service date to the as-of date,
-- and the claims lag: the median days from service (through date) to payment of the lines
-- paid in the `recent_months` before the as-of date.
-- Reads raw.claim_date_lines, the lines in force counted per (service from, service to, paid)
-- date, kept between nights (pipelines/claim_counts.py): a few hundred thousand counts
-- instead of every line. The median is DuckDB's (quantile_cont 0.5: the mean of the two
-- middle lags when the count is even), found on the lags' running count.
with

bounds as (
    select
        cast(getvariable('as_of') as date) as as_of,
        cast(getvariable('as_of') - to_months(getvariable('recent_months')) as date)
            as recent_after
),

counted as (
    select
        dates.service_from_date,
        dates.paid_date,
        dates.paid_date - dates.service_to_date as lag_days,
        dates.lines,
        dates.service_from_date <= bounds.as_of as served,
        dates.paid_date <= bounds.as_of as paid_by_as_of,
        dates.paid_date <= bounds.as_of and dates.paid_date > bounds.recent_after
            as paid_recently
    from raw.claim_date_lines as dates
    cross join bounds
),

lags as (
    select
        lag_days,
        sum(lines) as lines
    from counted
    where served and paid_recently and lag_days is not null
    group by lag_days
),

running as (
    select
        lag_days,
        sum(lines) over (order by lag_days rows between unbounded preceding and current row)
            as lines_up_to,
        sum(lines) over () as lines_all
    from lags
),

median_lag as (
    select
        (
            min(lag_days) filter (where lines_up_to > (lines_all - 1) // 2)
            + min(lag_days) filter (where lines_up_to > lines_all // 2)
        ) / 2.0 as median_claims_lag_days
    from running
),

figures as (
    select
        max(service_from_date) filter (where served) as latest_service_date,
        max(paid_date) filter (where served and paid_by_as_of) as latest_paid_date,
        coalesce(sum(lines) filter (where served and paid_recently), 0)::bigint
            as lines_paid_recently
    from counted
)

select
    figures.latest_service_date,
    figures.latest_paid_date,
    bounds.as_of - figures.latest_service_date as days_since_latest_service,
    median_lag.median_claims_lag_days,
    figures.lines_paid_recently
from figures
cross join median_lag
cross join bounds
