-- Gate input: why rows of the given files (getvariable('files'), content hashes) were
-- quarantined, most frequent reason first; a row with several bad columns counts once per
-- reason. Only reasons and counts: never the quarantined values (they may be member ids).
with

quarantined as (
    select distinct file_sha256, source_row, reason
    from raw.quarantine
    where source_row > 0 and list_contains(getvariable('files'), file_sha256)
),

final as (
    select
        file_sha256,
        reason,
        count(*) as rows
    from quarantined
    group by file_sha256, reason
)

select * from final order by file_sha256, rows desc, reason
