-- The events behind every listed member (claim ids, dates, why each counted), so a care
-- manager can see why a member is on the list. Only members on tonight's list.
with

evidence as (
    select * from marts.fct_evidence
),

listed as (
    select member_id from marts.fct_candidates
),

final as (
    select evidence.*
    from evidence
    semi join listed using (member_id)
)

select * from final
order by member_id, event_date, event_id
