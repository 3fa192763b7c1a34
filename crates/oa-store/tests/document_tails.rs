//! A series' sessions store the end of their documents that they share once
//! (`document_tails`), and every read gives the documents back whole.

mod support;

use serde_json::{Value, json};
use support::{at, deleted, session, stores};

const PRESTON: (f64, f64) = (53.7632, -2.7031);

/// A series whose sessions share a long document end (its description).
fn long_series(modified: i64, name: &str) -> Value {
    json!({"state": "updated", "kind": "SessionSeries", "id": "x", "modified": modified, "data": {
        "@type": "SessionSeries", "@id": "https://p.example/series/x", "name": name,
        "description": "A friendly walk for every ability, with tea afterwards. ".repeat(8),
        "location": {"name": "Park", "geo": {"latitude": PRESTON.0, "longitude": PRESTON.1}},
        "offers": [{"price": 2.5, "priceCurrency": "GBP"}]
    }})
}

/// The series "Walk" in one feed and `count` of its sessions in another.
async fn walk_with_sessions(
    t: &support::TestStore,
    count: i64,
) -> (oa_store::FeedRef, oa_store::FeedRef) {
    let series_feed = t.feed("https://p.example/series").await;
    let sessions = t.feed("https://p.example/sessions").await;
    t.apply(&series_feed, vec![long_series(1, "Walk")], "n")
        .await;
    let children: Vec<_> = (0..count)
        .map(|n| session(&format!("s{n}"), 2, "x", at(5 + n)))
        .collect();
    t.apply(&sessions, children, "n").await;
    (series_feed, sessions)
}

const TAILS: &str = "select count(*) from document_tails";
const REFS: &str = "select cast(sum(refs) as bigint) from document_tails";
const SPLIT: &str = "select count(*) from opportunities where tail_id is not null";

/// Every stored document, read back (dump, detail and search reads), as JSON.
async fn documents(t: &support::TestStore) -> Vec<Value> {
    let dump = t.store.dump().await.expect("dump");
    let mut docs = Vec::new();
    for (id, _, doc) in &dump.opportunities {
        let whole: Value = serde_json::from_str(doc).expect("a whole document");
        let detail = t.store.opportunity(id).await.expect("detail").opportunity;
        assert_eq!(
            (detail.name.as_deref(), detail.description.as_deref()),
            (whole["name"].as_str(), whole["description"].as_str()),
            "{}: the detail read of {id}",
            t.name
        );
        assert_eq!(detail.start.timestamp(), whole_start(&whole), "{}", t.name);
        let number = oa_store::index::id_number(id).expect("an issued id");
        let found = t
            .index
            .documents(t.store.as_ref(), &[number])
            .await
            .expect("search read");
        assert_eq!(found[0].doc, *doc, "{}: the search read of {id}", t.name);
        docs.push(whole);
    }
    docs
}

fn whole_start(doc: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(doc["start"].as_str().expect("a start"))
        .expect("an RFC 3339 start")
        .timestamp()
}

#[tokio::test]
async fn a_series_sessions_share_one_stored_tail_and_every_read_gives_them_back_whole() {
    for t in stores("tails_shared").await {
        walk_with_sessions(&t, 5).await;
        assert_eq!(t.count(TAILS).await, 1, "{}", t.name);
        assert_eq!(t.count(SPLIT).await, 5, "{}", t.name);
        let docs = documents(&t).await;
        assert_eq!(docs.len(), 5, "{}", t.name);
        let mut starts: Vec<&str> = docs
            .iter()
            .map(|d| d["start"].as_str().expect("a start"))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        assert_eq!(starts.len(), 5, "{}: each keeps its own start", t.name);
        for doc in &docs {
            assert_eq!(doc["name"], "Walk", "{}", t.name);
            assert!(
                doc["description"]
                    .as_str()
                    .expect("a description")
                    .starts_with("A friendly walk"),
                "{}: {doc}",
                t.name
            );
        }
    }
}

