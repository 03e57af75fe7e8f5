-- int_ed_visits
-- ED visits (method 3, HEDIS-style): one per member per calendar date of an ED line
-- (int_ed_lines); facility and professional claims that day are one visit.
-- * The visit's principal diagnosis: the institutional (facility) claim's; with only
--   professional claims, theirs; among several, the smallest claim_id's.
-- * Folding: a visit on date d folds into a hospital stay admitted on d .. d + `ed_fold_days`
--   (any such stay, planned or not). A folded visit is not an ED visit: it is kept here with
--   is_folded for lineage, and the stay records via_ed (int_events).
-- * Avoidable: a visit (not folded) whose principal diagnosis is in ref.avoidable_ed_diagnoses.
with

ed_lines as (
    select * from intermediate.int_ed_lines
),

hospital_stays as (
    select * from intermediate.int_stays
    where stay_setting = 'hospital'
),

avoidable_diagnoses as (
    select code from ref.avoidable_ed_diagnoses
),

visits as (
    select
        member_id,
        ed_date,
        first(
            principal_diagnosis_code
            order by claim_type <> 'institutional', claim_id, claim_line_number
        ) as principal_diagnosis_code,
        list_sort(list_distinct(list(claim_id))) as claim_ids
    from ed_lines
    group by
        member_id,
        ed_date
),

folds as (
    select
        visits.member_id,
        visits.ed_date,
        min(hospital_stays.stay_id) as folded_into_stay_id
    from visits
    inner join hospital_stays
        on hospital_stays.member_id = visits.member_id
        and hospital_stays.admission_date >= visits.ed_date
        and hospital_stays.admission_date <= visits.ed_date + getvariable('ed_fold_days')
    group by
        visits.member_id,
        visits.ed_date
),

final as (
    select
        visits.member_id || ':ed:' || strftime(visits.ed_date, '%Y-%m-%d') as ed_visit_id,
        visits.member_id,
        visits.ed_date,
        visits.principal_diagnosis_code,
        visits.claim_ids,
        folds.folded_into_stay_id is not null as is_folded,
        folds.folded_into_stay_id,
        folds.folded_into_stay_id is null
        and coalesce(visits.principal_diagnosis_code in (select code from avoidable_diagnoses), false)
            as is_avoidable
    from visits
    left join folds
        on folds.member_id = visits.member_id
        and folds.ed_date = visits.ed_date
)

select * from final
