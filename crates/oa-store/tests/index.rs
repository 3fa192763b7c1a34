//! The in-memory search index follows the store: a page's additions, moves, cancellations
//! and deletes at once in the writing process, and another process's writes within the
//! poll interval, on both backends.

mod support;

use std::time::Duration;

use oa_geo::Point;
use oa_normalise::OpenActiveNormaliser;
use oa_store::index::SessionIndex;
use oa_store::search::{SearchRequest, SortOrder, search};
use support::*;

const PRESTON: (f64, f64) = (53.7632, -2.7031);

async fn names(t: &TestStore, index: &SessionIndex) -> Vec<String> {
    let request = SearchRequest {
        centre: Point::new(PRESTON.0, PRESTON.1),
        radius_km: 20.0,
        from: at(0).timestamp(),
        to: at(24 * 14).timestamp(),
        filters: Default::default(),
        sort: SortOrder::Start,
        limit: 100,
        after: None,
        group: None,
    };
    let page = search(t.store.as_ref(), index, &request)
        .await
        .expect("search");
    assert_eq!(page.total, page.hits.len());
    page.hits
        .iter()
        .map(|h| {
            h.candidate()
                .expect("parses")
                .opportunity
                .name
                .unwrap_or_default()
        })
        .collect()
}

/// Another process applies the page; waits out the index's poll interval.
async fn written_elsewhere(
    t: &TestStore,
    feed: &oa_store::FeedRef,
    items: Vec<serde_json::Value>,
    next: &str,
) {
    let other = t.other_process().await;
    other
        .apply_page(
            feed,
            prepared(items),
            next,
            &OpenActiveNormaliser::default(),
        )
        .await
        .expect("apply");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
}

#[tokio::test]
async fn the_index_follows_every_write_in_this_process_and_in_others() {
    for t in stores("index").await {
        let feed = t.feed("https://p.example/events").await;
        let near = |id: &str, modified: i64, hours: i64| {
            event(id, modified, PRESTON.0 + 0.01, PRESTON.1, at(hours))
        };
        t.apply(
            &feed,
            vec![near("a", 1, 2), near("b", 1, 3), near("c", 1, 4)],
            "n1",
        )
        .await;
        assert_eq!(
            names(&t, &t.index).await,
            ["Event a", "Event b", "Event c"],
            "{}",
            t.name
        );

        // b moves 110 km north, c is cancelled, a is deleted, d arrives.
        let moved = event("b", 2, PRESTON.0 + 1.0, PRESTON.1, at(3));
        let mut cancelled = near("c", 2, 4);
        cancelled["data"]["eventStatus"] = "https://schema.org/EventCancelled".into();
        t.apply(
            &feed,
            vec![moved, cancelled, deleted("a", "Event", 2), near("d", 2, 5)],
            "n2",
        )
        .await;
        assert_eq!(names(&t, &t.index).await, ["Event d"], "{}", t.name);

        // Another process writes; this one has written nothing since, so only the poll
        // finds it.
        written_elsewhere(&t, &feed, vec![near("e", 3, 6)], "n3").await;
        assert_eq!(
            names(&t, &t.index).await,
            ["Event d", "Event e"],
            "{}",
            t.name
        );

        // A freshly loaded index agrees with the one kept up to date.
        assert_eq!(
            names(&t, &SessionIndex::new()).await,
            ["Event d", "Event e"],
            "{}",
            t.name
        );
        // b is still held, at its new place; a and c are gone.
        assert_eq!(t.index.len(), 3, "{}", t.name);
    }
}

/// Search results' documents are kept in memory once read: a renamed session must show
/// its new name, whichever process renamed it.
#[tokio::test]
async fn a_shown_session_that_changes_is_shown_changed_whoever_wrote_it() {
    for t in stores("index-docs").await {
        let feed = t.feed("https://p.example/events").await;
        let named = |modified: i64, name: &str| {
            let mut item = event("a", modified, PRESTON.0 + 0.01, PRESTON.1, at(2));
            item["data"]["name"] = name.into();
            item
        };
        t.apply(&feed, vec![named(1, "Yoga")], "n1").await;
        for _ in 0..2 {
            assert_eq!(names(&t, &t.index).await, ["Yoga"], "{}", t.name);
        }
        t.apply(&feed, vec![named(2, "Chair yoga")], "n2").await;
        assert_eq!(names(&t, &t.index).await, ["Chair yoga"], "{}", t.name);

        written_elsewhere(&t, &feed, vec![named(3, "Gentle chair yoga")], "n3").await;
        assert_eq!(
            names(&t, &t.index).await,
            ["Gentle chair yoga"],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn sessions_keep_the_small_area_they_were_assigned_when_normalised() {
    let lsc = oa_geo::Ics::lancashire_south_cumbria().expect("bundled");
    for t in stores("index_areas").await {
        let feed = t.feed("https://p.example/events").await;
        t.store
            .apply_page(
                &feed,
                prepared(vec![event("a", 1, 53.7590, -2.7035, at(2))]),
                "n1",
                &OpenActiveNormaliser::default().with_areas(vec![lsc]),
            )
            .await
            .expect("apply");
        t.index.refresh(t.store.as_ref()).await.expect("refresh");
        let everywhere = oa_geo::BoundingBox {
            min_lat: 50.0,
            max_lat: 56.0,
            min_lng: -4.0,
            max_lng: 0.0,
        };
        let set = t.index.in_box(
            &everywhere,
            at(0).timestamp(),
            at(48).timestamp(),
            &Default::default(),
        );
        let session = set.iter().next().expect("indexed");
        let expected = lsc
            .small_area(Point::new(53.7590, -2.7035))
            .expect("in an LSOA");
        assert_eq!(
            session.small_area("lancashire-south-cumbria"),
            Some(expected.code.as_str()),
            "{}",
            t.name
        );
        assert_eq!(session.small_area("elsewhere"), None);
    }
}

/// Sessions generated from a series' schedule leave the kept index when the publisher's own
/// ScheduledSessions replace them: a delete the sessions page makes of rows it never named.
#[tokio::test]
async fn generated_sessions_replaced_by_the_publishers_own_leave_the_kept_index() {
    for t in stores("index-generated").await {
        let series_feed = t.feed("https://p.example/series").await;
        let sessions = t.feed("https://p.example/sessions").await;
        t.apply(&series_feed, vec![scheduled_series("x", 1, PRESTON)], "n")
            .await;
        let generated = names(&t, &t.index).await;
        assert!(
            generated.len() >= 2 && generated.iter().all(|n| n == "Scheduled Yoga"),
            "weekly for 14 days: {generated:?} ({})",
            t.name
        );

        t.apply(&sessions, vec![session("s1", 1, "x", at(30))], "n")
            .await;
        assert_eq!(names(&t, &t.index).await, ["Scheduled Yoga"], "{}", t.name);
        assert_eq!(t.index.len(), 1, "{}", t.name);
    }
}
