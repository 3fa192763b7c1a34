-- Items and opportunities no longer check their feed row by row. Every page's transaction
-- locks its feed's row before it writes (so a `renormalise` batch and a page never
-- interleave), and feeds are never deleted, so the check could not fail; it cost a
-- `select ... for key share` on `feeds` for every row written, two per stored session, in
-- the PostgreSQL server process that bounds the harvest (docs/PERFORMANCE.md, "Harvest
-- throughput").
alter table items drop constraint if exists items_feed_id_fkey;
alter table opportunities drop constraint if exists opportunities_feed_id_fkey;
