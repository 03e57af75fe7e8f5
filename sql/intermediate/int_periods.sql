-- int_periods
-- The dates every window is measured from: one row (method 2).
-- * A period of N months ending on date e is (e - N months, e]: from e - N months + 1 day
--   through e, with calendar-month arithmetic that clamps to the month's end
--   (Aug 31 - 6 months = Feb 28).
-- * Look-back: the `lookback_months` ending on the as-of date; the "6-month" counts: the
--   `recent_months` ending on the as-of date.
-- * The earliest six-month window of the look-back (a best-window candidate) runs from the
--   look-back start through look-back start + `period_months` months - 1 day.
with

settings as (
    select
        cast(getvariable('as_of') as date) as as_of,
        cast(getvariable('lookback_months') as integer) as lookback_months,
        cast(getvariable('recent_months') as integer) as recent_months,
        cast(getvariable('period_months') as integer) as period_months
),

final as (
    select
        as_of,
        cast(as_of - to_months(lookback_months) as date) + 1 as lookback_start,
        cast(as_of - to_months(recent_months) as date) + 1 as recent_start,
        cast(
            cast(as_of - to_months(lookback_months) as date) + 1 + to_months(period_months)
            as date
        ) - 1 as first_period_end,
        period_months
    from settings
)

select * from final
