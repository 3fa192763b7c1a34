//! Where SQLite finds an item by its key (feed, item id): `item_keys` and the small
//! `item_keys_recent` that new keys go to first (`migrations/sqlite/0016_item_keys_apart.sql`),
//! each key in exactly one of the two ([`super::recent_keys`] says why). Items themselves
//! are kept in the order they arrive (a rowid table) and read through their `rid`.

use hashbrown::HashMap;
use rusqlite::Connection;

use super::recent_keys::RecentKeys;
use crate::page::ItemRow;

/// The recent keys and their move into the main table, in key order (the recent table's
/// own). A key is only ever written to the recent table for an item its page's transaction
/// found in neither table (`ItemRow::first_seen`, or a rewrite that found no row: see
/// [`write_items`]), so the move cannot collide; `insert or fail` says so if it would.
pub(super) const RECENT: RecentKeys = RecentKeys {
    what: "recent item keys",
    count: "select count(*) from item_keys_recent",
    moves: &[
        "insert or fail into item_keys (feed_id, item_id, rid) \
         select feed_id, item_id, rid from item_keys_recent order by feed_id, item_id",
        "delete from item_keys_recent",
    ],
};

/// The `rid` of the item whose feed and item ids are the parameters `$feed` and `$item`,
/// as a scalar subquery (null for an item not stored). The recent table is asked first, and
/// the main one only if it does not hold the key (a scalar subquery stops at its first row):
/// the items these lookups name were mostly just written, and a key missed in a main table
/// larger than the cache still reads the leaf it would be in.
macro_rules! rid_of_key {
    ($feed:literal, $item:literal) => {
        concat!(
            "(select rid from item_keys_recent where feed_id = ",
            $feed,
            " and item_id = ",
            $item,
            " union all select rid from item_keys where feed_id = ",
            $feed,
            " and item_id = ",
            $item,
            ")"
        )
    };
}
pub(super) use rid_of_key;

/// The `rid`s of the stored items of feed `?1` whose ids are the JSON array `?2`: each id
/// looked up in both key tables. Written as a join that walks the array, because
/// `item_id in (select value from json_each(?2))` over the view listed the ids in a
/// temporary index once for each table: three times the work for a page of new items
/// (docs/PERFORMANCE.md, "Harvest throughput", thirty-second session).
macro_rules! rids_of_items {
    () => {
        "select k.rid from json_each(?2) j cross join item_keys_recent k \
         on k.feed_id = ?1 and k.item_id = j.value \
         union all select k.rid from json_each(?2) j cross join item_keys k \
         on k.feed_id = ?1 and k.item_id = j.value"
    };
}
pub(super) use rids_of_items;

/// A feed's (`f`) items (`i`) that meet `$condition`, counted through both key tables.
macro_rules! count_feed_items {
    ($condition:literal) => {
        concat!(
            "((select count(*) from item_keys k join items i on i.rid = k.rid where k.feed_id = f.id and ",
            $condition,
            ") + (select count(*) from item_keys_recent k join items i on i.rid = k.rid \
             where k.feed_id = f.id and ",
            $condition,
            "))"
        )
    };
}
pub(super) use count_feed_items;

/// Live items after the key (`?1`, `?2`), in key order, at most `$limit`: both key tables
/// walked in order and merged (SQLite merges two ordered halves of a `union all` without
/// sorting either, as their columns are the keys').
macro_rules! live_items_in_key_order {
    ($limit:expr) => {
        concat!(
            crate::sql::stored_child_columns!("k"),
            " from item_keys k join items i on i.rid = k.rid join feeds f on f.id = k.feed_id \
             where i.state = 'updated' and (k.feed_id, k.item_id) > (?1, ?2) union all ",
            crate::sql::stored_child_columns!("k"),
            " from item_keys_recent k join items i on i.rid = k.rid join feeds f on f.id = k.feed_id \
             where i.state = 'updated' and (k.feed_id, k.item_id) > (?1, ?2) \
             order by 1, 3 limit ",
            $limit
        )
    };
}
pub(super) use live_items_in_key_order;

/// The rows a transaction inserted, by feed and item id: what the opportunities and
/// problems written after them in the same transaction point at, without a lookup of the
/// key for each (15 % of writing a page's opportunities).
#[derive(Debug, Default)]
pub(crate) struct InsertedRows(HashMap<i64, HashMap<String, i64>>);

impl InsertedRows {
    /// The row this transaction inserted for the item, if it did.
    pub(super) fn rid(&self, feed_id: i64, item_id: &str) -> Option<i64> {
        self.0.get(&feed_id)?.get(item_id).copied()
    }
}

