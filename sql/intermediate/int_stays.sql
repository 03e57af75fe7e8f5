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
-- * Planned (CMS PRA v4.0 structure): principal diagnosis in ref.always_planned_diagnoses, or
--   principal procedure in ref.always_planned_procedures, or admission type 3 (elective, the
--   UB-04 code) with a principal procedure in ref.potentially_planned_procedures and a
--   known principal diagnosis not in ref.acute_diagnoses. Every other stay is unplanned (a
--   stay without any principal diagnosis too: nothing shows it was planned).
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

always_planned_diagnoses as (
    select code from ref.always_planned_diagnoses
),

always_planned_procedures as (
    select code from ref.always_planned_procedures
),

potentially_planned_procedures as (
    select code from ref.potentially_planned_procedures
),

acute_diagnoses as (
    select code from ref.acute_diagnoses
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

classified as (
    select
        *,
        coalesce(principal_diagnosis_code in (select code from always_planned_diagnoses), false)
        or coalesce(principal_procedure_code in (select code from always_planned_procedures), false)
        or (
            coalesce(admission_type_code = '3', false)
            and coalesce(
                principal_procedure_code in (select code from potentially_planned_procedures),
                false
            )
            and principal_diagnosis_code is not null
            and not coalesce(principal_diagnosis_code in (select code from acute_diagnoses), false)
        ) as is_planned,
        case
            when stay_setting = 'snf'
                then length_of_stay_days < getvariable('short_term_snf_days')
        end as is_short_term
    from measured
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
        claim_ids,
        is_planned,
        is_short_term,
        not is_planned and (stay_setting = 'hospital' or is_short_term) as is_counted
    from classified
)

select * from final
