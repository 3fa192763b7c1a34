-- Items are kept in the order they arrive (a rowid table) and found by their key through a
-- unique index. Kept in the order of their key (`without rowid`), a page of items whose ids
-- do not follow their `modified` order (a real feed's ids seldom do) put each of its
-- 600-byte rows in a leaf of its own: every commit rewrote hundreds of 16 KiB leaves, which no longer
-- fitted the writer's cache either, and the harvest ran five times slower than with ids in
-- arrival order (docs/PERFORMANCE.md, "Harvest throughput", twenty-seventh session). Now
-- such a page scatters only the key index's entries, a tenth of the size.
create table items_in_arrival_order (
    rid integer primary key,
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
    digest_opportunities integer,
    digest_problems integer,
    digest_ids integer
);
-- The indexes come first and the stored rows are copied in key order: the key index then
-- grows at its end, and no index is sorted whole in memory (the store's temporary storage),
-- which for a million items took 400 MB.
drop index items_parent_by_data_id;
drop index items_child_by_parent_ref;
create unique index items_by_key on items_in_arrival_order (feed_id, item_id);
create index items_parent_by_data_id on items_in_arrival_order (data_id)
    where role = 'parent' and state = 'updated';
create index items_child_by_parent_ref on items_in_arrival_order (parent_ref)
    where parent_ref is not null;
insert into items_in_arrival_order (feed_id, item_id, kind, modified, state, role, data_id,
    parent_ref, data, status, problem, digest_opportunities, digest_problems, digest_ids)
select feed_id, item_id, kind, modified, state, role, data_id, parent_ref, data, status,
    problem, digest_opportunities, digest_problems, digest_ids
from items order by feed_id, item_id;
drop table items;
alter table items_in_arrival_order rename to items;
