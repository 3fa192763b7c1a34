//! Migrations that carry stored data over: a store written by an older version opens with
//! nothing lost (SQLite always; PostgreSQL when `OA_TEST_DATABASE_URL` is set).

use std::str::FromStr;

use oa_store::{PgStore, SqliteStore, Store};
use sqlx::SqlitePool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// Items `a` (with digests stored apart) and `b` (without), as the version before
/// digests moved onto items wrote them.
const OLD_ROWS: &str = "\
    insert into feeds (id, url, source, discovered_at) values (1, 'https://p.example/feed', 'test', 0); \
    insert into items (feed_id, item_id, kind, modified, state, role, data, status) \
    values (1, 'a', 'ScheduledSession', 1, 'updated', 'standalone', '{}', 'ok'), \
    (1, 'b', 'ScheduledSession', 1, 'updated', 'standalone', '{}', 'ok'); \
    insert into item_digests (feed_id, item_id, opportunities, problems, opportunity_ids) \
    values (1, 'a', 7, 8, 9)";

type Digests = (String, Option<i64>, Option<i64>, Option<i64>);
const DIGESTS: &str =
    "select item_id, digest_opportunities, digest_problems, digest_ids from items order by item_id";

fn expected() -> Vec<Digests> {
    vec![
        ("a".into(), Some(7), Some(8), Some(9)),
        ("b".into(), None, None, None),
    ]
}

/// A SQLite store in a temporary directory, migrated to `version` only, holding `rows`: its
/// directory (removed when dropped), URL and pool.
async fn sqlite_at(version: i64, rows: &'static str) -> (tempfile::TempDir, String, SqlitePool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let old = SqlitePoolOptions::new()
        .connect_with(
            SqliteConnectOptions::from_str(&url)
                .expect("url")
                .create_if_missing(true),
        )
        .await
        .expect("sqlite");
    sqlx::migrate!("../../migrations/sqlite")
        .run_to(version, &old)
        .await
        .expect("an older schema");
    sqlx::raw_sql(rows).execute(&old).await.expect("old rows");
    (dir, url, old)
}

/// A PostgreSQL schema of its own (`schema`), migrated to `version` and holding `rows`, as
/// an older version left it: the admin pool (to drop the schema afterwards) and the URL.
async fn pg_at(version: i64, schema: &str, rows: &str) -> Option<(sqlx::PgPool, String)> {
    let url = std::env::var("OA_TEST_DATABASE_URL").ok()?;
    let options = PgConnectOptions::from_str(&url).expect("url");
    let admin = PgPoolOptions::new()
        .connect_with(options.clone())
        .await
        .expect("postgres");
    for statement in [
        format!("drop schema if exists {schema} cascade"),
        format!("create schema {schema}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&admin)
            .await
            .expect("a fresh schema");
    }
    let old = PgPoolOptions::new()
        .connect_with(options.options([("search_path", schema)]))
        .await
        .expect("postgres");
    sqlx::migrate!("../../migrations/postgres")
        .run_to(version, &old)
        .await
        .expect("an older schema");
    sqlx::raw_sql(sqlx::AssertSqlSafe(rows.to_owned()))
        .execute(&old)
        .await
        .expect("old rows");
    old.close().await;
    Some((admin, url))
}

#[tokio::test]
async fn sqlite_digests_stored_apart_move_onto_their_items() {
    let (_dir, url, old) = sqlite_at(10, OLD_ROWS).await;
    old.close().await;

    let store = SqliteStore::connect(&url).await.expect("migrates");
    let digests: Vec<Digests> = sqlx::query_as(DIGESTS)
        .fetch_all(store.writer_pool())
        .await
        .expect("digests on items");
    assert_eq!(digests, expected());
    let apart: i64 =
        sqlx::query_scalar("select count(*) from sqlite_master where name = 'item_digests'")
            .fetch_one(store.writer_pool())
            .await
            .expect("schema");
    assert_eq!(apart, 0, "the digests' own table is dropped");
}

#[tokio::test]
async fn postgres_digests_move_onto_their_items_and_identifiers_compare_as_bytes() {
    let schema = format!("t_migrations_{}", std::process::id());
    let Some((admin, url)) = pg_at(11, &schema, OLD_ROWS).await else {
        return;
    };

    let store = PgStore::connect_in_schema(&url, &schema)
        .await
        .expect("migrates");
    let digests: Vec<Digests> = sqlx::query_as(DIGESTS)
        .fetch_all(store.pool())
        .await
        .expect("digests on items");
    assert_eq!(digests, expected());
    let apart: Option<String> = sqlx::query_scalar("select to_regclass('item_digests')::text")
        .fetch_one(store.pool())
        .await
        .expect("schema");
    assert_eq!(apart, None, "the digests' own table is dropped");
    let collations: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select table_name::text, column_name::text, collation_name::text \
         from information_schema.columns where table_schema = current_schema() \
         and (table_name, column_name) in (('items', 'item_id'), ('items', 'data_id'), \
         ('items', 'parent_ref'), ('opportunities', 'id'), ('opportunities', 'item_id'), \
         ('opportunities', 'parent_ref'), ('item_problems', 'item_id')) order by 1, 2",
    )
    .fetch_all(store.pool())
    .await
    .expect("columns");
    assert_eq!(collations.len(), 7);
    for (table, column, collation) in collations {
        assert_eq!(
            collation.as_deref(),
            Some("C"),
            "{table}.{column} compares byte by byte"
        );
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("drop schema {schema} cascade")))
        .execute(&admin)
        .await
        .expect("clean up");
}

