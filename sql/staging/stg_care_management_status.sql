-- materialized: view
-- stg_care_management_status
-- One row per member status (raw.care_management_status, optional landing file), renamed and
-- cast only: status lower-cased ('declined' or 'unreachable' per the contract).
with

source as (
    select * from raw.care_management_status
),

final as (
    select
        member_id,
        lower(trim(status)) as status,
        status_date
    from source
)

select * from final
