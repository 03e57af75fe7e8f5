-- int_ed_visits
-- ED visits (method 3; HEDIS and the Tuva Project's encounter grouper): each member's ED claims
-- grouped into visits (int_ed_claim_visits, which states the grouping), and how avoidable
-- each one is.
-- * Folding: a visit belongs to a hospital stay (any, planned or not) when its date is from
--   `ed_fold_days` before the admission through the admission date, or inside the stay
--   (before its discharge date): an ED line dated within an inpatient stay is part of the stay.
--   A folded visit is not an ED visit: it is kept here with is_folded for lineage, and the stay
--   records via_ed (int_events). A visit on the discharge date is a new visit.
-- * Avoidable, by `avoidable_method` (adult.ed_measure and adult.nyu_method):
--   'dhcs': weight 1 when the principal diagnosis is in ref.dhcs_avoidable_ed_diagnoses;
--   'nyu_threshold': weight 1 when the NYU figure noner + epct + edcnpa
--     (ref.nyu_ed_classification) is above `nyu_threshold`;
--   'nyu_fractional': weight = the NYU figure, to 3 decimals.
--   Under NYU a code flagged injury, psych, alcohol or drug, or absent from the table, is not
--   classified: weight 0, no figure. A folded visit has weight 0.
with

visits as (
    select * from intermediate.int_ed_claim_visits
),

hospital_stays as (
    select * from intermediate.int_stays
    where stay_setting = 'hospital'
),

dhcs_avoidable as (
    select code from ref.dhcs_avoidable_ed_diagnoses
),

nyu as (
    select
        code,
        cast(noner as decimal(11, 10))
        + cast(epct as decimal(11, 10))
        + cast(edcnpa as decimal(11, 10)) as nyu_figure,
        case
            when injury = '1' then 'injury'
            when psych = '1' then 'psych'
            when alcohol = '1' then 'alcohol'
            when drug = '1' then 'drug'
        end as nyu_excluded_as
    from ref.nyu_ed_classification
),

folds as (
    select
        visits.member_id,
        visits.ed_date,
        min(hospital_stays.stay_id) as folded_into_stay_id
    from visits
    inner join hospital_stays
        on hospital_stays.member_id = visits.member_id
        and visits.ed_date >= hospital_stays.admission_date - getvariable('ed_fold_days')
        and (
            visits.ed_date <= hospital_stays.admission_date
            or visits.ed_date < hospital_stays.discharge_date
        )
    group by
        visits.member_id,
        visits.ed_date
),

classified as (
    select
        visits.*,
        folds.folded_into_stay_id,
        folds.folded_into_stay_id is not null as is_folded,
        coalesce(visits.principal_diagnosis_code in (select code from dhcs_avoidable), false)
            as on_dhcs_list,
        case when nyu.nyu_excluded_as is null then nyu.nyu_figure end as nyu_figure,
        case
            when nyu.code is null then 'not in the NYU table'
            else nyu.nyu_excluded_as
        end as nyu_not_classified_as
    from visits
    left join folds
        on folds.member_id = visits.member_id
        and folds.ed_date = visits.ed_date
    left join nyu
        on nyu.code = visits.principal_diagnosis_code
),

weighted as (
    select
        *,
        getvariable('avoidable_method') as avoidable_method,
        case
            when getvariable('avoidable_method') like 'nyu_%' then nyu_figure
        end as avoidable_figure,
        cast(
            case
                when is_folded then 0
                when getvariable('avoidable_method') = 'dhcs' then
                    case when on_dhcs_list then 1 else 0 end
                when nyu_figure is null then 0
                when getvariable('avoidable_method') = 'nyu_threshold' then
                    case
                        when nyu_figure > cast(getvariable('nyu_threshold') as decimal(11, 10))
                            then 1
                        else 0
                    end
                else nyu_figure
            end as decimal(18, 3)
        ) as avoidable_weight
    from classified
),

final as (
    select
        member_id || ':ed:' || strftime(ed_date, '%Y-%m-%d') as ed_visit_id,
        member_id,
        ed_date,
        ed_end_date,
        principal_diagnosis_code,
        claim_ids,
        is_folded,
        folded_into_stay_id,
        avoidable_method,
        avoidable_figure,
        case
            when avoidable_method like 'nyu_%' and nyu_figure is null then nyu_not_classified_as
        end as avoidable_not_classified_as,
        avoidable_weight,
        avoidable_weight > 0 as is_avoidable
    from weighted
)

select * from final
