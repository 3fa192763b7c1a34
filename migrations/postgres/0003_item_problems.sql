-- Data-quality problems per stored item (the union over its opportunities), replaced each
-- time the item is normalised; counted per feed for managers and listed for publishers.
create table item_problems (
    feed_id bigint not null,
    item_id text not null,
    code    text not null,
    detail  text not null,
    primary key (feed_id, item_id, code)
);
