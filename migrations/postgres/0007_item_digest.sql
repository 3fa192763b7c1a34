-- What normalising an item stored (its opportunities and problems), as a digest: an item
-- that renormalises to the same digest is not rewritten. Null until the item is next written.
alter table items add column digest bigint;
