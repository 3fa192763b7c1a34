-- An opportunity points at its item's row (`item_rid`, the item's `rid`) and is found from
-- its item through that, not through an index on the item's key (feed_id, item_id). Items
-- take the next rid as they arrive (migration 13), so in a first harvest this index grows
-- at its end, whatever the feed's item ids; the key index it replaces took each
-- opportunity's entry wherever its item id fell, and with ids in no order that rewrote a
-- 16 KiB leaf for nearly every opportunity written (docs/PERFORMANCE.md, "Harvest
-- throughput", twenty-eighth session). `feed_id` and `item_id` stay on the row, read as
-- before. Not null: an opportunity whose item was not found fails its page rather than
-- being lost to every later write of the item.
alter table opportunities add column item_rid integer not null default 0;
-- `or fail`: an update that may abort half way keeps a copy of every page it changes (its
-- statement journal, in memory here), 284 MB for a million opportunities; failing instead
-- needs none (67 MB), and a failed migration rolls back whole anyway.
update or fail opportunities set item_rid = (select i.rid from items i
    where i.feed_id = opportunities.feed_id and i.item_id = opportunities.item_id);
drop index opportunities_by_source;
create index opportunities_by_item on opportunities (item_rid);
