//! `renormalise` over a large store on the embedded default (SQLite): stores N items
//! (1 SessionSeries per 9 ScheduledSessions, pages of 500), then renormalises them all in
//! the CLI's batches and reports items/s and the CPU seconds each pass took (the process's
//! utime + stime: steadier than wall time on a machine whose speed drifts). Release build:
//!
//!     cargo bench --bench renormalise             # 1,000,000 items
//!     OA_BENCH_ITEMS=200000 cargo bench --bench renormalise
//!     OA_BENCH_BATCH=5000 cargo bench --bench renormalise   # another batch size
//!     OA_BENCH_DB=/tmp/renormalise.db cargo bench --bench renormalise
//!         # keeps the store: a later run skips storing and first renormalises it back to
//!         # the default rules (an A/B of two builds then takes a minute a run, not two)
//!
//! The figures are recorded in docs/PERFORMANCE.md.

use std::time::Instant;

use oa_model::{DiscoveredFeed, parse_page};
use oa_normalise::OpenActiveNormaliser;
use oa_store::{SqliteStore, Store};
use serde_json::json;

mod support;

const PAGE: usize = 500;
/// The CLI's batch size, unless `OA_BENCH_BATCH` says otherwise.
const BATCH: usize = 2000;

fn item(n: usize) -> serde_json::Value {
    let series = n / 10;
    if n.is_multiple_of(10) {
        json!({"state": "updated", "kind": "SessionSeries", "id": format!("series-{series}"), "modified": n, "data": {
            "@type": "SessionSeries", "@id": format!("https://bench.example/series/{series}"),
            "name": "Walking Football", "description": "<p>Friendly, gentle and for all abilities. Tea &amp; a chat after.</p>",
            "activity": [{"prefLabel": "Walking Football"}],
            "location": {"name": "Park", "address": {"postalCode": "PR1 2XX"},
                         "geo": {"latitude": 53.70 + (series % 1000) as f64 / 10000.0, "longitude": -2.70}},
            "organizer": {"name": "Bench", "url": "https://bench.example"},
            "offers": [{"price": 2.5, "priceCurrency": "GBP"}]
        }})
    } else {
        json!({"state": "updated", "kind": "ScheduledSession", "id": format!("session-{n}"), "modified": n, "data": {
            "@type": "ScheduledSession", "@id": format!("https://bench.example/sessions/{n}"),
            "superEvent": format!("https://bench.example/series/{series}"),
            "startDate": format!("2030-01-{:02}T10:00:00Z", 1 + n % 28), "duration": "PT1H"
        }})
    }
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("OA_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("oa-bench-{}", std::process::id()));
    let kept = std::env::var_os("OA_BENCH_DB").map(std::path::PathBuf::from);
    let reused = kept.as_ref().is_some_and(|db| db.exists());
    let db = kept.clone().unwrap_or_else(|| {
        std::fs::create_dir_all(&dir).expect("dir");
        dir.join("bench.db")
    });
    let store = SqliteStore::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("store");
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

    if reused {
        // The passes of earlier runs logged every rewrite: as a server's hourly prune would.
        store.prune_changes(i64::MAX).await.expect("prune");
        renormalise(
            &store,
            &normaliser,
            total,
            "back to the default rules (a kept store)",
        )
        .await;
    } else {
        store_items(&store, &feed, &normaliser, total).await;
    }

    // An area lowers low_cost_max: every session's tags change.
    let edited = oa_normalise::TagRules::from_toml(
        &oa_normalise::tags::DEFAULT_RULES.replace("low_cost_max = 3.00", "low_cost_max = 2.00"),
    )
    .expect("edited rules");
    let edited = OpenActiveNormaliser::default().with_rules(edited);
    renormalise(
        &store,
        &edited,
        total,
        "after a rule change (every session rewritten)",
    )
    .await;
    renormalise(
        &store,
        &edited,
        total,
        "again, nothing changed (sessions compared, not rewritten)",
    )
    .await;
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Stores `total` items through the harvest's write path, a page at a time.
async fn store_items(
    store: &SqliteStore,
    feed: &oa_store::FeedRef,
    normaliser: &OpenActiveNormaliser,
    total: usize,
) {
    let started = Instant::now();
    for start in (0..total).step_by(PAGE) {
        let items: Vec<_> = (start..(start + PAGE).min(total)).map(item).collect();
        let body = json!({"next": format!("https://bench.example/feed?after={start}"), "items": items, "license": "L"}).to_string();
        let page = parse_page(body.as_bytes()).expect("page");
        let prepared = page.valid_items().map(oa_normalise::prepare).collect();
        store
            .apply_page(feed, prepared, &page.next, normaliser)
            .await
            .expect("apply");
    }
    let stored = started.elapsed();
    println!(
        "stored {total} items in {:.1} s ({:.0} items/s, harvest write path)",
        stored.as_secs_f64(),
        total as f64 / stored.as_secs_f64()
    );
}

async fn renormalise(
    store: &SqliteStore,
    normaliser: &OpenActiveNormaliser,
    total: usize,
    what: &str,
) {
    let cpu = || support::cpu_and_peak(std::process::id()).map_or(f64::NAN, |(cpu, _)| cpu);
    let cpu_before = cpu();
    let started = Instant::now();
    let (mut items, mut unchanged) = (0, 0);
    let batch_size = std::env::var("OA_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BATCH);
    store
        .renormalise_pass(None, batch_size, normaliser, &mut |batch| {
            items += batch.items;
            unchanged += batch.unchanged;
            true
        })
        .await
        .expect("pass");
    let took = started.elapsed();
    let cpu_used = cpu() - cpu_before;
    assert_eq!(
        items, total,
        "the store holds {items} items, not OA_BENCH_ITEMS={total} (a kept OA_BENCH_DB from a run of another size?)"
    );
    println!(
        "renormalised {items} items {what}: {:.1} s ({:.0} items/s, {unchanged} unchanged), CPU {cpu_used:.1} s",
        took.as_secs_f64(),
        items as f64 / took.as_secs_f64()
    );
}
