-- int_ed_lines
-- Claim lines that make an ED visit (method 3; HEDIS ED value sets and the Tuva Project's
-- encounter grouper), from current claims only:
-- * an institutional (facility) line whose revenue code is in ref.ed_codes 'revenue'
--   (045x, 0981) or whose HCPCS/CPT code is an ED E&M code ('hcpcs': 99281-99285,
--   G0380-G0384);
-- * a professional line with an ED E&M code, or with place of service 23 ('place_of_service')
--   and an E&M or critical-care code ('ed_pos_procedure'). A POS-23 line that carries only a
--   radiology, lab or ECG code (a reading, not an encounter) is not an ED line.
-- The line's service dates are the ED claim's dates (int_ed_visits groups claims into visits).
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

ed_em_codes as (
    select code from ed_codes where code_system = 'hcpcs'
),

place_of_service_codes as (
    select code from ed_codes where code_system = 'place_of_service'
),

pos_procedure_codes as (
    select code from ed_codes where code_system = 'ed_pos_procedure'
),

final as (
    select
        member_id,
        claim_id,
        claim_line_number,
        claim_type,
        service_from_date,
        service_to_date,
        principal_diagnosis_code
    from claim_lines
    where (
        claim_type = 'institutional'
        and (
            revenue_code in (select code from revenue_codes)
            or hcpcs_code in (select code from ed_em_codes)
        )
    )
    or (
        claim_type = 'professional'
        and (
            hcpcs_code in (select code from ed_em_codes)
            or (
                place_of_service in (select code from place_of_service_codes)
                and hcpcs_code in (select code from pos_procedure_codes)
            )
        )
    )
)

select * from final
