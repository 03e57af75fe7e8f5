-- int_ed_visits
-- ED visits (method 3; HEDIS and the Tuva Project's encounter grouper), from the ED lines of
-- int_ed_lines, and how avoidable each one is.
-- * An ED claim runs from its ED lines' first service_from_date to their last service_to_date.
--   Claims of one member are one visit when their dates overlap (the same calendar date
--   included), or when one starts within one day after the other ends and at least one of the
--   two is professional: the facility and professional claims of one encounter are often
--   dated on either side of midnight. Two facility claims on consecutive days are two visits.
--   Chains are followed: a claim is compared with the visit's latest end so far. The visit's
--   date is its first date.
-- * The visit's principal diagnosis: the institutional (facility) claim's; with only
--   professional claims, theirs; among several, the smallest claim_id's.
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

ed_lines as (
    select * from intermediate.int_ed_lines
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

ed_claims as (
    select
        member_id,
        claim_id,
        claim_type,
        min(service_from_date) as start_date,
        max(service_to_date) as end_date,
        arg_min(principal_diagnosis_code, claim_line_number) as principal_diagnosis_code
    from ed_lines
    group by
        member_id,
        claim_id,
        claim_type
),

-- The latest end of the member's earlier claims, and of their professional ones: when the two
-- are equal a professional claim has the latest end. Two date maxima in one window pass, a
-- tenth faster than one maximum over a struct (7.7M ED claims: 10.7-11.2 s against 11.2-12.8 s).
with_prior as (
    select
        *,
        max(end_date) over earlier_claims as prior_end_date,
        max(end_date) filter (where claim_type = 'professional') over earlier_claims
            as prior_professional_end_date
    from ed_claims
    window earlier_claims as (
        partition by member_id
        order by start_date, end_date, claim_id
        rows between unbounded preceding and 1 preceding
    )
),

numbered as (
    select
        *,
        sum(
            case
                when prior_end_date is null then 1
                when start_date <= prior_end_date then 0
                when start_date = prior_end_date + 1
                    and (
                        claim_type = 'professional'
                        or prior_professional_end_date = prior_end_date
                    )
                    then 0
                else 1
            end
        ) over (
            partition by member_id
            order by start_date, end_date, claim_id
            rows between unbounded preceding and current row
        ) as visit_number
    from with_prior
),

visits as (
    select
        member_id,
        min(start_date) as ed_date,
        max(end_date) as ed_end_date,
        first(
            principal_diagnosis_code
            order by claim_type <> 'institutional', claim_id
        ) as principal_diagnosis_code,
        list_sort(list_distinct(list(claim_id))) as claim_ids
    from numbered
    group by
        member_id,
        visit_number
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
