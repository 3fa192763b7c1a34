//! Where SQLite finds an opportunity by its public id: `opportunity_ids`, the small
//! `opportunity_ids_recent` that new ids go to first and `opportunity_ids_middle` between
//! them, read as one through the view `opportunity_id_lookup`
//! (`migrations/sqlite/0015_opportunity_ids_apart.sql`, `0017_opportunity_ids_middle.sql`).
//! Public ids are hashes: as a unique index on them, each new opportunity's entry went
//! wherever its hash fell ([`super::recent_keys`] says how the tables share the writes).

use rusqlite::Connection;

use super::recent_keys::{RECENT_KEYS_MAX, RecentKeys};

/// The statements that move every id of the table `$from` into the table `$to`, in id
/// order (the tables' own). An id also in `$to` (see [`remember`]) is deleted there first,
/// so the move cannot collide.
macro_rules! move_ids {
    ($from:literal, $to:literal) => {
        &[
            concat!(
                "delete from ",
                $to,
                " where id in (select id from ",
                $from,
                ")"
            ),
            concat!(
                "insert or fail into ",
                $to,
                " (id, rid) select id, rid from ",
                $from,
                " order by id"
            ),
            concat!("delete from ", $from),
        ]
    };
}

/// The recent ids and their move into the main table.
pub(super) const RECENT: RecentKeys = RecentKeys {
    count: "select count(*) from opportunity_ids_recent",
    moves: move_ids!("opportunity_ids_recent", "opportunity_ids"),
};

/// The recent ids' move into the middle table.
const RECENT_INTO_MIDDLE: RecentKeys = RecentKeys {
    count: RECENT.count,
    moves: move_ids!("opportunity_ids_recent", "opportunity_ids_middle"),
};

/// The middle ids and their move into the main table.
const MIDDLE: RecentKeys = RecentKeys {
    count: "select count(*) from opportunity_ids_middle",
    moves: move_ids!("opportunity_ids_middle", "opportunity_ids"),
};

/// How many ids the middle table holds before they move into the main table, and how many
/// the main table holds before recent ids go through the middle one. Ids are hashes, so a
/// move writes up to every leaf of the table it moves into: with `m` ids in the middle, `r`
/// recent and `n` in all, the leaves written per id go as `m / r + n / m`, least at `m`
/// near `sqrt(2 r n)` (about 256,000 at a million ids). Straight into the main table they
/// go as `n / r`, which at a million ids wrote four times as many, and grows with the store
/// (docs/PERFORMANCE.md, "Harvest throughput", thirty-first session).
pub(super) const MIDDLE_KEYS_MAX: i64 = 8 * RECENT_KEYS_MAX;

/// Moves the recent ids on once there are `recent_most` of them (the store's writes pass
/// [`RECENT_KEYS_MAX`]): straight into the main table while it holds fewer than
/// `middle_most` ([`MIDDLE_KEYS_MAX`]) and the middle table none, else into the middle
/// table, and the middle ids into the main table once there are `middle_most`. An id goes
/// into the main table only from the table it was last recorded in, so the newest row an id
/// named is the one kept. The other tables are counted only when the recent ids move:
/// counting walks a table's leaves.
pub(super) fn settle_when_full(
    conn: &Connection,
    recent_most: i64,
    middle_most: i64,
) -> rusqlite::Result<()> {
    if !RECENT.holds(conn, recent_most)? {
        return Ok(());
    }
    let main_small: bool = conn
        .prepare_cached("select count(*) < ?1 from (select 1 from opportunity_ids limit ?1)")?
        .query_row([middle_most], |row| row.get(0))?;
    if main_small && middle_empty(conn)? {
        return RECENT.settle(conn);
    }
    RECENT_INTO_MIDDLE.settle(conn)?;
    if MIDDLE.holds(conn, middle_most)? {
        MIDDLE.settle(conn)?;
    }
    Ok(())
}

/// Moves every id into the main table (a feed's walk ended).
pub(super) fn settle_all(conn: &Connection) -> rusqlite::Result<()> {
    if middle_empty(conn)? {
        return RECENT.settle_when_full(conn, 1);
    }
    RECENT_INTO_MIDDLE.settle_when_full(conn, 1)?;
    MIDDLE.settle(conn)
}

