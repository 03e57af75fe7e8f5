-- int_events
-- One row per event, counted or not (method 3): every ED visit that was not folded into a
-- hospital stay, and every hospital and SNF stay. An event's date is the ED visit's date or
-- the stay's admission date; it falls in the 12-month look-back (in_12m) or the 6-month
-- period (in_6m) when that date does.
-- * counts_as_ed_visit: every (unfolded) ED visit; the children's ED measure and ed_visits_*.
-- * avoidable_weight: the visit's avoidable weight (int_ed_visits: 1 or 0, or the NYU fraction).
-- * adult_ed_weight: what the visit adds to the adult ED measure: its avoidable weight, or 1 for
--   every ED visit when `adult_ed_measure` is 'all'; counts_as_adult_ed when above 0.
-- * counts_as_stay: unplanned hospital stays and unplanned short-term SNF stays.
-- * via_ed: a stay with an ED visit on its admission date or up to `ed_fold_days` before.
with

ed_visits as (
    select * from intermediate.int_ed_visits
),

stays as (
    select * from intermediate.int_stays
),

periods as (
    select * from intermediate.int_periods
),

stays_via_ed as (
    select distinct
        stays.stay_id
    from stays
    inner join ed_visits
        on ed_visits.member_id = stays.member_id
        and ed_visits.ed_date <= stays.admission_date
        and ed_visits.ed_date >= stays.admission_date - getvariable('ed_fold_days')
    where stays.stay_setting = 'hospital'
),

ed_events as (
    select
        ed_visit_id as event_id,
        member_id,
        'ed_visit' as event_type,
        ed_date as event_date,
        ed_date as end_date,
        claim_ids,
        principal_diagnosis_code,
        is_avoidable,
        avoidable_method,
        avoidable_figure,
        avoidable_not_classified_as,
        avoidable_weight,
        case
            when getvariable('adult_ed_measure') = 'all' then cast(1 as decimal(18, 3))
            else avoidable_weight
        end as adult_ed_weight,
        cast(null as boolean) as is_planned,
        cast(null as varchar) as planned_reason,
        cast(null as boolean) as is_short_term,
        cast(null as boolean) as is_via_ed,
        cast(null as bigint) as length_of_stay_days,
        true as counts_as_ed_visit,
        is_avoidable or getvariable('adult_ed_measure') = 'all' as counts_as_adult_ed,
        false as counts_as_stay
    from ed_visits
    where not is_folded
),

stay_events as (
    select
        stays.stay_id as event_id,
        stays.member_id,
        stays.stay_setting || '_stay' as event_type,
        stays.admission_date as event_date,
        stays.discharge_date as end_date,
        stays.claim_ids,
        stays.principal_diagnosis_code,
        cast(null as boolean) as is_avoidable,
        stays.is_planned,
        stays.planned_reason,
        stays.is_short_term,
        stays_via_ed.stay_id is not null as is_via_ed,
        stays.length_of_stay_days,
        false as counts_as_ed_visit,
        false as counts_as_adult_ed,
        stays.is_counted as counts_as_stay
    from stays
    left join stays_via_ed
        on stays_via_ed.stay_id = stays.stay_id
),

unioned as (
    select * from ed_events
    union all by name
    select * from stay_events
),

final as (
    select
        unioned.event_id,
        unioned.member_id,
        unioned.event_type,
        unioned.event_date,
        unioned.end_date,
        unioned.claim_ids,
        unioned.principal_diagnosis_code,
        unioned.is_avoidable,
        unioned.avoidable_method,
        unioned.avoidable_figure,
        unioned.avoidable_not_classified_as,
        coalesce(unioned.avoidable_weight, 0) as avoidable_weight,
        coalesce(unioned.adult_ed_weight, 0) as adult_ed_weight,
        unioned.is_planned,
        unioned.planned_reason,
        unioned.is_short_term,
        unioned.is_via_ed,
        unioned.length_of_stay_days,
        unioned.counts_as_ed_visit,
        unioned.counts_as_adult_ed,
        unioned.counts_as_stay,
        unioned.event_date between periods.lookback_start and periods.as_of as in_12m,
        unioned.event_date between periods.recent_start and periods.as_of as in_6m
    from unioned
    cross join periods
)

select * from final
