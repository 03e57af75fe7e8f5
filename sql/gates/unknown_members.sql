-- Gate input: claim lines whose member has no eligibility row, per claims file. Such lines
-- cannot be attributed to an enrolled member; a few are normal (retro-terminations, a late
-- eligibility file), many mean the eligibility extract is incomplete or from another plan.
-- Counts only: the members themselves are not named. Rows in force only (raw.rows_in_force):
-- the eligibility snapshot in force, claim lines not superseded by a later delivery.
with

members as (
    select distinct member_id from raw.rows_in_force('eligibility')
),

claim_lines as (
    select _source_file, member_id from raw.rows_in_force('medical_claims')
),

final as (
    select
        claim_lines._source_file as source_file,
        count(*) as claim_lines,
        count(*) filter (where members.member_id is null) as unknown_member_lines
    from claim_lines
    left join members on members.member_id = claim_lines.member_id
    group by claim_lines._source_file
)

select * from final order by unknown_member_lines desc, source_file
