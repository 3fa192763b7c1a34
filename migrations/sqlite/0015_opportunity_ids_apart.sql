-- An opportunity's public id (a hash, `oa_model::opportunity_id`) is found through two
-- tables of its own rather than a unique index on `opportunities.id`. Ids fall all over
-- their index, so with one entry written per new opportunity nearly every one rewrote a
-- 16 KiB leaf of it at its page's commit: at a million opportunities that index was most
-- of what a harvest wrote (docs/PERFORMANCE.md, "Harvest throughput", twenty-eighth
-- session). New ids now go to `opportunity_ids_recent`, small enough that a page's entries
-- share its few leaves; when it holds enough they move into `opportunity_ids` in one
-- sorted pass (`crates/oa-store/src/sqlite/opportunity_ids.rs`), which writes each of that
-- index's leaves once for thousands of ids. An id is in one of the two tables, never both;
-- `opportunity_id_lookup` reads them as one.
create table opportunities_without_id_index (
    rid integer primary key,
    id text not null,
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
    doc text not null,
    tail_id integer,
    item_rid integer not null default 0
);
drop index opportunities_by_item;
create index opportunities_by_item on opportunities_without_id_index (item_rid);
insert or fail into opportunities_without_id_index (rid, id, feed_id, item_id, kind, start_at,
    end_at, lat, lng, status, modified, parent_ref, doc, tail_id, item_rid)
select rid, id, feed_id, item_id, kind, start_at, end_at, lat, lng, status, modified,
    parent_ref, doc, tail_id, item_rid
from opportunities order by rid;
create table opportunity_ids (id text primary key, rid integer not null) without rowid;
create table opportunity_ids_recent (id text primary key, rid integer not null) without rowid;
insert or fail into opportunity_ids (id, rid) select id, rid from opportunities order by id;
drop table opportunities;
alter table opportunities_without_id_index rename to opportunities;
create view opportunity_id_lookup as
    select id, rid from opportunity_ids union all select id, rid from opportunity_ids_recent;
