//! The harvest schedule against fake publishers: polling the end of a feed no more often
//! than `max(min_poll_interval, max-age)`, one hanging feed not holding up another, and a
//! shutdown that returns promptly.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::RawQuery;
use axum::response::IntoResponse;
use oa_aggregator::config::Source;
use oa_aggregator::harvest::Harvester;
use oa_aggregator::harvest::schedule::{Schedule, run_forever};
use oa_harvest::{FetchConfig, Fetcher, ShutdownTrigger};
use oa_store::{SqliteStore, Store};

const SESSION: &str = r#"{"@type":"Event","@id":"https://p/e/1","name":"Walk","startDate":"2030-01-07T10:00:00Z","location":{"geo":{"latitude":53.76,"longitude":-2.70}}}"#;

/// `/slow` never answers in time; `/feed` is one page of one item, then an empty last page
/// with `Cache-Control: max-age=1`, whose requests are timed.
async fn publisher(last_page_hits: Arc<Mutex<Vec<Instant>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let feed = format!("{base}/feed");
    let app = axum::Router::new()
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "{}"
            }),
        )
        .route(
            "/feed",
            axum::routing::get(move |RawQuery(query): RawQuery| {
                let feed = feed.clone();
                let hits = last_page_hits.clone();
                async move {
                    let last = format!("{feed}?afterChangeNumber=1");
                    if query.is_none() {
                        let body = format!(
                            r#"{{"next":"{last}","items":[{{"id":"e1","kind":"Event","state":"updated","modified":1,"data":{SESSION}}}],"license":"L"}}"#
                        );
                        return ([("cache-control", "max-age=1")], body).into_response();
                    }
                    hits.lock().expect("lock").push(Instant::now());
                    let body = format!(r#"{{"next":"{last}","items":[],"license":"L"}}"#);
                    ([("cache-control", "public, max-age=1")], body).into_response()
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn schedule() -> Schedule {
    Schedule {
        concurrency: 2,
        min_poll_interval: Duration::from_millis(100),
        failure_cooldown: Duration::from_secs(60),
        max_failure_cooldown: Duration::from_secs(60),
        rediscover_every: Duration::from_secs(3600),
        refresh_every: Duration::from_secs(3600),
    }
}

#[tokio::test]
async fn serving_polls_the_last_page_no_faster_than_max_age_while_a_hanging_feed_waits_alone() {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let base = publisher(hits.clone()).await;
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("store"));
    let fetcher = Fetcher::new(FetchConfig {
        max_attempts: 1,
        request_timeout: Duration::from_secs(20),
        ..FetchConfig::default()
    })
    .expect("client");
    let sources = vec![
        Source::Feed(format!("{base}/slow")),
        Source::Feed(format!("{base}/feed")),
    ];
    let (trigger, shutdown) = ShutdownTrigger::new();
    let harvester = tokio::spawn(run_forever(
        Harvester {
            store: store.clone(),
            fetcher,
            normaliser: Default::default(),
            store_outage: oa_aggregator::harvest::STORE_OUTAGE,
            pages_in_memory: oa_aggregator::harvest::pages_in_memory(),
        },
        sources,
        schedule(),
        shutdown,
    ));

    tokio::time::sleep(Duration::from_millis(3500)).await;
    let feeds = store.feeds().await.expect("feeds");
    let fast = feeds
        .iter()
        .find(|f| f.url.ends_with("/feed"))
        .expect("fast");
    let slow = feeds
        .iter()
        .find(|f| f.url.ends_with("/slow"))
        .expect("slow");
    assert_eq!(
        fast.items_stored, 1,
        "the fast feed was harvested meanwhile"
    );
    assert!(
        slow.cursor.is_none(),
        "the slow feed is still on its first page"
    );

    let polls = hits.lock().expect("lock").clone();
    assert!(polls.len() >= 2, "the last page is polled again: {polls:?}");
    assert!(
        polls.len() <= 4,
        "at most once per max-age in 3.5 s: {}",
        polls.len()
    );
    for pair in polls.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(990),
            "polled {gap:?} after the previous poll, within max-age=1"
        );
    }

    let asked = Instant::now();
    trigger.trigger();
    tokio::time::timeout(Duration::from_secs(5), harvester)
        .await
        .expect("shutdown ends the harvester promptly, even mid-fetch")
        .expect("harvester task");
    assert!(asked.elapsed() < Duration::from_secs(5));
    let after = store.feeds().await.expect("feeds");
    assert_eq!(
        after
            .iter()
            .find(|f| f.url.ends_with("/feed"))
            .map(|f| f.items_stored),
        Some(1)
    );
}

#[tokio::test]
async fn a_feed_shows_as_retrying_while_it_waits_and_ok_once_it_succeeds() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/feed", listener.local_addr().expect("addr"));
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let next = url.clone();
    let app = axum::Router::new().route(
        "/feed",
        axum::routing::get(move || {
            let calls = calls.clone();
            let next = next.clone();
            async move {
                if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        [("retry-after", "2")],
                        String::new(),
                    )
                        .into_response();
                }
                format!(r#"{{"next":"{next}","items":[],"license":"L"}}"#).into_response()
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("r.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&db).await.expect("store"));
    let fetcher = Fetcher::new(FetchConfig {
        max_attempts: 3,
        min_retry_delay: Duration::from_millis(10),
        ..FetchConfig::default()
    })
    .expect("client");
    let (_trigger, shutdown) = ShutdownTrigger::new();
    let harvester = tokio::spawn(run_forever(
        Harvester {
            store: store.clone(),
            fetcher,
            normaliser: Default::default(),
            store_outage: oa_aggregator::harvest::STORE_OUTAGE,
            pages_in_memory: oa_aggregator::harvest::pages_in_memory(),
        },
        vec![Source::Feed(url.clone())],
        schedule(),
        shutdown,
    ));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let during = store.feeds().await.expect("feeds").remove(0);
    assert_eq!(during.state, oa_store::FeedState::Retrying);
    assert!(
        during
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("503")),
        "{:?}",
        during.last_error
    );
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let after = store.feeds().await.expect("feeds").remove(0);
    assert_eq!(
        after.state,
        oa_store::FeedState::Ok,
        "caught up after the wait"
    );
    harvester.abort();
}

static NOW: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn test_clock() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(NOW.load(std::sync::atomic::Ordering::SeqCst), 0)
        .unwrap_or_default()
}

#[tokio::test]
async fn sessions_generated_from_a_schedule_follow_the_moving_horizon_without_a_re_harvest() {
    let at = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("date")
            .timestamp()
    };
    NOW.store(
        at("2030-01-01T00:00:00Z"),
        std::sync::atomic::Ordering::SeqCst,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/series", listener.local_addr().expect("addr"));
    let feed = url.clone();
    let app = axum::Router::new().route(
        "/series",
        axum::routing::get(move |RawQuery(query): RawQuery| {
            let last = format!("{feed}?afterChangeNumber=1");
            async move {
                let items = if query.is_none() {
                    r#"{"id":"x","kind":"SessionSeries","state":"updated","modified":1,"data":{"@type":"SessionSeries","@id":"https://p/series/x","name":"Monday Yoga","location":{"geo":{"latitude":53.76,"longitude":-2.7}},"eventSchedule":[{"@type":"Schedule","repeatFrequency":"P1W","byDay":["https://schema.org/Monday"],"startDate":"2030-01-07","startTime":"10:00","duration":"PT1H","scheduleTimezone":"Europe/London"}]}}"#
                } else {
                    ""
                };
                format!(r#"{{"next":"{last}","items":[{items}],"license":"L"}}"#)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("h.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&db).await.expect("store"));
    let harvester = Harvester {
        store: store.clone(),
        fetcher: Fetcher::new(FetchConfig::default()).expect("client"),
        normaliser: oa_normalise::OpenActiveNormaliser::default().with_clock(test_clock),
        store_outage: oa_aggregator::harvest::STORE_OUTAGE,
        pages_in_memory: oa_aggregator::harvest::pages_in_memory(),
    };
    let (trigger, shutdown) = ShutdownTrigger::new();
    let mut every = schedule();
    every.refresh_every = Duration::from_millis(300);
    let running = tokio::spawn(run_forever(
        harvester,
        vec![Source::Feed(url)],
        every,
        shutdown,
    ));

    let index = oa_store::index::SessionIndex::new();
    let starts = || async {
        let request = oa_store::search::SearchRequest {
            centre: oa_geo::Point::new(53.76, -2.7),
            radius_km: 1.0,
            from: at("2030-01-01T00:00:00Z"),
            to: at("2030-03-01T00:00:00Z"),
            filters: Default::default(),
            sort: oa_store::search::SortOrder::Start,
            limit: 50,
            after: None,
            group: None,
        };
        oa_store::search::search(store.as_ref(), &index, &request)
            .await
            .expect("search")
            .hits
            .iter()
            .map(|h| {
                h.candidate()
                    .expect("parses")
                    .opportunity
                    .start
                    .format("%m-%d")
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(starts().await, ["01-07", "01-14", "01-21", "01-28"]);

    NOW.store(
        at("2030-01-20T00:00:00Z"),
        std::sync::atomic::Ordering::SeqCst,
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        starts().await,
        ["01-21", "01-28", "02-04", "02-11"],
        "the daily refresh moved the horizon on"
    );
    trigger.trigger();
    running.await.expect("stops");
}