/// Items as the version before migration 13 kept them (in the order of their key), with
/// every column set.
const ITEMS_IN_KEY_ORDER: &str = "\
    insert into feeds (id, url, source, discovered_at) values (1, 'https://p.example/feed', 'test', 0); \
    insert into items (feed_id, item_id, kind, modified, state, role, data_id, parent_ref, data, \
    status, problem, digest_opportunities, digest_problems, digest_ids) values \
    (1, 'z', 'SessionSeries', 5, 'updated', 'parent', 'https://p.example/s/1', null, '{\"a\":1}', 'ok', null, 1, 2, 3), \
    (1, 'a', 'ScheduledSession', 9, 'updated', 'child', 'https://p.example/e/1', 'https://p.example/s/1', '{}', 'awaiting_parent', 'why', null, null, null), \
    (1, 'm', 'ScheduledSession', 7, 'deleted', 'child', null, null, null, 'deleted', null, 4, 5, 6)";

/// Every column of every item, a JSON array a row (SQLite's `json_array`).
const ITEM_COLUMNS: &str = "select json_array(item_id, kind, modified, state, role, data_id, \
    parent_ref, data, status, problem, digest_opportunities, digest_problems, digest_ids) \
    from items order by item_id";

#[tokio::test]
async fn sqlite_items_kept_in_key_order_move_to_arrival_order_with_every_column() {
    let (_dir, url, old) = sqlite_at(12, ITEMS_IN_KEY_ORDER).await;
    let before: Vec<String> = sqlx::query_scalar(ITEM_COLUMNS)
        .fetch_all(&old)
        .await
        .expect("items before");
    old.close().await;
    assert_eq!(before.len(), 3);

    let store = SqliteStore::connect(&url).await.expect("migrates");
    let pool = store.writer_pool();
    let after: Vec<String> = sqlx::query_scalar(ITEM_COLUMNS)
        .fetch_all(pool)
        .await
        .expect("items after");
    assert_eq!(after, before, "every item and column is carried over");
    // Carried over in key order; what is written from now on goes after them, whatever
    // its id.
    sqlx::query(
        "insert into items (feed_id, item_id, kind, modified, state, role, status) \
         values (1, '0', 'ScheduledSession', 10, 'updated', 'standalone', 'ok')",
    )
    .execute(pool)
    .await
    .expect("a new item");
    let order: Vec<String> = sqlx::query_scalar("select item_id from items order by rid")
        .fetch_all(pool)
        .await
        .expect("items by arrival");
    assert_eq!(order, ["a", "m", "z", "0"]);
    let twice = sqlx::query("insert into item_keys (feed_id, item_id, rid) values (1, 'a', 99)")
        .execute(pool)
        .await;
    assert!(twice.is_err(), "an item's key stays unique");
}

