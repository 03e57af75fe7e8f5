-- Members who would have been listed but are not referred, with the reason (deceased, not
-- enrolled, hospice, PACE, 1915(c) waiver, already in ECM): never silently dropped.
select * from marts.fct_exclusions
order by member_id
