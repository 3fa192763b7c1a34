//! How the PostgreSQL store's transactions commit (when `OA_TEST_DATABASE_URL` is set).

use super::*;

const SCHEMA: &str = "oa_test_page_commit";

async fn setting(conn: &mut sqlx::PgConnection) -> String {
    sqlx::query_scalar("select current_setting('synchronous_commit')")
        .fetch_one(conn)
        .await
        .expect("setting")
}

#[tokio::test]
async fn only_a_harvested_page_commits_without_waiting_for_the_disk() {
    let Ok(url) = std::env::var("OA_TEST_DATABASE_URL") else {
        return;
    };
    let admin = PgPool::connect(&url).await.expect("postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop schema if exists {SCHEMA} cascade"
    )))
    .execute(&admin)
    .await
    .expect("drop schema");
    let store = PgStore::connect_in_schema(&url, SCHEMA)
        .await
        .expect("store");
    let feeds = store
        .sync_source_feeds(
            "test",
            &[DiscoveredFeed {
                url: "https://p.example/sessions".into(),
                kind: None,
                publisher: None,
                dataset_site: None,
            }],
        )
        .await
        .expect("feed");
    let feed = feeds[0].as_ref();
    let configured = setting(&mut store.pool.acquire().await.expect("connection")).await;
    assert_ne!(
        configured, "off",
        "the test needs a server that waits for the disk"
    );

    for lock in [FeedLock::Writer, FeedLock::BesideWriter] {
        let mut page = store
            .begin_page(&feed, "https://p.example/sessions?after=1", lock)
            .await
            .expect("page");
        assert_eq!(setting(&mut page.0).await, "off", "{lock:?}");
        page.0.rollback().await.expect("rollback");
    }
    // Everything else, on the same pool's connections, waits for the disk as configured.
    let mut other = store.pool.begin().await.expect("begin");
    assert_eq!(setting(&mut other).await, configured);
    other.rollback().await.expect("rollback");
    for _ in 0..4 {
        let mut conn = store.pool.acquire().await.expect("connection");
        assert_eq!(
            setting(&mut conn).await,
            configured,
            "a page's setting outlived it"
        );
    }
    store.pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("drop schema {SCHEMA} cascade")))
        .execute(&admin)
        .await
        .expect("drop schema");
}
