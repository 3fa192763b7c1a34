//! `renormalise_all` (the `renormalise` command and the daily refresh): a whole pass over the
//! store, and a shutdown that stops it between batches, saying so.

use std::sync::Arc;

use oa_aggregator::harvest::Harvester;
use oa_aggregator::harvest::refresh::{BATCH, renormalise_all};
use oa_harvest::{FetchConfig, Fetcher, Shutdown, ShutdownTrigger};
use oa_store::{DiscoveredFeed, SqliteStore, Store};

/// A harvester over a store holding `count` events in one feed.
async fn harvester_with(count: usize) -> (Harvester, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("refresh.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("store"));
    let feed = store
        .sync_source_feeds(
            "feed:x",
            &[DiscoveredFeed {
                url: "https://p.example/events".into(),
                kind: None,
                publisher: None,
                dataset_site: None,
            }],
        )
        .await
        .expect("sync")
        .remove(0);
    let items: Vec<String> = (0..count)
        .map(|n| {
            format!(
                r#"{{"id":"e{n}","kind":"Event","state":"updated","modified":1,"data":{{"@type":"Event","name":"Walk {n}","startDate":"2030-01-08T10:00:00Z","location":{{"geo":{{"latitude":53.76,"longitude":-2.7}}}}}}}}"#
            )
        })
        .collect();
    let body = format!(r#"{{"next":"n","items":[{}]}}"#, items.join(","));
    let page = oa_model::parse_page(body.as_bytes()).expect("page");
    let harvester = Harvester {
        store: store.clone(),
        fetcher: Fetcher::new(FetchConfig::default()).expect("client"),
        normaliser: oa_normalise::OpenActiveNormaliser::default(),
        store_outage: oa_aggregator::harvest::STORE_OUTAGE,
        pages_in_memory: oa_aggregator::harvest::pages_in_memory(),
    };
    let prepared = page.valid_items().map(oa_normalise::prepare).collect();
    store
        .apply_page(&feed.as_ref(), prepared, &page.next, &harvester.normaliser)
        .await
        .expect("apply");
    (harvester, dir)
}

#[tokio::test]
async fn a_pass_reaches_every_item_across_batches() {
    let (harvester, _dir) = harvester_with(BATCH + 5).await;
    let summary = renormalise_all(&harvester, &Shutdown::never())
        .await
        .expect("pass");
    assert_eq!(summary.items, BATCH + 5);
    assert_eq!(summary.unchanged, BATCH + 5, "nothing changed since stored");
    assert!(!summary.stopped);
}

#[tokio::test]
async fn a_shutdown_already_requested_stops_the_pass_before_its_first_batch() {
    let (harvester, _dir) = harvester_with(3).await;
    let (trigger, shutdown) = ShutdownTrigger::new();
    trigger.trigger();
    let summary = renormalise_all(&harvester, &shutdown).await.expect("pass");
    assert!(summary.stopped);
    assert_eq!(summary.items, 0);
}
