-- Report: rows quarantined tonight, per file and reason: the files this night's ingest
-- loaded (raw.night_files of the landing run), not every night's. A row with several bad
-- columns counts once per reason.
with

tonight as (
    select file_sha256, entry_name
    from raw.night_files
    where run_id = getvariable('landing_run_id')
        and state in ('loaded', 'loaded_with_quarantine')
),

final as (
    select
        tonight.entry_name,
        quarantine.reason,
        count(distinct quarantine.source_row) as rows
    from raw.quarantine as quarantine
    inner join tonight
        on tonight.file_sha256 = quarantine.file_sha256
    group by all
)

select * from final
order by rows desc, entry_name, reason
