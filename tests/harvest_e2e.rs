//! Fake publisher -> harvest -> store, including a harvest killed between any two pages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::RawQuery;
use oa_aggregator::harvest::{StoreSink, harvest_feed};
use oa_harvest::{FetchConfig, Fetcher, PageSink, Shutdown, WalkError};
use oa_model::rpde_publish::{FeedOrdering, PublishedItem, build_page, parse_after};
use oa_model::{DiscoveredFeed, RpdePage};
use oa_store::{FeedState, PgStore, SqliteStore, Store};
use serde_json::value::RawValue;

/// Series s0..s4 and two sessions each, in one change-number feed, sessions first so some
/// children arrive before their parents; plus a deleted session at the end.
async fn publisher() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let feed_url = format!("{base}/feed");
    let start = "2030-01-07T10:00:00Z";
    let mut items: Vec<(String, &'static str, Option<String>)> = Vec::new();
    for s in 0..5 {
        for n in 0..2 {
            items.push((format!("sess-{s}-{n}"), "ScheduledSession", Some(format!(
                r#"{{"@type":"ScheduledSession","@id":"https://p/sess/{s}/{n}","superEvent":"https://p/series/{s}","startDate":"{start}","duration":"PT1H"}}"#
            ))));
        }
        items.push((format!("series-{s}"), "SessionSeries", Some(format!(
            r#"{{"@type":"SessionSeries","@id":"https://p/series/{s}","name":"Series {s}","location":{{"geo":{{"latitude":53.76,"longitude":-2.70}}}}}}"#
        ))));
    }
    items.push(("sess-0-0".into(), "ScheduledSession", None));
    let app = axum::Router::new().fallback(move |RawQuery(query): RawQuery| {
        let items = items.clone();
        let feed_url = feed_url.clone();
        async move {
            let raws: Vec<Option<Box<RawValue>>> = items
                .iter()
                .map(|(_, _, d)| d.clone().map(|d| RawValue::from_string(d).expect("json")))
                .collect();
            let published: Vec<PublishedItem<'_>> = items
                .iter()
                .zip(&raws)
                .enumerate()
                .map(|(i, ((id, kind, _), raw))| PublishedItem {
                    id,
                    kind,
                    modified: i as i64 + 1,
                    data: raw.as_deref(),
                })
                .collect();
            let after = parse_after(query.as_deref()).expect("cursor");
            build_page(
                &feed_url,
                FeedOrdering::ChangeNumber,
                &published,
                &after,
                4,
                "L",
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("{base}/feed")
}

/// A fresh store: SQLite, or a fresh PostgreSQL schema when the backend is `postgres`.
async fn store(backend: &str, dir: &tempfile::TempDir, name: &str) -> Arc<dyn Store> {
    if backend == "postgres" {
        let url = std::env::var("OA_TEST_DATABASE_URL").expect("set for postgres");
        let schema = format!(
            "e2e_{}_{}_{}",
            name.replace(['.', '-'], "_"),
            std::process::id(),
            dir.path().display().to_string().len()
        );
        let schema = format!(
            "{schema}_{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default()
        );
        return Arc::new(
            PgStore::connect_in_schema(&url, &schema)
                .await
                .expect("pg store"),
        );
    }
    let url = format!("sqlite://{}", dir.path().join(name).display());
    Arc::new(SqliteStore::connect(&url).await.expect("store"))
}

/// SQLite always; PostgreSQL too when `OA_TEST_DATABASE_URL` is set.
fn backends() -> Vec<&'static str> {
    let mut all = vec!["sqlite"];
    if std::env::var("OA_TEST_DATABASE_URL").is_ok() {
        all.push("postgres");
    }
    all
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchConfig {
        max_attempts: 1,
        request_timeout: Duration::from_secs(5),
        ..FetchConfig::default()
    })
    .expect("client")
}

/// Dies (as a killed process would) before storing page number `die_at`.
struct DyingSink {
    inner: StoreSink,
    pages: AtomicUsize,
    die_at: usize,
}

#[async_trait]
impl PageSink for DyingSink {
    async fn apply(&self, requested: &str, page: RpdePage) -> Result<(), String> {
        if self.pages.fetch_add(1, Ordering::SeqCst) == self.die_at {
            return Err("killed".into());
        }
        self.inner.apply(requested, page).await
    }
}

async fn feed(store: &Arc<dyn Store>, url: &str) -> oa_store::FeedRecord {
    let discovered = DiscoveredFeed {
        url: url.into(),
        kind: None,
        publisher: None,
        dataset_site: None,
    };
    store
        .sync_source_feeds(&format!("feed:{url}"), &[discovered])
        .await
        .expect("sync")
        .remove(0)
}

#[tokio::test]
async fn harvest_stores_every_page_and_resumes_exactly_after_a_kill_between_any_two_pages() {
    let url = publisher().await;
    for backend in backends() {
        let dir = tempfile::tempdir().expect("dir");

        let reference = store(backend, &dir, "reference.db").await;
        let record = feed(&reference, &url).await;
        let sink = StoreSink::new(reference.clone(), record.as_ref());
        let summary = harvest_feed(
            reference.clone(),
            &fetcher(),
            &record,
            &sink,
            &Shutdown::never(),
        )
        .await
        .expect("harvest");
        assert_eq!(summary.pages, 4, "16 items in pages of 4");
        let expected = reference.dump().await.expect("dump");
        // Four series with two sessions each, one with a single session left after the delete.
        assert_eq!(expected.opportunities.len(), 9);
        let feeds = reference.feeds().await.expect("feeds");
        assert_eq!(
            (
                feeds[0].state,
                feeds[0].caught_up,
                feeds[0].items_awaiting_parent
            ),
            (FeedState::Ok, true, 0)
        );

        for die_at in 0..summary.pages {
            let resumed = store(backend, &dir, &format!("killed-{die_at}.db")).await;
            let record = feed(&resumed, &url).await;
            let dying = DyingSink {
                inner: StoreSink::new(resumed.clone(), record.as_ref()),
                pages: AtomicUsize::new(0),
                die_at,
            };
            let error = harvest_feed(
                resumed.clone(),
                &fetcher(),
                &record,
                &dying,
                &Shutdown::never(),
            )
            .await
            .expect_err("killed");
            assert!(matches!(error, WalkError::Sink { .. }));
            assert_eq!(
                resumed.feeds().await.expect("feeds")[0].state,
                FeedState::Failing
            );

            // A fresh process starts from the stored cursor.
            let record = resumed.feeds().await.expect("feeds").remove(0);
            let sink = StoreSink::new(resumed.clone(), record.as_ref());
            harvest_feed(
                resumed.clone(),
                &fetcher(),
                &record,
                &sink,
                &Shutdown::never(),
            )
            .await
            .expect("resume");
            assert_eq!(
                resumed.dump().await.expect("dump"),
                expected,
                "{backend}: killed before page {die_at}"
            );
        }
    }
}