fn middle_empty(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("select not exists (select 1 from opportunity_ids_middle)")?
        .query_row([], |row| row.get(0))
}

/// The condition, after `where`, that picks the opportunities (`o`) whose ids are bound as
/// the parameters: close it with the parameter list and `))`.
macro_rules! id_in {
    () => {
        "o.rid in (select rid from opportunity_id_lookup where id in ("
    };
}
pub(super) use id_in;
pub(super) const ID_IN: &str = id_in!();

/// Whether the recent or the middle table holds any id: when neither does,
/// [`select_by_ids`] leaves them out. (The middle one holds an id only if the recent one
/// held it first.)
pub(super) const ANY_RECENT: &str = "select exists (select 1 from opportunity_ids_recent) \
    or exists (select 1 from opportunity_ids_middle)";

/// `columns` (a `select` from `opportunities o`) of the opportunities whose ids are the
/// parameters `?1` to `?count`, the id tables joined to the rows, the recent and middle ones
/// only when `recent` ([`ANY_RECENT`]). Asked after a reader learned the ids, `ANY_RECENT`
/// sees them if they are there: an id goes into the recent table in the transaction that
/// writes its row, and leaves it only for the middle table, and that only for the main one,
/// each move in one transaction.
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
         {columns} join opportunity_ids_middle l on l.rid = o.rid where l.id in ({list}) \
         union all \
         {columns} join opportunity_ids_recent l on l.rid = o.rid where l.id in ({list})"
    )
}

