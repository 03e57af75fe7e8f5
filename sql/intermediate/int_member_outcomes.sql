-- int_member_outcomes
-- Per member: the measures, the PoF 2 criteria met, the tier and the score (methods 5-7).
-- * Criteria. Adults: best-window adult ED measure >= `adult_ed_visits` (adult_ed), or
--   best-window counted stays >= `adult_unplanned_stays` (adult_stays). Children: 12-month
--   ED visits >= `child_ed_visits` (child_ed), or 12-month counted stays (hospital + short-term
--   SNF) >= `child_unplanned_stays` (child_stays). criteria_met joins the met ones with ';' in
--   that order; null when none.
-- * Tier before exclusions (would_be_tier): High when a criterion is met; Moderate when a
--   count of the member's age group is at least its threshold - `moderate_margin` (and at
--   least 1), measured like that threshold; Low with any ED visit or counted stay in the
--   look-back; no tier otherwise. High or Moderate becomes Monitoring when the latest
--   care-management status is declined or unreachable (the right to decline).
-- * Excluded: a member with a would-be tier who is deceased, not enrolled on the as-of date,
--   in hospice, in PACE, in a 1915(c) waiver or already in ECM (reasons in that order; the
--   first is exclusion_reason). An excluded member has no tier.
-- * Score: adults best_window_ed_visits / `adult_ed_visits` + best_window_stays /
--   `adult_unplanned_stays`; children ed_visits_12m / `child_ed_visits` + (12-month counted
--   stays) / `child_unplanned_stays`; rounded to 3 decimals; null without an age group.
-- A member without a birth date (claims but no eligibility) has no age group, so no criterion
-- and no Moderate; with events in the look-back they are Low and then excluded not_enrolled.
with

members as (
    select * from intermediate.int_members
),

member_windows as (
    select * from intermediate.int_member_windows
),

measures as (
    select
        members.member_id,
        members.age,
        members.age_group,
        members.plan_code,
        members.county,
        members.is_enrolled,
        members.is_deceased,
        members.hospice,
        members.pace,
        members.waiver_1915c,
        members.in_ecm,
        members.care_management_status,
        coalesce(member_windows.ed_visits_6m, 0) as ed_visits_6m,
        coalesce(member_windows.ed_visits_12m, 0) as ed_visits_12m,
        coalesce(member_windows.avoidable_ed_visits_6m, 0) as avoidable_ed_visits_6m,
        coalesce(member_windows.avoidable_ed_visits_12m, 0) as avoidable_ed_visits_12m,
        coalesce(member_windows.unplanned_hospital_stays_6m, 0) as unplanned_hospital_stays_6m,
        coalesce(member_windows.unplanned_hospital_stays_12m, 0) as unplanned_hospital_stays_12m,
        coalesce(member_windows.unplanned_snf_stays_6m, 0) as unplanned_snf_stays_6m,
        coalesce(member_windows.unplanned_snf_stays_12m, 0) as unplanned_snf_stays_12m,
        coalesce(member_windows.best_window_ed_visits, 0) as best_window_ed_visits,
        coalesce(member_windows.best_window_stays, 0) as best_window_stays,
        member_windows.best_window_ed_start,
        member_windows.best_window_ed_end,
        member_windows.best_window_stays_start,
        member_windows.best_window_stays_end,
        member_windows.first_event_date,
        member_windows.last_event_date
    from members
    left join member_windows
        on member_windows.member_id = members.member_id
),

thresholds as (
    select
        getvariable('adult_ed_visits') as adult_ed_visits,
        getvariable('adult_unplanned_stays') as adult_unplanned_stays,
        getvariable('child_ed_visits') as child_ed_visits,
        getvariable('child_unplanned_stays') as child_unplanned_stays,
        getvariable('moderate_margin') as moderate_margin
),