#[tokio::test]
async fn a_tail_goes_with_the_last_session_that_pointed_at_it() {
    for t in stores("tails_forgotten").await {
        let (series_feed, sessions) = walk_with_sessions(&t, 4).await;
        let old_tail = t.count("select min(rid) from document_tails").await;

        // The series renamed: its sessions are written again with a new tail, and the old
        // one, pointed at by nothing, goes in the same transaction.
        t.apply(&series_feed, vec![long_series(3, "Stroll")], "n2")
            .await;
        assert_eq!(t.count(TAILS).await, 1, "{}", t.name);
        assert!(
            t.count("select min(rid) from document_tails").await > old_tail,
            "{}",
            t.name
        );
        assert!(
            documents(&t).await.iter().all(|d| d["name"] == "Stroll"),
            "{}",
            t.name
        );

        // Some sessions deleted: the tail stays for the others; all deleted, it goes.
        assert_eq!(t.count(REFS).await, 4, "{}", t.name);
        t.apply(&sessions, vec![deleted("s0", "ScheduledSession", 4)], "n2")
            .await;
        assert_eq!(t.count(TAILS).await, 1, "{}", t.name);
        assert_eq!(t.count(REFS).await, 3, "{}", t.name);
        assert_eq!(documents(&t).await.len(), 3, "{}", t.name);
        let rest: Vec<_> = (1..4)
            .map(|n| deleted(&format!("s{n}"), "ScheduledSession", 5))
            .collect();
        t.apply(&sessions, rest, "n3").await;
        assert_eq!(t.count(TAILS).await, 0, "{}", t.name);
        assert_eq!(t.count(SPLIT).await, 0, "{}", t.name);
    }
}

/// The shipped normaliser, with every name changed: a rule change that rewrites every
/// stored document.
struct Renamed;

impl oa_model::Normaliser for Renamed {
    fn normalise(&self, kind: &str, item: &Value, parent: Option<&Value>) -> oa_model::Normalised {
        support::shipped_altered(kind, item, parent, |o| {
            o.name = Some("Renamed".into());
        })
    }
}

#[tokio::test]
async fn renormalising_rewrites_the_tails_and_releases_the_old_ones() {
    for t in stores("tails_renormalised").await {
        walk_with_sessions(&t, 6).await;
        let old_tail = t.count("select min(rid) from document_tails").await;
        let mut after = None;
        loop {
            let batch = t
                .store
                .renormalise_batch(after.take(), 100, &Renamed)
                .await
                .expect("renormalise");
            match batch.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert!(
            documents(&t).await.iter().all(|d| d["name"] == "Renamed"),
            "{}",
            t.name
        );
        assert!(
            t.count("select min(rid) from document_tails").await > old_tail,
            "{}: the old tail is gone",
            t.name
        );
        assert_eq!(t.count(REFS).await, 6, "{}", t.name);
        assert_eq!(t.count(SPLIT).await, 6, "{}", t.name);
    }
}

#[tokio::test]
async fn the_tail_of_sessions_generated_from_a_schedule_goes_when_the_publisher_sends_sessions() {
    for t in stores("tails_generated").await {
        let series_feed = t.feed("https://p.example/series").await;
        let sessions = t.feed("https://p.example/sessions").await;
        let mut scheduled = long_series(1, "Walk");
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
            .format("%Y-%m-%d")
            .to_string();
        scheduled["data"]["eventSchedule"] = json!([{"@type": "Schedule",
            "repeatFrequency": "P1W", "startDate": tomorrow, "startTime": "10:00",
            "duration": "PT1H", "scheduleTimezone": "Europe/London"}]);
        t.apply(&series_feed, vec![scheduled], "n").await;
        let generated = t.count(SPLIT).await;
        assert!(
            generated > 1,
            "{}: sessions generated, sharing a tail",
            t.name
        );
        assert_eq!(t.count(TAILS).await, 1, "{}", t.name);
        assert_eq!(t.count(REFS).await, generated, "{}", t.name);
        let generated_tail = t.count("select min(rid) from document_tails").await;

        // The publisher's own sessions replace the generated ones, whose tail goes with them.
        let children: Vec<_> = (0..3)
            .map(|n| session(&format!("s{n}"), 2, "x", at(5 + n)))
            .collect();
        t.apply(&sessions, children, "n").await;
        assert_eq!(t.count(TAILS).await, 1, "{}", t.name);
        assert_eq!(t.count(REFS).await, 3, "{}", t.name);
        assert!(
            t.count("select min(rid) from document_tails").await > generated_tail,
            "{}: the generated sessions' tail is gone",
            t.name
        );
    }
}
