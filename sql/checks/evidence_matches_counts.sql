-- Check: the evidence is the count, itemized. For every member on tonight's list, the counted
-- events in the evidence table equal the 12- and 6-month counts on the list, and a member who
-- meets a criterion has evidence. Returns one row per (member, problem); none means it holds.
with

candidates as (
    select * from publish.pub_candidates
),

evidence as (
    select * from publish.pub_evidence
),

itemized as (
    select
        member_id,
        count(*) filter (where event_type = 'ed_visit' and counted and in_12m) as ed_12m,
        count(*) filter (where event_type = 'ed_visit' and counted and in_6m) as ed_6m,
        count(*) filter (where event_type = 'hospital_stay' and counted and in_12m) as hosp_12m,
        count(*) filter (where event_type = 'snf_stay' and counted and in_12m) as snf_12m
    from evidence
    group by member_id
),

compared as (
    select
        candidates.member_id,
        case
            when itemized.member_id is null and candidates.criteria_met is not null
                then 'criterion met but no evidence'
            when coalesce(itemized.ed_12m, 0) != candidates.ed_visits_12m
                then 'ed_visits_12m differs from the evidence'
            when coalesce(itemized.ed_6m, 0) != candidates.ed_visits_6m
                then 'ed_visits_6m differs from the evidence'
            when coalesce(itemized.hosp_12m, 0) != candidates.unplanned_hospital_stays_12m
                then 'unplanned_hospital_stays_12m differs from the evidence'
            when coalesce(itemized.snf_12m, 0) != candidates.unplanned_snf_stays_12m
                then 'unplanned_snf_stays_12m differs from the evidence'
        end as problem
    from candidates
    left join itemized using (member_id)
),

final as (
    select
        member_id,
        problem
    from compared
    where problem is not null
)

select * from final
