-- The end of a document that a series' sessions share is stored once, in `document_tails`,
-- and each session's row keeps only its own head (`crates/oa-store/src/document_tails.rs`).
-- Written whole, nine tenths of every session's document repeated its siblings' bytes in
-- the table, the WAL and every checkpoint (docs/PERFORMANCE.md, "Harvest throughput",
-- twenty-fifth session). A tail's rid is the next one, so its index entries on
-- `opportunities` are appended, not scattered. Stored documents are all whole until they
-- are next written.
create table document_tails (
    rid bigserial primary key,
    body text not null
);
alter table opportunities add column tail_id bigint;
create index opportunities_by_tail on opportunities (tail_id) where tail_id is not null;