/// Two feeds' items whose rids do not follow their ids: rows 7, 8 and 9 for (1, b), (2, a)
/// and (1, a).
macro_rules! items_not_in_id_order {
    () => {
        "\
    insert into feeds (id, url, source, discovered_at) values (1, 'https://p.example/feed', 'test', 0), \
    (2, 'https://q.example/feed', 'test', 0); \
    insert into items (rid, feed_id, item_id, kind, modified, state, role, status) values \
    (7, 1, 'b', 'ScheduledSession', 1, 'updated', 'standalone', 'ok'), \
    (8, 2, 'a', 'ScheduledSession', 1, 'updated', 'standalone', 'ok'), \
    (9, 1, 'a', 'ScheduledSession', 1, 'updated', 'standalone', 'ok'); \
"
    };
}

/// Items with opportunities as the version before migration 14 kept them (found by their
/// item's key), the items' rids not in the order of their ids.
const OPPORTUNITIES_BY_KEY: &str = concat!(
    items_not_in_id_order!(),
    "insert into opportunities (id, feed_id, item_id, kind, start_at, status, modified, doc) values \
    ('o1', 1, 'a', 'ScheduledSession', 0, 'scheduled', 1, '{}'), \
    ('o2', 1, 'a', 'ScheduledSession', 0, 'scheduled', 1, '{}'), \
    ('o3', 1, 'b', 'ScheduledSession', 0, 'scheduled', 1, '{}'), \
    ('o4', 2, 'a', 'ScheduledSession', 0, 'scheduled', 1, '{}')"
);

#[tokio::test]
async fn sqlite_opportunities_point_at_their_items_rows() {
    let (_dir, url, old) = sqlite_at(13, OPPORTUNITIES_BY_KEY).await;
    old.close().await;

    let store = SqliteStore::connect(&url).await.expect("migrates");
    let pool = store.writer_pool();
    let pointed: Vec<(String, i64)> =
        sqlx::query_as("select id, item_rid from opportunities order by id")
            .fetch_all(pool)
            .await
            .expect("opportunities");
    assert_eq!(
        pointed,
        [
            ("o1".into(), 9),
            ("o2".into(), 9),
            ("o3".into(), 7),
            ("o4".into(), 8)
        ]
    );
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("explain query plan select id from opportunities where item_rid = 9")
            .fetch_all(pool)
            .await
            .expect("plan");
    assert!(
        plan.iter()
            .any(|row| row.3.contains("opportunities_by_item")),
        "found through the new index: {plan:?}"
    );
}

/// Every column of every opportunity, a JSON array a row.
const OPPORTUNITY_COLUMNS: &str = "select json_array(rid, id, feed_id, item_id, kind, start_at, \
    end_at, lat, lng, status, modified, parent_ref, doc, tail_id, item_rid) \
    from opportunities order by rid";

#[tokio::test]
async fn sqlite_opportunity_ids_move_to_their_own_table_with_every_column_kept() {
    let (_dir, url, old) = sqlite_at(14, OPPORTUNITIES_BY_KEY).await;
    sqlx::raw_sql(
        "update opportunities set end_at = 5, lat = 51.5, lng = -0.1, parent_ref = 'p', \
         tail_id = 3, item_rid = rid + 100 where id = 'o2'",
    )
    .execute(&old)
    .await
    .expect("every column set");
    let before: Vec<String> = sqlx::query_scalar(OPPORTUNITY_COLUMNS)
        .fetch_all(&old)
        .await
        .expect("before");
    let rids: Vec<(String, i64)> = sqlx::query_as("select id, rid from opportunities order by id")
        .fetch_all(&old)
        .await
        .expect("rids");
    old.close().await;

    let store = SqliteStore::connect(&url).await.expect("migrates");
    let pool = store.writer_pool();
    let after: Vec<String> = sqlx::query_scalar(OPPORTUNITY_COLUMNS)
        .fetch_all(pool)
        .await
        .expect("after");
    assert_eq!(
        after, before,
        "every opportunity and column is carried over"
    );
    let ids: Vec<(String, i64)> = sqlx::query_as("select id, rid from opportunity_ids order by id")
        .fetch_all(pool)
        .await
        .expect("ids");
    assert_eq!(ids, rids, "each id names its row");
    let twice = sqlx::query("insert into opportunity_ids (id, rid) values ('o1', 99)")
        .execute(pool)
        .await;
    assert!(twice.is_err(), "an id is recorded once");
}

