-- Items are found by their key through `item_keys` and a small `item_keys_recent` that new
-- keys go to first, read together through the view `item_key_lookup`; each key is in
-- exactly one of the two (`crates/oa-store/src/sqlite/item_keys.rs`). As a unique index on
-- `items`, a page of items whose ids do not follow the order they arrive in (a real
-- feed's seldom do) put each key in a leaf of its own: at a million items nearly every one
-- rewrote a 16 KiB leaf at its page's commit (docs/PERFORMANCE.md, "Harvest throughput",
-- thirtieth session). The recent table is a few leaves a page's keys share; its keys move
-- into the main table in one pass in key order, which writes each leaf once for all.
create table item_keys (
    feed_id integer not null,
    item_id text not null,
    rid integer not null,
    primary key (feed_id, item_id)
) without rowid;
create table item_keys_recent (
    feed_id integer not null,
    item_id text not null,
    rid integer not null,
    primary key (feed_id, item_id)
) without rowid;
-- In key order, read through the index about to go: the main table grows at its end.
insert or fail into item_keys (feed_id, item_id, rid)
select feed_id, item_id, rid from items order by feed_id, item_id;
drop index items_by_key;
create view item_key_lookup as
    select feed_id, item_id, rid from item_keys
    union all select feed_id, item_id, rid from item_keys_recent;
