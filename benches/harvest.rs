//! Harvest throughput, as issue 6 asks: a bench publisher serves a generated feed set
//! (N SessionSeries with M ScheduledSessions each, realistic text and prices, pages of 500)
//! from memory at loopback speed, and the real `oa-aggregator harvest --once` process walks
//! it into a fresh store (fetch, parse, normalise, tag, durable write, cursor committed).
//! Wall time, CPU seconds and peak resident memory come from /proc; the stored counts are
//! checked against what was published. Then the same walk in-process with the store
//! disabled: fetch + parse only, and fetch + parse + normalise, to show where time goes.
//! Last (up to 200,000 items), the harvested rows are written again into a fresh store with
//! nothing else to do: the write ceiling for these rows (`support/sqlite_ceiling.rs`,
//! `support/pg_ceiling.rs`). Release build:
//!
//!     cargo bench --bench harvest                                     # 10,000 x 10, SQLite
//!     OA_BENCH_SERIES=100000 cargo bench --bench harvest              # 1,100,000 items
//!     OA_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench harvest
//!     OA_BENCH_PUBLISHERS=10 cargo bench --bench harvest              # the same items, 20 feeds
//!
//! `OA_BENCH_PUBLISHERS` splits the series (with their sessions) among that many publishers,
//! each with a series feed and a sessions feed, as a region's many providers publish them;
//! the harvest walks up to its `concurrency` (16) feeds at once.
//!
//! `OA_BENCH_IDS=scattered` gives the items RPDE ids in no order (a hash of their number),
//! as a real feed's items arrive: in `modified` order, whatever their ids. By default the
//! ids follow the order the items arrive in, which keeps the store's item keys in order.
//!
//! `OA_BENCH_HARVEST_UNDER` runs the harvest process under a tool, for instruction counts
//! per thread that do not move with the machine's speed (figures in docs/PERFORMANCE.md):
//!
//!     OA_BENCH_SERIES=2000 OA_BENCH_HARVEST_UNDER="valgrind --tool=callgrind \
//!       --separate-threads=yes --callgrind-out-file=/tmp/harvest.%p" cargo bench --bench harvest
//!
//! PostgreSQL runs in its own schema (`oa_bench_harvest`, and the ceiling in
//! `oa_bench_ceiling`, each dropped first). Results are recorded in docs/PERFORMANCE.md.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use oa_harvest::{FetchConfig, Fetcher, PageSink, walk_to_end};
use oa_model::{ItemRole, Normalised, Normaliser, RpdePage};
use oa_normalise::OpenActiveNormaliser;
use serde_json::{Value, json};

#[path = "support/pg_ceiling.rs"]
mod pg_ceiling;
#[path = "support/sqlite_ceiling.rs"]
mod sqlite_ceiling;
mod support;

