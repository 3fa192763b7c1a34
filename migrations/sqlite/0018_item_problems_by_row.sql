-- Item problems kept in the order their items arrived: keyed by the feed and the item's row
-- (`items.rid`) instead of its id. Kept in (feed_id, item_id, code) order, a page of items
-- whose ids arrive in no order (a real feed's seldom do) put the problems of the sixth of
-- them that have any each in a leaf of its own: at 1,100,000 such items a third of what
-- the harvest wrote, and 37 % of its time (docs/PERFORMANCE.md, "Harvest throughput",
-- thirty-second session). A feed's problems are still listed in item id order, through
-- the item keys (`crates/oa-store/src/sqlite/problems.rs`).
create table item_problems_by_row (
    feed_id integer not null,
    item_rid integer not null,
    code text not null,
    detail text not null,
    primary key (feed_id, item_rid, code)
) without rowid;
insert into item_problems_by_row (feed_id, item_rid, code, detail)
select p.feed_id, k.rid, p.code, p.detail
from item_problems p join item_key_lookup k on k.feed_id = p.feed_id and k.item_id = p.item_id
order by 1, 2, 3;
drop table item_problems;
alter table item_problems_by_row rename to item_problems;
