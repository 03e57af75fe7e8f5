-- incremental: claim
-- materialized: view
-- stg_medical_claims
-- One row per claim line in force (raw.rows_in_force: a line re-delivered under the same
-- claim_id and claim_line_number replaces the earlier delivery's, kept in raw as superseded),
-- renamed and cast only; no other rows dropped.
-- * Codes are trimmed and upper-cased; diagnosis and procedure codes lose any dot.
-- * A missing claim_frequency_code is '1' (original), a missing service_to_date is the
--   service_from_date: both are the landing contract's defaults.
-- * version_rank orders versions of one claim family when paid dates tie (method 1): a void
--   (frequency '8') over a replacement ('7') over an original ('1').
-- * stay_setting: an institutional claim with bill type 11x (hospital inpatient) is a
--   'hospital' claim, with bill type 21x (SNF inpatient) a 'snf' claim (method 3). These two
--   bill-type prefixes and the three frequency codes are fixed by the UB-04 / X12 standards,
--   so they are named here once, as documented constants, rather than in a code list.
-- * A line without a principal diagnosis takes its claim's: the principal diagnosis of the
--   claim's lowest-numbered line that has one (stg_claim_diagnoses; ICD codes are normalized
--   at ingest: no dots or spaces, upper case). A claim with none keeps null: its ED visit is
--   not avoidable and its stay unplanned (raw.row_warnings counts such lines as
--   missing_principal_diagnosis).
-- * Diagnosis codes 2..12, NPIs and lineage are not used by the rules and are left in raw.
with

-- Not materialized, and this model a view: each model reading it scans only the raw columns
-- it needs (int_members: member_id and claim_id), where a materialized CTE or a table copies
-- every column of every line (at 100k members, writing the table cost more than all its
-- readers' scans together).
raw_lines as not materialized (
    select * from raw.rows_in_force('medical_claims')
),

claim_diagnoses as (
    select * from staging.stg_claim_diagnoses
),

source as (
    select
        raw_lines.* replace (
            coalesce(
                raw_lines.principal_diagnosis_code,
                claim_diagnoses.claim_principal_diagnosis_code
            ) as principal_diagnosis_code
        )
    from raw_lines
    left join claim_diagnoses
        on claim_diagnoses.claim_id = raw_lines.claim_id
),

normalized as (
    select
        claim_id,
        claim_line_number,
        member_id,
        lower(trim(claim_type)) as claim_type,
        coalesce(nullif(trim(claim_frequency_code), ''), '1') as claim_frequency_code,
        nullif(trim(original_claim_id), '') as original_claim_id,
        nullif(trim(bill_type), '') as bill_type,
        nullif(upper(trim(revenue_code)), '') as revenue_code,
        nullif(trim(place_of_service), '') as place_of_service,
        nullif(upper(trim(hcpcs_code)), '') as hcpcs_code,
        service_from_date,
        coalesce(service_to_date, service_from_date) as service_to_date,
        admission_date,
        discharge_date,
        nullif(trim(admission_type_code), '') as admission_type_code,
        nullif(trim(discharge_status_code), '') as discharge_status_code,
        nullif(replace(upper(trim(principal_diagnosis_code)), '.', ''), '')
            as principal_diagnosis_code,
        nullif(replace(upper(trim(principal_procedure_code)), '.', ''), '')
            as principal_procedure_code,
        paid_date,
        paid_amount
    from source
),

final as (
    select
        claim_id,
        claim_line_number,
        member_id,
        claim_type,
        claim_frequency_code,
        case when claim_frequency_code in ('7', '8') then original_claim_id end
            as original_claim_id,
        case claim_frequency_code when '8' then 2 when '7' then 1 else 0 end as version_rank,
        claim_frequency_code = '8' as is_void,
        bill_type,
        left(bill_type, 2) as bill_type_prefix,
        case
            when claim_type = 'institutional' and left(bill_type, 2) = '11' then 'hospital'
            when claim_type = 'institutional' and left(bill_type, 2) = '21' then 'snf'
        end as stay_setting,
        revenue_code,
        place_of_service,
        hcpcs_code,
        service_from_date,
        service_to_date,
        admission_date,
        discharge_date,
        admission_type_code,
        discharge_status_code,
        principal_diagnosis_code,
        principal_procedure_code,
        paid_date,
        paid_amount
    from normalized
)

select * from final
