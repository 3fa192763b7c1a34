-- The end of a document that a series' sessions share is stored once, in `document_tails`,
-- and each session's row keeps only its own head (`crates/oa-store/src/document_tails.rs`).
-- Written whole, nine tenths of every session's document repeated its siblings' bytes in
-- the table, the WAL and every checkpoint (docs/PERFORMANCE.md, "Harvest throughput",
-- twenty-fifth session). A tail's rid is the next one, and it counts the rows pointing at
-- it (`refs`) rather than being found through an index on `opportunities.tail_id`, which
-- every row written would pay for. Stored documents stay whole until they are next written.
create table document_tails (
    rid bigserial primary key,
    refs bigint not null,
    body text not null
);
alter table opportunities add column tail_id bigint;