/// Records the row a new opportunity's id names. An id already recorded (two items whose
/// ids hash alike: a chance of about 3 in 10^8 at a million opportunities) is pointed at
/// the new row, as the unique index on the id kept only one of the two as well: here at
/// once, or when the id moves on into the table that holds it (each move deletes first).
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
        "delete from opportunity_ids_middle where id in (select value from json_each(?1))",
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

    fn settle_all(conn: &Connection) {
        super::settle_all(conn).expect("settled");
    }

    /// Stores opportunities with these ids (new ones) for item `i`.
    fn add(conn: &Connection, ids: &[&str]) {
        let rows: Vec<OpportunityRow> = ids.iter().map(|id| row(id, "1", true)).collect();
        replace(conn, &[], &rows, &[]).expect("stored");
    }

    #[tokio::test]
    async fn recent_ids_move_straight_into_a_small_main_table_once_enough_are_recent() {
        let (_dir, conn) = store().await;
        add(&conn, &["b"]);
        settle_when_full(&conn, 2, 3).expect("one is not enough");
        assert_eq!(ids(&conn, "opportunity_ids_recent").len(), 1);
        add(&conn, &["a"]);
        settle_when_full(&conn, 2, 3).expect("two are");
        let rids: Vec<i64> = docs(&conn).iter().map(|d| d.0).collect();
        assert_eq!(
            ids(&conn, "opportunity_ids"),
            [("a".into(), rids[0]), ("b".into(), rids[1])]
        );
        assert!(ids(&conn, "opportunity_ids_recent").is_empty());
        assert!(ids(&conn, "opportunity_ids_middle").is_empty());
    }

    #[tokio::test]
    async fn recent_ids_go_through_the_middle_table_once_the_main_one_holds_enough() {
        let (_dir, conn) = store().await;
        add(&conn, &["a", "b", "c"]);
        settle_all(&conn);
        add(&conn, &["e", "d"]);
        settle_when_full(&conn, 2, 3).expect("into the middle table");
        let middle: Vec<String> = ids(&conn, "opportunity_ids_middle")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(middle, ["d", "e"]);
        assert_eq!(ids(&conn, "opportunity_ids").len(), 3);
        assert!(ids(&conn, "opportunity_ids_recent").is_empty());

        add(&conn, &["f", "g"]);
        settle_when_full(&conn, 2, 3).expect("the middle table holds enough");
        let rids: Vec<(String, i64)> = docs(&conn).into_iter().map(|d| (d.1, d.0)).collect();
        assert_eq!(
            ids(&conn, "opportunity_ids"),
            rids,
            "every id, naming its row"
        );
        assert!(ids(&conn, "opportunity_ids_middle").is_empty());
        assert!(ids(&conn, "opportunity_ids_recent").is_empty());
    }

    #[tokio::test]
    async fn an_id_recorded_again_names_its_new_row_once_it_reaches_the_main_table() {
        for through_the_middle in [false, true] {
            let (_dir, conn) = store().await;
            // Another opportunity's id that hashed alike, already in the main table.
            conn.execute(
                "insert into opportunity_ids (id, rid) values ('a', 999)",
                [],
            )
            .expect("an older a");
            add(&conn, &["a"]);
            if through_the_middle {
                settle_when_full(&conn, 1, 1).expect("into the middle table, then on");
            } else {
                settle_all(&conn);
            }
            let a = docs(&conn)[0].0;
            assert_eq!(ids(&conn, "opportunity_ids"), [("a".into(), a)]);
            assert!(ids(&conn, "opportunity_ids_middle").is_empty());
        }
    }

    #[tokio::test]
    async fn ids_in_any_table_are_rewritten_in_place_and_forgotten_when_they_go() {
        let (_dir, conn) = store().await;
        let source = [(1, "i".to_owned())];
        add(&conn, &["a"]);
        settle_all(&conn);
        replace(
            &conn,
            &source,
            &[row("a", "1", false), row("b", "1", true)],
            &[],
        )
        .expect("b");
        RECENT_INTO_MIDDLE
            .settle(&conn)
            .expect("b into the middle table");
        replace(
            &conn,
            &source,
            &[
                row("a", "2", false),
                row("b", "2", false),
                row("c", "2", true),
            ],
            &[],
        )
        .expect("c");
        let before = docs(&conn);
        assert_eq!(ids(&conn, "opportunity_ids"), [("a".into(), before[0].0)]);
        assert_eq!(
            ids(&conn, "opportunity_ids_middle"),
            [("b".into(), before[1].0)]
        );
        assert_eq!(
            ids(&conn, "opportunity_ids_recent"),
            [("c".into(), before[2].0)]
        );

        replace(
            &conn,
            &source,
            &[
                row("a", "3", false),
                row("b", "3", false),
                row("c", "3", false),
            ],
            &[],
        )
        .expect("rewritten");
        let rewritten: Vec<(i64, String, String)> = before
            .iter()
            .map(|(rid, id, _)| (*rid, id.clone(), "3".into()))
            .collect();
        assert_eq!(docs(&conn), rewritten, "the same rows, rewritten");

        // `b` (middle) and `c` (recent) go.
        replace(&conn, &source, &[row("a", "4", false)], &[]).expect("b and c go");
        assert!(ids(&conn, "opportunity_ids_middle").is_empty());
        assert!(ids(&conn, "opportunity_ids_recent").is_empty());
        assert_eq!(ids(&conn, "opportunity_ids"), [("a".into(), before[0].0)]);
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
        add(&conn, &["a"]);
        RECENT_INTO_MIDDLE
            .settle(&conn)
            .expect("a into the middle table");
        add(&conn, &["b"]);
        assert_eq!(ids(&conn, "opportunity_ids_middle").len(), 1);
        assert_eq!(ids(&conn, "opportunity_ids_recent").len(), 1);
        store
            .record_feed_event(1, &crate::FeedEvent::CaughtUp)
            .await
            .expect("caught up");
        assert!(ids(&conn, "opportunity_ids_recent").is_empty());
        assert!(ids(&conn, "opportunity_ids_middle").is_empty());
        assert_eq!(ids(&conn, "opportunity_ids").len(), 2);
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
    async fn reads_by_id_find_ids_in_any_table() {
        let (_dir, conn) = store().await;
        add(&conn, &["a"]);
        settle_all(&conn);
        add(&conn, &["b"]);
        RECENT_INTO_MIDDLE
            .settle(&conn)
            .expect("b into the middle table");
        assert_eq!(found(&conn, &["a", "b", "x"]), ["a", "b"]);
        add(&conn, &["c"]);
        assert_eq!(found(&conn, &["a", "b", "c", "x"]), ["a", "b", "c"]);
        settle_all(&conn);
        assert_eq!(found(&conn, &["a", "b", "c", "x"]), ["a", "b", "c"]);
    }
}