#[tokio::test]
async fn sqlite_item_keys_move_to_their_own_table_each_naming_its_row() {
    use oa_store::Store;
    let (_dir, url, old) = sqlite_at(15, OPPORTUNITIES_BY_KEY).await;
    old.close().await;

    let store = SqliteStore::connect(&url).await.expect("migrates");
    let pool = store.writer_pool();
    let keys: Vec<(i64, String, i64)> =
        sqlx::query_as("select feed_id, item_id, rid from item_keys order by feed_id, item_id")
            .fetch_all(pool)
            .await
            .expect("keys");
    assert_eq!(
        keys,
        [(1, "a".into(), 9), (1, "b".into(), 7), (2, "a".into(), 8)],
        "each key names its item's row"
    );
    let recent: i64 = sqlx::query_scalar("select count(*) from item_keys_recent")
        .fetch_one(pool)
        .await
        .expect("recent");
    assert_eq!(recent, 0);
    let stored: Vec<(String, i64)> = store
        .feeds()
        .await
        .expect("feeds")
        .into_iter()
        .map(|f| (f.url, f.items_stored))
        .collect();
    assert_eq!(
        stored,
        [
            ("https://p.example/feed".into(), 2),
            ("https://q.example/feed".into(), 1)
        ],
        "a feed's items are counted through their keys"
    );
}

#[tokio::test]
async fn sqlite_opportunity_ids_gain_a_middle_table_read_with_the_others() {
    let (_dir, url, old) = sqlite_at(
        16,
        "insert into opportunity_ids (id, rid) values ('a', 1); \
         insert into opportunity_ids_recent (id, rid) values ('c', 3)",
    )
    .await;
    old.close().await;

    let store = SqliteStore::connect(&url).await.expect("migrates");
    let pool = store.writer_pool();
    sqlx::query("insert into opportunity_ids_middle (id, rid) values ('b', 2)")
        .execute(pool)
        .await
        .expect("a middle id");
    let found: Vec<(String, i64)> =
        sqlx::query_as("select id, rid from opportunity_id_lookup order by id")
            .fetch_all(pool)
            .await
            .expect("lookup");
    assert_eq!(
        found,
        [("a".into(), 1), ("b".into(), 2), ("c".into(), 3)],
        "the ids of all three tables"
    );
}

/// Items whose rids do not follow their ids, their keys in both key tables, and problems
/// as the version before migration 18 kept them (by item id), one of an item never stored.
const PROBLEMS_BY_ITEM_ID: &str = concat!(
    items_not_in_id_order!(),
    "insert into item_keys (feed_id, item_id, rid) values (1, 'a', 9), (2, 'a', 8); \
    insert into item_keys_recent (feed_id, item_id, rid) values (1, 'b', 7); \
    insert into item_problems (feed_id, item_id, code, detail) values \
    (1, 'a', 'html_in_text', 'x'), (1, 'a', 'missing_price', 'y'), (1, 'b', 'html_in_text', 'z'), \
    (2, 'a', 'html_in_text', 'w'), (1, 'gone', 'html_in_text', 'never stored')"
);