criteria as (
    select
        measures.*,
        measures.unplanned_hospital_stays_12m + measures.unplanned_snf_stays_12m as stays_12m,
        measures.age_group = 'adult'
        and measures.best_window_ed_visits >= thresholds.adult_ed_visits as meets_adult_ed,
        measures.age_group = 'adult'
        and measures.best_window_stays >= thresholds.adult_unplanned_stays as meets_adult_stays,
        measures.age_group = 'child'
        and measures.ed_visits_12m >= thresholds.child_ed_visits as meets_child_ed,
        measures.age_group = 'child'
        and measures.unplanned_hospital_stays_12m + measures.unplanned_snf_stays_12m
        >= thresholds.child_unplanned_stays as meets_child_stays,
        case measures.age_group
            when 'adult' then
                measures.best_window_ed_visits
                >= greatest(thresholds.adult_ed_visits - thresholds.moderate_margin, 1)
                or measures.best_window_stays
                >= greatest(thresholds.adult_unplanned_stays - thresholds.moderate_margin, 1)
            when 'child' then
                measures.ed_visits_12m
                >= greatest(thresholds.child_ed_visits - thresholds.moderate_margin, 1)
                or measures.unplanned_hospital_stays_12m + measures.unplanned_snf_stays_12m
                >= greatest(thresholds.child_unplanned_stays - thresholds.moderate_margin, 1)
            else false
        end as is_near_threshold,
        case measures.age_group
            when 'adult' then round(
                measures.best_window_ed_visits / thresholds.adult_ed_visits
                + measures.best_window_stays / thresholds.adult_unplanned_stays,
                3
            )
            when 'child' then round(
                measures.ed_visits_12m / thresholds.child_ed_visits
                + (measures.unplanned_hospital_stays_12m + measures.unplanned_snf_stays_12m)
                / thresholds.child_unplanned_stays,
                3
            )
        end as score
    from measures
    cross join thresholds
),

tiered as (
    select
        *,
        nullif(
            concat_ws(
                ';',
                case when meets_adult_ed then 'adult_ed' end,
                case when meets_adult_stays then 'adult_stays' end,
                case when meets_child_ed then 'child_ed' end,
                case when meets_child_stays then 'child_stays' end
            ),
            ''
        ) as criteria_met,
        case
            when coalesce(meets_adult_ed or meets_adult_stays or meets_child_ed
                or meets_child_stays, false) then 'High'
            when coalesce(is_near_threshold, false) then 'Moderate'
            when ed_visits_12m > 0 or stays_12m > 0 then 'Low'
        end as base_tier
    from criteria
),

with_exclusions as (
    select
        *,
        case
            when base_tier in ('High', 'Moderate')
                and care_management_status in ('declined', 'unreachable')
                then 'Monitoring'
            else base_tier
        end as would_be_tier,
        case
            when base_tier is not null then list_filter(
                [
                    case when is_deceased then 'deceased' end,
                    case when not is_enrolled then 'not_enrolled' end,
                    case when hospice then 'hospice' end,
                    case when pace then 'pace' end,
                    case when waiver_1915c then 'waiver_1915c' end,
                    case when in_ecm then 'in_ecm' end
                ],
                lambda reason: reason is not null
            )
        end as exclusion_reasons
    from tiered
),

final as (
    select
        member_id,
        age,
        age_group,
        plan_code,
        county,
        ed_visits_6m,
        ed_visits_12m,
        avoidable_ed_visits_6m,
        avoidable_ed_visits_12m,
        unplanned_hospital_stays_6m,
        unplanned_hospital_stays_12m,
        unplanned_snf_stays_6m,
        unplanned_snf_stays_12m,
        stays_12m,
        best_window_ed_visits,
        best_window_stays,
        best_window_ed_start,
        best_window_ed_end,
        best_window_stays_start,
        best_window_stays_end,
        criteria_met,
        case when len(exclusion_reasons) = 0 then would_be_tier end as tier,
        would_be_tier,
        exclusion_reasons[1] as exclusion_reason,
        case when len(exclusion_reasons) > 0 then exclusion_reasons end as exclusion_reasons,
        score,
        first_event_date,
        last_event_date,
        care_management_status
    from with_exclusions
)

select * from final
