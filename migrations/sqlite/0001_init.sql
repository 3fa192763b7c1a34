-- The harvested state. Times are unix seconds (UTC).

-- One row per RPDE feed. `cursor` is the next URL to request (null: start at `url`); it is
-- written in the same transaction as the page it follows, which is what makes a crash safe.
create table feeds (
    id integer primary key,
    url text not null unique,
    kind text,
    publisher text,
    dataset_site text,
    source text not null,
    state text not null default 'new',
    cursor text,
    caught_up integer not null default 0,
    pages integer not null default 0,
    last_success_at integer,
    last_error text,
    last_error_at integer,
    discovered_at integer not null,
    vanished_at integer
);

-- The latest version of every item, kept raw so tagging rules can change without a
-- re-harvest. Deleted items stay as tombstones so an older update can never resurrect them.
create table items (
    feed_id integer not null references feeds (id),
    item_id text not null,
    kind text not null,
    modified integer not null,
    state text not null,          -- updated | deleted
    role text not null,           -- parent | child | standalone
    data_id text,                 -- the data's @id, how children find a parent
    parent_ref text,              -- the parent @id a child points at
    data text,
    status text not null,         -- ok | awaiting_parent | unusable | deleted
    problem text,
    primary key (feed_id, item_id)
) without rowid;

create index items_parent_by_data_id on items (data_id) where role = 'parent' and state = 'updated';
create index items_child_by_parent_ref on items (parent_ref) where parent_ref is not null;

-- The read model: one row per opportunity, rebuilt from items whenever they change.
create table opportunities (
    rid integer primary key,
    id text not null unique,
    feed_id integer not null references feeds (id),
    item_id text not null,
    kind text not null,
    start_at integer not null,
    end_at integer,
    lat real,
    lng real,
    status text not null,
    modified integer not null,
    parent_ref text,
    doc text not null
);

create index opportunities_by_source on opportunities (feed_id, item_id);
create index opportunities_by_start on opportunities (start_at, id) where status = 'scheduled';

-- Spatial index over located opportunities (rid = opportunities.rid).
create virtual table opportunity_geo using rtree (rid, min_lat, max_lat, min_lng, max_lng);
