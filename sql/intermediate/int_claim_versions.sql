-- incremental: claim
-- int_claim_versions
-- The claims that belong to a version chain, with their family and whether they count
-- (method 1). A claim outside every chain (no replacement, no void, replacing nothing) is its
-- own family and counts as is: it is not listed here, which keeps this model as small as the
-- number of corrections rather than the number of claims.
-- * A claim with frequency 7 (replacement) or 8 (void) names in original_claim_id the claim it
--   replaces or voids (int_claim_links); chains are followed to the root (a root that was
--   never loaded is still the family's root). Chains longer than 64 links stop at 64.
--   Replacement cycles (A replaces B and B replaces A) are one family rooted at the cycle's
--   smallest claim_id (with any claim the cycle replaces), so only its latest version counts.
--   A claim whose lines name different claims joins the family of the deepest chain, and of
--   the smallest root between chains as deep.
-- * The family's latest version has the latest paid_date (missing paid dates sort first);
--   ties: void over replacement over original, then the larger claim_id.
-- * A family whose latest version is a void is removed; otherwise only the latest version's
--   lines count (is_current).
-- * Claim-level fields come from the claim's first line that carries them.
with

claim_lines as (
    select * from staging.stg_medical_claims
),

links as (
    select * from intermediate.int_claim_links
),

chain_claim_ids as (
    select claim_id from links
    union
    select parent_claim_id as claim_id from links
),

chain_claims as (
    select
        claim_lines.claim_id,
        arg_min(claim_lines.member_id, claim_lines.claim_line_number) as member_id,
        arg_min(claim_lines.original_claim_id, claim_lines.claim_line_number)
            as original_claim_id,
        max(claim_lines.version_rank) as version_rank,
        bool_or(claim_lines.is_void) as is_void,
        arg_min(claim_lines.paid_date, claim_lines.claim_line_number) as paid_date
    from claim_lines
    semi join chain_claim_ids
        on chain_claim_ids.claim_id = claim_lines.claim_id
    group by claim_lines.claim_id
),

ancestry as (
    with recursive walk (claim_id, ancestor_id, depth) as (
        select
            claim_id,
            parent_claim_id as ancestor_id,
            1 as depth
        from links
        union all
        select
            walk.claim_id,
            links.parent_claim_id as ancestor_id,
            walk.depth + 1 as depth
        from walk
        inner join links
            on links.claim_id = walk.ancestor_id
        where walk.depth < 64
    ),

    -- In a cycle (A replaces B, B replaces A) a claim is its own ancestor and the deepest
    -- ancestor depends on where the walk stopped: the smallest claim_id of the cycle is the
    -- root instead, the same for the cycle's claims and for any claim replacing one of them.
    cyclic as (
        select distinct claim_id from walk where ancestor_id = claim_id
    )

    select
        walk.claim_id,
        coalesce(
            min(walk.ancestor_id) filter (where cyclic.claim_id is not null),
            -- The deepest ancestor; between ancestors as deep (a claim whose lines name two
            -- claims), the smallest claim_id, so every run picks the same.
            arg_min(walk.ancestor_id, (-walk.depth, walk.ancestor_id))
        ) as family_root_id
    from walk
    left join cyclic
        on cyclic.claim_id = walk.ancestor_id
    group by walk.claim_id
),

families as (
    select
        chain_claims.*,
        coalesce(ancestry.family_root_id, chain_claims.claim_id) as family_root_id
    from chain_claims
    left join ancestry
        on ancestry.claim_id = chain_claims.claim_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by family_root_id
            order by paid_date desc nulls last, version_rank desc, claim_id desc
        ) as version_order
    from families
),

latest as (
    select
        family_root_id,
        is_void as family_is_void
    from ranked
    where version_order = 1
),

final as (
    select
        ranked.claim_id,
        ranked.member_id,
        ranked.family_root_id,
        ranked.original_claim_id,
        ranked.version_rank,
        ranked.is_void,
        ranked.paid_date,
        ranked.version_order = 1 as is_latest_version,
        latest.family_is_void,
        ranked.version_order = 1 and not latest.family_is_void as is_current
    from ranked
    inner join latest
        on latest.family_root_id = ranked.family_root_id
)

select * from final
