//! The id tables' moves, rewrites and lookups, on a migrated store.

use super::*;
use crate::page::OpportunityRow;
use crate::sqlite::item_keys::InsertedRows;
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

/// Writes `rows` as the opportunities of `sources`, in a transaction of their own.
fn write(
    conn: &Connection,
    sources: &[(i64, String)],
    rows: &[OpportunityRow],
) -> rusqlite::Result<()> {
    replace(conn, sources, rows, &[], &InsertedRows::default())
}

/// Stores opportunities with these ids (new ones) for item `i`.
fn add(conn: &Connection, ids: &[&str]) {
    let rows: Vec<OpportunityRow> = ids.iter().map(|id| row(id, "1", true)).collect();
    write(conn, &[], &rows).expect("stored");
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
    write(&conn, &source, &[row("a", "1", false), row("b", "1", true)]).expect("b");
    RECENT_INTO_MIDDLE
        .settle(&conn)
        .expect("b into the middle table");
    write(
        &conn,
        &source,
        &[
            row("a", "2", false),
            row("b", "2", false),
            row("c", "2", true),
        ],
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

    write(
        &conn,
        &source,
        &[
            row("a", "3", false),
            row("b", "3", false),
            row("c", "3", false),
        ],
    )
    .expect("rewritten");
    let rewritten: Vec<(i64, String, String)> = before
        .iter()
        .map(|(rid, id, _)| (*rid, id.clone(), "3".into()))
        .collect();
    assert_eq!(docs(&conn), rewritten, "the same rows, rewritten");

    // `b` (middle) and `c` (recent) go.
    write(&conn, &source, &[row("a", "4", false)]).expect("b and c go");
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
