-- incremental: claim
-- stg_claim_diagnoses
-- One row per claim with a line in force that has no principal diagnosis (raw.rows_in_force,
-- as stg_medical_claims): the claim's principal diagnosis, the one of its lowest-numbered
-- line in force that has one. stg_medical_claims fills the claim's lines without one from it;
-- a claim with none has no row (its lines keep null). Codes as delivered (normalized at
-- ingest); stg_medical_claims normalizes them as every other.
-- A table, built once a night: as a part of the stg_medical_claims view it was evaluated again
-- by every model reading that view, each time opening every raw file for the lines without a
-- diagnosis and, when some claim has one, reading every line's claim_id and diagnosis again.
with

-- Not materialized: its two readers each scan only the columns and rows they need.
raw_lines as not materialized (
    select * from raw.rows_in_force('medical_claims')
),

claims_missing_diagnosis as (
    select claim_id from raw_lines
    where principal_diagnosis_code is null
),

final as (
    select
        claim_id,
        arg_min(principal_diagnosis_code, claim_line_number) as claim_principal_diagnosis_code
    from raw_lines
    where principal_diagnosis_code is not null
        and claim_id in (select claim_id from claims_missing_diagnosis)
    group by claim_id
)

select * from final
