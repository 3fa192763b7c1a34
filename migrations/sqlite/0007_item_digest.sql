-- What normalising each item stored, as two digests (of its opportunity rows, of its
-- problems): an item that renormalises the same is not rewritten, and a rule change that
-- alters only tags rewrites opportunities but not problems. A narrow table of its own, so
-- writing a digest does not rewrite the item's row. No row means unknown: rewritten next time.
create table item_digests (
    feed_id integer not null,
    item_id text not null,
    opportunities integer not null,
    problems integer not null,
    primary key (feed_id, item_id)
) without rowid;
