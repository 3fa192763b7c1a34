-- The area's register of known activity providers (the coverage denominator), imported with
-- `oa-aggregator import providers FILE.csv`; `key` (normalised name + postcode) makes a
-- re-import update rather than duplicate.
create table providers (
    id          bigint generated always as identity primary key,
    key         text not null unique,
    name        text not null,
    postcode    text,
    website     text,
    email       text,
    kind        text,
    extra       text not null default '{}',
    imported_at bigint not null
);

-- A manager's decisions: this organiser on the feeds is (linked) or is not (unlinked) this
-- known provider, whatever automatic matching says.
create table provider_links (
    provider_id bigint not null references providers (id) on delete cascade,
    organizer   text not null,
    linked      boolean not null,
    primary key (provider_id, organizer)
);
