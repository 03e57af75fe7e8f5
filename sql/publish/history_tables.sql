-- History of publications, kept across nights in the run's warehouse: what each as-of date
-- published. The next publication reads it to tell new, continuing and returning candidates
-- apart and to list who dropped off. Rewritten per as-of date, so a rerun is idempotent.
create table if not exists history.publications (
    as_of date primary key,
    run_id varchar not null,
    published_at timestamp not null
);

create table if not exists history.published_candidates (
    as_of date not null,
    member_id varchar not null,
    tier varchar not null,
    criteria_met varchar
);

-- Summaries of published_candidates that the nightly publication reads instead of every
-- earlier list, so its cost follows the list, not the number of nights: the first as-of date
-- each member was listed on (new vs returning), and members per tier per as-of date (the
-- report's trend). record_history keeps them in step with published_candidates, in the same
-- transaction; a warehouse from before them is filled once from published_candidates
-- (pipelines/publish.py).
create table if not exists history.first_listed (
    member_id varchar not null,
    first_as_of date not null
);

create table if not exists history.published_tiers (
    as_of date not null,
    tier varchar not null,
    members bigint not null
);
