-- Report: quarantined rows per reason, over every file loaded so far (a row with several bad
-- columns counts once per reason).
select reason as label, count(distinct (file_sha256, source_row)) as value
from raw.quarantine
group by reason
order by value desc, label
