-- int_member_windows
-- Per member with at least one event in the look-back: the 6- and 12-month counts and the best
-- six-month windows (method 2, 3 and 8).
-- * Counts: ED visits (all, not folded), avoidable ED visits (the sum of the visits' avoidable
--   weights: a count, or with NYU fractional a sum of fractions, DECIMAL(18,3)), counted
--   (unplanned) hospital stays and counted (unplanned, short-term) SNF stays, by event date in
--   the 12-month look-back and in the 6-month period ending on the as-of date.
-- * Best six-month window, separately for the adult ED measure (counts_as_adult_ed) and for
--   counted stays: the candidates are the earliest window of the look-back
--   [lookback_start, first_period_end] and every window [e - `period_months` months + 1 day, e]
--   ending on an event date e of that measure whose start is on or after lookback_start. The
--   best window holds the most of the measure (the sum of the adult ED weights; the number of
--   counted stays); ties go to the latest-ending window.
--   A measure with no event in the look-back has count 0 and no window.
-- * first/last_event_date: the earliest and latest date of an ED visit or counted stay in the
--   look-back.
-- Each member's events are joined only to that member's candidate windows (at most one more
-- than the member's events), so the cost stays bounded by events per member.
with

events as (
    select * from intermediate.int_events
    where in_12m
),

periods as (
    select * from intermediate.int_periods
),

counts as (
    select
        member_id,
        count(*) filter (where counts_as_ed_visit and in_6m) as ed_visits_6m,
        count(*) filter (where counts_as_ed_visit) as ed_visits_12m,
        coalesce(sum(avoidable_weight) filter (where in_6m), 0) as avoidable_ed_visits_6m,
        coalesce(sum(avoidable_weight), 0) as avoidable_ed_visits_12m,
        count(*) filter (
            where counts_as_stay and event_type = 'hospital_stay' and in_6m
        ) as unplanned_hospital_stays_6m,
        count(*) filter (
            where counts_as_stay and event_type = 'hospital_stay'
        ) as unplanned_hospital_stays_12m,
        count(*) filter (
            where counts_as_stay and event_type = 'snf_stay' and in_6m
        ) as unplanned_snf_stays_6m,
        count(*) filter (where counts_as_stay and event_type = 'snf_stay') as unplanned_snf_stays_12m,
        min(event_date) filter (where counts_as_ed_visit or counts_as_stay) as first_event_date,
        max(event_date) filter (where counts_as_ed_visit or counts_as_stay) as last_event_date
    from events
    group by member_id
),

measure_events as (
    select
        member_id,
        'ed' as measure,
        event_date,
        adult_ed_weight as weight
    from events
    where counts_as_adult_ed
    union all
    select
        member_id,
        'stays' as measure,
        event_date,
        cast(1 as decimal(18, 3)) as weight
    from events
    where counts_as_stay
),

candidate_windows as (
    select distinct
        measure_events.member_id,
        measure_events.measure,
        periods.lookback_start as window_start,
        periods.first_period_end as window_end
    from measure_events
    cross join periods
    union
    select distinct
        measure_events.member_id,
        measure_events.measure,
        cast(measure_events.event_date - to_months(periods.period_months) as date) + 1
            as window_start,
        measure_events.event_date as window_end
    from measure_events
    cross join periods
    where cast(measure_events.event_date - to_months(periods.period_months) as date) + 1
        >= periods.lookback_start
),

window_counts as (
    select
        candidate_windows.member_id,
        candidate_windows.measure,
        candidate_windows.window_start,
        candidate_windows.window_end,
        sum(measure_events.weight) as events_in_window
    from candidate_windows
    inner join measure_events
        on measure_events.member_id = candidate_windows.member_id
        and measure_events.measure = candidate_windows.measure
        and measure_events.event_date >= candidate_windows.window_start
        and measure_events.event_date <= candidate_windows.window_end
    group by
        candidate_windows.member_id,
        candidate_windows.measure,
        candidate_windows.window_start,
        candidate_windows.window_end
),

best_windows as (
    select *
    from window_counts
    qualify row_number() over (
        partition by member_id, measure
        order by events_in_window desc, window_end desc, window_start desc
    ) = 1
),

final as (
    select
        counts.member_id,
        counts.ed_visits_6m,
        counts.ed_visits_12m,
        cast(counts.avoidable_ed_visits_6m as decimal(18, 3)) as avoidable_ed_visits_6m,
        cast(counts.avoidable_ed_visits_12m as decimal(18, 3)) as avoidable_ed_visits_12m,
        counts.unplanned_hospital_stays_6m,
        counts.unplanned_hospital_stays_12m,
        counts.unplanned_snf_stays_6m,
        counts.unplanned_snf_stays_12m,
        cast(coalesce(best_ed.events_in_window, 0) as decimal(18, 3)) as best_window_ed_visits,
        cast(coalesce(best_stays.events_in_window, 0) as bigint) as best_window_stays,
        best_ed.window_start as best_window_ed_start,
        best_ed.window_end as best_window_ed_end,
        best_stays.window_start as best_window_stays_start,
        best_stays.window_end as best_window_stays_end,
        counts.first_event_date,
        counts.last_event_date
    from counts
    left join best_windows as best_ed
        on best_ed.member_id = counts.member_id
        and best_ed.measure = 'ed'
    left join best_windows as best_stays
        on best_stays.member_id = counts.member_id
        and best_stays.measure = 'stays'
)

select * from final
