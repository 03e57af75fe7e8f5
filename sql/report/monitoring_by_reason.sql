-- Report: tonight's Monitoring members by why they are not called: declined care management
-- or could not be reached (their latest care-management status), with the latest such date.
select
    monitoring_reason,
    count(*) as members,
    max(monitoring_since) as latest_status_date
from publish.pub_candidates
where tier = 'Monitoring'
group by monitoring_reason
order by monitoring_reason
