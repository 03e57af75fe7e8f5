-- fct_evidence
-- The events behind every flagged (criteria_met) or listed (tier) member, so a care manager
-- can see why: every ED visit and every hospital or SNF stay dated in the 12-month look-back,
-- counted or not, with its claim ids and flags. counted is true for an ED visit (every
-- unfolded visit counts as an ED visit) and for an unplanned hospital or unplanned
-- short-term SNF stay; in_best_*_window marks the events of the best six-month windows that
-- the adult measures count; why_counted says it in words.
-- as_of: the night this table holds (the run's as-of date), on every row.
with

events as (
    select * from intermediate.int_events
    where in_12m
),

outcomes as (
    select * from intermediate.int_member_outcomes
    where criteria_met is not null
        or tier is not null
),

joined as (
    select
        events.*,
        events.counts_as_adult_ed
        and events.event_date
        between outcomes.best_window_ed_start and outcomes.best_window_ed_end
            as in_best_ed_window,
        events.counts_as_stay
        and events.event_date
        between outcomes.best_window_stays_start and outcomes.best_window_stays_end
            as in_best_stays_window
    from events
    inner join outcomes
        on outcomes.member_id = events.member_id
),

final as (
    select
        cast(getvariable('as_of') as date) as as_of,
        member_id,
        event_id,
        event_type,
        event_date,
        end_date,
        claim_ids,
        principal_diagnosis_code,
        is_avoidable as avoidable,
        is_planned as planned,
        is_short_term as short_term,
        is_via_ed as via_ed,
        counts_as_ed_visit or counts_as_stay as counted,
        in_12m,
        in_6m,
        coalesce(in_best_ed_window, false) as in_best_ed_window,
        coalesce(in_best_stays_window, false) as in_best_stays_window,
        case
            when event_type = 'ed_visit' then concat(
                'ED visit',
                case
                    when is_avoidable then ', avoidable principal diagnosis '
                    else ', principal diagnosis not on the avoidable list '
                end,
                coalesce(principal_diagnosis_code, '(none)'),
                case when in_6m then '; in the last 6 months' end,
                case when in_best_ed_window then '; in the best six-month ED window' end
            )
            when counts_as_stay then concat(
                case event_type
                    when 'hospital_stay' then 'unplanned hospital stay'
                    else 'unplanned short-term SNF stay (' || length_of_stay_days || ' days)'
                end,
                case when is_via_ed then ' through the ED' end,
                case when in_6m then '; in the last 6 months' end,
                case when coalesce(in_best_stays_window, false)
                    then '; in the best six-month stays window' end
            )
            when is_planned then 'not counted: planned stay'
            else 'not counted: SNF stay of ' || length_of_stay_days || ' days (not short-term)'
        end as why_counted
    from joined
    order by
        member_id,
        event_date,
        event_id
)

select * from final
