-- Report: a data-quality figure (docs/contract.md, missing principal diagnosis). ED visits
-- (not folded into a stay) and hospital / SNF stays admitted in the look-back that carry no
-- principal diagnosis on any line of any of their claims. They still count, but such a visit
-- can never be avoidable and such a stay never planned, so many of them lower the avoidable
-- ED counts and raise the unplanned stays. With them, the codes on stays that the CCS maps do
-- not know (intermediate.int_unmapped_codes), which only the PRA code-level lists can decide.
with

periods as (
    select
        lookback_start,
        as_of
    from intermediate.int_periods
),

visits as (
    select visits.principal_diagnosis_code
    from intermediate.int_ed_visits as visits, periods
    where not visits.is_folded
        and visits.ed_date between periods.lookback_start and periods.as_of
),

stays as (
    select stays.principal_diagnosis_code
    from intermediate.int_stays as stays, periods
    where stays.admission_date between periods.lookback_start and periods.as_of
),

unmapped as (
    select
        count(*) as codes,
        coalesce(sum(stays), 0) as code_stays
    from intermediate.int_unmapped_codes
)

select
    (select count(*) from visits) as ed_visits,
    (select count(*) from visits where principal_diagnosis_code is null)
        as ed_visits_without_diagnosis,
    (select count(*) from stays) as stays,
    (select count(*) from stays where principal_diagnosis_code is null)
        as stays_without_diagnosis,
    unmapped.codes as unmapped_codes,
    unmapped.code_stays as unmapped_code_stays
from unmapped
