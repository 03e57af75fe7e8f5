-- int_stays
-- Hospital and SNF stays: stay claims of one member and one setting merged (method 3).
-- * Claims are taken in order of admission date (then discharge date, claim_id). A claim
--   joins the current stay when it overlaps it (admission on or before the stay's latest
--   discharge so far), or when it is admitted within `transfer_gap_days` after that
--   discharge and that discharge's status is in ref.transfer_discharge_statuses (still a
--   patient, or transferred): a direct transfer is one stay. Hospital and SNF never merge.
-- * The stay's discharge status is the status of its claim with the latest discharge (ties:
--   the later admission, then the larger claim_id).
-- * Admission date: the earliest; discharge date: the latest. Principal diagnosis, principal
--   procedure and admission type come from the first claim (earliest admission, then smallest
--   claim_id).
-- * A stay is still open when its discharge date is after the as-of date; then the length of
--   stay runs to the as-of date. Length of stay = discharge - admission, in days.
-- * Short-term SNF: a SNF stay with length of stay < `short_term_snf_days`.
-- * procedure_codes: every procedure on any claim of the stay.
-- * Planned, the CMS Planned Readmission Algorithm v4.0 as published (no admission-type
--   condition), with codes mapped to AHRQ CCS categories by ref.ccs_icd10cm / ref.ccs_icd10pcs.
--   planned_reason names the first that applies:
--   'pr1_procedure': any procedure's CCS category in ref.pra_always_planned_procedure_ccs;
--   'pr2_diagnosis': the principal diagnosis's CCS category in ref.pra_always_planned_diagnosis_ccs;
--   'delivery_newborn' (our domain rules' choice): the principal diagnosis's CCS category, or
--     any procedure's, in ref.delivery_newborn_ccs of that kind;
--   'pr3_procedure': any procedure potentially planned (its CCS category in
--     ref.pra_potentially_planned_procedure_ccs, or the code in ref.pra_potentially_planned_procedures)
--     and a known principal diagnosis that is not acute (neither its CCS category in
--     ref.pra_acute_diagnosis_ccs nor the code in ref.pra_acute_diagnoses); a stay without any
--     principal diagnosis is not PR3-planned: nothing shows its condition was not acute.
--   Every other stay is unplanned. A code missing from the CCS maps has no category: only the
--   code-level lists can decide it (int_unmapped_codes counts them).
-- * Counted: unplanned hospital stays and unplanned short-term SNF stays.
with

stay_claims as (
    select * from intermediate.int_stay_claims
),

periods as (
    select * from intermediate.int_periods
),

transfer_statuses as (
    select code from ref.transfer_discharge_statuses
),

ccs_diagnoses as (
    select code, ccs_category from ref.ccs_icd10cm
),

ccs_procedures as (
    select code, ccs_category from ref.ccs_icd10pcs
),

pr1_procedure_ccs as (
    select ccs_category from ref.pra_always_planned_procedure_ccs
),

pr2_diagnosis_ccs as (
    select ccs_category from ref.pra_always_planned_diagnosis_ccs
),

pr3_procedure_ccs as (
    select ccs_category from ref.pra_potentially_planned_procedure_ccs
),

pr3_procedures as (
    select code from ref.pra_potentially_planned_procedures
),

pr4_diagnosis_ccs as (
    select ccs_category from ref.pra_acute_diagnosis_ccs
),

pr4_diagnoses as (
    select code from ref.pra_acute_diagnoses
),

delivery_newborn_diagnosis_ccs as (
    select ccs_category from ref.delivery_newborn_ccs where ccs_kind = 'diagnosis'
),

delivery_newborn_procedure_ccs as (
    select ccs_category from ref.delivery_newborn_ccs where ccs_kind = 'procedure'
),

flagged_claims as (
    select
        *,
        coalesce(discharge_status_code in (select code from transfer_statuses), false)
            as is_transfer_discharge
    from stay_claims
),

with_prior as (
    select
        *,
        max(
            {
                'discharge_date': discharge_date,
                'admission_date': admission_date,
                'claim_id': claim_id,
                'is_transfer_discharge': is_transfer_discharge
            }
        ) over (
            partition by member_id, stay_setting
            order by admission_date, discharge_date, claim_id
            rows between unbounded preceding and 1 preceding
        ) as prior_discharge
    from flagged_claims
),

boundaries as (
    select
        *,
        case
            when prior_discharge is null then 1
            when admission_date <= prior_discharge.discharge_date then 0
            when prior_discharge.is_transfer_discharge
                and admission_date
                <= prior_discharge.discharge_date + getvariable('transfer_gap_days')
                then 0
            else 1
        end as starts_stay
    from with_prior
),

numbered as (
    select
        *,
        sum(starts_stay) over (
            partition by member_id, stay_setting
            order by admission_date, discharge_date, claim_id
            rows between unbounded preceding and current row
        ) as stay_number
    from boundaries
),

merged as (
    select
        member_id,
        stay_setting,
        stay_number,
        min(admission_date) as admission_date,
        max(discharge_date) as discharge_date,
        last(discharge_status_code order by discharge_date, admission_date, claim_id)
            as discharge_status_code,
        first(principal_diagnosis_code order by admission_date, claim_id)
            as principal_diagnosis_code,
        first(principal_procedure_code order by admission_date, claim_id)
            as principal_procedure_code,
        first(admission_type_code order by admission_date, claim_id) as admission_type_code,
        list_sort(list_distinct(flatten(list(procedure_codes)))) as procedure_codes,
        list(claim_id order by claim_id) as claim_ids
    from numbered
    group by
        member_id,
        stay_setting,
        stay_number
),

measured as (
    select
        merged.*,
        merged.discharge_date is null or merged.discharge_date > periods.as_of as is_open,
        date_diff(
            'day',
            merged.admission_date,
            case
                when merged.discharge_date is null or merged.discharge_date > periods.as_of
                    then periods.as_of
                else merged.discharge_date
            end
        ) as length_of_stay_days
    from merged
    cross join periods
),

stay_procedures as (
    select
        stays.member_id,
        stays.stay_setting,
        stays.stay_number,
        bool_or(procedures.ccs_category in (select ccs_category from pr1_procedure_ccs))
            as has_pr1_procedure,
        bool_or(
            procedures.ccs_category in (select ccs_category from delivery_newborn_procedure_ccs)
        ) as has_delivery_procedure,
        bool_or(
            procedures.ccs_category in (select ccs_category from pr3_procedure_ccs)
            or stays.procedure_code in (select code from pr3_procedures)
        ) as has_pr3_procedure
    from (
        select
            member_id,
            stay_setting,
            stay_number,
            unnest(procedure_codes) as procedure_code
        from merged
    ) as stays
    left join ccs_procedures as procedures
        on procedures.code = stays.procedure_code
    group by
        stays.member_id,
        stays.stay_setting,
        stays.stay_number
),

with_codes as (
    select
        measured.*,
        coalesce(stay_procedures.has_pr1_procedure, false) as has_pr1_procedure,
        coalesce(stay_procedures.has_delivery_procedure, false) as has_delivery_procedure,
        coalesce(stay_procedures.has_pr3_procedure, false) as has_pr3_procedure,
        diagnoses.ccs_category as diagnosis_ccs
    from measured
    left join stay_procedures
        on stay_procedures.member_id = measured.member_id
        and stay_procedures.stay_setting = measured.stay_setting
        and stay_procedures.stay_number = measured.stay_number
    left join ccs_diagnoses as diagnoses
        on diagnoses.code = measured.principal_diagnosis_code
),

with_reason as (
    select
        *,
        case
            when has_pr1_procedure then 'pr1_procedure'
            when coalesce(diagnosis_ccs in (select ccs_category from pr2_diagnosis_ccs), false)
                then 'pr2_diagnosis'
            when has_delivery_procedure
                or coalesce(
                    diagnosis_ccs in (select ccs_category from delivery_newborn_diagnosis_ccs),
                    false
                )
                then 'delivery_newborn'
            when has_pr3_procedure
                and principal_diagnosis_code is not null
                and not coalesce(diagnosis_ccs in (select ccs_category from pr4_diagnosis_ccs), false)
                and not coalesce(principal_diagnosis_code in (select code from pr4_diagnoses), false)
                then 'pr3_procedure'
        end as planned_reason
    from with_codes
),

classified as (
    select
        *,
        planned_reason is not null as is_planned,
        case
            when stay_setting = 'snf'
                then length_of_stay_days < getvariable('short_term_snf_days')
        end as is_short_term
    from with_reason
),

final as (
    select
        member_id || ':' || stay_setting || ':' || strftime(admission_date, '%Y-%m-%d') as stay_id,
        member_id,
        stay_setting,
        admission_date,
        discharge_date,
        is_open,
        length_of_stay_days,
        discharge_status_code,
        principal_diagnosis_code,
        principal_procedure_code,
        admission_type_code,
        procedure_codes,
        diagnosis_ccs,
        claim_ids,
        is_planned,
        planned_reason,
        is_short_term,
        not is_planned and (stay_setting = 'hospital' or is_short_term) as is_counted
    from classified
)

select * from final
