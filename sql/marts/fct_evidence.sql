-- fct_evidence
-- The events behind every flagged (criteria_met) or listed (tier) member, so a care manager
-- can see why: every ED visit and every hospital or SNF stay dated in the 12-month look-back,
-- counted or not, with its claim ids and flags. counted is true for an ED visit (every
-- unfolded visit counts as an ED visit) and for an unplanned hospital or unplanned
-- short-term SNF stay; in_best_*_window marks the events of the best six-month windows that
-- the adult measures count; why_counted says it in words. For an ED visit, avoidable_method
-- (dhcs, nyu_threshold, nyu_fractional), avoidable_figure (the NYU noner + epct + edcnpa, null
-- under dhcs or when not classified) and avoidable_weight (what it adds to the avoidable
-- count) say which method and which figure decided it; for a stay planned_reason says which
-- CMS PRA table (or the delivery/newborn choice) made it planned.
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
        avoidable_method,
        avoidable_figure,
        case when event_type = 'ed_visit' then avoidable_weight end as avoidable_weight,
        is_planned as planned,
        planned_reason,
        is_short_term as short_term,
        is_via_ed as via_ed,
        counts_as_ed_visit or counts_as_stay as counted,
        in_12m,
        in_6m,
        coalesce(in_best_ed_window, false) as in_best_ed_window,
        coalesce(in_best_stays_window, false) as in_best_stays_window,
        case
            when event_type = 'ed_visit' then concat(
                'ED visit, principal diagnosis ',
                coalesce(principal_diagnosis_code, '(none)'),
                case avoidable_method
                    when 'dhcs' then
                        case
                            when is_avoidable then ', avoidable (on the DHCS list)'
                            else ', not on the DHCS avoidable list'
                        end
                    else
                        case
                            when avoidable_figure is null
                                then ', NYU: not classified (' || avoidable_not_classified_as || ')'
                            else ', NYU noner+epct+edcnpa ' || avoidable_figure::varchar
                                || ' counts ' || avoidable_weight::varchar
                        end
                end,
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
            when is_planned then 'not counted: planned stay (' || case planned_reason
                when 'pr1_procedure' then 'CMS PRA PR1: always-planned procedure'
                when 'pr2_diagnosis' then 'CMS PRA PR2: always-planned diagnosis'
                when 'delivery_newborn' then 'delivery or newborn'
                when 'pr3_procedure' then 'CMS PRA PR3: potentially planned procedure, diagnosis not acute'
            end || ')'
            else 'not counted: SNF stay of ' || length_of_stay_days || ' days (not short-term)'
        end as why_counted
    from joined
    order by
        member_id,
        event_date,
        event_id
)

select * from final
