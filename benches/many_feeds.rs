//! Many feeds at once on loopback: 200 feeds (190 ordinary, 5 slow at 1 s a page, 5 always
//! failing with 503), harvested with `concurrency = 16` into SQLite, or into PostgreSQL (its
//! own schema, `oa_bench_many_feeds`, dropped first) when `OA_BENCH_DATABASE_URL` names one.
//! Reports total throughput, when the last ordinary feed finished (slow feeds must not hold
//! them up), and the most requests the publisher saw in flight at once (connections stay
//! bounded).
//!
//!     cargo bench --bench many_feeds
//!     OA_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench many_feeds
//!
//! Recorded in docs/PERFORMANCE.md.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use oa_aggregator::config::Source;
use oa_aggregator::harvest::Harvester;
use oa_aggregator::harvest::schedule::run_once;
use oa_aggregator::harvest::sources::discover_sources;
use oa_harvest::{FetchConfig, Fetcher, Shutdown};
use oa_model::rpde_publish::{FeedOrdering, PublishedItem, build_page, parse_after};
use oa_store::{SqliteStore, Store};
use serde_json::value::RawValue;

mod support;

const FEEDS: usize = 200;
const SLOW: usize = 5;
const FAILING: usize = 5;
const ITEMS: usize = 500;
const PAGE: usize = 100;

#[derive(Clone)]
struct Publisher {
    base: String,
    items: Arc<Vec<(String, Box<RawValue>)>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    finished: Arc<Mutex<HashMap<usize, Instant>>>,
}

async fn page(
    State(p): State<Publisher>,
    Path(feed): Path<usize>,
    RawQuery(query): RawQuery,
) -> axum::response::Response {
    let now = p.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    p.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let response = if feed < FAILING {
        (StatusCode::SERVICE_UNAVAILABLE, "down").into_response()
    } else {
        if feed < FAILING + SLOW {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let published: Vec<PublishedItem<'_>> = p
            .items
            .iter()
            .enumerate()
            .map(|(i, (id, data))| PublishedItem {
                id,
                kind: "Event",
                modified: i as i64 + 1,
                data: Some(data),
            })
            .collect();
        let after = parse_after(query.as_deref()).unwrap_or_default();
        let body = build_page(
            &format!("{}/f/{feed}", p.base),
            FeedOrdering::ChangeNumber,
            &published,
            &after,
            PAGE,
            "L",
        );
        if body.contains("\"items\":[]") {
            p.finished
                .lock()
                .map(|mut f| f.insert(feed, Instant::now()))
                .ok();
        }
        ([("content-type", "application/json")], body).into_response()
    };
    p.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

#[tokio::main]
async fn main() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let items: Vec<(String, Box<RawValue>)> = (0..ITEMS)
        .map(|n| {
            let data = format!(
                r#"{{"@type":"Event","name":"Walk {n}","description":"Friendly, gentle walk; tea after.","startDate":"2030-01-{:02}T10:00:00Z","location":{{"geo":{{"latitude":53.76,"longitude":-2.70}}}},"offers":[{{"price":2,"priceCurrency":"GBP"}}]}}"#,
                1 + n % 28
            );
            (format!("e{n}"), RawValue::from_string(data).expect("json"))
        })
        .collect();
    let publisher = Publisher {
        base: base.clone(),
        items: Arc::new(items),
        in_flight: Arc::default(),
        most_in_flight: Arc::default(),
        finished: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/f/{feed}", axum::routing::get(page))
        .with_state(publisher.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = std::env::temp_dir().join(format!("oa-bench-feeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let postgres = std::env::var("OA_BENCH_DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"));
    let store: Arc<dyn Store> = match &postgres {
        Some(url) => Arc::new(support::fresh_pg_schema(url, "oa_bench_many_feeds").await.0),
        None => Arc::new(
            SqliteStore::connect(&format!("sqlite://{}", dir.join("f.db").display()))
                .await
                .expect("store"),
        ),
    };
    let fetcher = Fetcher::new(FetchConfig {
        max_attempts: 3,
        min_retry_delay: Duration::from_millis(100),
        max_retry_delay: Duration::from_millis(400),
        ..FetchConfig::default()
    })
    .expect("client");
    let harvester = Harvester {
        store: store.clone(),
        fetcher,
        normaliser: Default::default(),
        store_outage: oa_aggregator::harvest::STORE_OUTAGE,
        pages_in_memory: oa_aggregator::harvest::pages_in_memory(),
    };
    let sources: Vec<Source> = (0..FEEDS)
        .map(|i| Source::Feed(format!("{base}/f/{i}")))
        .collect();
    discover_sources(&store, &harvester.fetcher, &sources)
        .await
        .expect("sources");

    let started = Instant::now();
    let outcomes = run_once(&harvester, 16, None, &Shutdown::never())
        .await
        .expect("harvest");
    let took = started.elapsed();
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    let items: usize = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .map(|s| s.items)
        .sum();
    let finished = publisher
        .finished
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    let last_ordinary = finished
        .iter()
        .filter(|(feed, _)| **feed >= FAILING + SLOW)
        .map(|(_, at)| at.duration_since(started))
        .max()
        .unwrap_or_default();
    let last_slow = finished
        .iter()
        .filter(|(feed, _)| (FAILING..FAILING + SLOW).contains(*feed))
        .map(|(_, at)| at.duration_since(started))
        .max()
        .unwrap_or_default();
    println!(
        "{FEEDS} feeds ({SLOW} slow, {FAILING} failing) into {}, concurrency 16: {items} items in {:.1} s ({:.0} items/s); \
         {failed} feeds failed; last ordinary feed done after {:.1} s, last slow feed after {:.1} s; \
         at most {} requests in flight",
        if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        took.as_secs_f64(),
        items as f64 / took.as_secs_f64(),
        last_ordinary.as_secs_f64(),
        last_slow.as_secs_f64(),
        publisher.most_in_flight.load(Ordering::SeqCst)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
