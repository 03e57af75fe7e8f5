-- int_unmapped_codes
-- The night's codes on hospital and SNF stays that the AHRQ CCS maps (v2019.1, FY2019 codes)
-- do not know: principal diagnoses missing from ref.ccs_icd10cm and procedures missing from
-- ref.ccs_icd10pcs, with the number of stays that carry each. Such a code has no CCS
-- category, so only the CMS PRA code-level lists (PR3 procedures, PR4 diagnoses) can decide
-- it (docs/method.md); a code here that should be planned or acute needs a newer map.
with

stays as (
    select * from intermediate.int_stays
),

diagnoses as (
    select
        'diagnosis' as code_kind,
        principal_diagnosis_code as code,
        stay_id
    from stays
    where principal_diagnosis_code is not null
        and principal_diagnosis_code not in (select code from ref.ccs_icd10cm)
),

procedures as (
    select
        'procedure' as code_kind,
        procedure_code as code,
        stay_id
    from (
        select
            stay_id,
            unnest(procedure_codes) as procedure_code
        from stays
    )
    where procedure_code not in (select code from ref.ccs_icd10pcs)
),

final as (
    select
        cast(getvariable('as_of') as date) as as_of,
        code_kind,
        code,
        count(distinct stay_id) as stays
    from (
        select * from diagnoses
        union all
        select * from procedures
    )
    group by
        code_kind,
        code
    order by
        code_kind,
        code
)

select * from final
