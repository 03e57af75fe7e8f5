-- Report: ED visits and unplanned stays per 1,000 member-months over the 12 months to the
-- as-of date (marts.fct_member_months), by county, by plan and by age group. A rate is
-- events * 1000 / member-months of the group; member-months count enrolled members each
-- month, events those of members enrolled on the event date. Unknown values show as such.
with

member_months as (
    select * from marts.fct_member_months
),

grouped as (
    select
        case
            when grouping(county) = 0 then 'county'
            when grouping(plan_code) = 0 then 'plan'
            else 'age group'
        end as dimension,
        coalesce(county, plan_code, age_group, '(unknown)') as label,
        sum(member_months) as member_months,
        sum(ed_visits) as ed_visits,
        sum(unplanned_stays) as unplanned_stays
    from member_months
    group by grouping sets ((county), (plan_code), (age_group))
),

final as (
    select
        dimension,
        label,
        member_months,
        ed_visits,
        round(ed_visits * 1000.0 / nullif(member_months, 0), 1) as ed_visits_per_1000,
        unplanned_stays,
        round(unplanned_stays * 1000.0 / nullif(member_months, 0), 1)
            as unplanned_stays_per_1000
    from grouped
)

select * from final
order by dimension, ed_visits_per_1000 desc nulls last, label
