-- The published candidate list for the as-of date: one row per listed member, sorted by tier
-- (High, Moderate, Low, Monitoring), then score (highest first), then the most recent event.
-- Minimum necessary fields for a care manager: no names, birth dates or diagnoses.
-- * reason: one sentence in words. High, Moderate and Monitoring name every measure of the
--   member's age group that is at or near its threshold (count >= threshold - moderate_margin,
--   and at least 1), with its period and threshold, e.g. "4 ED visits in the 12 months to
--   2026-10-31; the threshold under 21 is 3". Adults' measures are counted in their best
--   six-month window (its dates in the sentence); children's over the 12-month look-back.
--   Low gives the 12-month ED visits (for adults, how many were avoidable: their rule counts
--   only those) and unplanned stays, and for adults the most of each in any six months (what
--   their rule measures). Monitoring adds why and since when.
-- * monitoring_reason: declined (the member declined care management) or unreachable (could
--   not be reached), from the latest care-management status; monitoring_since its date.
-- * The best-window counts and dates only where the rule uses them: adults. Children's rule
--   counts the 12 months, so their window columns are empty.
-- * change_status compares with earlier publications:
--     new        never on a list published for an earlier as-of date
--     continuing on the list of the previous publication (the latest earlier as-of date
--                published, even when its list was empty)
--     returning  on an earlier list, but not on the previous one
with

candidates as (
    select
        *,
        unplanned_hospital_stays_12m + unplanned_snf_stays_12m as stays_12m
    from marts.fct_candidates
),

members as (
    select * from intermediate.int_members
),

previous as (
    select
        member_id,
        tier
    from history.published_candidates
    where as_of = (
        select max(as_of) from history.publications where as_of < getvariable('as_of')
    )
),

-- history.first_listed keeps each member's first listing, so this reads one row per member
-- ever listed, not every earlier list.
ever_listed as (
    select member_id from history.first_listed
    where first_as_of < getvariable('as_of')
),

settings as (
    select
        cast(getvariable('as_of') as date) as as_of,
        getvariable('adult_min_age') as adult_min_age,
        getvariable('adult_ed_visits') as adult_ed_visits,
        getvariable('adult_unplanned_stays') as adult_unplanned_stays,
        case getvariable('adult_ed_measure')
            when 'all' then 'ED visit'
            else 'avoidable ED visit'
        end as adult_ed_noun,
        getvariable('child_ed_visits') as child_ed_visits,
        getvariable('child_unplanned_stays') as child_unplanned_stays,
        getvariable('moderate_margin') as moderate_margin,
        getvariable('lookback_months') as lookback_months,
        getvariable('period_months') as period_months
),

-- One row per measure of the member's age group: its count, what it counts, over which
-- period, and its threshold. A count prints without trailing zeros (4, or 4.5 when a plan
-- counts avoidable ED visits fractionally).
measures as (
    select
        candidates.member_id,
        1 as position,
        candidates.best_window_ed_visits as events,
        settings.adult_ed_noun as noun,
        settings.period_months || ' months ' || candidates.best_window_ed_start
        || ' to ' || candidates.best_window_ed_end as period,
        settings.adult_ed_visits as threshold
    from candidates
    cross join settings
    where candidates.age_group = 'adult'
    union all
    select
        candidates.member_id,
        2 as position,
        candidates.best_window_stays as events,
        'unplanned hospital or short-term SNF stay' as noun,
        settings.period_months || ' months ' || candidates.best_window_stays_start
        || ' to ' || candidates.best_window_stays_end as period,
        settings.adult_unplanned_stays as threshold
    from candidates
    cross join settings
    where candidates.age_group = 'adult'
    union all
    select
        candidates.member_id,
        1 as position,
        candidates.ed_visits_12m as events,
        'ED visit' as noun,
        settings.lookback_months || ' months to ' || settings.as_of as period,
        settings.child_ed_visits as threshold
    from candidates
    cross join settings
    where candidates.age_group = 'child'
    union all
    select
        candidates.member_id,
        2 as position,
        candidates.stays_12m as events,
        'unplanned hospital or short-term SNF stay' as noun,
        settings.lookback_months || ' months to ' || settings.as_of as period,
        settings.child_unplanned_stays as threshold
    from candidates
    cross join settings
    where candidates.age_group = 'child'
),

