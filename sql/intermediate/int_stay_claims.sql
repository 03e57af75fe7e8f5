-- incremental: claim
-- int_stay_claims
-- One row per current institutional claim that is a stay claim (method 3): bill type 11x is a
-- hospital claim, 21x a SNF claim (stg_medical_claims.stay_setting).
-- * The claim's admission date is its admission_date, else its earliest service_from_date;
--   its discharge date its discharge_date, else its latest service_to_date.
-- * Principal diagnosis, principal procedure, admission type and discharge status come from
--   the claim's first line that carries them.
-- * procedure_codes: every procedure of every line of the claim (principal and
--   procedure_code_2..25), distinct and sorted: the CMS PRA looks at every procedure.
with

claim_lines as (
    select * from intermediate.int_claim_lines_current
    where stay_setting is not null
        -- Implied by stay_setting; a test of one column, which DuckDB applies in the Parquet
        -- scan, so the other columns are read for institutional lines only.
        and claim_type = 'institutional'
),

claim_procedures as (
    select
        claim_id,
        list_sort(list_distinct(list(procedure_code))) as procedure_codes
    from staging.stg_claim_procedures
    where claim_id in (select claim_id from claim_lines)
    group by claim_id
),

final as (
    select
        member_id,
        stay_setting,
        claim_id,
        coalesce(min(admission_date), min(service_from_date)) as admission_date,
        coalesce(max(discharge_date), max(service_to_date)) as discharge_date,
        arg_min(discharge_status_code, claim_line_number) as discharge_status_code,
        arg_min(principal_diagnosis_code, claim_line_number) as principal_diagnosis_code,
        arg_min(principal_procedure_code, claim_line_number) as principal_procedure_code,
        arg_min(admission_type_code, claim_line_number) as admission_type_code,
        coalesce(any_value(claim_procedures.procedure_codes), []) as procedure_codes
    from claim_lines
    left join claim_procedures using (claim_id)
    group by
        member_id,
        stay_setting,
        claim_id
)

select * from final