const PAGE: usize = 500;
/// Above this many items the write ceiling is not measured (its WAL would grow to gigabytes).
const CEILING_ITEMS: usize = 200_000;
const SCHEMA: &str = "oa_bench_harvest";
/// Where the PostgreSQL write ceiling is measured (dropped first).
const CEILING_SCHEMA: &str = "oa_bench_ceiling";
const DESCRIPTIONS: [&str; 6] = [
    "<p>A friendly group for all abilities. Tea, coffee and a chat afterwards &ndash; come and meet new people.</p>",
    "Fast-paced sessions for experienced players only. Not suitable for beginners.",
    "Gentle, low impact exercise at your own pace; no experience needed. Free parking on site.",
    "Our weekly session is free to attend and open to everyone. Bring water and comfortable shoes.",
    "Learn to swim with qualified coaches. First session free, then £4.50 per session.",
    "Chair-based strength and balance for older adults. Over 60s especially welcome.",
];
const ACTIVITIES: [(&str, &str); 6] = [
    (
        "https://openactive.io/activity-list#95092977-5a20-4d6e-b312-8fddabe71544",
        "Walking",
    ),
    (
        "https://openactive.io/activity-list#bf1a5e00-cdcf-465d-8c5a-6f57040b7f7e",
        "Yoga",
    ),
    (
        "https://openactive.io/activity-list#2d2d0c8e-8183-4f6c-b1b9-34e1bc2d7a0d",
        "Walking Football",
    ),
    (
        "https://openactive.io/activity-list#20ed8ee8-1cb7-4b5c-99c5-5a5ccd4a3c2b",
        "Swimming",
    ),
    (
        "https://openactive.io/activity-list#78d6ae1f-9c8c-48b3-8ff0-3f7e0ea1bfd4",
        "Tai Chi",
    ),
    (
        "https://openactive.io/activity-list#8a4abe3c-3ca2-4b4b-a5e6-7c3c2f2ab9f3",
        "Badminton",
    ),
];
/// Real Lancashire postcodes and their coordinates, so location checks agree.
const PLACES: [(&str, f64, f64); 4] = [
    ("PR1 3PB", 53.7596, -2.6986),
    ("BB2 3RX", 53.7438, -2.4913),
    ("LA1 2WB", 54.0465, -2.7983),
    ("FY1 3JL", 53.8140, -3.0487),
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An item's RPDE id: `{kind}-{key}`, or with `OA_BENCH_IDS=scattered` a hash of the key
/// (FNV-1a, mixed by splitmix64's finaliser), so that ids no longer follow the order items
/// arrive in.
fn rpde_id(kind: &str, key: &str) -> String {
    static SCATTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let scattered =
        *SCATTERED.get_or_init(|| std::env::var("OA_BENCH_IDS").is_ok_and(|v| v == "scattered"));
    if !scattered {
        return format!("{kind}-{key}");
    }
    let mut z = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("{kind}-{:016x}", z ^ (z >> 31))
}

/// A series and its `sessions` ScheduledSessions, varied by `k`.
fn series(k: usize, modified: usize) -> Value {
    let (activity_id, activity) = ACTIVITIES[k % ACTIVITIES.len()];
    let (postcode, lat, lng) = PLACES[k % PLACES.len()];
    let price = [0.0, 2.5, 3.0, 4.5, 6.0][k % 5];
    let level = ["Beginner", "Intermediate", "All levels"][k % 3];
    let min_age = [16, 18, 50][k % 3];
    json!({"state": "updated", "kind": "SessionSeries", "id": rpde_id("series", &k.to_string()), "modified": modified, "data": {
        "@context": ["https://openactive.io/", "https://openactive.io/ns-beta"],
        "@type": "SessionSeries", "@id": format!("https://bench.example/series/{k}"),
        "name": format!("{activity} at Venue {}", k % 997),
        "description": DESCRIPTIONS[k % DESCRIPTIONS.len()],
        "activity": [{"@type": "Concept", "@id": activity_id, "prefLabel": activity, "inScheme": "https://openactive.io/activity-list"}],
        "level": [level],
        "ageRange": {"@type": "QuantitativeValue", "minValue": min_age},
        "location": {"@type": "Place", "name": format!("Venue {}", k % 997),
                     "address": {"@type": "PostalAddress", "streetAddress": format!("{} High Street", k % 200), "addressLocality": "Preston", "postalCode": postcode},
                     "geo": {"@type": "GeoCoordinates", "latitude": lat + (k % 100) as f64 * 1e-4, "longitude": lng}},
        "organizer": {"@type": "Organization", "name": format!("Provider {}", k % 500), "url": format!("https://provider{}.example", k % 500), "email": "hello@provider.example"},
        "offers": [{"@type": "Offer", "name": "Adult", "price": price, "priceCurrency": "GBP"}],
        "beta:isWheelchairAccessible": k.is_multiple_of(4)
    }})
}

fn session(k: usize, j: usize, modified: usize, now: chrono::DateTime<chrono::Utc>) -> Value {
    let start = now + chrono::Duration::hours(1 + ((k * 7 + j * 24) % (27 * 24)) as i64);
    json!({"state": "updated", "kind": "ScheduledSession", "id": rpde_id("session", &format!("{k}-{j}")), "modified": modified, "data": {
        "@context": "https://openactive.io/",
        "@type": "ScheduledSession", "@id": format!("https://bench.example/sessions/{k}-{j}"),
        "superEvent": format!("https://bench.example/series/{k}"),
        "startDate": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "endDate": (start + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "duration": "PT1H", "maximumAttendeeCapacity": 20, "remainingAttendeeCapacity": (k + j) % 20
    }})
}

/// The pages of one feed, each naming the next; the last is empty and names itself.
fn pages(base: &str, feed: &str, items: impl Iterator<Item = Value>) -> Vec<Bytes> {
    let mut bodies = Vec::new();
    let mut batch = Vec::with_capacity(PAGE);
    let url = |n: usize| format!("{base}/{feed}/{n}");
    let mut items = items.peekable();
    while items.peek().is_some() {
        batch.clear();
        batch.extend(items.by_ref().take(PAGE));
        let next = url(bodies.len() + 1);
        bodies.push(Bytes::from(
            json!({"next": next, "items": batch, "license": "https://creativecommons.org/licenses/by/4.0/"}).to_string(),
        ));
    }
    let last = url(bodies.len());
    bodies.push(Bytes::from(
        json!({"next": last, "items": [], "license": "https://creativecommons.org/licenses/by/4.0/"})
            .to_string(),
    ));
    bodies
}

type Feeds = Arc<HashMap<String, Vec<Bytes>>>;

async fn serve_page(
    State(feeds): State<Feeds>,
    Path((feed, n)): Path<(String, usize)>,
) -> axum::response::Response {
    match feeds.get(&feed).and_then(|pages| pages.get(n)) {
        Some(body) => ([("content-type", "application/json")], body.clone()).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// Serves the feeds on its own runtime thread, so the publisher's work stays off the
/// harvester's measurements.
fn start_publisher(listener: std::net::TcpListener, feeds: Feeds) {
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let app = axum::Router::new()
                .route("/{feed}/{n}", axum::routing::get(serve_page))
                .with_state(feeds);
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app).await;
        });
    });
}

