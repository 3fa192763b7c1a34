//! A feed's page written while the page before it is still in its transaction
//! (`Store::apply_plan_after`, PostgreSQL): it commits only after that page, moves the
//! cursor on from where that page left it, and stores nothing when that page did not commit.
//! SQLite writes a feed's pages one at a time and says so.

mod support;

use std::sync::Arc;
use std::time::Duration;

use oa_normalise::OpenActiveNormaliser;
use oa_store::{FeedRef, PageOutcome, Store, StoreError};
use serde_json::Value;
use support::*;

static NORMALISER: std::sync::LazyLock<OpenActiveNormaliser> =
    std::sync::LazyLock::new(OpenActiveNormaliser::default);
const PRESTON: (f64, f64) = (53.7632, -2.7031);
const FEED: &str = "https://p.example/events";
/// Where the first page leaves the cursor: the URL the second page was fetched from.
const SECOND: &str = "https://p.example/events?after=2";
const THIRD: &str = "https://p.example/events?after=4";

/// Events `from..from + 2`, named "Event e<n>".
fn events(from: i64) -> Vec<Value> {
    (from..from + 2)
        .map(|n| event(&format!("e{n}"), 1, PRESTON.0, PRESTON.1, at(5 + n)))
        .collect()
}

/// Plans the second page and writes it beside the first, on a task of its own.
fn second_page_beside(
    store: Arc<dyn Store>,
    feed: FeedRef,
) -> tokio::task::JoinHandle<Result<PageOutcome, StoreError>> {
    tokio::spawn(async move {
        let plan = store
            .plan_page(&feed, prepared(events(2)), &*NORMALISER)
            .await?;
        store
            .apply_plan_after(&feed, plan, SECOND, THIRD, &*NORMALISER)
            .await
    })
}

/// The feed's stored cursor and pages.
async fn cursor_and_pages(store: &dyn Store) -> (Option<String>, i64) {
    let feeds = store.feeds().await.expect("feeds");
    let feed = feeds.iter().find(|f| f.url == FEED).expect("the feed");
    (feed.cursor.clone(), feed.pages)
}

