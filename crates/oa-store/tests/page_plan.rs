//! Pages planned ahead of their transaction (`Store::plan_page`, then `Store::apply_plan`):
//! the plan's writes are used only when nothing it read has changed, and a planned page
//! stores what applying it in its transaction stores. On every backend.

mod support;

use oa_normalise::OpenActiveNormaliser;
use oa_store::{FeedRef, PageOutcome, PagePlan};
use serde_json::Value;
use support::*;

static NORMALISER: std::sync::LazyLock<OpenActiveNormaliser> =
    std::sync::LazyLock::new(OpenActiveNormaliser::default);
const PRESTON: (f64, f64) = (53.7632, -2.7031);

async fn plan(t: &TestStore, feed: &FeedRef, items: Vec<Value>) -> PagePlan {
    let plan = t
        .store
        .plan_page(feed, prepared(items), &*NORMALISER)
        .await
        .expect("plan");
    assert!(plan.is_planned(), "{}", t.name);
    plan
}

async fn apply_plan(t: &TestStore, feed: &FeedRef, plan: PagePlan, next: &str) -> PageOutcome {
    t.store
        .apply_plan(feed, plan, next, &*NORMALISER)
        .await
        .expect("apply plan")
}

/// Stored opportunity names, in order of start.
async fn stored_names(t: &TestStore) -> Vec<String> {
    let mut opportunities = t.store.dump().await.expect("dump").opportunities;
    opportunities.sort_by_key(|(_, start, _)| *start);
    let mut names = Vec::new();
    for (id, _, _) in opportunities {
        let detail = t.store.opportunity(&id).await.expect("detail");
        names.extend(detail.opportunity.name);
    }
    names
}

/// The plan was used, and the two stores (`planned` after the plan, `unplanned` after the
/// same page applied in its transaction) and outcomes are alike.
async fn assert_planned_like_unplanned(
    planned: &TestStore,
    unplanned: &TestStore,
    outcome: PageOutcome,
    baseline: PageOutcome,
) {
    let name = planned.name;
    assert!(outcome.planned, "{name}: the plan was used");
    assert!(!baseline.planned, "{name}");
    let outcome = PageOutcome {
        planned: false,
        plan_checked: false,
        ..outcome
    };
    assert_eq!(outcome, baseline, "{name}");
    assert_eq!(
        planned.store.dump().await.expect("dump"),
        unplanned.store.dump().await.expect("dump"),
        "{name}"
    );
}

/// Three series across two feeds, and a page of their sessions interleaved.
fn sessions_page() -> Vec<Value> {
    (0..9)
        .map(|n| {
            session(
                &format!("s{n}"),
                1,
                ["x", "y", "z"][n % 3],
                at(5 + n as i64),
            )
        })
        .collect()
}

async fn three_series(t: &TestStore) -> FeedRef {
    let one = t.feed("https://p.example/series").await;
    let two = t.feed("https://q.example/series").await;
    t.apply(
        &one,
        vec![
            series("x", 1, "Yoga", PRESTON.0, PRESTON.1),
            series("z", 1, "Tai Chi", PRESTON.0, PRESTON.1),
        ],
        "n",
    )
    .await;
    t.apply(
        &two,
        vec![series("y", 1, "Walking", PRESTON.0, PRESTON.1)],
        "n",
    )
    .await;
    one
}

#[tokio::test]
async fn a_plan_applied_with_nothing_changed_is_used_and_stores_what_the_page_would() {
    let (planned, unplanned) = (stores("plan_used").await, stores("plan_baseline").await);
    for (p, u) in planned.iter().zip(&unplanned) {
        three_series(p).await;
        three_series(u).await;
        let p_sessions = p.feed("https://p.example/sessions").await;
        let u_sessions = u.feed("https://p.example/sessions").await;

        let items = sessions_page();
        let page = plan(p, &p_sessions, items.clone()).await;
        let outcome = apply_plan(p, &p_sessions, page, "n1").await;
        let baseline = u.apply(&u_sessions, items, "n1").await;
        assert_planned_like_unplanned(p, u, outcome, baseline).await;
        assert_eq!(stored_names(p).await.len(), 9, "{}", p.name);

        // A series page planned once its sessions are stored recomputes them in the plan.
        let series_feed = p.feed("https://p.example/series").await;
        let renamed = vec![
            series("x", 2, "Gentle Yoga", PRESTON.0, PRESTON.1),
            series("z", 2, "Tai Chi", PRESTON.0, PRESTON.1),
        ];
        let page = plan(p, &series_feed, renamed.clone()).await;
        let outcome = apply_plan(p, &series_feed, page, "n2").await;
        let u_series = u.feed("https://p.example/series").await;
        let baseline = u.apply(&u_series, renamed, "n2").await;
        assert_eq!(outcome.children_recomputed, 6, "{}", p.name);
        assert_planned_like_unplanned(p, u, outcome, baseline).await;
    }
}

