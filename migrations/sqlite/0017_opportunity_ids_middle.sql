-- A middle table of opportunity ids between the recent one and the main one. Ids are
-- hashes, so each move of the recent ids into `opportunity_ids` rewrote nearly every leaf
-- of it: the moves grew with the store (docs/PERFORMANCE.md, "Harvest throughput",
-- thirty-first session). Once the main table holds enough ids, recent ids move into
-- `opportunity_ids_middle` instead, and its ids into the main table when it holds as many
-- (`crates/oa-store/src/sqlite/opportunity_ids.rs`). A store no page is being written to
-- keeps every id in the main table, as before.
create table opportunity_ids_middle (id text primary key, rid integer not null) without rowid;
drop view opportunity_id_lookup;
create view opportunity_id_lookup as
    select id, rid from opportunity_ids
    union all select id, rid from opportunity_ids_middle
    union all select id, rid from opportunity_ids_recent;
