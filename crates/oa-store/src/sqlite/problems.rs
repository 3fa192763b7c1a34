//! Item problems on SQLite, kept by feed and the item's row (`items.rid`, the order items
//! arrive in) rather than its id (`migrations/sqlite/0018_item_problems_by_row.sql` says
//! why), and listed per feed in item id order through the item keys.

use rusqlite::Connection;

use super::item_keys::{InsertedRows, rid_of_key, rids_of_items};
use super::page_tx::{by_feed, json_array};
use crate::page::ProblemRow;

/// Makes `rows` the problems of the items `sources` names (`PageTx::replace_problems`).
/// Each item's row is written before its problems: the row this transaction inserted, or
/// the one its key finds.
pub(super) fn replace(
    conn: &Connection,
    sources: &[(i64, String)],
    rows: &[ProblemRow],
    inserted: &InsertedRows,
) -> rusqlite::Result<()> {
    for (feed_id, item_ids) in by_feed(sources) {
        conn.prepare_cached(concat!(
            "delete from item_problems where feed_id = ?1 and item_rid in (",
            rids_of_items!(),
            ")"
        ))?
        .execute(rusqlite::params![feed_id, json_array(item_ids)])?;
    }
    let mut insert = conn.prepare_cached(concat!(
        "insert into item_problems (feed_id, item_rid, code, detail) values (?1, coalesce(?5, ",
        rid_of_key!("?1", "?2"),
        "), ?3, ?4)"
    ))?;
    for r in rows {
        let item_rid = inserted.rid(r.feed_id, &r.item_id);
        insert.execute(rusqlite::params![
            r.feed_id, r.item_id, r.code, r.detail, item_rid
        ])?;
    }
    Ok(())
}

/// A feed's (`$1`) item problems after the keyset position (`$2` item id, `$3` code), in
/// that order, at most `$4`: both key tables walked in item id order, each key's problems
/// in code order, the two halves merged (no sort: each is in the order asked for).
pub(super) const FEED_PROBLEMS: &str = concat!(
    "select k.item_id, p.code, p.detail from item_keys k ",
    "join item_problems p on p.feed_id = k.feed_id and p.item_rid = k.rid ",
    "where k.feed_id = $1 and k.item_id >= $2 and (k.item_id, p.code) > ($2, $3) ",
    "union all select k.item_id, p.code, p.detail from item_keys_recent k ",
    "join item_problems p on p.feed_id = k.feed_id and p.item_rid = k.rid ",
    "where k.feed_id = $1 and k.item_id >= $2 and (k.item_id, p.code) > ($2, $3) ",
    "order by 1, 2 limit $4"
);