/// Writes a page's items: a row stored before is rewritten in place (found through its
/// key), one not stored is inserted, its key recorded as recent and its row in `inserted`.
/// `first_seen` only saves the lookup: a row said stored that is not is inserted all the
/// same.
pub(super) fn write_items(
    conn: &Connection,
    feed_id: i64,
    rows: &[ItemRow],
    inserted: &mut InsertedRows,
) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "insert into items (feed_id, item_id, kind, modified, state, role, data_id, parent_ref, data, status, problem, \
         digest_opportunities, digest_problems, digest_ids) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    let mut update = conn.prepare_cached(concat!(
        "update items set kind = ?3, modified = ?4, state = ?5, role = ?6, data_id = ?7, \
         parent_ref = ?8, data = ?9, status = ?10, problem = ?11, digest_opportunities = ?12, \
         digest_problems = ?13, digest_ids = ?14 where rid = ",
        rid_of_key!("?1", "?2")
    ))?;
    let mut remember = conn.prepare_cached(
        "insert into item_keys_recent (feed_id, item_id, rid) values (?1, ?2, ?3)",
    )?;
    for r in rows {
        let values = rusqlite::params![
            feed_id,
            r.item.id,
            r.item.kind,
            r.item.modified,
            r.item.state.as_str(),
            r.item.role.as_str(),
            r.item.data_id,
            r.item.parent_ref,
            r.item.data_json,
            r.status,
            r.problem,
            r.digest.map(|d| d.opportunities),
            r.digest.map(|d| d.problems),
            r.digest.map(|d| d.opportunity_ids),
        ];
        if !r.first_seen && update.execute(values)? == 1 {
            continue;
        }
        insert.execute(values)?;
        let rid = conn.last_insert_rowid();
        remember.execute(rusqlite::params![feed_id, r.item.id, rid])?;
        inserted
            .0
            .entry(feed_id)
            .or_default()
            .insert(r.item.id.clone(), rid);
    }
    RECENT.settle_when_full(conn, super::recent_keys::RECENT_KEYS_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::test_store;
    use oa_model::{ItemRole, ItemState, PreparedItem};

    /// A migrated store holding feeds 1 and 2, and a connection to it.
    async fn store() -> (tempfile::TempDir, crate::SqliteStore, Connection) {
        test_store::with_rows(
            "insert into feeds (id, url, source, discovered_at) values \
             (1, 'https://p.example/f', 'test', 0), (2, 'https://q.example/f', 'test', 0)",
        )
        .await
    }

    fn item(id: &str, modified: i64, first_seen: bool) -> ItemRow {
        ItemRow {
            item: PreparedItem {
                id: id.into(),
                kind: "ScheduledSession".into(),
                state: ItemState::Updated,
                modified,
                role: ItemRole::Standalone,
                data_id: None,
                parent_ref: None,
                data_json: Some("{}".into()),
                data: None,
            },
            status: "ok",
            problem: None,
            digest: None,
            first_seen,
        }
    }

    /// Writes items as a page would, in a transaction of their own.
    fn write(conn: &Connection, feed_id: i64, rows: &[ItemRow]) -> rusqlite::Result<()> {
        write_items(conn, feed_id, rows, &mut InsertedRows::default())
    }

    fn keys(conn: &Connection, table: &str) -> Vec<(i64, String)> {
        let sql = format!("select feed_id, item_id from {table} order by 1, 2");
        test_store::rows(conn, &sql, |r| Ok((r.get(0)?, r.get(1)?)))
    }

    /// Every item row as (feed, item id, modified), in the order they arrived.
    fn items(conn: &Connection) -> Vec<(i64, String, i64)> {
        let sql = "select feed_id, item_id, modified from items order by rid";
        test_store::rows(conn, sql, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    }

    #[tokio::test]
    async fn the_rows_a_transaction_inserted_are_named_by_their_keys() {
        let (_dir, _store, conn) = store().await;
        write(&conn, 1, &[item("a", 1, true)]).expect("stored before");
        let mut inserted = InsertedRows::default();
        write_items(
            &conn,
            1,
            &[item("a", 2, false), item("b", 1, true)],
            &mut inserted,
        )
        .expect("a page");
        let rid_of = |id: &str| -> i64 {
            conn.query_row("select rid from items where item_id = ?1", [id], |r| {
                r.get(0)
            })
            .expect("a row")
        };
        assert_eq!(inserted.rid(1, "b"), Some(rid_of("b")));
        assert_eq!(
            inserted.rid(1, "a"),
            None,
            "rewritten in place, not inserted"
        );
        assert_eq!(inserted.rid(2, "b"), None, "another feed's item");
    }

    #[tokio::test]
    async fn new_keys_move_to_the_main_table_once_enough_are_recent() {
        let (_dir, _store, conn) = store().await;
        write(&conn, 1, &[item("b", 1, true)]).expect("first");
        RECENT
            .settle_when_full(&conn, 2)
            .expect("one is not enough");
        assert!(keys(&conn, "item_keys").is_empty());
        write(&conn, 1, &[item("a", 1, true)]).expect("second");
        RECENT.settle_when_full(&conn, 2).expect("two are");
        assert_eq!(keys(&conn, "item_keys"), [(1, "a".into()), (1, "b".into())]);
        assert!(keys(&conn, "item_keys_recent").is_empty());
        let rids: Vec<i64> = conn
            .prepare("select k.rid from item_keys k join items i on i.rid = k.rid and i.item_id = k.item_id order by k.item_id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("rids");
        assert_eq!(rids, [2, 1], "each key names its own row");
    }

    #[tokio::test]
    async fn items_keyed_in_either_table_are_rewritten_in_place() {
        let (_dir, store, conn) = store().await;
        write(&conn, 1, &[item("a", 1, true)]).expect("a");
        RECENT.settle(&conn).expect("settled");
        write(&conn, 1, &[item("b", 1, true)]).expect("b, recent");
        // The same ids in another feed are other items.
        write(&conn, 2, &[item("a", 1, true)]).expect("feed 2");
        write(&conn, 1, &[item("a", 2, false), item("b", 2, false)]).expect("rewritten");
        // Said stored, but not: inserted all the same.
        write(&conn, 1, &[item("c", 2, false)]).expect("c");
        assert_eq!(
            items(&conn),
            [
                (1, "a".into(), 2),
                (1, "b".into(), 2),
                (2, "a".into(), 1),
                (1, "c".into(), 2)
            ]
        );
        assert_eq!(
            keys(&conn, "item_keys_recent"),
            [(1, "b".into()), (1, "c".into()), (2, "a".into())]
        );
        let found: Vec<i64> = conn
            .prepare(concat!(
                "select rid from items where rid in (",
                rids_of_items!(),
                ") order by rid"
            ))
            .and_then(|mut s| {
                s.query_map(rusqlite::params![1, r#"["a","c","x"]"#], |r| r.get(0))?
                    .collect()
            })
            .expect("lookup");
        assert_eq!(found, [1, 4], "found through either table, in their feed");
        let counted: Vec<(i64, i64)> = crate::Store::feeds(&store)
            .await
            .expect("feeds")
            .into_iter()
            .map(|f| (f.id, f.items_stored))
            .collect();
        assert_eq!(
            counted,
            [(1, 3), (2, 1)],
            "a feed's items counted in both tables"
        );
    }

    #[tokio::test]
    async fn live_items_are_walked_in_key_order_across_both_tables() {
        let (_dir, _store, conn) = store().await;
        write(&conn, 1, &[item("b", 1, true), item("d", 1, true)]).expect("settled ones");
        RECENT.settle(&conn).expect("settled");
        write(&conn, 2, &[item("a", 1, true)]).expect("feed 2");
        write(
            &conn,
            1,
            &[item("e", 1, true), item("a", 1, true), item("c", 1, true)],
        )
        .expect("recent ones");
        let walk = |after: (i64, &str)| -> Vec<(i64, String)> {
            conn.prepare(live_items_in_key_order!(3))
                .and_then(|mut s| {
                    s.query_map(rusqlite::params![after.0, after.1], |r| {
                        Ok((r.get(0)?, r.get(2)?))
                    })?
                    .collect()
                })
                .expect("walk")
        };
        assert_eq!(
            walk((0, "")),
            [(1, "a".into()), (1, "b".into()), (1, "c".into())]
        );
        assert_eq!(
            walk((1, "c")),
            [(1, "d".into()), (1, "e".into()), (2, "a".into())]
        );
        assert!(walk((2, "a")).is_empty());
    }

    #[tokio::test]
    async fn recent_keys_move_when_a_feed_walk_ends() {
        use crate::Store;
        let (_dir, store, conn) = store().await;
        write(&conn, 1, &[item("a", 1, true)]).expect("stored");
        assert_eq!(keys(&conn, "item_keys_recent").len(), 1);
        store
            .record_feed_event(1, &crate::FeedEvent::CaughtUp)
            .await
            .expect("caught up");
        assert!(keys(&conn, "item_keys_recent").is_empty());
        assert_eq!(keys(&conn, "item_keys"), [(1, "a".into())]);
    }
}
