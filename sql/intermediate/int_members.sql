-- int_members
-- One row per member: everyone in eligibility plus anyone with a counting claim line (a
-- member whose only claims were voided is not added), as of the as-of date (method 4).
-- * Age on the as-of date in whole years: the birthday has come when (month, day) of the
--   as-of date is on or after the birth (month, day), so a 29 February birthday comes on
--   1 March in other years. Adult: age >= `adult_min_age` (a 21st birthday on the as-of date
--   is an adult); child otherwise; no age group without a birth date.
-- * Enrolled: some span with start <= as-of <= end (an empty end is open).
-- * Demographics (birth date, sex, county, plan, aid code, assigned PCP) come from the latest
--   span (latest start). Program flags (in ECM, hospice, PACE, 1915(c)) come from the span
--   covering the as-of date (the latest-starting one if several), else the latest span.
-- * Deceased: a death_date on or before the as-of date on any span.
-- * Care-management status: the status with the latest status_date on or before the as-of
--   date.
with

eligibility as (
    select * from staging.stg_eligibility
),

claim_lines as (
    select * from intermediate.int_claim_lines_current
),

claim_members as (
    select * from staging.stg_claim_members
),

care_management_status as (
    select * from staging.stg_care_management_status
),

periods as (
    select * from intermediate.int_periods
),

-- Members with claim lines in force but no eligibility row: usually none, so the claim lines
-- are read only for the few such members (a member with a counting line has a line in force).
claims_without_eligibility as (
    select claim_members.member_id
    from claim_members
    anti join eligibility
        on eligibility.member_id = claim_members.member_id
),

spans as (
    select
        eligibility.*,
        eligibility.enrollment_start_date <= periods.as_of
        and coalesce(eligibility.enrollment_end_date >= periods.as_of, true) as covers_as_of
    from eligibility
    cross join periods
),

-- One pass over the spans: the latest span's demographics, the program span's flags (the
-- covering span, latest-starting first, else the latest span), enrollment and death. A key is
-- (member_id, enrollment_start_date), so no two spans of a member tie on their start.
member_spans as (
    select
        spans.member_id,
        arg_max(
            {
                'birth_date': spans.birth_date,
                'sex': spans.sex,
                'county': spans.county,
                'plan_code': spans.plan_code,
                'aid_code': spans.aid_code,
                'pcp_npi': spans.pcp_npi
            },
            spans.enrollment_start_date
        ) as latest_span,
        arg_max(
            {
                'in_ecm': spans.in_ecm,
                'hospice': spans.hospice,
                'pace': spans.pace,
                'waiver_1915c': spans.waiver_1915c
            },
            {'covers_as_of': spans.covers_as_of, 'start': spans.enrollment_start_date}
        ) as program_span,
        bool_or(spans.covers_as_of) as is_enrolled,
        min(spans.death_date) as death_date
    from spans
    group by spans.member_id
),

-- Everyone in eligibility, plus the members with claim lines in force and no eligibility row
-- (no member is in both parts).
universe as (
    select member_id from member_spans
    union all
    select distinct claim_lines.member_id
    from claim_lines
    semi join claims_without_eligibility
        on claims_without_eligibility.member_id = claim_lines.member_id
),

latest_status as (
    select
        care_management_status.member_id,
        care_management_status.status,
        care_management_status.status_date
    from care_management_status
    cross join periods
    where care_management_status.status_date <= periods.as_of
    qualify row_number() over (
        partition by care_management_status.member_id
        order by care_management_status.status_date desc
    ) = 1
),

aged as (
    select
        universe.member_id,
        member_spans.latest_span.birth_date as birth_date,
        year(periods.as_of) - year(member_spans.latest_span.birth_date)
        - case
            when month(periods.as_of) * 100 + day(periods.as_of)
                < month(member_spans.latest_span.birth_date) * 100
                + day(member_spans.latest_span.birth_date)
                then 1
            else 0
        end as age,
        member_spans.latest_span.sex as sex,
        member_spans.latest_span.county as county,
        member_spans.latest_span.plan_code as plan_code,
        member_spans.latest_span.aid_code as aid_code,
        member_spans.latest_span.pcp_npi as pcp_npi,
        member_spans.member_id is not null as has_eligibility,
        coalesce(member_spans.is_enrolled, false) as is_enrolled,
        member_spans.death_date,
        coalesce(member_spans.death_date <= periods.as_of, false) as is_deceased,
        coalesce(member_spans.program_span.in_ecm, false) as in_ecm,
        coalesce(member_spans.program_span.hospice, false) as hospice,
        coalesce(member_spans.program_span.pace, false) as pace,
        coalesce(member_spans.program_span.waiver_1915c, false) as waiver_1915c,
        latest_status.status as care_management_status,
        latest_status.status_date as care_management_status_date
    from universe
    cross join periods
    left join member_spans
        on member_spans.member_id = universe.member_id
    left join latest_status
        on latest_status.member_id = universe.member_id
),

final as (
    select
        member_id,
        birth_date,
        age,
        case
            when age >= getvariable('adult_min_age') then 'adult'
            when age is not null then 'child'
        end as age_group,
        sex,
        county,
        plan_code,
        aid_code,
        pcp_npi,
        has_eligibility,
        is_enrolled,
        death_date,
        is_deceased,
        in_ecm,
        hospice,
        pace,
        waiver_1915c,
        care_management_status,
        care_management_status_date
    from aged
)

select * from final
