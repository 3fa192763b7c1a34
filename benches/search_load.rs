//! Link-worker queries under load, as issue 4 asks: N upcoming sessions (default 1,000,000:
//! 100,000 SessionSeries of 10 ScheduledSessions) spread over England in proportion to its
//! postcodes, stored through the harvester's own write path; then the real `oa-aggregator
//! serve` process answers `wrk` (Debian package `wrk`) over loopback, and its resident memory
//! is read from /proc. Release build:
//!
//!     cargo bench --bench search_load                                   # SQLite, 1M
//!     OA_BENCH_SESSIONS=100000 cargo bench --bench search_load
//!     OA_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench search_load
//!
//! PostgreSQL runs in its own schema (`oa_bench_load`, dropped first). Results are recorded
//! in docs/PERFORMANCE.md.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oa_model::{DiscoveredFeed, parse_page};
use oa_normalise::OpenActiveNormaliser;
use oa_store::{PgStore, SqliteStore, Store};
use serde_json::{Value, json};

mod support;

const SECTORS: &str = include_str!("../fixtures/geo/postcode-sectors-england.csv");
const SESSIONS_PER_SERIES: usize = 10;
const SERIES_PER_PAGE: usize = 50;
const SCHEMA: &str = "oa_bench_load";
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

struct Sector {
    code: String,
    lat: f64,
    lng: f64,
    /// Postcodes in the sector, as a stand-in for how many people live there.
    weight: u64,
}

