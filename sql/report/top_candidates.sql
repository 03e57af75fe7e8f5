-- Report: the top of tonight's list (ids only: no names or dates of birth in the report).
select
    member_id,
    tier,
    score,
    criteria_met,
    change_status
from publish.pub_candidates
limit 25
