//! The store's behaviour, the same on every backend (SQLite always; PostgreSQL when
//! `OA_TEST_DATABASE_URL` is set).

mod support;

use std::collections::BTreeSet;

use oa_geo::Point;
use oa_normalise::OpenActiveNormaliser;
use oa_store::search::{SearchCursor, SearchRequest, SortOrder, search};
use oa_store::{ChangeBatch, DiscoveredFeed, FeedState};
use support::*;

static NORMALISER: std::sync::LazyLock<OpenActiveNormaliser> =
    std::sync::LazyLock::new(OpenActiveNormaliser::default);
const PRESTON: (f64, f64) = (53.7632, -2.7031);

/// The first batch of a `renormalise` over the whole store (up to 100 items).
async fn renormalise_first_batch(t: &TestStore) -> oa_store::RenormaliseBatch {
    t.store
        .renormalise_batch(None, 100, &*NORMALISER)
        .await
        .expect("batch")
}

async fn names(store: &dyn oa_store::Store) -> Vec<String> {
    let page = search(
        store,
        &oa_store::index::SessionIndex::new(),
        &SearchRequest {
            centre: Point::new(PRESTON.0, PRESTON.1),
            radius_km: 50.0,
            from: at(-48).timestamp(),
            to: at(24 * 30).timestamp(),
            filters: Default::default(),
            sort: SortOrder::Start,
            limit: 100,
            after: None,
            group: None,
        },
    )
    .await
    .expect("search");
    page.hits
        .into_iter()
        .filter_map(|h| h.candidate().expect("parses").opportunity.name)
        .collect()
}

