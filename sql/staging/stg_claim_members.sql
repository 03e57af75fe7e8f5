-- materialized: view
-- stg_claim_members
-- One row per member with claim lines in force, from the lines per member kept between nights
-- (raw.claim_member_lines, pipelines/claim_counts.py; the rules runner brings them to tonight's
-- lines in force first, and they must add up to the raw layer's count of those lines).
-- int_members reads it to find the members with claims but no eligibility row without
-- reading the member of every claim line (1.3 s of 40M lines at 1M members).
with

source as (
    select * from raw.claim_member_lines
),

final as (
    select member_id
    from source
    where lines > 0
)

select * from final
