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
