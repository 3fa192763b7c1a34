//! A whole `renormalise` pass (`Store::renormalise_pass`): every item once, each batch
//! reported after it commits, a stop that commits nothing more, and a page applied while a
//! batch is normalised, which the pass must not undo (SQLite normalises the next batch from a
//! snapshot while one commits; PostgreSQL serialises pages and batches).

mod support;

use std::sync::{Arc, mpsc};

use oa_model::Normaliser;
use oa_normalise::OpenActiveNormaliser;
use oa_store::{RenormaliseBatch, Store};
use serde_json::Value;
use support::*;

const PRESTON: (f64, f64) = (53.7632, -2.7031);

/// Every stored opportunity's name, sorted.
async fn stored_names(store: &dyn Store) -> Vec<String> {
    let mut names: Vec<String> = store
        .dump()
        .await
        .expect("dump")
        .opportunities
        .iter()
        .map(|(_, _, doc)| {
            let doc: Value = serde_json::from_str(doc).expect("document");
            doc["name"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    names.sort();
    names
}

/// Runs a pass, stopping after `stop_after` batches; the batches reported.
async fn pass(
    store: &dyn Store,
    limit: usize,
    normaliser: &dyn Normaliser,
    stop_after: usize,
) -> Vec<RenormaliseBatch> {
    let mut reported = Vec::new();
    store
        .renormalise_pass(None, limit, normaliser, &mut |batch| {
            reported.push(batch.clone());
            reported.len() < stop_after
        })
        .await
        .expect("pass");
    reported
}

#[tokio::test]
async fn a_pass_reaches_every_item_once_and_reports_each_batch_in_order() {
    for t in stores("pass-all").await {
        t.series_with_sessions(250, 2, PRESTON).await;
        let before = t.store.dump().await.expect("dump");

        let batches = pass(t.store.as_ref(), 60, &Marking, usize::MAX).await;
        let sizes: Vec<usize> = batches.iter().map(|b| b.items).collect();
        assert_eq!(sizes, [60, 60, 60, 60, 11], "{}", t.name);
        assert!(batches.last().is_some_and(|b| b.next.is_none()));
        let names = stored_names(t.store.as_ref()).await;
        assert_eq!(names.len(), 250, "{}", t.name);
        assert!(
            names.iter().all(|n| n.ends_with("(renormalised)")),
            "{}",
            t.name
        );

        // Back with the real rules: exactly the store as it was.
        pass(
            t.store.as_ref(),
            60,
            &OpenActiveNormaliser::default(),
            usize::MAX,
        )
        .await;
        assert_eq!(t.store.dump().await.expect("dump"), before, "{}", t.name);
    }
}

#[tokio::test]
async fn a_pass_told_to_stop_commits_nothing_after_the_batch_it_stopped_at() {
    for t in stores("pass-stop").await {
        t.series_with_sessions(250, 2, PRESTON).await;
        let batches = pass(t.store.as_ref(), 60, &Marking, 2).await;
        assert_eq!(batches.len(), 2, "{}", t.name);
        let marked = stored_names(t.store.as_ref())
            .await
            .iter()
            .filter(|n| n.ends_with("(renormalised)"))
            .count();
        // Two batches of 60 items: the series and 119 of its sessions. The batch normalised
        // beside the second one's commit is rolled back.
        assert_eq!(marked, 119, "{}", t.name);
    }
}

/// A pass in batches of two, on its own task, paused at the item `pauses_at` picks: the
/// pass, and what lets it go on.
async fn paused_pass(
    store: Arc<dyn Store>,
    pauses_at: fn(&str, &Value) -> bool,
) -> (
    tokio::task::JoinHandle<Result<(), oa_store::StoreError>>,
    mpsc::Sender<()>,
) {
    let (pausing, paused, resume) = Pausing::new(Marking, pauses_at);
    let running = tokio::spawn(async move {
        store
            .renormalise_pass(None, 2, pausing.as_ref(), &mut |_| true)
            .await
    });
    tokio::task::spawn_blocking(move || paused.recv())
        .await
        .expect("join")
        .expect("the pass reaches the item");
    (running, resume)
}

/// SQLite only: PostgreSQL reads each batch in its own transaction with its items locked,
/// so there the page would wait for the paused batch (docs/RELIABILITY.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_applied_while_a_pass_reads_ahead_is_not_undone() {
    for t in stores("pass-page")
        .await
        .into_iter()
        .filter(|t| t.sqlite.is_some())
    {
        let feed = t.feed("https://p.example/events").await;
        let events: Vec<_> = (0..4)
            .map(|n| event(&format!("e{n}"), 1, PRESTON.0, PRESTON.1, at(5 + n)))
            .collect();
        t.apply(&feed, events, "n").await;

        // Batches (e0, e1), then (e2, e3), read and normalised ahead on SQLite.
        let (running, resume) =
            paused_pass(t.store.clone(), |_, item| item["name"] == "Event e2").await;
        let mut renamed = event("e2", 2, PRESTON.0, PRESTON.1, at(7));
        renamed["data"]["name"] = "Renamed".into();
        t.apply(&feed, vec![renamed], "n").await;
        resume.send(()).expect("resume");
        running.await.expect("join").expect("pass");

        assert_eq!(
            stored_names(t.store.as_ref()).await,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_renamed_while_a_batch_of_its_sessions_is_normalised_stays_renamed() {
    for t in stores("pass-parent").await {
        // Sessions first in key order: the batch (s0, s1), then the series alone.
        let sessions = t.feed("https://p.example/sessions").await;
        let series_feed = t.feed("https://p.example/series").await;
        let yoga = series("x", 1, "Yoga", PRESTON.0, PRESTON.1);
        t.apply(&series_feed, vec![yoga], "n").await;
        let children = vec![session("s0", 1, "x", at(5)), session("s1", 1, "x", at(6))];
        t.apply(&sessions, children, "n").await;

        let (running, resume) =
            paused_pass(t.store.clone(), |kind, _| kind == "ScheduledSession").await;
        // The publisher renames the series while the batch of its sessions is normalised.
        // On PostgreSQL the page waits for that batch; on SQLite it lands first.
        let store = t.store.clone();
        let renaming = tokio::spawn(async move {
            let renamed = series("x", 2, "Pilates", PRESTON.0, PRESTON.1);
            let normaliser = OpenActiveNormaliser::default();
            store
                .apply_page(&series_feed, prepared(vec![renamed]), "n", &normaliser)
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        resume.send(()).expect("resume");
        running.await.expect("join").expect("pass");
        renaming.await.expect("join").expect("page");

        let names = stored_names(t.store.as_ref()).await;
        assert_eq!(names.len(), 2, "{}", t.name);
        assert!(
            names.iter().all(|n| n.starts_with("Pilates")),
            "the sessions follow their renamed series: {names:?} ({})",
            t.name
        );
    }
}
