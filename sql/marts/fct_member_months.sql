-- fct_member_months
-- Member-months and events for rates per 1,000 member-months (the form Medicaid ED and
-- admission measures are reported in): one row per month x county x plan x age group x tier,
-- over the `lookback_months` months ending on the as-of date.
-- * Months tile the look-back (method 2) backwards from the as-of date: a month ends on the
--   as-of date's day of the month (clamped to a shorter month's end), or on the month's last
--   day when the as-of date is a month's end, so an as-of date at a month's end gives calendar
--   months. Month 1 ends on the as-of date; the oldest starts on the look-back's first day.
-- * member_months: members enrolled on the month's last day (a fixed day each month, as HEDIS
--   counts member months). A member counts once per month whatever their spans.
-- * Events: the events that count for the rules (int_events), on their date, of a member
--   enrolled on that date: ed_visits (every ED visit not folded into a stay),
--   avoidable_ed_visits (the sum of the visits' avoidable weights, as the members'
--   avoidable_ed_visits_12m: 1 or 0 per visit, or the NYU fraction), unplanned_stays
--   (unplanned hospital stays and unplanned short-term SNF stays, by admission date) and its
--   split unplanned_hospital_stays and unplanned_snf_stays.
-- * county, plan_code, age_group and tier are tonight's, as on the list (age on the as-of
--   date; tier null when the member has none or is excluded), so a rate by tier compares
--   tonight's groups over the year behind them.
-- A rate: sum(ed_visits) * 1000.0 / sum(member_months), grouped as wanted.
with

periods as (
    select * from intermediate.int_periods
),

eligibility as (
    select * from staging.stg_eligibility
),

events as (
    select * from intermediate.int_events
    where in_12m
),

outcomes as (
    select * from intermediate.int_member_outcomes
),

month_ends as (
    select
        periods.as_of,
        months_back,
        case
            when periods.as_of = last_day(periods.as_of)
                then last_day(periods.as_of - to_months(months_back))
            else cast(periods.as_of - to_months(months_back) as date)
        end as month_end
    from periods
    cross join range(0, cast(getvariable('lookback_months') as integer) + 1) as r(months_back)
),

months as (
    select
        month_ends.as_of,
        month_ends.months_back + 1 as month_number,
        earlier.month_end + 1 as month_start,
        month_ends.month_end
    from month_ends
    inner join month_ends as earlier
        on earlier.months_back = month_ends.months_back + 1
),

-- The months a span is enrolled on (its start <= the month's end <= its end, an empty end
-- open) are consecutive, since month ends run back from month 1 (the as-of date): from
-- first_month (one past the month ends after the span's end) to last_month (the number of
-- month ends on or after its start); none when first_month > last_month. Counted over the
-- 12 month ends per span instead of joined: 11M span-months at 1M members.
month_end_list as (
    select list(month_end order by month_number) as month_ends from months
),

span_months as (
    select
        eligibility.member_id,
        1 + len(list_filter(
            month_end_list.month_ends, lambda e: e > eligibility.enrollment_end_date
        )) as first_month,
        len(list_filter(
            month_end_list.month_ends, lambda e: e >= eligibility.enrollment_start_date
        )) as last_month
    from eligibility
    cross join month_end_list
),

-- Each member's enrolled months as the bits of one number (bit n: month n; a month once,
-- whatever the spans), so the member's group (outcomes) is joined once per member, not once per
-- member-month, and members are counted per group and months before the months are spread
-- out again. uhugeint holds 128 bits: look-backs up to 127 months (a longer one stops the
-- model with an out-of-range error, never a wrong count).
enrolled_month_sets as (
    select
        member_id,
        bit_or(
            ((cast(1 as uhugeint) << cast(last_month - first_month + 1 as uhugeint)) - 1)
            << cast(first_month as uhugeint)
        ) as month_bits
    from span_months
    where first_month <= last_month
    group by member_id
),

enrolled_by_group as (
    select
        outcomes.county,
        outcomes.plan_code,
        outcomes.age_group,
        outcomes.tier,
        enrolled_month_sets.month_bits,
        count(*) as members
    from enrolled_month_sets
    inner join outcomes
        on outcomes.member_id = enrolled_month_sets.member_id
    group by all
),

enrolled_events as (
    select
        events.member_id,
        months.month_number,
        events.counts_as_ed_visit,
        events.avoidable_weight,
        events.counts_as_stay,
        events.event_type
    from events
    inner join months
        on events.event_date between months.month_start and months.month_end
    where exists (
        select 1
        from eligibility
        where eligibility.member_id = events.member_id
            and eligibility.enrollment_start_date <= events.event_date
            and coalesce(eligibility.enrollment_end_date >= events.event_date, true)
    )
),

group_month_counts as (
    select
        enrolled_by_group.county,
        enrolled_by_group.plan_code,
        enrolled_by_group.age_group,
        enrolled_by_group.tier,
        months.month_number,
        enrolled_by_group.members as member_months,
        0 as ed_visits,
        0 as avoidable_ed_visits,
        0 as unplanned_hospital_stays,
        0 as unplanned_snf_stays
    from enrolled_by_group
    inner join months
        on (enrolled_by_group.month_bits >> cast(months.month_number as uhugeint)) & 1 = 1
    union all
    select
        outcomes.county,
        outcomes.plan_code,
        outcomes.age_group,
        outcomes.tier,
        enrolled_events.month_number,
        0 as member_months,
        cast(enrolled_events.counts_as_ed_visit as integer) as ed_visits,
        case
            when enrolled_events.counts_as_ed_visit
                then coalesce(enrolled_events.avoidable_weight, 0)
            else 0
        end as avoidable_ed_visits,
        cast(
            enrolled_events.counts_as_stay and enrolled_events.event_type = 'hospital_stay'
            as integer
        ) as unplanned_hospital_stays,
        cast(
            enrolled_events.counts_as_stay and enrolled_events.event_type = 'snf_stay'
            as integer
        ) as unplanned_snf_stays
    from enrolled_events
    inner join outcomes
        on outcomes.member_id = enrolled_events.member_id
),

grouped as (
    select
        months.as_of,
        months.month_number,
        months.month_start,
        months.month_end,
        group_month_counts.county,
        group_month_counts.plan_code,
        group_month_counts.age_group,
        group_month_counts.tier,
        sum(group_month_counts.member_months) as member_months,
        sum(group_month_counts.ed_visits) as ed_visits,
        sum(group_month_counts.avoidable_ed_visits) as avoidable_ed_visits,
        sum(
            group_month_counts.unplanned_hospital_stays
            + group_month_counts.unplanned_snf_stays
        ) as unplanned_stays,
        sum(group_month_counts.unplanned_hospital_stays) as unplanned_hospital_stays,
        sum(group_month_counts.unplanned_snf_stays) as unplanned_snf_stays
    from group_month_counts
    inner join months
        on months.month_number = group_month_counts.month_number
    group by all
),

final as (
    select
        as_of,
        month_start,
        month_end,
        county,
        plan_code,
        age_group,
        tier,
        cast(member_months as bigint) as member_months,
        cast(ed_visits as bigint) as ed_visits,
        cast(avoidable_ed_visits as decimal(18, 3)) as avoidable_ed_visits,
        cast(unplanned_stays as bigint) as unplanned_stays,
        cast(unplanned_hospital_stays as bigint) as unplanned_hospital_stays,
        cast(unplanned_snf_stays as bigint) as unplanned_snf_stays
    from grouped
    order by
        month_start,
        county nulls last,
        plan_code nulls last,
        age_group nulls last,
        list_position(getvariable('tier_order'), tier) nulls last
)

select * from final
