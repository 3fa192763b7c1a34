-- An item's output digests move onto its own row. A harvest writes the row of every item
-- it stores anyway, and the digests' table of their own (migration 7) cost the server a
-- second heap tuple and primary-key entry for every stored item: 7 µs of the 53 an item
-- that bound a harvest (docs/PERFORMANCE.md, "Harvest throughput", nineteenth and twentieth
-- sessions). Null digests mean unknown, as a missing row did: the item's output is
-- rewritten the next time it is normalised.
alter table items add column digest_opportunities bigint,
    add column digest_problems bigint,
    add column digest_ids bigint;

update items i set digest_opportunities = d.opportunities, digest_problems = d.problems,
    digest_ids = d.opportunity_ids
from item_digests d where d.feed_id = i.feed_id and d.item_id = i.item_id;

drop table item_digests;