near_threshold as (
    select
        measures.member_id,
        string_agg(
            printf('%g', cast(measures.events as double)) || ' ' || measures.noun
            || case when measures.events = 1 then '' else 's' end
            || ' in the ' || measures.period
            || '; the threshold '
            || case
                when candidates.age_group = 'adult'
                    then 'at ' || settings.adult_min_age || ' and over'
                else 'under ' || settings.adult_min_age
            end
            || ' is ' || measures.threshold,
            '; and '
            order by measures.position
        ) as sentence
    from measures
    inner join candidates using (member_id)
    cross join settings
    where candidates.tier <> 'Low'
        and measures.events >= greatest(measures.threshold - settings.moderate_margin, 1)
    group by measures.member_id
),

low as (
    select
        candidates.member_id,
        concat_ws(
            ' and ',
            case when candidates.ed_visits_12m > 0 then candidates.ed_visits_12m || ' ED visit'
                || case when candidates.ed_visits_12m = 1 then '' else 's' end
                || case
                    when candidates.age_group = 'adult'
                        and settings.adult_ed_noun <> 'ED visit'
                        then ' (' || case
                            when candidates.avoidable_ed_visits_12m = 0 then 'none'
                            else printf('%g', cast(candidates.avoidable_ed_visits_12m as double))
                        end || ' avoidable)'
                    else ''
                end end,
            case when candidates.stays_12m > 0 then candidates.stays_12m
                || ' unplanned hospital or short-term SNF stay'
                || case when candidates.stays_12m = 1 then '' else 's' end end
        )
        || ' in the ' || settings.lookback_months || ' months to ' || settings.as_of
        || case
            when candidates.age_group = 'adult' then '; in any ' || settings.period_months
                || ' months at most '
                || printf('%g', cast(candidates.best_window_ed_visits as double)) || ' '
                || settings.adult_ed_noun
                || case when candidates.best_window_ed_visits = 1 then '' else 's' end
                || ' and ' || candidates.best_window_stays || ' unplanned stay'
                || case when candidates.best_window_stays = 1 then '' else 's' end
                || ', below the Moderate level'
            else '; below the Moderate level'
        end as sentence
    from candidates
    cross join settings
    where candidates.tier = 'Low'
),

final as (
    select
        settings.as_of,
        candidates.member_id,
        candidates.tier,
        coalesce(near_threshold.sentence, low.sentence)
        || case
            when candidates.tier <> 'Monitoring' then ''
            when members.care_management_status = 'declined'
                then '; Monitoring: declined care management on '
                || members.care_management_status_date
            else '; Monitoring: could not be reached (recorded '
                || members.care_management_status_date || ')'
        end as reason,
        case
            when previous.member_id is not null then 'continuing'
            when ever_listed.member_id is not null then 'returning'
            else 'new'
        end as change_status,
        previous.tier as previous_tier,
        case when candidates.tier = 'Monitoring' then members.care_management_status end
            as monitoring_reason,
        case when candidates.tier = 'Monitoring' then members.care_management_status_date end
            as monitoring_since,
        candidates.plan_code,
        candidates.county,
        members.pcp_npi,
        candidates.age_group,
        candidates.tier_rank,
        candidates.score,
        candidates.criteria_met,
        candidates.ed_visits_6m,
        candidates.ed_visits_12m,
        candidates.avoidable_ed_visits_6m,
        candidates.avoidable_ed_visits_12m,
        candidates.unplanned_hospital_stays_6m,
        candidates.unplanned_hospital_stays_12m,
        candidates.unplanned_snf_stays_6m,
        candidates.unplanned_snf_stays_12m,
        case when candidates.age_group = 'adult' then candidates.best_window_ed_visits end
            as best_window_ed_visits,
        case when candidates.age_group = 'adult' then candidates.best_window_stays end
            as best_window_stays,
        case when candidates.age_group = 'adult' then candidates.best_window_ed_start end
            as best_window_ed_start,
        case when candidates.age_group = 'adult' then candidates.best_window_ed_end end
            as best_window_ed_end,
        case when candidates.age_group = 'adult' then candidates.best_window_stays_start end
            as best_window_stays_start,
        case when candidates.age_group = 'adult' then candidates.best_window_stays_end end
            as best_window_stays_end,
        candidates.first_event_date,
        candidates.last_event_date
    from candidates
    cross join settings
    inner join members using (member_id)
    left join near_threshold using (member_id)
    left join low using (member_id)
    left join previous using (member_id)
    left join ever_listed using (member_id)
)

select * from final
order by
    list_position(getvariable('tier_order'), tier),
    score desc,
    last_event_date desc,
    member_id