fn sectors() -> Vec<Sector> {
    SECTORS
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split(',');
            Some(Sector {
                code: f.next()?.to_owned(),
                lat: f.next()?.parse().ok()?,
                lng: f.next()?.parse().ok()?,
                weight: f.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// A deterministic pseudo-random number for `n` (SplitMix64).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A series and its sessions, placed in a sector chosen in proportion to its postcodes.
fn series_items(
    k: usize,
    sectors: &[Sector],
    cumulative: &[u64],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Value> {
    let total = *cumulative.last().unwrap_or(&1);
    let pick = mix(k as u64) % total;
    let sector = &sectors[cumulative
        .partition_point(|&c| c <= pick)
        .min(sectors.len() - 1)];
    let jitter = |salt: u64| (mix(k as u64 ^ salt) % 10_000) as f64 / 10_000.0 * 0.01 - 0.005;
    let (lat, lng) = (sector.lat + jitter(1), sector.lng + jitter(2));
    let series_id = format!("https://bench.example/series/{k}");
    let mut items = vec![
        json!({"state": "updated", "kind": "SessionSeries", "id": format!("s{k}"), "modified": k, "data": {
            "@type": "SessionSeries", "@id": series_id,
            "name": format!("{} at venue {k}", ACTIVITIES[k % 6]),
            "description": DESCRIPTIONS[k % 4],
            "activity": [{"prefLabel": ACTIVITIES[k % 6]}],
            "location": {"name": format!("Venue {k}"), "address": {"postalCode": format!("{}AA", sector.code)},
                         "geo": {"latitude": lat, "longitude": lng}},
            "organizer": {"@type": "Organization", "name": format!("Provider {}", k % 5_000), "url": "https://bench.example"},
            "offers": [{"price": (k % 7) as f64, "priceCurrency": "GBP"}]
        }}),
    ];
    for j in 0..SESSIONS_PER_SERIES {
        let minutes = 60 + (mix((k * SESSIONS_PER_SERIES + j) as u64) % (28 * 24 * 60)) as i64;
        let start = now + chrono::Duration::minutes(minutes - minutes % 15);
        items.push(json!({"state": "updated", "kind": "ScheduledSession", "id": format!("s{k}-{j}"), "modified": k, "data": {
            "@type": "ScheduledSession", "@id": format!("https://bench.example/sessions/{k}-{j}"),
            "superEvent": series_id, "startDate": start.to_rfc3339(), "duration": "PT1H"
        }}));
    }
    items
}

async fn load(store: &dyn Store, sessions: usize) {
    let sectors = sectors();
    let cumulative: Vec<u64> = sectors
        .iter()
        .scan(0u64, |sum, s| {
            *sum += s.weight;
            Some(*sum)
        })
        .collect();
    let feed = store
        .sync_source_feeds(
            "feed:bench",
            &[DiscoveredFeed {
                url: "https://bench.example/feed".into(),
                kind: None,
                publisher: Some("Bench Leisure".into()),
                dataset_site: None,
            }],
        )
        .await
        .expect("feed")
        .remove(0)
        .as_ref();
    let normaliser = OpenActiveNormaliser::default();
    let now = chrono::Utc::now();
    let series = sessions / SESSIONS_PER_SERIES;
    let started = Instant::now();
    for first in (0..series).step_by(SERIES_PER_PAGE) {
        let items: Vec<Value> = (first..(first + SERIES_PER_PAGE).min(series))
            .flat_map(|k| series_items(k, &sectors, &cumulative, now))
            .collect();
        let body = json!({"next": format!("https://bench.example/feed?after={first}"), "items": items, "license": "L"}).to_string();
        let page = parse_page(body.as_bytes()).expect("page");
        let prepared = page.valid_items().map(oa_normalise::prepare).collect();
        store
            .apply_page(&feed, prepared, &page.next, &normaliser)
            .await
            .expect("apply");
    }
    // The bench publisher is not running: the server must not try to harvest it.
    store
        .record_feed_event(
            feed.id,
            &oa_store::FeedEvent::Gone {
                error: "bench data".into(),
            },
        )
        .await
        .expect("feed event");
    println!(
        "stored {} series and {} sessions in {:.1} s",
        series,
        series * SESSIONS_PER_SERIES,
        started.elapsed().as_secs_f64()
    );
}

/// The server's count of result documents read from memory and from the store.
async fn documents_read(client: &reqwest::Client, base: &str) -> (f64, f64) {
    let metrics = match client.get(format!("{base}/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let count = |from: &str| {
        let prefix = format!("oa_search_documents_read_total{{from=\"{from}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|n| n.parse().ok())
            .unwrap_or(f64::NAN)
    };
    (count("memory"), count("store"))
}

/// The `VmRSS` and `VmHWM` (peak) of a process, in MB.
fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Paths for one query kind, each centred on a different populous sector: `places` of
/// them, spread over the busiest sectors.
fn paths(kind: &str, sectors: &[Sector], places: usize) -> Vec<String> {
    let mut busy: Vec<&Sector> = sectors.iter().collect();
    busy.sort_by(|a, b| b.weight.cmp(&a.weight).then_with(|| a.code.cmp(&b.code)));
    busy.iter()
        .step_by((3_700 / places).max(1))
        .take(places)
        .map(|s| match kind {
            "radius" => format!(
                "/v1/sessions?lat={:.4}&lng={:.4}&radius_km=5&tags=social",
                s.lat, s.lng
            ),
            "postcode" => format!(
                "/v1/sessions?postcode={}AA&activity=walking&free=true",
                s.code.replace(' ', "%20")
            ),
            _ => format!(
                "/v1/sessions?lat={:.4}&lng={:.4}&radius_km=10&group=series",
                s.lat, s.lng
            ),
        })
        .collect()
}

/// Runs wrk for ten seconds over the paths with this many connections; returns (p50 ms,
/// p99 ms, requests/s, errors).
fn wrk(
    base: &str,
    paths: &[String],
    dir: &std::path::Path,
    name: &str,
    connections: usize,
) -> (f64, f64, f64, String) {
    let script = dir.join(format!("{name}.lua"));
    let list: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
    std::fs::write(
        &script,
        format!(
            "local paths = {{{}}}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(\"GET\", paths[(n % #paths) + 1])\nend\n",
            list.join(",")
        ),
    )
    .expect("script");
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            "-d10s",
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(base)
        .output()
        .expect("wrk (install Debian's `wrk` package)");
    let text = String::from_utf8_lossy(&output.stdout);
    let ms = |label: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split_whitespace().nth(1))
            .map_or(f64::NAN, |v| {
                let (number, unit) =
                    v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
                let number: f64 = number.parse().unwrap_or(f64::NAN);
                match unit {
                    "us" => number / 1000.0,
                    "s" => number * 1000.0,
                    _ => number,
                }
            })
    };
    let per_second = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    let errors = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .collect::<Vec<_>>()
        .join("; ");
    (ms("50%"), ms("99%"), per_second, errors)
}

#[tokio::main]
async fn main() {
    let sessions: usize = std::env::var("OA_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // Set OA_BENCH_REUSE=1 to query the data a previous run stored (loading a million
    // sessions takes minutes); sessions are dated from when they were stored.
    let reuse = std::env::var("OA_BENCH_REUSE").is_ok_and(|v| v == "1");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (store, serve_url, stored): (Arc<dyn Store>, String, bool) =
        match std::env::var("OA_BENCH_DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => {
                let admin = PgStore::connect(&url).await.expect("postgres");
                let (exists,): (bool,) = sqlx::query_as(
                "select exists (select 1 from information_schema.schemata where schema_name = $1)",
            )
            .bind(SCHEMA)
            .fetch_one(admin.pool())
            .await
            .expect("schema query");
                let (store, serve_url) = if reuse && exists {
                    let store = PgStore::connect_in_schema(&url, SCHEMA)
                        .await
                        .expect("schema");
                    (store, support::in_schema(&url, SCHEMA))
                } else {
                    support::fresh_pg_schema(&url, SCHEMA).await
                };
                (Arc::new(store), serve_url, reuse && exists)
            }
            _ => {
                let file = dir.join(format!("search-load-{sessions}.db"));
                let exists = file.exists();
                if !(reuse && exists) {
                    support::remove_sqlite(&file);
                }
                let url = format!("sqlite://{}", file.display());
                (
                    Arc::new(SqliteStore::connect(&url).await.expect("sqlite")),
                    url,
                    reuse && exists,
                )
            }
        };
    if stored {
        println!("reusing the sessions a previous run stored");
    } else {
        load(store.as_ref(), sessions).await;
    }
    drop(store);
    // Freshly loaded tables carry the planner estimates of empty ones until autovacuum
    // analyses them (p99 36-45 ms instead of 5-10 ms), and until autovacuum has vacuumed a
    // million new rows, running beside the queries, the first read of each row also writes
    // its page's hint bits (series 2,442 req/s right after a load, 3,719 once settled). A
    // deployment gets past both by itself; the bench measures after them.
    if let Ok(url) = std::env::var("OA_BENCH_DATABASE_URL")
        && url.starts_with("postgres")
    {
        let store = PgStore::connect_in_schema(&url, SCHEMA)
            .await
            .expect("schema");
        sqlx::query("vacuum analyze")
            .execute(store.pool())
            .await
            .expect("vacuum analyze");
    }

    let port = 18_000 + (std::process::id() % 2_000) as u16;
    let listen = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let mut server = Command::new(env!("CARGO_BIN_EXE_oa-aggregator"))
        .arg("serve")
        .env("OA__DATABASE__URL", &serve_url)
        .env("OA__SERVER__LISTEN", &listen)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("server");
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    loop {
        if client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (rss, _) = memory_mb(server.id());
    println!(
        "server ready (index loaded) in {:.1} s, resident {rss:.0} MB",
        started.elapsed().as_secs_f64()
    );
    let sectors = sectors();
    // 100 places: an area's link workers asking about the same neighbourhoods, whose
    // result documents stay in the server's cache. 2,000 places: 40,000 distinct result
    // documents, far more than the cache keeps, so most are read from the store.
    for (kind, name, places) in [
        ("radius", "5 km + 14 days + tag social", 100),
        ("postcode", "postcode + activity walking + free", 100),
        ("series", "10 km, group=series", 100),
        ("radius", "5 km + 14 days + tag social", 2_000),
        ("postcode", "postcode + activity walking + free", 2_000),
        ("series", "10 km, group=series", 2_000),
    ] {
        let paths = paths(kind, &sectors, places);
        // How much each query finds, so the figures are for real work.
        let mut totals = Vec::new();
        for path in &paths {
            let response = client
                .get(format!("{base}{path}"))
                .send()
                .await
                .expect("query");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            let body: Value =
                serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
            totals.push(body["total"].as_u64().unwrap_or(0));
        }
        totals.sort_unstable();
        println!(
            "{name}, {places} places: matches per query: median {}, max {}",
            totals[totals.len() / 2],
            totals[totals.len() - 1]
        );
        // Latency at a moderate load, then throughput with the machine saturated.
        for connections in [4, 16] {
            let before = documents_read(&client, &base).await;
            let script = format!("{kind}-{places}");
            let (p50, p99, per_second, errors) = wrk(&base, &paths, &dir, &script, connections);
            let (memory, store) = documents_read(&client, &base).await;
            let from_memory =
                (memory - before.0) / ((memory + store) - (before.0 + before.1)).max(1.0);
            println!(
                "  {connections:>2} connections: p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  {per_second:>8.0} req/s  documents from memory {:.0} % {errors}",
                100.0 * from_memory
            );
        }
    }
    let (rss, peak) = memory_mb(server.id());
    println!("server resident memory: {rss:.0} MB now, {peak:.0} MB peak");
    let _ = server.kill();
    let _ = server.wait();
}
