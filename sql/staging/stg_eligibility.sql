-- materialized: view
-- stg_eligibility
-- One row per enrollment span of the snapshot in force (raw.rows_in_force: the latest
-- delivery's eligibility files, plus incremental files delivered with or after it, a
-- repeated key replaced by the later delivery), renamed and cast only. Program flags that
-- were left empty are false (the contract makes them optional: absent means not enrolled in
-- the program).
with

source as (
    select * from raw.rows_in_force('eligibility')
),

final as (
    select
        member_id,
        enrollment_start_date,
        enrollment_end_date,
        birth_date,
        nullif(upper(trim(sex)), '') as sex,
        nullif(trim(county), '') as county,
        nullif(trim(plan_code), '') as plan_code,
        nullif(trim(aid_code), '') as aid_code,
        nullif(trim(pcp_npi), '') as pcp_npi,
        death_date,
        coalesce(in_ecm, false) as in_ecm,
        coalesce(hospice, false) as hospice,
        coalesce(pace, false) as pace,
        coalesce(waiver_1915c, false) as waiver_1915c
    from source
)

select * from final