#[tokio::test]
async fn a_plan_made_before_its_parent_was_stored_is_normalised_again() {
    for t in stores("plan_parent_arrived").await {
        let sessions = t.feed("https://p.example/sessions").await;
        let series_feed = t.feed("https://p.example/series").await;
        // Planned while the series is unknown: the sessions would wait for their parent.
        let page = plan(
            &t,
            &sessions,
            vec![session("s1", 1, "x", at(5)), session("s2", 1, "x", at(6))],
        )
        .await;
        t.apply(
            &series_feed,
            vec![series("x", 1, "Walking Football", PRESTON.0, PRESTON.1)],
            "n",
        )
        .await;
        let outcome = apply_plan(&t, &sessions, page, "n").await;
        assert!(!outcome.planned, "{}", t.name);
        assert_eq!(
            stored_names(&t).await,
            vec!["Walking Football", "Walking Football"],
            "{}",
            t.name
        );
        let feeds = t.store.feeds().await.expect("feeds");
        assert!(
            feeds.iter().all(|f| f.items_awaiting_parent == 0),
            "{}: {feeds:?}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_plan_made_before_a_newer_version_of_its_item_was_stored_does_not_undo_it() {
    for t in stores("plan_item_moved_on").await {
        let feed = t.feed("https://p.example/events").await;
        let page = plan(&t, &feed, vec![event("a", 1, PRESTON.0, PRESTON.1, at(2))]).await;
        let mut newer = event("a", 2, PRESTON.0, PRESTON.1, at(2));
        newer["data"]["name"] = "Renamed".into();
        t.apply(&feed, vec![newer], "n1").await;

        let outcome = apply_plan(&t, &feed, page, "n2").await;
        assert_eq!(
            (outcome.planned, outcome.applied, outcome.stale),
            (false, 0, 1),
            "{}",
            t.name
        );
        assert_eq!(stored_names(&t).await, vec!["Renamed"], "{}", t.name);
        let dump = t.store.dump().await.expect("dump");
        assert_eq!(dump.items[0].2, 2, "{}: {:?}", t.name, dump.items);
        assert_eq!(
            dump.cursors,
            vec![("https://p.example/events".to_owned(), Some("n2".to_owned()))],
            "{}: the cursor still moves with the page",
            t.name
        );
    }
}

/// Event "b", version 2, renamed.
fn renamed_b() -> Value {
    let mut newer = event("b", 2, PRESTON.0, PRESTON.1, at(3));
    newer["data"]["name"] = "Renamed".into();
    newer
}

/// `page`, a plan of "b" at version 1 made before [`renamed_b`] was stored after "a":
/// applied, it is normalised again and stores nothing.
async fn assert_older_b_normalised_again(t: &TestStore, feed: &FeedRef, page: PagePlan) {
    let outcome = apply_plan(t, feed, page, "n3").await;
    assert_eq!(
        (outcome.planned, outcome.applied, outcome.stale),
        (false, 0, 1),
        "{}",
        t.name
    );
    assert_eq!(stored_names(t).await, ["Event a", "Renamed"], "{}", t.name);
}

#[tokio::test]
async fn a_plan_is_read_again_after_another_process_commits() {
    for t in stores("plan_other_writer").await {
        let feed = t.feed("https://p.example/events").await;
        let page = plan(&t, &feed, vec![event("a", 1, PRESTON.0, PRESTON.1, at(2))]).await;
        apply_plan(&t, &feed, page, "n1").await;

        let page = plan(&t, &feed, vec![event("b", 1, PRESTON.0, PRESTON.1, at(3))]).await;
        // Another process (its own connections, its own commit log) stores a newer "b".
        t.other_process()
            .await
            .apply_page(&feed, prepared(vec![renamed_b()]), "n2", &*NORMALISER)
            .await
            .expect("the other process's page");
        assert_older_b_normalised_again(&t, &feed, page).await;
    }
}

#[tokio::test]
async fn a_plan_for_a_feed_new_to_the_store_takes_its_items_as_not_stored_and_its_transaction_checks()
 {
    for t in stores("plan_new_feed").await {
        let feed = t.feed("https://p.example/events").await;
        assert!(feed.new_to_store, "{}: no page stored yet", t.name);
        t.apply(
            &feed,
            vec![event("a", 2, PRESTON.0, PRESTON.1, at(2))],
            "n1",
        )
        .await;

        // The older version of the stored item, planned and applied: (planned, applied,
        // stale).
        let older_applied = |feed: FeedRef, next: &'static str| {
            let t = &t;
            async move {
                let older = vec![event("a", 1, PRESTON.0, PRESTON.1, at(2))];
                let page = plan(t, &feed, older).await;
                let outcome = apply_plan(t, &feed, page, next).await;
                (outcome.planned, outcome.applied, outcome.stale)
            }
        };
        // Taken as not stored, the item is found stored (and newer) in the transaction. A
        // SQLite store's plans read them whatever the reference says (a plan it can know
        // current without reading its state again must have read them).
        let outcome = older_applied(feed, "n2").await;
        let planned = t.name == "sqlite";
        assert_eq!(outcome, (planned, 0, 1), "{}", t.name);

        // A reference taken once a page is stored reads them, and its plan is used.
        let listed = t.store.feeds().await.expect("feeds");
        let feed = listed[0].as_ref();
        assert!(!feed.new_to_store, "{}", t.name);
        let outcome = older_applied(feed, "n3").await;
        assert_eq!(outcome, (true, 0, 1), "{}", t.name);
    }
}

/// Applies `items` planned, as a harvest does.
async fn plan_and_apply(
    t: &TestStore,
    feed: &FeedRef,
    items: Vec<Value>,
    next: &str,
) -> PageOutcome {
    let page = plan(t, feed, items).await;
    apply_plan(t, feed, page, next).await
}

/// Event `id` starting at `at(start)`, version 1, planned and applied.
async fn store_event(t: &TestStore, feed: &FeedRef, (id, start): (&str, i64), next: &str) {
    let page = vec![event(id, 1, PRESTON.0, PRESTON.1, at(start))];
    plan_and_apply(t, feed, page, next).await;
}

/// Series `id` named `name`, version 1, planned and applied.
async fn store_series(t: &TestStore, feed: &FeedRef, (id, name): (&str, &str), next: &str) {
    let page = vec![series(id, 1, name, PRESTON.0, PRESTON.1)];
    plan_and_apply(t, feed, page, next).await;
}

#[tokio::test]
async fn a_plan_is_used_without_reading_its_state_again_when_the_pages_since_wrote_nothing_it_read()
{
    for t in stores("plan_known_current").await {
        let feed = t.feed("https://p.example/events").await;
        let other = t.feed("https://q.example/events").await;
        store_event(&t, &feed, ("a", 2), "n1").await;

        let page = plan(&t, &feed, vec![event("b", 1, PRESTON.0, PRESTON.1, at(3))]).await;
        // Pages planned after it, of its feed and another, with other items.
        store_event(&t, &feed, ("c", 4), "n2").await;
        store_event(&t, &other, ("b", 5), "m1").await;
        let outcome = apply_plan(&t, &feed, page, "n3").await;
        assert!(outcome.planned, "{}", t.name);
        // PostgreSQL reads it again: its store keeps no log of what commits wrote.
        assert_eq!(outcome.plan_checked, t.name != "sqlite", "{}", t.name);
        assert_eq!(
            stored_names(&t).await,
            ["Event a", "Event b", "Event c", "Event b"],
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn a_plan_is_read_again_when_a_page_planned_after_it_stored_the_same_item_first() {
    for t in stores("plan_same_key").await {
        let feed = t.feed("https://p.example/events").await;
        store_event(&t, &feed, ("a", 2), "n1").await;
        let page = plan(&t, &feed, vec![event("b", 1, PRESTON.0, PRESTON.1, at(3))]).await;
        plan_and_apply(&t, &feed, vec![renamed_b()], "n2").await;
        assert_older_b_normalised_again(&t, &feed, page).await;
    }
}

#[tokio::test]
async fn a_plan_is_read_again_when_a_page_planned_after_it_stored_its_items_parent() {
    for t in stores("plan_parent_planned").await {
        let sessions = t.feed("https://p.example/sessions").await;
        let series_feed = t.feed("https://p.example/series").await;
        store_series(&t, &series_feed, ("y", "Yoga"), "n1").await;
        // Planned while its series is unknown: the session would wait for its parent.
        let page = plan(&t, &sessions, vec![session("s1", 1, "x", at(5))]).await;
        store_series(&t, &series_feed, ("x", "Walking Football"), "n2").await;

        let outcome = apply_plan(&t, &sessions, page, "n").await;
        assert!(!outcome.planned, "{}", t.name);
        assert_eq!(stored_names(&t).await, ["Walking Football"], "{}", t.name);
    }
}

#[tokio::test]
async fn a_plan_is_read_again_when_a_page_planned_after_it_stored_a_child_of_a_parent_it_changes() {
    for t in stores("plan_child_planned").await {
        let sessions = t.feed("https://p.example/sessions").await;
        let series_feed = t.feed("https://p.example/series").await;
        store_series(&t, &series_feed, ("x", "Walking Football"), "n1").await;
        // The series renamed, planned while it has no sessions to recompute.
        let renamed = vec![series("x", 2, "Walking Netball", PRESTON.0, PRESTON.1)];
        let page = plan(&t, &series_feed, renamed).await;
        plan_and_apply(&t, &sessions, vec![session("s1", 1, "x", at(5))], "m1").await;

        let outcome = apply_plan(&t, &series_feed, page, "n2").await;
        assert_eq!(
            (outcome.planned, outcome.children_recomputed),
            (false, 1),
            "{}",
            t.name
        );
        assert_eq!(stored_names(&t).await, ["Walking Netball"], "{}", t.name);
    }
}

#[tokio::test]
async fn a_plan_for_a_feed_new_to_the_store_after_a_planned_page_stored_its_item_keeps_it() {
    for t in stores("plan_new_feed_planned").await {
        // The reference a walk from the start holds for all its pages.
        let feed = t.feed("https://p.example/events").await;
        assert!(feed.new_to_store, "{}", t.name);
        plan_and_apply(&t, &feed, vec![renamed_b()], "n1").await;

        // The older version, in a later page of the same walk, planned after that page
        // committed: a plan kept to skip its transaction's reading must have read it.
        let older = vec![event("b", 1, PRESTON.0, PRESTON.1, at(3))];
        let outcome = plan_and_apply(&t, &feed, older, "n2").await;
        assert_eq!((outcome.applied, outcome.stale), (0, 1), "{}", t.name);
        assert_eq!(stored_names(&t).await, ["Renamed"], "{}", t.name);
    }
}

/// A page of more work than the transaction's chunks hold: 300 sessions of a scheduled
/// series, then the series itself. In its transaction the series' chunk comes after two
/// hundred and fifty of its sessions are stored, and its generated sessions are dropped
/// there; a plan writes the page in one chunk, and they go at the page's end instead.
#[tokio::test]
async fn a_planned_page_of_more_than_a_chunk_stores_what_the_page_would() {
    let (planned, unplanned) = (stores("plan_long").await, stores("plan_long_base").await);
    for (p, u) in planned.iter().zip(&unplanned) {
        let mut items: Vec<Value> = (0..300)
            .map(|n| session(&format!("s{n}"), 1, "g", at(5 + n as i64)))
            .collect();
        items.push(scheduled_series("g", 1, PRESTON));
        let p_feed = p.feed("https://p.example/mixed").await;
        let u_feed = u.feed("https://p.example/mixed").await;
        let page = plan(p, &p_feed, items.clone()).await;
        let outcome = apply_plan(p, &p_feed, page, "n1").await;
        let baseline = u.apply(&u_feed, items, "n1").await;
        assert!(outcome.planned, "{}", p.name);
        assert_eq!(outcome.applied, baseline.applied, "{}", p.name);
        assert_eq!(
            p.store.dump().await.expect("dump"),
            u.store.dump().await.expect("dump"),
            "{}",
            p.name
        );
        assert_eq!(
            p.store.dump().await.expect("dump").opportunities.len(),
            300,
            "{}: the sessions, none generated",
            p.name
        );
    }
}