#[tokio::test]
async fn page_stores_items_opportunities_and_cursor_together() {
    for t in stores("page_cursor").await {
        let feed = t.feed("https://p.example/events").await;
        let items = prepared(vec![
            event("a", 1, PRESTON.0, PRESTON.1, at(2)),
            event("b", 1, PRESTON.0, PRESTON.1, at(3)),
        ]);
        let outcome = t
            .store
            .apply_page(
                &feed,
                items,
                "https://p.example/events?afterChangeNumber=1",
                &*NORMALISER,
            )
            .await
            .expect("apply");
        assert_eq!(
            (outcome.applied, outcome.opportunities_written),
            (2, 2),
            "{}",
            t.name
        );
        let feeds = t.store.feeds().await.expect("feeds");
        assert_eq!(
            feeds[0].cursor.as_deref(),
            Some("https://p.example/events?afterChangeNumber=1")
        );
        assert_eq!(
            (feeds[0].items_stored, feeds[0].pages, feeds[0].state),
            (2, 1, FeedState::Ok)
        );
        assert_eq!(
            names(&*t.store).await,
            vec!["Event a", "Event b"],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn only_newer_modified_is_applied_and_deletes_are_not_resurrected() {
    for t in stores("modified_rules").await {
        let feed = t.feed("https://p.example/events").await;
        let big = 1_152_921_504_606_846_976_i64; // 2^60, as database rowversions reach
        let mut newer = event("a", big + 1, PRESTON.0, PRESTON.1, at(2));
        newer["data"]["name"] = "Renamed".into();
        t.apply(
            &feed,
            vec![event("a", big, PRESTON.0, PRESTON.1, at(2))],
            "n1",
        )
        .await;
        t.apply(&feed, vec![newer], "n2").await;
        let mut older = event("a", big - 1, PRESTON.0, PRESTON.1, at(2));
        older["data"]["name"] = "Stale".into();
        let outcome = t.apply(&feed, vec![older], "n3").await;
        assert_eq!(outcome.stale, 1);
        assert_eq!(names(&*t.store).await, vec!["Renamed"], "{}", t.name);

        t.apply(&feed, vec![deleted("a", "Event", big + 2)], "n4")
            .await;
        assert!(
            names(&*t.store).await.is_empty(),
            "{}: delete removes the opportunity",
            t.name
        );
        t.apply(
            &feed,
            vec![event("a", big + 1, PRESTON.0, PRESTON.1, at(2))],
            "n5",
        )
        .await;
        assert!(
            names(&*t.store).await.is_empty(),
            "{}: an older update never resurrects",
            t.name
        );
        let dump = t.store.dump().await.expect("dump");
        assert_eq!(dump.items[0].2, big + 2);
        assert_eq!(dump.items[0].3, "deleted");
    }
}

#[tokio::test]
async fn duplicate_ids_in_one_page_keep_the_greatest_modified() {
    for t in stores("dup_in_page").await {
        let feed = t.feed("https://p.example/events").await;
        let mut second = event("a", 5, PRESTON.0, PRESTON.1, at(2));
        second["data"]["name"] = "Second".into();
        let mut third = event("a", 4, PRESTON.0, PRESTON.1, at(2));
        third["data"]["name"] = "Older".into();
        t.apply(
            &feed,
            vec![event("a", 3, PRESTON.0, PRESTON.1, at(2)), second, third],
            "n",
        )
        .await;
        assert_eq!(names(&*t.store).await, vec!["Second"], "{}", t.name);
    }
}

#[tokio::test]
async fn child_before_parent_becomes_searchable_and_parent_changes_reach_children() {
    for t in stores("parent_child").await {
        let sessions = t.feed("https://p.example/sessions").await;
        let series_feed = t.feed("https://p.example/series").await;
        t.apply(
            &sessions,
            vec![session("s1", 1, "x", at(5)), session("s2", 1, "x", at(6))],
            "n",
        )
        .await;
        assert!(names(&*t.store).await.is_empty());
        let waiting = t.store.feeds().await.expect("feeds");
        assert_eq!(waiting[0].items_awaiting_parent, 2, "{}", t.name);

        let outcome = t
            .apply(
                &series_feed,
                vec![series("x", 1, "Walking Football", PRESTON.0, PRESTON.1)],
                "n",
            )
            .await;
        assert_eq!(outcome.children_recomputed, 2);
        assert_eq!(
            names(&*t.store).await,
            vec!["Walking Football", "Walking Football"],
            "{}",
            t.name
        );
        let feeds = t.store.feeds().await.expect("feeds");
        assert_eq!(feeds[0].items_awaiting_parent, 0);

        t.apply(
            &series_feed,
            vec![series("x", 2, "Walking Netball", PRESTON.0, PRESTON.1)],
            "n",
        )
        .await;
        assert_eq!(
            names(&*t.store).await,
            vec!["Walking Netball", "Walking Netball"],
            "{}",
            t.name
        );

        t.apply(&series_feed, vec![deleted("x", "SessionSeries", 3)], "n")
            .await;
        assert!(
            names(&*t.store).await.is_empty(),
            "{}: children of a deleted parent go too",
            t.name
        );
        let feeds = t.store.feeds().await.expect("feeds");
        assert_eq!(
            feeds[0].items_awaiting_parent, 2,
            "{}: and wait for it again",
            t.name
        );
    }
}

#[tokio::test]
async fn unusable_items_are_kept_with_a_reason_and_do_not_stop_the_page() {
    for t in stores("unusable").await {
        let feed = t.feed("https://p.example/events").await;
        let mut broken = event("bad", 1, PRESTON.0, PRESTON.1, at(2));
        broken["data"]["startDate"] = "someday".into();
        let outcome = t
            .apply(
                &feed,
                vec![broken, event("good", 1, PRESTON.0, PRESTON.1, at(2))],
                "n",
            )
            .await;
        assert_eq!(outcome.unusable, 1);
        assert_eq!(names(&*t.store).await, vec!["Event good"]);
        let feeds = t.store.feeds().await.expect("feeds");
        assert_eq!(
            (feeds[0].items_stored, feeds[0].items_unusable),
            (2, 1),
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_store_failure_mid_page_rolls_back_the_whole_page() {
    for t in stores("rollback").await {
        let feed = t.feed("https://p.example/events").await;
        t.apply(
            &feed,
            vec![event("a", 1, PRESTON.0, PRESTON.1, at(2))],
            "page2",
        )
        .await;
        let before = t.store.dump().await.expect("dump");
        t.fail_on_item("c").await;
        let page = prepared(vec![
            event("b", 2, PRESTON.0, PRESTON.1, at(2)),
            event("c", 2, PRESTON.0, PRESTON.1, at(3)),
        ]);
        let failed = t
            .store
            .apply_page(&feed, page.clone(), "page3", &*NORMALISER)
            .await;
        assert!(failed.is_err(), "{}", t.name);
        assert_eq!(
            t.store.dump().await.expect("dump"),
            before,
            "{}: nothing of the page landed",
            t.name
        );
        t.heal().await;
        t.store
            .apply_page(&feed, page, "page3", &*NORMALISER)
            .await
            .expect("apply");
        assert_eq!(
            names(&*t.store).await,
            vec!["Event a", "Event b", "Event c"]
        );
    }
}

/// A page several write chunks long: series, their sessions, events and deletions mixed.
fn long_page(modified: i64) -> Vec<serde_json::Value> {
    (0..330)
        .map(|n| match n % 11 {
            0 => series(&format!("x{n}"), modified, "Yoga", PRESTON.0, PRESTON.1),
            10 => deleted(&format!("gone{n}"), "Event", modified),
            k => session(
                &format!("s{n}"),
                modified,
                &format!("x{}", n - k),
                at(2 + k as i64),
            ),
        })
        .collect()
}

#[tokio::test]
async fn a_page_written_in_chunks_lands_whole_or_not_at_all() {
    for t in stores("chunks").await {
        let feed = t.feed("https://p.example/mixed").await;
        let before = t.store.dump().await.expect("dump");
        // The failure comes in the page's last chunk, after earlier chunks were written.
        t.fail_on_item("s320").await;
        let failed = t
            .store
            .apply_page(&feed, prepared(long_page(1)), "page2", &*NORMALISER)
            .await;
        assert!(failed.is_err(), "{}", t.name);
        assert_eq!(t.store.dump().await.expect("dump"), before, "{}", t.name);
        t.heal().await;
        let outcome = t
            .store
            .apply_page(&feed, prepared(long_page(1)), "page2", &*NORMALISER)
            .await
            .expect("apply");
        assert_eq!(
            (
                outcome.applied,
                outcome.deleted,
                outcome.opportunities_written
            ),
            (330, 30, 270),
            "{}",
            t.name
        );
        let dump = t.store.dump().await.expect("dump");
        assert_eq!(dump.items.len(), 330, "{}", t.name);
        assert_eq!(dump.opportunities.len(), 270, "{}", t.name);
        assert_eq!(dump.cursors[0].1.as_deref(), Some("page2"), "{}", t.name);
    }
}

/// Panics on the named item's data: a normaliser defect in the middle of a page.
struct PanicsOn(&'static str);

impl oa_model::Normaliser for PanicsOn {
    fn normalise(
        &self,
        kind: &str,
        item: &serde_json::Value,
        parent: Option<&serde_json::Value>,
    ) -> oa_model::Normalised {
        let id = item.get("@id").and_then(serde_json::Value::as_str);
        assert!(
            !id.is_some_and(|id| id.ends_with(self.0)),
            "normaliser defect"
        );
        NORMALISER.normalise(kind, item, parent)
    }
}

#[tokio::test]
async fn a_normaliser_panic_mid_page_writes_nothing_and_frees_the_writer() {
    for t in stores("normaliser_panic").await {
        let feed = t.feed("https://p.example/mixed").await;
        let before = t.store.dump().await.expect("dump");
        let store = t.store.clone();
        let page_feed = feed.clone();
        let panicked = tokio::spawn(async move {
            store
                .apply_page(
                    &page_feed,
                    prepared(long_page(1)),
                    "page2",
                    &PanicsOn("/s250"),
                )
                .await
        })
        .await;
        assert!(panicked.is_err_and(|e| e.is_panic()), "{}", t.name);
        assert_eq!(t.store.dump().await.expect("dump"), before, "{}", t.name);
        t.store
            .apply_page(&feed, prepared(long_page(1)), "page2", &*NORMALISER)
            .await
            .expect("the writer is free again");
        assert_eq!(t.store.dump().await.expect("dump").items.len(), 330);
    }
}

#[tokio::test]
async fn rediscovery_adds_revives_and_marks_vanished_without_duplicates() {
    for t in stores("rediscovery").await {
        let feed = |url: &str| DiscoveredFeed {
            url: url.into(),
            kind: Some("SessionSeries".into()),
            publisher: Some("P".into()),
            dataset_site: Some("https://p/".into()),
        };
        let first = t
            .store
            .sync_source_feeds(
                "dataset_site:https://p/",
                &[feed("https://p/a"), feed("https://p/b")],
            )
            .await
            .expect("sync");
        assert_eq!(first.len(), 2);
        let second = t
            .store
            .sync_source_feeds(
                "dataset_site:https://p/",
                &[feed("https://p/b"), feed("https://p/c")],
            )
            .await
            .expect("sync");
        let urls: Vec<&str> = second.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(urls, vec!["https://p/b", "https://p/c"], "{}", t.name);
        let all = t.store.feeds().await.expect("feeds");
        assert_eq!(all.len(), 3, "{}: never duplicates", t.name);
        let a = all.iter().find(|f| f.url == "https://p/a").expect("a kept");
        assert_eq!(a.state, FeedState::Vanished);
        assert!(a.vanished_at.is_some());
        let third = t
            .store
            .sync_source_feeds(
                "dataset_site:https://p/",
                &[
                    feed("https://p/a"),
                    feed("https://p/b"),
                    feed("https://p/c"),
                ],
            )
            .await
            .expect("sync");
        assert_eq!(third.len(), 3, "{}: a reappearing feed is revived", t.name);
    }
}

#[tokio::test]
async fn search_by_distance_radius_window_status_and_pages_without_gaps() {
    for t in stores("search").await {
        let feed = t.feed("https://p.example/events").await;
        // Points due north of Preston: 0.01 degree of latitude is 1.112 km.
        let mut items = Vec::new();
        for i in 0..12 {
            items.push(event(
                &format!("n{i:02}"),
                1,
                PRESTON.0 + 0.01 * f64::from(i),
                PRESTON.1,
                at(2 + i64::from(i)),
            ));
        }
        let mut cancelled = event("cancelled", 1, PRESTON.0, PRESTON.1, at(2));
        cancelled["data"]["eventStatus"] = "https://schema.org/EventCancelled".into();
        items.push(cancelled);
        items.push(event("past", 1, PRESTON.0, PRESTON.1, at(-3)));
        items.push(event("far-future", 1, PRESTON.0, PRESTON.1, at(24 * 20)));
        t.apply(&feed, items, "n").await;

        let request =
            |radius_km: f64, sort: SortOrder, after: Option<SearchCursor>| SearchRequest {
                centre: Point::new(PRESTON.0, PRESTON.1),
                radius_km,
                from: at(0).timestamp(),
                to: at(24 * 14).timestamp(),
                filters: Default::default(),
                sort,
                limit: 5,
                after,
                group: None,
            };
        // 5.56 km holds n00..n05 (n05 is at 5.560 km; n06 at 6.672 km is outside).
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = search(
                &*t.store,
                &t.index,
                &request(5.6, SortOrder::Start, after.clone()),
            )
            .await
            .expect("search");
            seen.extend(page.hits.iter().map(|h| {
                (
                    h.candidate()
                        .expect("parses")
                        .opportunity
                        .name
                        .unwrap_or_default(),
                    (h.distance_km * 10.0).round() / 10.0,
                )
            }));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let expected: Vec<(String, f64)> = (0..6)
            .map(|i| {
                (
                    format!("Event n{i:02}"),
                    (f64::from(i) * 1.112 * 10.0).round() / 10.0,
                )
            })
            .collect();
        assert_eq!(seen, expected, "{}", t.name);

        // Radius edge: at n05's distance it is included, a metre less excludes it. (The
        // index holds coordinates to 10^-7 degrees, so "at" is to the millimetre.)
        let d5 = oa_geo::distance_km(
            Point::new(PRESTON.0, PRESTON.1),
            Point::new(PRESTON.0 + 0.05, PRESTON.1),
        );
        let all = |radius| {
            let mut r = request(radius, SortOrder::Distance, None);
            r.limit = 100;
            r
        };
        assert_eq!(
            search(&*t.store, &t.index, &all(d5 + 0.000_001))
                .await
                .expect("search")
                .hits
                .len(),
            6
        );
        assert_eq!(
            search(&*t.store, &t.index, &all(d5 - 0.001))
                .await
                .expect("search")
                .hits
                .len(),
            5
        );

        // Distance order pages without gaps or repeats.
        let mut by_distance = Vec::new();
        let mut after = None;
        loop {
            let mut r = request(50.0, SortOrder::Distance, after.clone());
            r.limit = 4;
            let page = search(&*t.store, &t.index, &r).await.expect("search");
            by_distance.extend(page.hits.iter().map(|h| {
                h.candidate()
                    .expect("parses")
                    .opportunity
                    .name
                    .unwrap_or_default()
            }));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let expected: Vec<String> = (0..12).map(|i| format!("Event n{i:02}")).collect();
        assert_eq!(
            by_distance, expected,
            "{}: cancelled, past and beyond-window excluded",
            t.name
        );
    }
}

#[tokio::test]
async fn opportunity_detail_carries_its_source_and_parent() {
    for t in stores("detail").await {
        let sessions = t.feed("https://p.example/sessions").await;
        let series_feed = t.feed("https://p.example/series").await;
        t.apply(
            &series_feed,
            vec![series("x", 1, "Yoga", PRESTON.0, PRESTON.1)],
            "n",
        )
        .await;
        t.apply(&sessions, vec![session("s1", 7, "x", at(5))], "n")
            .await;
        let id = oa_model::opportunity_id("https://p.example/sessions", "s1", None);
        let detail = t.store.opportunity(&id).await.expect("found");
        assert_eq!((detail.item_id.as_str(), detail.modified), ("s1", 7));
        assert!(detail.item_data.is_some_and(|d| d.contains("superEvent")));
        assert!(
            detail.parent_data.is_some_and(|d| d.contains("Yoga")),
            "{}",
            t.name
        );
        assert!(matches!(
            t.store.opportunity("nope").await,
            Err(oa_store::StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn documents_read_by_id_carry_their_exact_columns_past_one_query() {
    // Over 500 ids (one query's worth), and coordinates with 17 significant digits: what
    // the search's page read returns must be what was stored, to the last bit.
    for t in stores("docs_by_id").await {
        let feed = t.feed("https://p.example/events").await;
        let lat = |n: usize| 53.123_456_789_012_345 + n as f64 * 1e-9;
        let events: Vec<_> = (0..520)
            .map(|n| event(&format!("e{n}"), 3, lat(n), -2.712_345_678_901_234_5, at(5)))
            .collect();
        t.apply(&feed, events, "n").await;
        let mut ids: Vec<String> = (0..520)
            .map(|n| oa_model::opportunity_id("https://p.example/events", &format!("e{n}"), None))
            .collect();
        ids.push("no-such-opportunity".into());
        let docs = t.store.candidate_docs_by_id(&ids).await.expect("read");
        assert_eq!(docs.len(), 520, "{}", t.name);
        for n in [0, 1, 499, 500, 519] {
            let doc = docs.iter().find(|d| d.id == ids[n]).expect("read");
            assert_eq!(doc.lat.to_bits(), lat(n).to_bits(), "{} e{n}", t.name);
            assert_eq!(doc.lng.to_bits(), (-2.712_345_678_901_234_5f64).to_bits());
            assert_eq!((doc.start_at, doc.modified), (at(5).timestamp(), 3));
            assert_eq!(doc.feed_url, "https://p.example/events");
            assert_eq!(doc.publisher.as_deref(), Some("Test Publisher"));
            let parsed = doc.parse().expect("parses");
            assert_eq!(
                parsed.opportunity.name.as_deref(),
                Some(format!("Event e{n}").as_str())
            );
        }
        // On PostgreSQL these reads run on connections of their own (in the test's schema,
        // as the 520 found show) that plan a statement once, not on every execution.
        if let Some(pg) = &t.pg {
            let mode = |pool: &sqlx::PgPool| {
                let pool = pool.clone();
                async move {
                    let (mode,): (String,) = sqlx::query_as("show plan_cache_mode")
                        .fetch_one(&pool)
                        .await
                        .expect("show");
                    mode
                }
            };
            assert_eq!(mode(pg.lookup_pool()).await, "force_generic_plan");
            assert_eq!(mode(pg.pool()).await, "auto");
        }
    }
}

#[tokio::test]
async fn reads_by_id_see_each_commit_and_hold_no_snapshot_after_them() {
    // On SQLite these reads run on connections kept from one search to the next: each must
    // see what was committed since, and none may keep a read transaction open (it would
    // stop the WAL from being checkpointed and rewound).
    for t in stores("reads_fresh").await {
        let feed = t.feed("https://p.example/events").await;
        let id = oa_model::opportunity_id("https://p.example/events", "e1", None);
        let start_of = |docs: Vec<oa_store::CandidateDoc>| docs[0].start_at;
        let occurrence_of = |o: Vec<oa_store::Occurrence>| o[0].start_at;
        for (modified, day) in [(1, 5), (2, 6), (3, 7)] {
            t.apply(
                &feed,
                vec![event("e1", modified, PRESTON.0, PRESTON.1, at(day))],
                &format!("n{modified}"),
            )
            .await;
            let ids = [id.clone()];
            let docs = t.store.candidate_docs_by_id(&ids).await.expect("docs");
            assert_eq!(start_of(docs), at(day).timestamp(), "{}", t.name);
            let occurrences = t.store.occurrences_by_id(&ids).await.expect("occurrences");
            assert_eq!(
                occurrence_of(occurrences),
                at(day).timestamp(),
                "{}",
                t.name
            );
        }
        if let Some(sqlite) = &t.sqlite {
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("pragma wal_checkpoint(truncate)")
                .fetch_one(sqlite.writer_pool())
                .await
                .expect("checkpoint");
            assert_eq!(busy, 0, "a reader still holds a snapshot");
        }
    }
}

#[tokio::test]
async fn a_result_document_that_is_not_json_is_an_error_that_names_it() {
    // Results are written from their documents' text: a broken one read from the store must
    // be an error naming it, never a page of invalid JSON. (The index drops a session whose
    // document does not parse when it loads; this is a document broken after that.)
    for t in stores("broken_doc").await {
        let feed = t.feed("https://p.example/events").await;
        let events = vec![
            event("good", 1, PRESTON.0, PRESTON.1, at(5)),
            event("bad", 1, PRESTON.0, PRESTON.1, at(6)),
        ];
        t.apply(&feed, events, "n").await;
        let id = |item: &str| oa_model::opportunity_id("https://p.example/events", item, None);
        let (good, bad) = (id("good"), id("bad"));
        t.edit(
            "update opportunities set doc = '{\"kind\": \"event\", broken}' where id = ",
            &bad,
        )
        .await;
        let number = |id: &str| oa_store::index::id_number(id).expect("an issued id");
        let index = oa_store::index::SessionIndex::new();
        match index
            .documents(t.store.as_ref(), &[number(&good), number(&bad)])
            .await
        {
            Err(oa_store::StoreError::Corrupt(why)) => assert!(why.contains(&bad), "{why}"),
            other => panic!("{}: {other:?}", t.name),
        }
        let read = index
            .documents(t.store.as_ref(), &[number(&good)])
            .await
            .expect("the good one alone");
        assert_eq!(read.len(), 1, "{}", t.name);
    }
}

#[tokio::test]
async fn imported_postcodes_are_upserted_and_listed() {
    for t in stores("postcodes").await {
        let first = vec![
            ("PR1 2XX".to_owned(), 53.76, -2.70),
            ("LA1 1AA".to_owned(), 54.05, -2.80),
        ];
        assert_eq!(t.store.import_postcodes(&first).await.expect("import"), 2);
        let again = vec![("PR1 2XX".to_owned(), 53.77, -2.71)];
        t.store.import_postcodes(&again).await.expect("re-import");
        let mut stored = t.store.postcodes().await.expect("list");
        stored.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            stored,
            [
                ("LA1 1AA".to_owned(), 54.05, -2.80),
                ("PR1 2XX".to_owned(), 53.77, -2.71),
            ],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_stored_item_that_is_not_json_stops_renormalising_with_an_error_naming_it() {
    for t in stores("broken_item").await {
        t.series_with_sessions(5, 2, PRESTON).await;
        let before = t.store.dump().await.expect("dump");
        let broken = before.items[3].1.clone();
        // Broken JSON on both backends; no data at all on SQLite, whose batch read sends
        // each item's data apart from its fields.
        let mut edits = vec!["'{\"@type\": \"ScheduledSession\", broken'"];
        if t.sqlite.is_some() {
            edits.push("null");
        }
        for data in edits {
            t.edit(
                &format!("update items set data = {data} where item_id = "),
                &broken,
            )
            .await;
            match t.store.renormalise_batch(None, 100, &*NORMALISER).await {
                Err(oa_store::StoreError::Corrupt(why)) => {
                    assert!(why.contains(&broken), "{}, data {data}: {why}", t.name);
                }
                other => panic!("{}, data {data}: {other:?}", t.name),
            }
            // Nothing of the batch was written.
            let after = t.store.dump().await.expect("dump");
            assert_eq!(after.opportunities, before.opportunities, "{}", t.name);
        }
    }
}

/// A whole renormalise pass in batches of `limit`: (items, batches).
async fn renormalise_in_batches(
    store: &dyn oa_store::Store,
    limit: usize,
    normaliser: &dyn oa_model::Normaliser,
) -> (usize, usize) {
    let (mut after, mut items, mut batches) = (None, 0, 0);
    loop {
        let batch = store
            .renormalise_batch(after.take(), limit, normaliser)
            .await
            .expect("batch");
        items += batch.items;
        batches += 1;
        match batch.next {
            Some(next) => after = Some(next),
            None => return (items, batches),
        }
    }
}

#[tokio::test]
async fn renormalising_in_batches_reaches_every_live_item_once() {
    for t in stores("renormalise").await {
        t.series_with_sessions(5, 2, PRESTON).await;
        let before = t.store.dump().await.expect("dump");

        let (items, batches) = renormalise_in_batches(t.store.as_ref(), 2, &Marking).await;
        assert_eq!(items, 6, "one series and five sessions: {}", t.name);
        assert!(batches >= 3, "{}", t.name);
        let names = names(t.store.as_ref()).await;
        assert_eq!(names.len(), 5);
        assert!(
            names.iter().all(|n| n.ends_with("(renormalised)")),
            "{names:?}"
        );

        // Back to the real normaliser: every session is rewritten, and the store is exactly
        // as it was before the marking pass.
        let back = renormalise_first_batch(&t).await;
        assert_eq!(
            back.unchanged, 1,
            "only the series (no sessions either way): {}",
            t.name
        );
        assert_eq!(t.store.dump().await.expect("dump"), before, "{}", t.name);
        // Again with nothing changed: every item is recognised and not rewritten.
        let again = renormalise_first_batch(&t).await;
        assert_eq!((again.items, again.unchanged), (6, 6), "{}", t.name);
        assert_eq!(t.store.dump().await.expect("dump"), before, "{}", t.name);
        // A status that changes is written, both ways (unchanged ones are not rewritten).
        t.store
            .renormalise_batch(None, 100, &Refusing)
            .await
            .expect("batch");
        let refused = t.store.dump().await.expect("dump");
        let statuses: Vec<&str> = refused.items.iter().map(|i| i.4.as_str()).collect();
        assert_eq!(statuses, ["unusable"; 6], "{}", t.name);
        renormalise_first_batch(&t).await;
        assert_eq!(t.store.dump().await.expect("dump"), before, "{}", t.name);
    }
}

/// The shipped normaliser, with every opportunity under another occurrence key, so another id.
struct Reoccurring;

impl oa_model::Normaliser for Reoccurring {
    fn normalise(
        &self,
        kind: &str,
        item: &serde_json::Value,
        parent: Option<&serde_json::Value>,
    ) -> oa_model::Normalised {
        shipped_altered(kind, item, parent, |o| {
            o.occurrence = Some(format!("moved{}", o.occurrence.as_deref().unwrap_or("")));
        })
    }
}

#[tokio::test]
async fn renormalising_drops_the_opportunities_whose_ids_went_and_rewrites_the_rest_in_place() {
    for t in stores("renormalise-ids").await {
        t.series_with_sessions(3, 2, PRESTON).await;
        let before = t.store.dump().await.expect("dump");
        let ids = |dump: &oa_store::StoreDump| -> BTreeSet<String> {
            dump.opportunities.iter().map(|o| o.0.clone()).collect()
        };
        // Every id changes: the old opportunities go, none is left beside its successor.
        renormalise_in_batches(t.store.as_ref(), 2, &Reoccurring).await;
        let moved = t.store.dump().await.expect("dump");
        assert_eq!(moved.opportunities.len(), 3, "{}", t.name);
        assert!(ids(&moved).is_disjoint(&ids(&before)), "{}", t.name);
        // The same ids with other documents: rewritten where they are.
        renormalise_in_batches(t.store.as_ref(), 2, &Marking).await;
        renormalise_in_batches(t.store.as_ref(), 2, &*NORMALISER).await;
        let after_marking = t.store.dump().await.expect("dump");
        assert_eq!(after_marking, before, "{}", t.name);
        // And to other ids again: the same store as the first time.
        renormalise_in_batches(t.store.as_ref(), 2, &Reoccurring).await;
        assert_eq!(t.store.dump().await.expect("dump"), moved, "{}", t.name);
    }
}

#[tokio::test]
async fn renormalise_batches_larger_than_a_read_part_keep_keyset_order() {
    // SQLite reads a batch as JSON parts of 100 items: batches of 130 and 1,000 cross them.
    for t in stores("renormalise-parts").await {
        t.series_with_sessions(250, 2, PRESTON).await;
        let (items, batches) = renormalise_in_batches(t.store.as_ref(), 130, &Marking).await;
        assert_eq!((items, batches), (251, 2), "{}", t.name);
        let names = names(t.store.as_ref()).await;
        assert_eq!(names.len(), 100, "the first page of search: {}", t.name);
        assert!(names.iter().all(|n| n.ends_with("(renormalised)")));
        let whole = t
            .store
            .renormalise_batch(None, 1000, &*NORMALISER)
            .await
            .expect("batch");
        assert_eq!((whole.items, whole.next), (251, None), "{}", t.name);
        let dump = t.store.dump().await.expect("dump");
        let marked = dump
            .opportunities
            .iter()
            .filter(|(_, _, doc)| doc.contains("(renormalised)"))
            .count();
        assert_eq!((dump.opportunities.len(), marked), (250, 0), "{}", t.name);
    }
}

#[tokio::test]
async fn a_page_applied_between_renormalise_batches_is_not_undone() {
    for t in stores("renormalise-read-ahead").await {
        let feed = t.feed("https://p.example/events").await;
        let events: Vec<_> = (0..4)
            .map(|n| event(&format!("e{n}"), 1, PRESTON.0, PRESTON.1, at(5 + n)))
            .collect();
        t.apply(&feed, events, "n").await;
        // The first batch (e0, e1); SQLite reads the next one (e2, e3) meanwhile.
        let first = t
            .store
            .renormalise_batch(None, 2, &Marking)
            .await
            .expect("batch");
        // Then the publisher renames e2.
        let mut renamed = event("e2", 2, PRESTON.0, PRESTON.1, at(7));
        renamed["data"]["name"] = "Renamed".into();
        t.apply(&feed, vec![renamed], "n").await;
        t.store
            .renormalise_batch(first.next, 2, &Marking)
            .await
            .expect("batch");
        let mut names = names(t.store.as_ref()).await;
        names.sort();
        assert_eq!(
            names,
            [
                "Event e0 (renormalised)",
                "Event e1 (renormalised)",
                "Event e3 (renormalised)",
                "Renamed (renormalised)"
            ],
            "{}",
            t.name
        );
    }
}

/// Finds every item unusable.
struct Refusing;

impl oa_model::Normaliser for Refusing {
    fn normalise(
        &self,
        _: &str,
        _: &serde_json::Value,
        _: Option<&serde_json::Value>,
    ) -> oa_model::Normalised {
        oa_model::Normalised::Unusable("refused".into())
    }
}

#[tokio::test]
async fn item_problems_follow_the_item_and_are_counted_and_paged_per_feed() {
    for t in stores("problems").await {
        let sessions = t.feed("https://p.example/sessions").await;
        let series_feed = t.feed("https://p.example/series").await;
        t.apply(&sessions, vec![session("s1", 1, "x", at(5))], "n")
            .await;
        let problems = t
            .store
            .feed_problems(sessions.id, None, 10)
            .await
            .expect("list");
        let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["orphan_child"], "{}", t.name);
        assert_eq!(problems[0].detail, "waiting for https://p.example/series/x");

        t.apply(
            &series_feed,
            vec![series("x", 1, "Yoga", PRESTON.0, PRESTON.1)],
            "n",
        )
        .await;
        let problems = t
            .store
            .feed_problems(sessions.id, None, 10)
            .await
            .expect("list");
        let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
        // The series gives a location and price but no activity or organiser contact.
        assert_eq!(
            codes,
            ["missing_activity", "missing_organizer_contact"],
            "{}",
            t.name
        );

        let counts = t.store.problem_counts().await.expect("counts");
        assert!(
            counts.contains(&(sessions.id, "missing_activity".to_owned(), 1)),
            "{counts:?}"
        );
        assert!(!counts.iter().any(|(_, code, _)| code == "orphan_child"));

        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = t
                .store
                .feed_problems(sessions.id, after.clone(), 1)
                .await
                .expect("page");
            let Some(last) = page.last() else { break };
            after = Some((last.item_id.clone(), last.code.clone()));
            paged.extend(page);
        }
        assert_eq!(
            paged, problems,
            "paging one at a time sees each problem once"
        );

        t.apply(&sessions, vec![deleted("s1", "ScheduledSession", 2)], "n")
            .await;
        assert!(
            t.store
                .feed_problems(sessions.id, None, 10)
                .await
                .expect("list")
                .is_empty()
        );
    }
}

/// Whether each opportunity of the item `item_id` is marked an occurrence (PostgreSQL).
async fn occurrence_flags(pg: &oa_store::PgStore, item_id: &str) -> Vec<bool> {
    sqlx::query_scalar("select occurrence from opportunities where item_id = $1")
        .bind(item_id)
        .fetch_all(pg.pool())
        .await
        .expect("flags")
}

#[tokio::test]
async fn a_schedule_is_expanded_until_the_publisher_sends_scheduled_sessions() {
    for t in stores("schedule").await {
        let series_feed = t.feed("https://p.example/series").await;
        let sessions = t.feed("https://p.example/sessions").await;
        t.apply(&series_feed, vec![scheduled_series("x", 1, PRESTON)], "n")
            .await;
        let generated = names(t.store.as_ref()).await;
        assert!(
            (4..=5).contains(&generated.len()) && generated.iter().all(|n| n == "Scheduled Yoga"),
            "weekly for 28 days: {generated:?} ({})",
            t.name
        );
        if let Some(pg) = &t.pg {
            // The series' sessions are occurrences, found through the index on their source.
            let flags = occurrence_flags(pg, "x").await;
            assert_eq!(flags, vec![true; generated.len()]);
        }

        // Renormalising keeps them while no ScheduledSession exists.
        renormalise_first_batch(&t).await;
        assert_eq!(names(t.store.as_ref()).await.len(), generated.len());

        // The publisher starts sending ScheduledSessions: they replace the generated ones,
        // and renormalising the series does not bring the generated ones back.
        t.apply(&sessions, vec![session("s1", 1, "x", at(30))], "n")
            .await;
        if let Some(pg) = &t.pg {
            let own = occurrence_flags(pg, "s1").await;
            assert_eq!(own, [false], "a session's own row is found by its id");
        }
        assert_eq!(
            names(t.store.as_ref()).await,
            ["Scheduled Yoga"],
            "{}",
            t.name
        );
        renormalise_first_batch(&t).await;
        assert_eq!(
            names(t.store.as_ref()).await,
            ["Scheduled Yoga"],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn stored_sessions_that_come_out_the_same_are_not_rewritten() {
    for t in stores("unchanged-children").await {
        let (series_feed, _) = t.series_with_sessions(3, 1, PRESTON).await;
        let mark = t.store.changes_since(None).await.expect("changes").mark;
        // On PostgreSQL a mark is the oldest transaction running anywhere on the server, so
        // while another test's transaction runs it also covers the sessions just stored.
        let ids = |changes: ChangeBatch| changes.ids.into_iter().collect::<BTreeSet<_>>();
        let already = ids(t.store.changes_since(Some(mark)).await.expect("changes"));

        // The series is published again as it was: its sessions are recomputed, not rewritten.
        t.apply(
            &series_feed,
            vec![series("x", 2, "Yoga", PRESTON.0, PRESTON.1)],
            "n",
        )
        .await;
        let changes = t.store.changes_since(Some(mark)).await.expect("changes");
        let mark = changes.mark;
        let rewritten: Vec<String> = ids(changes).difference(&already).cloned().collect();
        assert!(rewritten.is_empty(), "{rewritten:?} ({})", t.name);

        // A real change to the series rewrites each of them.
        t.apply(
            &series_feed,
            vec![series("x", 3, "Gentle Yoga", PRESTON.0, PRESTON.1)],
            "n",
        )
        .await;
        let changes = t.store.changes_since(Some(mark)).await.expect("changes");
        assert_eq!(changes.ids.len(), 3, "{}", t.name);
        assert_eq!(
            names(t.store.as_ref()).await,
            ["Gentle Yoga"; 3],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn the_change_log_is_stamped_with_when_it_was_written_and_pruned_by_it() {
    for t in stores("change-clock").await {
        let mark = t.store.changes_since(None).await.expect("changes").mark;
        t.series_with_sessions(2, 1, PRESTON).await;
        let written = |changes: ChangeBatch| changes.ids.len();
        let now = chrono::Utc::now().timestamp();
        // Rows an hour old go; these were written just now, so they stay.
        t.store.prune_changes(now - 3_600).await.expect("prune");
        let kept = written(t.store.changes_since(Some(mark)).await.expect("changes"));
        assert_eq!(kept, 2, "{}", t.name);
        // Stamped no later than now: pruning before a minute from now takes them all.
        let pruned = t.store.prune_changes(now + 60).await.expect("prune");
        assert!(pruned >= 1, "{pruned} ({})", t.name);
        let left = written(t.store.changes_since(Some(mark)).await.expect("changes"));
        assert_eq!(left, 0, "{}", t.name);
    }
}

/// Writes a change-log record naming `ids`, as one statement's would.
async fn log_record(t: &TestStore, ids: Vec<String>) {
    if let Some(sqlite) = &t.sqlite {
        sqlx::query("insert into opportunity_changes (at, ids) values (unixepoch(), ?)")
            .bind(serde_json::to_string(&ids).expect("json"))
            .execute(sqlite.writer_pool())
            .await
            .expect("record");
    } else if let Some(pg) = &t.pg {
        sqlx::query("insert into opportunity_changes (ids) values ($1)")
            .bind(ids)
            .execute(pg.pool())
            .await
            .expect("record");
    }
}

#[tokio::test]
async fn change_records_are_read_id_by_id_and_too_many_say_reload() {
    for t in stores("change-records").await {
        let ids = |from: usize, n: usize| -> Vec<String> {
            (from..from + n).map(|i| format!("{i:016x}")).collect()
        };
        let mark = t.store.changes_since(None).await.expect("changes").mark;
        log_record(&t, ids(0, 2)).await;
        log_record(&t, ids(1, 2)).await;
        let read = t.store.changes_since(Some(mark)).await.expect("changes");
        let named: BTreeSet<String> = read.ids.iter().cloned().collect();
        assert_eq!(named, ids(0, 3).into_iter().collect(), "{}", t.name);
        assert_eq!(read.ids.len(), 3, "each id once ({})", t.name);
        assert!(!read.overflow, "{}", t.name);

        // Two records that together name more than one read returns: reload instead.
        let half = oa_store::MAX_CHANGES / 2 + 1;
        log_record(&t, ids(10, half)).await;
        log_record(&t, ids(10 + half, half)).await;
        let read = t
            .store
            .changes_since(Some(read.mark))
            .await
            .expect("changes");
        assert!(read.overflow, "{}", t.name);
    }
}

#[tokio::test]
async fn a_mark_read_before_the_database_recovered_from_a_crash_asks_for_a_reload() {
    for t in stores("change-incarnation").await {
        // SQLite's reader is the process that writes the log: it starts again with it.
        let Some(pg) = &t.pg else { continue };
        let mark = t.store.changes_since(None).await.expect("changes").mark;
        log_record(&t, vec!["00000000000000aa".into()]).await;
        let read = t.store.changes_since(Some(mark)).await.expect("changes");
        assert!(!read.overflow);
        assert_eq!(read.ids, ["00000000000000aa"]);
        assert_eq!(read.mark.incarnation, mark.incarnation);

        // What crash recovery does to an unlogged table (a clean restart keeps it).
        sqlx::query("truncate server_incarnation")
            .execute(pg.pool())
            .await
            .expect("truncate");
        let after = t
            .store
            .changes_since(Some(read.mark))
            .await
            .expect("changes");
        assert!(
            after.overflow,
            "a mark from before the recovery must reload"
        );
        assert!(after.ids.is_empty());

        // A mark read since reads on as before.
        assert_ne!(after.mark.incarnation, mark.incarnation);
        log_record(&t, vec!["00000000000000bb".into()]).await;
        let read = t
            .store
            .changes_since(Some(after.mark))
            .await
            .expect("changes");
        assert!(!read.overflow);
        // A mark on PostgreSQL is the oldest transaction running anywhere on the server, so
        // while another test's transaction runs it may read the first record again.
        assert!(
            read.ids.iter().any(|id| id == "00000000000000bb"),
            "{:?}",
            read.ids
        );
    }
}

#[tokio::test]
async fn an_updated_item_keeps_only_its_new_opportunities_and_problems() {
    for t in stores("replace").await {
        let feed = t.feed("https://p.example/events").await;
        let with = |modified: i64, description: &str, starts: &[i64]| {
            let subs: Vec<_> = starts
                .iter()
                .map(|h| serde_json::json!({"@type": "Event", "@id": format!("https://p.example/events/e/{h}"), "startDate": at(*h).to_rfc3339(), "duration": "PT1H"}))
                .collect();
            serde_json::json!({"state": "updated", "kind": "Event", "id": "e", "modified": modified, "data": {
                "@type": "Event", "@id": "https://p.example/events/e", "name": "Festival", "description": description,
                "location": {"name": "Hall", "geo": {"latitude": PRESTON.0, "longitude": PRESTON.1}},
                "subEvent": subs
            }})
        };
        let codes = |problems: Vec<oa_store::ItemProblem>| {
            let mut codes: Vec<String> = problems.into_iter().map(|p| p.code).collect();
            codes.sort();
            codes
        };
        t.apply(&feed, vec![with(1, "<p>Come along</p>", &[5, 6, 7])], "n")
            .await;
        assert_eq!(names(t.store.as_ref()).await.len(), 3, "{}", t.name);
        let before = codes(
            t.store
                .feed_problems(feed.id, None, 50)
                .await
                .expect("problems"),
        );
        assert!(before.contains(&"html_in_text".to_owned()), "{before:?}");

        // One sub-event and the HTML go; what stays is updated in place.
        t.apply(&feed, vec![with(2, "Come along", &[5, 7])], "n")
            .await;
        assert_eq!(names(t.store.as_ref()).await.len(), 2, "{}", t.name);
        let after = codes(
            t.store
                .feed_problems(feed.id, None, 50)
                .await
                .expect("problems"),
        );
        let expected: Vec<String> = before.into_iter().filter(|c| c != "html_in_text").collect();
        assert!(!expected.is_empty(), "some problem stays: {}", t.name);
        assert_eq!(after, expected, "{}", t.name);
    }
}

#[tokio::test]
async fn a_series_and_its_first_session_in_one_page_generate_nothing() {
    for t in stores("schedule-one-page").await {
        let feed = t.feed("https://p.example/everything").await;
        t.apply(
            &feed,
            vec![
                scheduled_series("x", 1, PRESTON),
                session("s1", 1, "x", at(30)),
            ],
            "n",
        )
        .await;
        assert_eq!(
            names(t.store.as_ref()).await,
            ["Scheduled Yoga"],
            "{}",
            t.name
        );

        // The session many chunks after its series, in the same page.
        let mut page = vec![scheduled_series("y", 1, PRESTON)];
        page.extend((0..600).map(|n| series(&format!("filler{n}"), 1, "Filler", 0.0, 0.0)));
        page.push(session("s2", 1, "y", at(31)));
        t.apply(&feed, page, "n").await;
        assert_eq!(names(t.store.as_ref()).await.len(), 2, "{}", t.name);
    }
}

#[tokio::test]
async fn a_harvested_page_stores_the_digests_of_what_it_wrote() {
    for t in stores("page-digests").await {
        let feed = t.feed("https://p.example/everything").await;
        t.apply(
            &feed,
            vec![
                scheduled_series("x", 1, PRESTON),
                series("y", 1, "Yoga", PRESTON.0, PRESTON.1),
                session("s1", 1, "y", at(30)),
                session("s2", 1, "y", at(31)),
            ],
            "n",
        )
        .await;
        assert!(names(t.store.as_ref()).await.len() >= 6, "{}", t.name);
        // Digests are taken beside the normaliser, not in the writer: each must describe
        // the rows the page stored (the generated sessions included), or renormalise would
        // rewrite the item.
        let batch = renormalise_first_batch(&t).await;
        assert_eq!((batch.items, batch.unchanged), (4, 4), "{}", t.name);
    }
}

#[tokio::test]
async fn a_series_whose_generated_sessions_the_writer_drops_stores_the_digest_of_what_stayed() {
    for t in stores("dropped-digests").await {
        let series_feed = t.feed("https://p.example/series").await;
        let sessions = t.feed("https://p.example/sessions").await;
        // A stored child the normaliser cannot use: the series' schedule is expanded beside
        // it, and the writer then drops those sessions (the publisher sends its own).
        let mut unusable = session("s1", 1, "x", at(30));
        unusable["data"]
            .as_object_mut()
            .expect("data")
            .remove("startDate");
        t.apply(&sessions, vec![unusable], "n").await;
        t.apply(&series_feed, vec![scheduled_series("x", 1, PRESTON)], "n")
            .await;
        assert!(names(t.store.as_ref()).await.is_empty(), "{}", t.name);
        // The digests taken beside the normaliser counted the dropped sessions: the writer
        // takes them again, or renormalise would find the series changed.
        let batch = renormalise_first_batch(&t).await;
        assert_eq!((batch.items, batch.unchanged), (2, 2), "{}", t.name);
    }
}

#[tokio::test]
async fn a_series_left_without_sessions_gets_its_generated_ones_back_on_renormalise() {
    for t in stores("schedule-back").await {
        let series_feed = t.feed("https://p.example/series").await;
        let sessions = t.feed("https://p.example/sessions").await;
        t.apply(&series_feed, vec![scheduled_series("x", 1, PRESTON)], "n")
            .await;
        let generated = names(t.store.as_ref()).await.len();
        assert!(generated >= 4, "{}", t.name);
        t.apply(&sessions, vec![session("s1", 1, "x", at(30))], "n")
            .await;
        t.apply(&sessions, vec![deleted("s1", "ScheduledSession", 2)], "n")
            .await;
        // Deleting the generated sessions made the series' stored digest stale: it must not
        // let renormalise take the series for unchanged.
        let batch = renormalise_first_batch(&t).await;
        assert_eq!(batch.unchanged, 0, "{}", t.name);
        assert_eq!(names(t.store.as_ref()).await.len(), generated, "{}", t.name);
    }
}

#[tokio::test]
async fn grouping_by_series_gives_one_result_per_series_with_its_next_occurrences() {
    for t in stores("group").await {
        let series_feed = t.feed("https://p.example/series").await;
        let sessions = t.feed("https://p.example/sessions").await;
        t.apply(
            &series_feed,
            vec![
                series("x", 1, "Yoga", PRESTON.0, PRESTON.1),
                series("y", 1, "Bowls", PRESTON.0, PRESTON.1),
            ],
            "n",
        )
        .await;
        let mut items: Vec<_> = (0..3)
            .map(|n| session(&format!("x{n}"), 1, "x", at(10 + n)))
            .collect();
        items.extend((0..2).map(|n| session(&format!("y{n}"), 1, "y", at(5 + n * 10))));
        t.apply(&sessions, items, "n").await;
        let request = SearchRequest {
            centre: Point::new(PRESTON.0, PRESTON.1),
            radius_km: 5.0,
            from: at(0).timestamp(),
            to: at(24 * 7).timestamp(),
            filters: Default::default(),
            sort: SortOrder::Start,
            limit: 10,
            after: None,
            group: Some(2),
        };
        let page = search(t.store.as_ref(), &t.index, &request)
            .await
            .expect("search");
        assert_eq!(page.total, 2, "{}", t.name);
        let shape: Vec<(String, usize)> = page
            .hits
            .iter()
            .map(|h| {
                (
                    h.candidate()
                        .expect("parses")
                        .opportunity
                        .name
                        .unwrap_or_default(),
                    h.later.len(),
                )
            })
            .collect();
        // Bowls' first occurrence (in 5 h) is sooner than Yoga's (in 10 h).
        assert_eq!(
            shape,
            [("Bowls".to_owned(), 1), ("Yoga".to_owned(), 1)],
            "{}",
            t.name
        );
        assert!(page.hits[1].later[0].start_at > page.hits[1].document.start_at);
    }
}

/// Every page of a search, following its cursors.
async fn every_page(t: &TestStore, mut request: SearchRequest) -> Vec<oa_store::search::SearchHit> {
    let mut hits = Vec::new();
    loop {
        let page = search(&*t.store, &t.index, &request).await.expect("search");
        hits.extend(page.hits);
        match page.next {
            Some(next) => request.after = Some(next),
            None => return hits,
        }
    }
}

#[tokio::test]
async fn small_pages_equal_one_sorted_page_in_every_order_with_ties_and_groups() {
    for t in stores("paging").await {
        let series_feed = t.feed("https://p.example/series").await;
        let sessions = t.feed("https://p.example/sessions").await;
        // 12 series on 4 spots (equal distances), 8 sessions each on a few start hours
        // (equal starts across series), shuffled by a fixed rule.
        let series_items = (0..12)
            .map(|n| {
                let spot = f64::from(n % 4) * 0.01;
                series(
                    &format!("s{n}"),
                    1,
                    &format!("S{n}"),
                    PRESTON.0 + spot,
                    PRESTON.1,
                )
            })
            .collect();
        t.apply(&series_feed, series_items, "n").await;
        let items = (0..96)
            .map(|k: i64| {
                let shuffled = (k * 37) % 96;
                let (n, m) = (shuffled % 12, shuffled / 12);
                session(
                    &format!("s{n}-{m}"),
                    1,
                    &format!("s{n}"),
                    at(1 + (n * 5 + m * 3) % 9),
                )
            })
            .collect();
        t.apply(&sessions, items, "n").await;
        for (sort, group) in [
            (SortOrder::Start, None),
            (SortOrder::Distance, None),
            (SortOrder::Start, Some(3)),
            (SortOrder::Distance, Some(3)),
        ] {
            let request = |limit| SearchRequest {
                centre: Point::new(PRESTON.0, PRESTON.1),
                radius_km: 10.0,
                from: at(0).timestamp(),
                to: at(24).timestamp(),
                filters: Default::default(),
                sort,
                limit,
                after: None,
                group,
            };
            let whole = search(&*t.store, &t.index, &request(1000))
                .await
                .expect("search");
            let key = |h: &oa_store::search::SearchHit| {
                let later: Vec<String> = h.later.iter().map(|o| o.id.clone()).collect();
                (h.document.id.clone(), later)
            };
            let expected: Vec<_> = whole.hits.iter().map(key).collect();
            assert_eq!(whole.total, expected.len(), "{}", t.name);
            assert_eq!(expected.len(), if group.is_some() { 12 } else { 96 });
            // The one big page is in order, with ids breaking ties.
            let order: Vec<(i64, u64, String)> = whole
                .hits
                .iter()
                .map(|h| match sort {
                    SortOrder::Start => (h.document.start_at, 0, h.document.id.clone()),
                    SortOrder::Distance => (0, (h.distance_km * 1e9) as u64, h.document.id.clone()),
                })
                .collect();
            assert!(order.is_sorted(), "{} {sort:?} {group:?}", t.name);
            if group.is_some() {
                // Each group holds its series' three soonest sessions, soonest first.
                let mut ungrouped = request(1000);
                ungrouped.group = None;
                ungrouped.sort = SortOrder::Start;
                let all = search(&*t.store, &t.index, &ungrouped)
                    .await
                    .expect("search");
                for (head, later) in &expected {
                    let series = |id: &str| {
                        all.hits
                            .iter()
                            .find(|h| h.document.id == id)
                            .and_then(|h| h.candidate().expect("parses").opportunity.series_id)
                    };
                    let soonest: Vec<String> = all
                        .hits
                        .iter()
                        .filter(|h| {
                            h.candidate().expect("parses").opportunity.series_id == series(head)
                        })
                        .take(3)
                        .map(|h| h.document.id.clone())
                        .collect();
                    let group: Vec<String> = std::iter::once(head.clone())
                        .chain(later.iter().cloned())
                        .collect();
                    assert_eq!(group, soonest, "{} {sort:?}", t.name);
                }
            }
            for limit in [1, 5, 7] {
                let paged: Vec<_> = every_page(&t, request(limit))
                    .await
                    .iter()
                    .map(key)
                    .collect();
                assert_eq!(
                    paged, expected,
                    "{} {sort:?} {group:?} limit {limit}",
                    t.name
                );
            }
        }
    }
}

#[tokio::test]
async fn a_grouped_series_lists_later_occurrences_with_the_ends_the_store_has() {
    for t in stores("group-ends").await {
        let series_feed = t.feed("https://p.example/series").await;
        let sessions = t.feed("https://p.example/sessions").await;
        t.apply(
            &series_feed,
            vec![series("x", 1, "Yoga", PRESTON.0, PRESTON.1)],
            "n",
        )
        .await;
        let with_end = |id: &str, start: chrono::DateTime<chrono::Utc>, end: Option<String>| {
            let mut item = session(id, 1, "x", start);
            let data = item["data"].as_object_mut().expect("data");
            data.remove("duration");
            if let Some(end) = end {
                data.insert("endDate".into(), end.into());
            }
            item
        };
        let items = vec![
            session("first", 1, "x", at(2)),
            // An hour: kept in the index.
            session("hour", 1, "x", at(3)),
            // 90 seconds: not whole minutes, so read from the store.
            with_end(
                "odd",
                at(4),
                Some((at(4) + chrono::Duration::seconds(90)).to_rfc3339()),
            ),
            // No end at all.
            with_end("open", at(5), None),
        ];
        t.apply(&sessions, items, "n").await;
        let request = SearchRequest {
            centre: Point::new(PRESTON.0, PRESTON.1),
            radius_km: 5.0,
            from: at(0).timestamp(),
            to: at(24).timestamp(),
            filters: Default::default(),
            sort: SortOrder::Start,
            limit: 10,
            after: None,
            group: Some(4),
        };
        let page = search(t.store.as_ref(), &t.index, &request)
            .await
            .expect("search");
        assert_eq!(page.hits.len(), 1, "{}", t.name);
        let later = &page.hits[0].later;
        let ids: Vec<String> = later.iter().map(|o| o.id.clone()).collect();
        let mut stored = t.store.occurrences_by_id(&ids).await.expect("occurrences");
        stored.sort_by_key(|o| o.start_at);
        assert_eq!(later, &stored, "{}", t.name);
        let ends: Vec<Option<i64>> = later
            .iter()
            .map(|o| o.end_at.map(|e| e - o.start_at))
            .collect();
        assert_eq!(ends, [Some(3600), Some(90), None], "{}", t.name);
    }
}

#[tokio::test]
async fn the_provider_register_updates_on_reimport_and_keeps_link_decisions() {
    for t in stores("providers").await {
        let provider = |key: &str, name: &str, website: Option<&str>| oa_store::NewProvider {
            key: key.into(),
            name: name.into(),
            postcode: Some("PR1 2XX".into()),
            website: website.map(str::to_owned),
            email: None,
            kind: Some("club".into()),
            extra: "{}".into(),
        };
        let first = [
            provider("a|pr1 2xx", "Alpha Club", None),
            provider("b|pr1 2xx", "Beta CIC", None),
        ];
        assert_eq!(t.store.import_providers(&first).await.expect("import"), 2);
        let again = [provider(
            "a|pr1 2xx",
            "Alpha Walking Club",
            Some("https://alpha.example"),
        )];
        assert_eq!(
            t.store.import_providers(&again).await.expect("re-import"),
            0,
            "{}",
            t.name
        );
        let stored = t.store.providers().await.expect("list");
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[0].name, "Alpha Walking Club");
        assert_eq!(stored[0].website.as_deref(), Some("https://alpha.example"));

        t.store
            .set_provider_link(stored[1].id, "Beta Community Sport", true)
            .await
            .expect("link");
        t.store
            .set_provider_link(stored[1].id, "Beta Community Sport", false)
            .await
            .expect("unlink");
        assert_eq!(
            t.store.provider_links().await.expect("links"),
            [(stored[1].id, "Beta Community Sport".to_owned(), false)]
        );
        assert!(matches!(
            t.store.set_provider_link(999_999, "x", true).await,
            Err(oa_store::StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn sqlite_checkpoints_its_wal_in_the_background_not_in_the_writer() {
    let t = stores("checkpoint").await.remove(0);
    let sqlite = t.sqlite.as_ref().expect("the first store is SQLite");
    let (_, _, file): (i64, String, String) = sqlx::query_as("pragma database_list")
        .fetch_one(sqlite.writer_pool())
        .await
        .expect("database list");
    let (autocheckpoint,): (i64,) = sqlx::query_as("pragma wal_autocheckpoint")
        .fetch_one(sqlite.writer_pool())
        .await
        .expect("pragma");
    assert_eq!(
        autocheckpoint, 0,
        "the writer never stops a commit to checkpoint"
    );
    let before = std::fs::metadata(&file).expect("db file").len();
    let feed = t.feed("https://p.example/events").await;
    let items = (0..200)
        .map(|n| event(&format!("e{n}"), 1, 53.76, -2.70, at(2)))
        .collect();
    t.apply(&feed, items, "n1").await;
    // The pages are in the WAL; the background checkpoint copies them into the file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&file).expect("db file").len() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the WAL was not checkpointed into {file}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