/// Runs `harvest --once` over the feeds into `database_url`; (seconds, CPU seconds, peak MB).
fn harvest_process(
    database_url: &str,
    feed_urls: &[String],
    dir: &std::path::Path,
) -> (f64, f64, f64) {
    let config = dir.join("bench-harvest.toml");
    let sources: String = feed_urls
        .iter()
        .map(|url| format!("[[sources]]\nfeed = \"{url}\"\n"))
        .collect();
    std::fs::write(&config, sources).expect("config");
    let started = Instant::now();
    let harvest = env!("CARGO_BIN_EXE_oa-aggregator");
    let under = std::env::var("OA_BENCH_HARVEST_UNDER").unwrap_or_default();
    let mut tool = under.split_whitespace();
    let mut command = match tool.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(tool).arg(harvest);
            command
        }
        None => Command::new(harvest),
    };
    let mut child = command
        .args(["harvest", "--once", "--config"])
        .arg(&config)
        .env("OA__DATABASE__URL", database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("harvest");
    let mut last = (0.0, 0.0);
    let status = loop {
        if let Some((cpu, peak)) = support::cpu_and_peak(child.id()) {
            last = (cpu, peak);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "harvest --once failed: {status}");
    (started.elapsed().as_secs_f64(), last.0, last.1)
}

/// Counts what a walk saw; optionally normalises each item (parents from the series feed).
struct CountingSink {
    normaliser: Option<OpenActiveNormaliser>,
    parents: Mutex<HashMap<String, Value>>,
    opportunities: Mutex<usize>,
}

#[async_trait]
impl PageSink for CountingSink {
    async fn apply(&self, _requested: &str, page: Arc<RpdePage>) -> Result<(), String> {
        let Some(normaliser) = &self.normaliser else {
            return Ok(());
        };
        let mut parents = self.parents.lock().map_err(|e| e.to_string())?;
        let items: Vec<_> = page.valid_items().map(oa_normalise::prepare).collect();
        let mut made = 0;
        let mut count = |normalised: Normalised| {
            if let Normalised::Opportunities(found) = normalised {
                made += found.len();
            }
        };
        // As the store does: the children of one stored parent together.
        let mut siblings: HashMap<&str, Vec<(&str, &Value)>> = HashMap::new();
        for item in &items {
            let Some(data) = &item.data else { continue };
            match item
                .parent_ref
                .as_deref()
                .filter(|id| parents.contains_key(*id))
            {
                Some(parent) => siblings.entry(parent).or_default().push((&item.kind, data)),
                None => count(normaliser.normalise(&item.kind, data, None)),
            }
        }
        for (parent, children) in &siblings {
            normaliser
                .normalise_siblings(children, &parents[*parent])
                .into_iter()
                .for_each(&mut count);
        }
        for item in &items {
            if item.role == ItemRole::Parent
                && let (Some(id), Some(data)) = (&item.data_id, &item.data)
            {
                parents.insert(id.clone(), data.clone());
            }
        }
        *self.opportunities.lock().map_err(|e| e.to_string())? += made;
        Ok(())
    }
}

async fn walk_in_process(feed_urls: &[String], normalise: bool) -> (f64, usize, usize) {
    let fetcher = Fetcher::new(FetchConfig::default()).expect("fetcher");
    let sink = CountingSink {
        normaliser: normalise.then(OpenActiveNormaliser::default),
        parents: Mutex::default(),
        opportunities: Mutex::default(),
    };
    let started = Instant::now();
    let mut items = 0;
    for url in feed_urls {
        items += walk_to_end(&fetcher, &sink, url).await.expect("walk").items;
    }
    let made = *sink.opportunities.lock().expect("count");
    (started.elapsed().as_secs_f64(), items, made)
}

/// The store the harvest process writes, as the bench reads it back.
enum Counted {
    Sqlite(String),
    Postgres(sqlx::PgPool),
}

impl Counted {
    async fn rows(&self, table: &str) -> usize {
        let sql = sqlx::AssertSqlSafe(format!("select count(*) from {table}"));
        let n: i64 = match self {
            Counted::Sqlite(url) => {
                let store = oa_store::SqliteStore::connect(url).await.expect("sqlite");
                sqlx::query_scalar(sql)
                    .fetch_one(store.writer_pool())
                    .await
                    .expect("count")
            }
            Counted::Postgres(pool) => sqlx::query_scalar(sql)
                .fetch_one(pool)
                .await
                .expect("count"),
        };
        usize::try_from(n).unwrap_or(0)
    }
}

/// A fresh store for the harvest process: its URL, and how to count what it stored.
async fn fresh_store(dir: &std::path::Path, n: usize) -> (String, Counted) {
    match std::env::var("OA_BENCH_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let (store, url) = support::fresh_pg_schema(&url, SCHEMA).await;
            (url, Counted::Postgres(store.pool().clone()))
        }
        _ => {
            let file = dir.join(format!("bench-harvest-{n}.db"));
            support::remove_sqlite(&file);
            let url = format!("sqlite://{}", file.display());
            (url.clone(), Counted::Sqlite(url))
        }
    }
}

