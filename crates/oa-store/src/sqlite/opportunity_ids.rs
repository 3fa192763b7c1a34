//! Where SQLite finds an opportunity by its public id: `opportunity_ids` and the small
//! `opportunity_ids_recent` that new ids go to first, read as one through the view
//! `opportunity_id_lookup` (`migrations/sqlite/0015_opportunity_ids_apart.sql`). Public ids
//! are hashes: as a unique index on them, each new opportunity's entry went wherever its hash
//! fell ([`super::recent_keys`] says how the two tables share the writes).

use rusqlite::Connection;

use super::recent_keys::RecentKeys;

/// The recent ids and their move into the main table, in id order (the recent table's
/// own). An id also in the main table (see [`remember`]) is deleted there first, so the move
/// cannot collide.
pub(super) const RECENT: RecentKeys = RecentKeys {
    count: "select count(*) from opportunity_ids_recent",
    moves: &[
        "delete from opportunity_ids where id in (select id from opportunity_ids_recent)",
        "insert or fail into opportunity_ids (id, rid) \
         select id, rid from opportunity_ids_recent order by id",
        "delete from opportunity_ids_recent",
    ],
};

/// The condition, after `where`, that picks the opportunities (`o`) whose ids are bound as
/// the parameters: close it with the parameter list and `))`.
macro_rules! id_in {
    () => {
        "o.rid in (select rid from opportunity_id_lookup where id in ("
    };
}
pub(super) use id_in;
pub(super) const ID_IN: &str = id_in!();

/// Whether the recent table holds any id: when it does not, [`select_by_ids`] leaves it
/// out.
pub(super) const ANY_RECENT: &str = "select exists (select 1 from opportunity_ids_recent)";

/// `columns` (a `select` from `opportunities o`) of the opportunities whose ids are the
/// parameters `?1` to `?count`, the id tables joined to the rows, the recent one only when
/// `recent` ([`ANY_RECENT`]). Asked after a reader learned the ids, `ANY_RECENT` sees them
/// if they are there: an id goes into the recent table in the transaction that writes its
/// row, and leaves it only for the main table, in one transaction.
///
/// As one list of rids read through `opportunity_id_lookup` ([`ID_IN`]), SQLite built a
/// temporary index of them for every query, and a search whose documents came from the
/// store ran 14-18 % fewer requests a second than through the unique index this replaced;
/// with the recent table joined as a second half, even empty, 8-22 % fewer; without it, as
/// many (docs/PERFORMANCE.md, "Harvest throughput", twenty-eighth session).
pub(super) fn select_by_ids(columns: &str, count: usize, recent: bool) -> String {
    let list = (1..=count)
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let settled =
        format!("{columns} join opportunity_ids l on l.rid = o.rid where l.id in ({list})");
    if !recent {
        return settled;
    }
    format!(
        "{settled} union all \
         {columns} join opportunity_ids_recent l on l.rid = o.rid where l.id in ({list})"
    )
}

/// Records the row a new opportunity's id names. An id already recorded (two items whose
/// ids hash alike: a chance of about 3 in 10^8 at a million opportunities) is pointed at
/// the new row, as the unique index on the id kept only one of the two as well.
pub(super) fn remember(conn: &Connection, id: &str, rid: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "insert into opportunity_ids_recent (id, rid) values (?1, ?2) \
         on conflict (id) do update set rid = excluded.rid",
    )?
    .execute(rusqlite::params![id, rid])?;
    Ok(())
}

