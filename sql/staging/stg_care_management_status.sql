-- materialized: view
-- stg_care_management_status
-- One row per member status of the snapshot in force (raw.rows_in_force, as eligibility;
-- optional landing file), renamed and cast only: status lower-cased ('declined' or
-- 'unreachable' per the contract).
with

source as (
    select * from raw.rows_in_force('care_management_status')
),

final as (
    select
        member_id,
        lower(trim(status)) as status,
        status_date
    from source
)

select * from final
