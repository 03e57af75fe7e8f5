-- incremental: claim
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
-- The codes are ref.ed_codes' lists by code_system, read as getvariable('ed_codes') (the rules
-- runner sets it from the table): a test without a join, so DuckDB applies it while it scans
-- the raw lines, and only the few ED lines pay for the rest of staging (half the time of
-- `code in (select code from ref.ed_codes ...)`, which joins every line in force).
with

claim_lines as (
    select * from intermediate.int_claim_lines_current
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
    -- The same rule, tested in the order that rejects most lines soonest: the E&M test
    -- first (either claim type), then the revenue code, then place of service 23 (0.4 s less
    -- over 40M lines than testing the claim type first).
    where (
        list_contains(getvariable('ed_codes')['hcpcs'], hcpcs_code)
        and claim_type in ('institutional', 'professional')
    )
    or (
        list_contains(getvariable('ed_codes')['revenue'], revenue_code)
        and claim_type = 'institutional'
    )
    or (
        list_contains(getvariable('ed_codes')['place_of_service'], place_of_service)
        and list_contains(getvariable('ed_codes')['ed_pos_procedure'], hcpcs_code)
        and claim_type = 'professional'
    )
)

select * from final