/// Forgets the ids (a JSON array) of deleted opportunities.
pub(super) fn forget(conn: &Connection, ids: &str) -> rusqlite::Result<()> {
    for table in [
        "delete from opportunity_ids where id in (select value from json_each(?1))",
        "delete from opportunity_ids_recent where id in (select value from json_each(?1))",
    ] {
        conn.prepare_cached(table)?.execute([ids])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::OpportunityRow;
    use crate::sqlite::opportunity_rows::replace;
    use crate::sqlite::test_store;

    fn row(id: &str, doc: &str, first_seen: bool) -> OpportunityRow {
        OpportunityRow {
            first_seen,
            ..OpportunityRow::session(id, doc)
        }
    }

    /// A migrated store holding feed 1 and its item `i`, and a connection to it.
    async fn store() -> (tempfile::TempDir, Connection) {
        let (dir, _, conn) = store_and_connection().await;
        (dir, conn)
    }

    async fn store_and_connection() -> (tempfile::TempDir, crate::SqliteStore, Connection) {
        test_store::with_rows(
            "insert into feeds (id, url, source, discovered_at) values (1, 'https://p.example/f', 'test', 0); \
             insert into items (feed_id, item_id, kind, modified, state, role, status) \
             values (1, 'i', 'ScheduledSession', 0, 'updated', 'standalone', 'ok'); \
             insert into item_keys (feed_id, item_id, rid) select feed_id, item_id, rid from items",
        )
        .await
    }

    fn ids(conn: &Connection, table: &str) -> Vec<(String, i64)> {
        let sql = format!("select id, rid from {table} order by id");
        test_store::rows(conn, &sql, |r| Ok((r.get(0)?, r.get(1)?)))
    }

    fn docs(conn: &Connection) -> Vec<(i64, String, String)> {
        test_store::rows(
            conn,
            "select rid, id, doc from opportunities order by id",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    #[tokio::test]
    async fn new_ids_move_to_the_main_table_once_enough_are_recent() {
        let (_dir, conn) = store().await;
        replace(&conn, &[], &[row("b", "1", true)], &[]).expect("first");
        RECENT
            .settle_when_full(&conn, 2)
            .expect("one is not enough");
        assert_eq!(ids(&conn, "opportunity_ids").len(), 0);
        replace(&conn, &[], &[row("a", "1", true)], &[]).expect("second");
        RECENT.settle_when_full(&conn, 2).expect("two are");
        let rids: Vec<i64> = docs(&conn).iter().map(|d| d.0).collect();
        assert_eq!(
            ids(&conn, "opportunity_ids"),
            [("a".into(), rids[0]), ("b".into(), rids[1])]
        );
        assert!(ids(&conn, "opportunity_ids_recent").is_empty());
    }

    #[tokio::test]
    async fn ids_in_either_table_are_rewritten_in_place_and_forgotten_when_they_go() {
        let (_dir, conn) = store().await;
        let source = [(1, "i".to_owned())];
        replace(&conn, &[], &[row("a", "1", true), row("b", "1", true)], &[]).expect("stored");
        RECENT.settle(&conn).expect("settled");
        replace(
            &conn,
            &source,
            &[
                row("a", "2", false),
                row("b", "2", false),
                row("c", "2", false),
            ],
            &[],
        )
        .expect("one more");
        let before = docs(&conn);
        assert_eq!(
            ids(&conn, "opportunity_ids_recent"),
            [("c".into(), before[2].0)]
        );

        // `a` (settled) and `c` (recent) are rewritten; `b` goes.
        replace(
            &conn,
            &source,
            &[row("a", "3", false), row("c", "3", false)],
            &[],
        )
        .expect("rewritten");
        assert_eq!(
            docs(&conn),
            [
                (before[0].0, "a".into(), "3".into()),
                (before[2].0, "c".into(), "3".into())
            ],
            "the same rows, rewritten"
        );
        assert_eq!(ids(&conn, "opportunity_ids"), [("a".into(), before[0].0)]);
        replace(&conn, &source, &[row("a", "4", false)], &[]).expect("c goes");
        assert!(ids(&conn, "opportunity_ids_recent").is_empty());
        let found: Vec<String> = conn
            .prepare(&format!(
                "select o.doc from opportunities o where {ID_IN}'a', 'b', 'c'))"
            ))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("lookup");
        assert_eq!(found, ["4"]);
    }

    #[tokio::test]
    async fn recent_ids_move_when_a_feed_walk_ends() {
        use crate::Store;
        let (_dir, store, conn) = store_and_connection().await;
        replace(&conn, &[], &[row("a", "1", true)], &[]).expect("stored");
        assert_eq!(ids(&conn, "opportunity_ids_recent").len(), 1);
        store
            .record_feed_event(1, &crate::FeedEvent::CaughtUp)
            .await
            .expect("caught up");
        assert!(ids(&conn, "opportunity_ids_recent").is_empty());
        assert_eq!(ids(&conn, "opportunity_ids").len(), 1);
    }

    fn found(conn: &Connection, wanted: &[&str]) -> Vec<String> {
        let recent: bool = conn
            .query_row(ANY_RECENT, [], |row| row.get(0))
            .expect("any recent");
        let sql = select_by_ids("select o.id from opportunities o", wanted.len(), recent);
        let mut found: Vec<String> = conn
            .prepare(&sql)
            .and_then(|mut s| {
                s.query_map(rusqlite::params_from_iter(wanted), |r| r.get(0))?
                    .collect()
            })
            .expect("by ids");
        found.sort();
        found
    }

    #[tokio::test]
    async fn reads_by_id_find_ids_in_either_table() {
        let (_dir, conn) = store().await;
        replace(&conn, &[], &[row("a", "1", true)], &[]).expect("a");
        RECENT.settle(&conn).expect("settled");
        replace(&conn, &[], &[row("b", "1", true)], &[]).expect("b, recent");
        assert_eq!(found(&conn, &["a", "b", "x"]), ["a", "b"]);
        RECENT.settle(&conn).expect("settled");
        assert_eq!(found(&conn, &["a", "b", "x"]), ["a", "b"]);
    }
}
