-- int_ed_lines
-- Claim lines that make an ED visit (method 3, HEDIS-style), from current claims only:
-- * an institutional line whose revenue code or HCPCS/CPT code is in ref.ed_codes
--   (code_system 'revenue' / 'hcpcs'), or
-- * a professional line whose place of service is in ref.ed_codes (code_system
--   'place_of_service', i.e. 23) or whose HCPCS/CPT code is an ED code.
-- The line's service_from_date is the ED visit date.
with

claim_lines as (
    select * from intermediate.int_claim_lines_current
),

ed_codes as (
    select
        code_system,
        code
    from ref.ed_codes
),

revenue_codes as (
    select code from ed_codes where code_system = 'revenue'
),

hcpcs_codes as (
    select code from ed_codes where code_system = 'hcpcs'
),

place_of_service_codes as (
    select code from ed_codes where code_system = 'place_of_service'
),

final as (
    select
        member_id,
        claim_id,
        claim_line_number,
        claim_type,
        service_from_date as ed_date,
        principal_diagnosis_code
    from claim_lines
    where (
        claim_type = 'institutional'
        and (
            revenue_code in (select code from revenue_codes)
            or hcpcs_code in (select code from hcpcs_codes)
        )
    )
    or (
        claim_type = 'professional'
        and (
            place_of_service in (select code from place_of_service_codes)
            or hcpcs_code in (select code from hcpcs_codes)
        )
    )
)

select * from final
