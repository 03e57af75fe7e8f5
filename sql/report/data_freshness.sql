-- Report: how fresh the claims behind tonight's list are. Over the claim lines loaded so far
-- with a service date on or before the as-of date: the latest service date, the latest paid
-- date (on or before the as-of date), the days from the latest service date to the as-of
-- date, and the claims lag: the median days from service (through date) to payment of the
-- lines paid in the `recent_months` before the as-of date.
-- Reads the claim lines in force (raw.rows_in_force, the rows staging.stg_medical_claims
-- holds) for their three dates only: through the staging view it also joins the diagnosis
-- fill over every line, at 2-4 times the cost, for columns this report does not read.
with

lines as (
    select
        service_from_date,
        coalesce(service_to_date, service_from_date) as service_to_date,
        paid_date
    from raw.rows_in_force('medical_claims')
    where service_from_date <= getvariable('as_of')
),

recent as (
    select paid_date - service_to_date as lag_days
    from lines
    where paid_date <= getvariable('as_of')
        and paid_date > cast(getvariable('as_of') - to_months(getvariable('recent_months')) as date)
)

select
    (select max(service_from_date) from lines) as latest_service_date,
    (select max(paid_date) from lines where paid_date <= getvariable('as_of')) as latest_paid_date,
    cast(getvariable('as_of') as date) - (select max(service_from_date) from lines)
        as days_since_latest_service,
    (select median(lag_days) from recent) as median_claims_lag_days,
    (select count(*) from recent) as lines_paid_recently
