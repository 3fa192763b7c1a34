//! Link-worker queries and the coverage access view on a store of N upcoming sessions spread
//! over Lancashire and South Cumbria (the embedded default, SQLite), answered in-process
//! through the API router (no network), one request at a time: service times. The load
//! test over HTTP with 1,000,000 sessions is `benches/search_load.rs`. Release build:
//!
//!     cargo bench --bench queries                     # 100,000 sessions
//!     OA_BENCH_SESSIONS=20000 cargo bench --bench queries
//!
//! Prints p50/p99 latency and single-client requests/s per query; recorded in
//! docs/PERFORMANCE.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use oa_model::{DiscoveredFeed, parse_page};
use oa_normalise::OpenActiveNormaliser;
use oa_store::{SqliteStore, Store};
use serde_json::json;
use tower::ServiceExt;

const PAGE: usize = 500;
const DESCRIPTIONS: [&str; 4] = [
    "Friendly group, all abilities welcome, tea and a chat after.",
    "Fast-paced class for experienced participants only.",
    "Gentle session at your own pace, no experience needed.",
    "Free, relaxed and social: meet new people.",
];
const ACTIVITIES: [&str; 6] = [
    "Walking",
    "Yoga",
    "Walking Football",
    "Swimming",
    "Tai Chi",
    "Badminton",
];

fn session(n: usize, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    // A deterministic spread over the ICS's rough extent (53.6-54.6 N, 3.3-2.1 W).
    let lat = 53.6 + (n * 7919 % 10_000) as f64 / 10_000.0;
    let lng = -3.3 + (n * 104_729 % 12_000) as f64 / 10_000.0;
    let start = now + chrono::Duration::minutes((n * 37 % (28 * 24 * 60)) as i64 + 60);
    json!({"state": "updated", "kind": "Event", "id": format!("e{n}"), "modified": n, "data": {
        "@type": "Event", "@id": format!("https://bench.example/e/{n}"),
        "name": format!("{} session {n}", ACTIVITIES[n % 6]),
        "description": DESCRIPTIONS[n % 4],
        "startDate": start.to_rfc3339(), "duration": "PT1H",
        "activity": [{"prefLabel": ACTIVITIES[n % 6]}],
        "location": {"name": "Venue", "geo": {"latitude": lat, "longitude": lng}},
        "organizer": {"name": format!("Provider {}", n % 400), "url": "https://bench.example"},
        "offers": [{"price": (n % 7) as f64, "priceCurrency": "GBP"}]
    }})
}

async fn time(app: &axum::Router, uri: &str, runs: usize) -> (Duration, Duration, f64) {
    let mut took = Vec::with_capacity(runs);
    let mut started = Instant::now();
    // One untimed run first: the first search loads the index.
    for run in 0..=runs {
        if run == 1 {
            took.clear();
            started = Instant::now();
        }
        let at = Instant::now();
        let response = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert!(
            response.status().is_success(),
            "{uri}: {}",
            response.status()
        );
        let _ = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        took.push(at.elapsed());
    }
    let per_second = runs as f64 / started.elapsed().as_secs_f64();
    took.sort();
    (
        took[runs / 2],
        took[(runs * 99 / 100).min(runs - 1)],
        per_second,
    )
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("OA_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("oa-bench-queries-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::connect(&format!("sqlite://{}", dir.join("q.db").display()))
            .await
            .expect("store"),
    );
    let feed = store
        .sync_source_feeds(
            "feed:bench",
            &[DiscoveredFeed {
                url: "https://bench.example/feed".into(),
                kind: None,
                publisher: None,
                dataset_site: None,
            }],
        )
        .await
        .expect("feed")
        .remove(0)
        .as_ref();
    let normaliser = OpenActiveNormaliser::default();
    let now = chrono::Utc::now();
    let loading = Instant::now();
    for start in (0..total).step_by(PAGE) {
        let items: Vec<_> = (start..(start + PAGE).min(total))
            .map(|n| session(n, now))
            .collect();
        let body = json!({"next": format!("https://bench.example/feed?after={start}"), "items": items, "license": "L"}).to_string();
        let page = parse_page(body.as_bytes()).expect("page");
        let prepared = page.valid_items().map(oa_normalise::prepare).collect();
        store
            .apply_page(&feed, prepared, &page.next, &normaliser)
            .await
            .expect("apply");
    }
    println!(
        "loaded {total} sessions in {:.1} s",
        loading.elapsed().as_secs_f64()
    );
    let app = oa_api::router(store);
    for (name, uri, runs) in [
        (
            "5 km, 14 days, tag social",
            "/v1/sessions?lat=53.7632&lng=-2.7031&radius_km=5&tags=social",
            200,
        ),
        (
            "postcode, activity, free",
            "/v1/sessions?postcode=PR1%202XX&activity=walking&free=true",
            200,
        ),
        (
            "series grouping, 10 km",
            "/v1/sessions?lat=53.7632&lng=-2.7031&radius_km=10&group=series",
            100,
        ),
        ("coverage access, whole ICB", "/v1/coverage/access", 10),
    ] {
        let (p50, p99, per_second) = time(&app, uri, runs).await;
        println!(
            "{name:<28} p50 {:>8.2} ms  p99 {:>8.2} ms  {per_second:>7.1} req/s (one client)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
