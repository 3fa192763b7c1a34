-- A third digest per item: of its opportunities' ids alone. When a tag-rule edit rewrites
-- an item's opportunities but keeps their ids, the rows are upserted in place and the delete
-- of its opportunities that went (a scan of `opportunities_by_source` that reads every row,
-- since the index does not hold `id`) is skipped. Null means unknown: that delete runs.
alter table item_digests add column opportunity_ids bigint;
