-- incremental: claim
-- materialized: view
-- stg_claim_procedures
-- One row per procedure on an institutional claim line in force (raw.rows_in_force, as
-- stg_medical_claims: a corrected line's earlier version is left out) of a stay claim (bill
-- type 11x or 21x, as stg_medical_claims.stay_setting): the principal procedure (position 1)
-- and the optional procedure_code_2..25 of the landing contract (positions 2-25), trimmed,
-- upper-cased, without dots; empty ones dropped. Renamed and reshaped only: int_stay_claims
-- keeps the current claims' ones (the CMS PRA looks at every procedure of a stay). A view of
-- its own so the other claim lines never carry 24 mostly empty columns.
with

source as (
    select * from raw.rows_in_force('medical_claims')
    -- Spelled as an OR rather than `in ('11', '21')`: DuckDB applies this form in the Parquet
    -- scan, so the 25 procedure columns are read for stay lines only (half the time at 100k).
    where lower(trim(claim_type)) = 'institutional'
        and (left(trim(bill_type), 2) = '11' or left(trim(bill_type), 2) = '21')
),

unpivoted as (
    unpivot (
        select
            claim_id,
            claim_line_number,
            principal_procedure_code as procedure_code_1,
            procedure_code_2,
            procedure_code_3,
            procedure_code_4,
            procedure_code_5,
            procedure_code_6,
            procedure_code_7,
            procedure_code_8,
            procedure_code_9,
            procedure_code_10,
            procedure_code_11,
            procedure_code_12,
            procedure_code_13,
            procedure_code_14,
            procedure_code_15,
            procedure_code_16,
            procedure_code_17,
            procedure_code_18,
            procedure_code_19,
            procedure_code_20,
            procedure_code_21,
            procedure_code_22,
            procedure_code_23,
            procedure_code_24,
            procedure_code_25
        from source
    )
    on columns('^procedure_code_')
    into name position_name value raw_code
),

final as (
    select
        claim_id,
        claim_line_number,
        cast(replace(position_name, 'procedure_code_', '') as integer) as position,
        nullif(replace(upper(trim(raw_code)), '.', ''), '') as procedure_code
    from unpivoted
    where nullif(trim(raw_code), '') is not null
)

select * from final
