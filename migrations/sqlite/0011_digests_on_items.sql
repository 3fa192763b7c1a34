-- An item's output digests move onto its own row. A harvest writes the row of every item
-- it stores anyway, and the digests' narrow table of their own (migration 7) cost every
-- stored item a second B-tree insert, with its seek and its pages in the WAL: 9 % of the
-- SQLite writer's instructions (docs/PERFORMANCE.md, "Harvest throughput", eighteenth and
-- twentieth sessions). Null digests mean unknown, as a missing row did: the item's output is
-- rewritten the next time it is normalised.
alter table items add column digest_opportunities integer;
alter table items add column digest_problems integer;
alter table items add column digest_ids integer;

update items set (digest_opportunities, digest_problems, digest_ids) = (
    select d.opportunities, d.problems, d.opportunity_ids from item_digests d
    where d.feed_id = items.feed_id and d.item_id = items.item_id
);

drop table item_digests;
