-- Report: how fresh the claims behind tonight's list are. Over the claim lines loaded so far
-- with a service date on or before the as-of date: the latest service date, the latest paid
-- date (on or before the as-of date), the days from the latest service date to the as-of
-- date, and the claims lag: the median days from service (through date) to payment of the
-- lines paid in the `recent_months` before the as-of date.
-- Reads the claim lines in force (raw.rows_in_force, the rows staging.stg_medical_claims
-- holds) for their three dates only, in one pass: every figure is a filtered aggregate (the
-- staging view would add the diagnosis fill over every line; a WHERE on the dates, pushed
-- below the superseded-rows anti-join into the Parquet scan, made it 8 times slower).
with

bounds as (
    select
        cast(getvariable('as_of') as date) as as_of,
        cast(getvariable('as_of') - to_months(getvariable('recent_months')) as date)
            as recent_after
),

lines as (
    select
        lines.service_from_date,
        coalesce(lines.service_to_date, lines.service_from_date) as service_to_date,
        lines.paid_date,
        lines.service_from_date <= bounds.as_of as served,
        lines.paid_date <= bounds.as_of as paid_by_as_of,
        lines.paid_date <= bounds.as_of and lines.paid_date > bounds.recent_after
            as paid_recently
    from raw.rows_in_force('medical_claims') as lines
    cross join bounds
),

figures as (
    select
        max(service_from_date) filter (where served) as latest_service_date,
        max(paid_date) filter (where served and paid_by_as_of) as latest_paid_date,
        median(paid_date - service_to_date) filter (where served and paid_recently)
            as median_claims_lag_days,
        count(*) filter (where served and paid_recently) as lines_paid_recently
    from lines
)

select
    figures.latest_service_date,
    figures.latest_paid_date,
    bounds.as_of - figures.latest_service_date as days_since_latest_service,
    figures.median_claims_lag_days,
    figures.lines_paid_recently
from figures
cross join bounds
