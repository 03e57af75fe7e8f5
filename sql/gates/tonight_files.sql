-- Gate input: every entry of tonight's landing folder (raw.night_files for this run), with the
-- figures of the bytes it holds. Bytes loaded on an earlier night are judged by the figures of
-- that load (raw.load_ledger), so rerunning a blocked night blocks it again, and a corrected
-- file (same name, new bytes) is judged alone: the old bytes are no longer landed tonight.
with

tonight as (
    select * from raw.night_files where run_id = getvariable('run_id')
),

ledger as (
    select * from raw.load_ledger
),

final as (
    select
        tonight.entry_name,
        tonight.kind,
        tonight.state,
        tonight.reason,
        tonight.message,
        tonight.file_sha256,
        coalesce(ledger.rows_read, tonight.rows_read, 0) as rows_read,
        coalesce(ledger.rows_loaded, tonight.rows_loaded, 0) as rows_loaded,
        coalesce(ledger.rows_quarantined, tonight.rows_quarantined, 0) as rows_quarantined
    from tonight
    left join ledger
        on ledger.file_sha256 = tonight.file_sha256
        and tonight.state in ('loaded', 'loaded_with_quarantine', 'already_loaded')
)

select * from final order by entry_name