#[tokio::main]
async fn main() {
    let series_count = env_usize("OA_BENCH_SERIES", 10_000);
    let per_series = env_usize("OA_BENCH_SESSIONS", 10);
    let now = chrono::Utc::now();
    // The pages name their next page by the publisher's address, so it listens first.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let publishers = env_usize("OA_BENCH_PUBLISHERS", 1).max(1);
    let generating = Instant::now();
    let mut feeds = HashMap::new();
    let mut feed_urls = Vec::new();
    // Publisher `p` publishes every `publishers`-th series with its sessions, as a series
    // feed and a sessions feed of its own.
    for p in 0..publishers {
        let (series_feed, sessions_feed) = if publishers == 1 {
            ("series".to_owned(), "sessions".to_owned())
        } else {
            (format!("series-{p}"), format!("sessions-{p}"))
        };
        let own = move |k: &usize| k % publishers == p;
        feeds.insert(
            series_feed.clone(),
            pages(
                &base,
                &series_feed,
                (0..series_count).filter(own).map(|k| series(k, k + 1)),
            ),
        );
        feeds.insert(
            sessions_feed.clone(),
            pages(
                &base,
                &sessions_feed,
                (0..series_count)
                    .filter(own)
                    .flat_map(|k| (0..per_series).map(move |j| (k, j)))
                    .enumerate()
                    .map(|(n, (k, j))| session(k, j, n + 1, now)),
            ),
        );
        feed_urls.push(format!("{base}/{series_feed}/0"));
        feed_urls.push(format!("{base}/{sessions_feed}/0"));
    }
    let items = series_count * (1 + per_series);
    let bytes: usize = feeds.values().flatten().map(Bytes::len).sum();
    println!(
        "generated {items} items ({series_count} series x {per_series} sessions, {publishers} publisher(s), {} feeds) in {} pages, {:.1} MB, in {:.1} s",
        feeds.len(),
        feeds.values().map(Vec::len).sum::<usize>(),
        bytes as f64 / 1e6,
        generating.elapsed().as_secs_f64()
    );
    start_publisher(listener, Arc::new(feeds));

    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (database_url, count) = fresh_store(&dir, items).await;
    let backend = if database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let server_before = support::local_postgres_cpu();
    let (seconds, cpu, peak) = harvest_process(&database_url, &feed_urls, &dir);
    // The harvest's backends have exited; their times reach the server's main process once
    // it has reaped them.
    std::thread::sleep(Duration::from_millis(200));
    let server = support::local_postgres_cpu() - server_before;
    let server = if backend == "PostgreSQL" && server > 0.0 {
        format!("; PostgreSQL server CPU {server:.1} s (every local postgres process)")
    } else {
        String::new()
    };
    println!(
        "harvest --once into {backend}: {items} items in {seconds:.1} s = {:.0} items/s; CPU {cpu:.1} s ({:.2} cores); peak RSS {peak:.0} MB{server}",
        items as f64 / seconds,
        cpu / seconds
    );
    let stored = count.rows("items").await;
    let opportunities = count.rows("opportunities").await;
    assert_eq!(stored, items, "every published item is stored");
    assert_eq!(
        opportunities,
        series_count * per_series,
        "every session is searchable"
    );

    for (normalise, what) in [
        (false, "fetch + parse"),
        (true, "fetch + parse + normalise"),
    ] {
        let (seconds, walked, made) = walk_in_process(&feed_urls, normalise).await;
        assert_eq!(walked, items);
        println!(
            "store disabled, {what}: {walked} items in {seconds:.2} s = {:.0} items/s{}",
            walked as f64 / seconds,
            if normalise {
                format!(" ({made} opportunities)")
            } else {
                String::new()
            }
        );
    }

    if let Counted::Sqlite(url) = &count
        && items <= CEILING_ITEMS
    {
        let harvested = std::path::PathBuf::from(url.trim_start_matches("sqlite://"));
        let fresh = dir.join("bench-harvest-ceiling.db");
        for (rows, what) in [
            (sqlite_ceiling::Rows::ItemsOnly, "the items' rows only"),
            (sqlite_ceiling::Rows::Everything, "everything a page writes"),
        ] {
            let (written, seconds) = sqlite_ceiling::replay(&harvested, &fresh, rows).await;
            assert_eq!(written, items, "every harvested item is written again");
            println!(
                "SQLite alone, the harvested rows written again ({what}): {written} items in {seconds:.2} s = {:.0} items/s",
                written as f64 / seconds
            );
        }
        support::remove_sqlite(&fresh);
    }
    if let Counted::Postgres(harvested) = &count
        && items <= CEILING_ITEMS
        && let Ok(url) = std::env::var("OA_BENCH_DATABASE_URL")
    {
        for connections in [1, 2] {
            let (written, seconds) =
                pg_ceiling::replay(&url, harvested, CEILING_SCHEMA, connections).await;
            assert_eq!(written, items, "every harvested item is written again");
            println!(
                "PostgreSQL alone, the harvested rows written again on {connections} connection(s): {written} items in {seconds:.2} s = {:.0} items/s",
                written as f64 / seconds
            );
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop schema if exists {CEILING_SCHEMA} cascade"
        )))
        .execute(harvested)
        .await
        .expect("drop the ceiling's schema");
    }
    if items > CEILING_ITEMS {
        println!("write ceiling: not measured above {CEILING_ITEMS} items");
    }
}
