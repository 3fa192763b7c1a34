-- An item's own opportunity (the one without an occurrence) is found by its id, a hash of
-- the feed's URL and the item's id that the store computes (`crates/oa-store/src/postgres/own_ids.rs`),
-- so only opportunities with an occurrence (a series' scheduled sessions, an event's
-- sub-events) need an index on their source. A session item's row, most of what a harvest
-- writes, cost the server an entry in `opportunities_by_source` it never needed: about a
-- tenth of the server's CPU in a harvest (docs/PERFORMANCE.md, "Harvest throughput",
-- thirty-sixth session). Rows stored before are marked occurrences, so they stay in the
-- index until they are written again; the store writes the mark on every row.
alter table opportunities add column occurrence boolean not null default true;
alter table opportunities alter column occurrence drop default;
create index opportunities_by_source_occurrence on opportunities (feed_id, item_id) where occurrence;
drop index opportunities_by_source;
