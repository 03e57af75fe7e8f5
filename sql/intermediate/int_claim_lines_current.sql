-- incremental: claim
-- materialized: view
-- int_claim_lines_current
-- The claim lines that count (method 1): every line except those of a claim that a later
-- version superseded, or of a family whose latest version is a void (int_claim_versions lists
-- every claim in a version chain; a claim in none counts as is). Duplicated
-- (claim_id, claim_line_number) keys are quarantined at ingest, so each line appears once.
-- A view: the consumers each read only a few columns of a few rows, cheaper than a copy.
with

claim_lines as (
    select * from staging.stg_medical_claims
),

superseded_claims as (
    select claim_id from intermediate.int_claim_versions
    where not is_current
),

final as (
    select claim_lines.*
    from claim_lines
    anti join superseded_claims
        on superseded_claims.claim_id = claim_lines.claim_id
)

select * from final
