-- The harvested state. Times are unix seconds (UTC), as on SQLite, so both backends share
-- one search and one set of tests.

-- One row per RPDE feed. `cursor` is the next URL to request (null: start at `url`); it is
-- written in the same transaction as the page it follows, which is what makes a crash safe.
create table feeds (
    id bigserial primary key,
    url text not null unique,
    kind text,
    publisher text,
    dataset_site text,
    source text not null,
    state text not null default 'new',
    cursor text,
    caught_up boolean not null default false,
    pages bigint not null default 0,
    last_success_at bigint,
    last_error text,
    last_error_at bigint,
    discovered_at bigint not null,
    vanished_at bigint
);

-- The latest version of every item, kept raw so tagging rules can change without a
-- re-harvest. Deleted items stay as tombstones so an older update can never resurrect them.
create table items (
    feed_id bigint not null references feeds (id),
    item_id text not null,
    kind text not null,
    modified bigint not null,
    state text not null,
    role text not null,
    data_id text,
    parent_ref text,
    data text,
    status text not null,
    problem text,
    primary key (feed_id, item_id)
);

create index items_parent_by_data_id on items (data_id) where role = 'parent' and state = 'updated';
create index items_child_by_parent_ref on items (parent_ref) where parent_ref is not null;

-- The read model: one row per opportunity, rebuilt from items whenever they change.
-- `geo` is PostgreSQL's built-in point (x = longitude, y = latitude) with a GiST index,
-- so no extension is needed.
create table opportunities (
    rid bigserial primary key,
    id text not null unique,
    feed_id bigint not null references feeds (id),
    item_id text not null,
    kind text not null,
    start_at bigint not null,
    end_at bigint,
    lat double precision,
    lng double precision,
    geo point,
    status text not null,
    modified bigint not null,
    parent_ref text,
    doc text not null
);

create index opportunities_by_source on opportunities (feed_id, item_id);
create index opportunities_by_start on opportunities (start_at, id) where status = 'scheduled';
create index opportunities_geo on opportunities using gist (geo) where status = 'scheduled';
