-- Gate input: the claim lines in force, and those whose member has no eligibility row in
-- force, from the counts per member raw.claim_member_lines keeps (pipelines/claim_counts.py):
-- one row per member joined with tonight's snapshot, not one per
-- line. Counts only: the members themselves are not named. unknown_members.sql gives the
-- same figures per claims file, for the message of a failing gate.
with

members as (
    select distinct member_id from raw.rows_in_force('eligibility')
),

final as (
    select
        coalesce(sum(claims.lines), 0) as claim_lines,
        coalesce(sum(claims.lines) filter (where members.member_id is null), 0)
            as unknown_member_lines
    from raw.claim_member_lines as claims
    left join members on members.member_id = claims.member_id
)

select * from final