/// The first page applied on a task of its own, its normalising paused at its first event
/// until let go; returns once it is paused, inside its transaction.
async fn first_page_paused(
    store: Arc<dyn Store>,
    feed: FeedRef,
) -> (
    tokio::task::JoinHandle<Result<PageOutcome, StoreError>>,
    std::sync::mpsc::Sender<()>,
) {
    let (pausing, paused, resume) = Pausing::new(OpenActiveNormaliser::default(), |_, _| true);
    let applying = tokio::spawn(async move {
        store
            .apply_page(&feed, prepared(events(0)), SECOND, pausing.as_ref())
            .await
    });
    tokio::task::spawn_blocking(move || paused.recv())
        .await
        .expect("join")
        .expect("the first page is normalised");
    (applying, resume)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_written_beside_the_one_before_commits_after_it_and_moves_the_cursor_on() {
    for t in stores("ahead-order").await {
        let feed = t.feed(FEED).await;
        if !t.store.writes_pages_ahead() {
            let plan = t
                .store
                .plan_page(&feed, prepared(events(2)), &*NORMALISER)
                .await
                .expect("plan");
            let refused = t
                .store
                .apply_plan_after(&feed, plan, SECOND, THIRD, &*NORMALISER)
                .await;
            assert!(
                matches!(refused, Err(StoreError::Unsupported(_))),
                "{}: {refused:?}",
                t.name
            );
            continue;
        }
        let (first, resume) = first_page_paused(t.store.clone(), feed.clone()).await;
        let second = second_page_beside(t.store.clone(), feed.clone());
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !second.is_finished(),
            "{}: the second page waits for the first to end",
            t.name
        );
        assert_eq!(
            cursor_and_pages(t.store.as_ref()).await,
            (None, 0),
            "{}: nothing committed yet",
            t.name
        );

        resume.send(()).expect("resume");
        first.await.expect("join").expect("the first page");
        let outcome = second.await.expect("join").expect("the second page");
        assert!(outcome.planned, "{}: written from its plan", t.name);
        assert_eq!(
            cursor_and_pages(t.store.as_ref()).await,
            (Some(THIRD.to_owned()), 2),
            "{}: the cursor moved on from where the first page left it",
            t.name
        );
        assert_eq!(
            t.store.dump().await.expect("dump").opportunities.len(),
            4,
            "{}: both pages stored",
            t.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_written_beside_one_that_fails_stores_nothing() {
    for t in stores("ahead-fails")
        .await
        .into_iter()
        .filter(|t| t.store.writes_pages_ahead())
    {
        let feed = t.feed(FEED).await;
        // The first page fails at its first opportunity's insert, once it goes on.
        t.fail_on_item("e0").await;
        let (first, resume) = first_page_paused(t.store.clone(), feed.clone()).await;
        let second = second_page_beside(t.store.clone(), feed.clone());
        tokio::time::sleep(Duration::from_millis(300)).await;
        resume.send(()).expect("resume");
        first
            .await
            .expect("join")
            .expect_err("the first page fails");
        let refused = second.await.expect("join");
        assert!(
            matches!(&refused, Err(StoreError::PageBeforeNotStored(url)) if url == SECOND),
            "{}: {refused:?}",
            t.name
        );
        assert_eq!(cursor_and_pages(t.store.as_ref()).await, (None, 0));
        let dump = t.store.dump().await.expect("dump");
        assert!(
            dump.items.is_empty() && dump.opportunities.is_empty(),
            "{}: nothing of either page stored",
            t.name
        );

        // Written again after the first page, the second goes in.
        t.heal().await;
        t.apply(&feed, events(0), SECOND).await;
        let plan = t
            .store
            .plan_page(&feed, prepared(events(2)), &*NORMALISER)
            .await
            .expect("plan");
        t.store
            .apply_plan_after(&feed, plan, SECOND, THIRD, &*NORMALISER)
            .await
            .expect("the second page, after the first");
        assert_eq!(
            cursor_and_pages(t.store.as_ref()).await,
            (Some(THIRD.to_owned()), 2)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_the_feed_from_another_walk_waits_for_the_page_being_stored() {
    for t in stores("ahead-writer")
        .await
        .into_iter()
        .filter(|t| t.store.writes_pages_ahead())
    {
        let feed = t.feed(FEED).await;
        let (first, resume) = first_page_paused(t.store.clone(), feed.clone()).await;
        // Another process walks the same feed meanwhile, elsewhere in it (a page of its own,
        // leaving another cursor, so not the same turn).
        let other = t.other_process().await;
        let other_walk = tokio::spawn({
            let feed = feed.clone();
            async move {
                other
                    .apply_page(&feed, prepared(events(4)), THIRD, &*NORMALISER)
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !other_walk.is_finished(),
            "{}: the other walk's page waits for the feed's writer",
            t.name
        );
        resume.send(()).expect("resume");
        first.await.expect("join").expect("the first page");
        other_walk
            .await
            .expect("join")
            .expect("the other walk's page, after");
        assert_eq!(t.store.dump().await.expect("dump").items.len(), 4);
    }
}

#[tokio::test]
async fn a_page_written_beside_one_that_never_began_stores_nothing() {
    for t in stores("ahead-alone")
        .await
        .into_iter()
        .filter(|t| t.store.writes_pages_ahead())
    {
        let feed = t.feed(FEED).await;
        let refused = second_page_beside(t.store.clone(), feed.clone())
            .await
            .expect("join");
        assert!(
            matches!(&refused, Err(StoreError::Abandoned(why)) if why.contains("had not begun")),
            "{}: {refused:?}",
            t.name
        );
        assert_eq!(cursor_and_pages(t.store.as_ref()).await, (None, 0));
        assert!(t.store.dump().await.expect("dump").items.is_empty());
    }
}

/// The first page renames series x; the page beside it moves session s1, stored under x,
/// to series y. The first page recomputes x's stored sessions, s1 among them, which the
/// page beside is rewriting: the two wait on each other in the server, which breaks the
/// cycle. Whatever it breaks, applying again what failed, in page order, ends as the pages
/// applied one after the other do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_moved_beside_its_old_series_renamed_ends_as_one_page_after_the_other() {
    let mut beside = stores("ahead-moved").await;
    let mut one_by_one = stores("ahead-moved-seq").await;
    let (Some(t), Some(reference)) = (beside.pop(), one_by_one.pop()) else {
        return;
    };
    if !t.store.writes_pages_ahead() {
        return;
    }
    let first_requested = "https://p.example/events?after=0";
    let start = at(5);
    let stored_before = vec![
        series("x", 1, "Yoga", PRESTON.0, PRESTON.1),
        series("y", 1, "Pilates", PRESTON.0, PRESTON.1),
        session("s1", 1, "x", start),
    ];
    let renamed = || vec![series("x", 2, "Yoga renamed", PRESTON.0, PRESTON.1)];
    let moved = move || vec![session("s1", 2, "y", start)];

    let feed = reference.feed(FEED).await;
    reference
        .apply(&feed, stored_before.clone(), first_requested)
        .await;
    reference.apply(&feed, renamed(), SECOND).await;
    reference.apply(&feed, moved(), THIRD).await;

    let feed = t.feed(FEED).await;
    t.apply(&feed, stored_before, first_requested).await;
    let (pausing, paused, resume) = Pausing::new(OpenActiveNormaliser::default(), |_, _| true);
    let first = tokio::spawn({
        let (store, feed) = (t.store.clone(), feed.clone());
        async move {
            store
                .apply_page(&feed, prepared(renamed()), SECOND, pausing.as_ref())
                .await
        }
    });
    tokio::task::spawn_blocking(move || paused.recv())
        .await
        .expect("join")
        .expect("the first page is normalised");
    let second = tokio::spawn({
        let (store, feed) = (t.store.clone(), feed.clone());
        async move {
            let plan = store
                .plan_page(&feed, prepared(moved()), &*NORMALISER)
                .await?;
            store
                .apply_plan_after(&feed, plan, SECOND, THIRD, &*NORMALISER)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    resume.send(()).expect("resume");
    let within = Duration::from_secs(20);
    let first = tokio::time::timeout(within, first)
        .await
        .expect("no hang")
        .expect("join");
    let second = tokio::time::timeout(within, second)
        .await
        .expect("no hang")
        .expect("join");
    if let Err(e) = &first {
        assert!(e.is_transient(), "{e}");
        assert!(second.is_err(), "nothing commits after a page that did not");
        t.apply(&feed, renamed(), SECOND).await;
    }
    if second.is_err() {
        t.apply(&feed, moved(), THIRD).await;
    }
    assert_eq!(
        t.store.dump().await.expect("dump"),
        reference.store.dump().await.expect("dump")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_beside_one_already_committed_stores_nothing_when_another_walk_commits_first() {
    for t in stores("ahead-late")
        .await
        .into_iter()
        .filter(|t| t.store.writes_pages_ahead())
    {
        let feed = t.feed(FEED).await;
        // The page before has committed by the time the page beside begins.
        t.apply(&feed, events(0), SECOND).await;
        // Another walk of the feed is storing a page of its own (another cursor), paused.
        let (pausing, paused, resume) = Pausing::new(OpenActiveNormaliser::default(), |_, _| true);
        let other = t.other_process().await;
        let other_walk = tokio::spawn({
            let feed = feed.clone();
            async move {
                other
                    .apply_page(
                        &feed,
                        prepared(events(4)),
                        "https://p.example/events?other",
                        pausing.as_ref(),
                    )
                    .await
            }
        });
        tokio::task::spawn_blocking(move || paused.recv())
            .await
            .expect("join")
            .expect("the other walk's page is normalised");
        let second = second_page_beside(t.store.clone(), feed.clone());
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !second.is_finished(),
            "{}: the page beside moves the cursor only after the other walk's page ends",
            t.name
        );
        resume.send(()).expect("resume");
        other_walk
            .await
            .expect("join")
            .expect("the other walk's page");
        // The other walk moved the cursor elsewhere: the page beside stores nothing.
        let refused = second.await.expect("join");
        assert!(
            matches!(&refused, Err(StoreError::PageBeforeNotStored(_))),
            "{}: {refused:?}",
            t.name
        );
        assert_eq!(
            cursor_and_pages(t.store.as_ref()).await,
            (Some("https://p.example/events?other".to_owned()), 2)
        );
    }
}