#[tokio::test]
async fn sqlite_item_problems_move_onto_their_items_rows_and_list_in_item_id_order() {
    use oa_store::Store;
    let (_dir, url, old) = sqlite_at(17, PROBLEMS_BY_ITEM_ID).await;
    old.close().await;

    let store = SqliteStore::connect(&url).await.expect("migrates");
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "select feed_id, item_rid, code, detail from item_problems order by feed_id, item_rid, code",
    )
    .fetch_all(store.writer_pool())
    .await
    .expect("problems");
    let row = |feed, rid, code: &str, detail: &str| (feed, rid, code.into(), detail.into());
    assert_eq!(
        rows,
        [
            row(1, 7, "html_in_text", "z"),
            row(1, 9, "html_in_text", "x"),
            row(1, 9, "missing_price", "y"),
            row(2, 8, "html_in_text", "w"),
        ],
        "each problem on its item's row; none for an item never stored"
    );
    let listed = |problems: Vec<oa_store::ItemProblem>| -> Vec<(String, String)> {
        problems.into_iter().map(|p| (p.item_id, p.code)).collect()
    };
    let pair = |item: &str, code: &str| (item.to_owned(), code.to_owned());
    assert_eq!(
        listed(store.feed_problems(1, None, 10).await.expect("list")),
        [
            pair("a", "html_in_text"),
            pair("a", "missing_price"),
            pair("b", "html_in_text")
        ],
        "in item id order, through both key tables"
    );
    assert_eq!(
        listed(
            store
                .feed_problems(1, Some(pair("a", "html_in_text")), 1)
                .await
                .expect("page")
        ),
        [pair("a", "missing_price")],
        "after a keyset position"
    );
    assert_eq!(
        store.problem_counts().await.expect("counts"),
        [
            (1, "html_in_text".to_owned(), 2),
            (1, "missing_price".to_owned(), 1),
            (2, "html_in_text".to_owned(), 1)
        ]
    );
}

/// A session stored before migration 16, with its own opportunity (the id
/// `oa_model::opportunity_id` gives the item without an occurrence) and one that only its
/// source finds (as an occurrence's would be).
fn session_before_occurrences() -> String {
    let own = oa_model::opportunity_id("https://p.example/feed", "a", None);
    format!(
        "insert into feeds (id, url, source, discovered_at, cursor) \
         values (1, 'https://p.example/feed', 'test', 0, 'https://p.example/feed?1'); \
         insert into items (feed_id, item_id, kind, modified, state, role, data, status, \
         digest_opportunities, digest_problems, digest_ids) \
         values (1, 'a', 'ScheduledSession', 1, 'updated', 'standalone', '{{}}', 'ok', 1, 2, 3); \
         insert into opportunities (id, feed_id, item_id, kind, start_at, status, modified, doc) \
         values ('{own}', 1, 'a', 'ScheduledSession', 0, 'scheduled', 1, '{{}}'), \
         ('0123456789abcdef', 1, 'a', 'ScheduledSession', 0, 'scheduled', 1, '{{}}')"
    )
}

#[tokio::test]
async fn postgres_opportunities_stored_before_are_found_by_their_source_until_written_again() {
    let schema = format!("t_migrations_occurrence_{}", std::process::id());
    let Some((admin, url)) = pg_at(15, &schema, &session_before_occurrences()).await else {
        return;
    };

    let store = PgStore::connect_in_schema(&url, &schema)
        .await
        .expect("migrates");
    let indexes: Vec<Option<String>> = sqlx::query_scalar(
        "select to_regclass(name)::text from unnest(array['opportunities_by_source', \
         'opportunities_by_source_occurrence']) name",
    )
    .fetch_all(store.pool())
    .await
    .expect("indexes");
    assert_eq!(
        indexes,
        [None, Some("opportunities_by_source_occurrence".into())]
    );
    let flags: Vec<bool> = sqlx::query_scalar("select occurrence from opportunities")
        .fetch_all(store.pool())
        .await
        .expect("flags");
    assert_eq!(
        flags,
        [true, true],
        "a row stored before is taken for an occurrence"
    );

    // The session goes: its rows, found by its own id and by its source, go with it.
    let feeds = store.feeds().await.expect("feeds");
    let page = r#"{"next": "x", "items": [{"state": "deleted", "kind": "ScheduledSession",
        "id": "a", "modified": 2}]}"#;
    let gone = oa_model::parse_page(page.as_bytes())
        .expect("page")
        .valid_items()
        .map(oa_normalise::prepare)
        .collect();
    store
        .apply_page(
            &feeds[0].as_ref(),
            gone,
            "https://p.example/feed?2",
            &oa_normalise::OpenActiveNormaliser::default(),
        )
        .await
        .expect("page");
    let left: i64 = sqlx::query_scalar("select count(*) from opportunities")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(left, 0);
    store.pool().close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("drop schema {schema} cascade")))
        .execute(&admin)
        .await
        .expect("clean up");
}
