-- incremental: claim
-- int_claim_links
-- Which claim each claim replaces or voids (method 1): a replacement (frequency 7) or a void
-- (frequency 8) names in original_claim_id the claim it replaces or voids. One row per
-- distinct (claim_id, parent_claim_id) over the claim's lines in force; a claim naming itself
-- links nothing. int_claim_versions follows these links to each family's root. A table of its
-- own so that a night can find every claim connected to the claims it delivered
-- (pipelines/rules/increment.py).
with

claim_lines as (
    select * from staging.stg_medical_claims
),

final as (
    select distinct
        claim_id,
        original_claim_id as parent_claim_id
    from claim_lines
    where original_claim_id is not null
        and original_claim_id <> claim_id
        -- Implied (only a replacement or a void carries original_claim_id); a test of one
        -- column, which DuckDB applies in the Parquet scan, so the ids are read for those
        -- lines only.
        and version_rank > 0
)

select * from final
