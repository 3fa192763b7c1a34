//! Fake publisher -> harvest -> store, including a harvest killed between any two pages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::RawQuery;
use oa_aggregator::harvest::{StoreSink, harvest_feed};
use oa_harvest::{FetchConfig, Fetcher, PageSink, Shutdown, WalkError};
use oa_model::rpde_publish::{FeedOrdering, PublishedItem, build_page, parse_after};
use oa_model::{DiscoveredFeed, RpdePage};
use oa_store::{FeedState, PgStore, SqliteStore, Store};
use serde_json::value::RawValue;

/// Series s0..s4 and two sessions each, in one change-number feed, sessions first so some
/// children arrive before their parents; plus a deleted session at the end.
async fn publisher() -> String {
    let start = "2030-01-07T10:00:00Z";
    let mut items: Vec<(String, &'static str, Option<String>)> = Vec::new();
    for s in 0..5 {
        for n in 0..2 {
            items.push((format!("sess-{s}-{n}"), "ScheduledSession", Some(format!(
                r#"{{"@type":"ScheduledSession","@id":"https://p/sess/{s}/{n}","superEvent":"https://p/series/{s}","startDate":"{start}","duration":"PT1H"}}"#
            ))));
        }
        items.push((format!("series-{s}"), "SessionSeries", Some(format!(
            r#"{{"@type":"SessionSeries","@id":"https://p/series/{s}","name":"Series {s}","location":{{"geo":{{"latitude":53.76,"longitude":-2.70}}}}}}"#
        ))));
    }
    items.push(("sess-0-0".into(), "ScheduledSession", None));
    serve_feed(items).await
}

/// Serves `items` (id, kind, data; `None` deleted) as an RPDE feed in pages of 4, each
/// `modified` one more than the last; returns the feed's URL.
async fn serve_feed(items: Vec<(String, &'static str, Option<String>)>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let feed_url = format!("{base}/feed");
    let app = axum::Router::new().fallback(move |RawQuery(query): RawQuery| {
        let items = items.clone();
        let feed_url = feed_url.clone();
        async move {
            let raws: Vec<Option<Box<RawValue>>> = items
                .iter()
                .map(|(_, _, d)| d.clone().map(|d| RawValue::from_string(d).expect("json")))
                .collect();
            let published: Vec<PublishedItem<'_>> = items
                .iter()
                .zip(&raws)
                .enumerate()
                .map(|(i, ((id, kind, _), raw))| PublishedItem {
                    id,
                    kind,
                    modified: i as i64 + 1,
                    data: raw.as_deref(),
                })
                .collect();
            let after = parse_after(query.as_deref()).expect("cursor");
            build_page(
                &feed_url,
                FeedOrdering::ChangeNumber,
                &published,
                &after,
                4,
                "L",
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("{base}/feed")
}

/// A fresh store: SQLite, or a fresh PostgreSQL schema when the backend is `postgres`.
async fn store(backend: &str, dir: &tempfile::TempDir, name: &str) -> Arc<dyn Store> {
    if backend == "postgres" {
        let url = std::env::var("OA_TEST_DATABASE_URL").expect("set for postgres");
        let schema = format!(
            "e2e_{}_{}_{}",
            name.replace(['.', '-'], "_"),
            std::process::id(),
            dir.path().display().to_string().len()
        );
        let schema = format!(
            "{schema}_{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default()
        );
        return Arc::new(
            PgStore::connect_in_schema(&url, &schema)
                .await
                .expect("pg store"),
        );
    }
    let url = format!("sqlite://{}", dir.path().join(name).display());
    Arc::new(SqliteStore::connect(&url).await.expect("store"))
}

/// SQLite always; PostgreSQL too when `OA_TEST_DATABASE_URL` is set.
fn backends() -> Vec<&'static str> {
    let mut all = vec!["sqlite"];
    if std::env::var("OA_TEST_DATABASE_URL").is_ok() {
        all.push("postgres");
    }
    all
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchConfig {
        max_attempts: 1,
        request_timeout: Duration::from_secs(5),
        ..FetchConfig::default()
    })
    .expect("client")
}

/// Dies (as a killed process would) before storing page number `die_at`.
struct DyingSink {
    inner: StoreSink,
    pages: AtomicUsize,
    die_at: usize,
}

#[async_trait]
impl PageSink for DyingSink {
    async fn apply(&self, requested: &str, page: Arc<RpdePage>) -> Result<(), String> {
        if self.pages.fetch_add(1, Ordering::SeqCst) == self.die_at {
            return Err("killed".into());
        }
        self.inner.apply(requested, page).await
    }

    fn upcoming(&self, requested: &str, page: &Arc<RpdePage>) {
        self.inner.upcoming(requested, page);
    }

    async fn settle(&self) {
        self.inner.settle().await;
    }
}

/// Harvests the feed `record` from its cursor to its end through `sink`.
async fn walk(
    store: &Arc<dyn Store>,
    record: &oa_store::FeedRecord,
    sink: &dyn PageSink,
) -> Result<oa_harvest::WalkSummary, WalkError> {
    harvest_feed(store.clone(), &fetcher(), record, sink, &Shutdown::never()).await
}

async fn feed(store: &Arc<dyn Store>, url: &str) -> oa_store::FeedRecord {
    let discovered = DiscoveredFeed {
        url: url.into(),
        kind: None,
        publisher: None,
        dataset_site: None,
    };
    store
        .sync_source_feeds(&format!("feed:{url}"), &[discovered])
        .await
        .expect("sync")
        .remove(0)
}

#[tokio::test]
async fn harvest_stores_every_page_and_resumes_exactly_after_a_kill_between_any_two_pages() {
    let url = publisher().await;
    for backend in backends() {
        let dir = tempfile::tempdir().expect("dir");

        let reference = store(backend, &dir, "reference.db").await;
        let record = feed(&reference, &url).await;
        let sink = StoreSink::new(reference.clone(), record.as_ref());
        let summary = walk(&reference, &record, &sink).await.expect("harvest");
        assert_eq!(summary.pages, 4, "16 items in pages of 4");
        let expected = reference.dump().await.expect("dump");
        // Four series with two sessions each, one with a single session left after the delete.
        assert_eq!(expected.opportunities.len(), 9);
        let feeds = reference.feeds().await.expect("feeds");
        assert_eq!(
            (
                feeds[0].state,
                feeds[0].caught_up,
                feeds[0].items_awaiting_parent
            ),
            (FeedState::Ok, true, 0)
        );

        for die_at in 0..summary.pages {
            let resumed = store(backend, &dir, &format!("killed-{die_at}.db")).await;
            let record = feed(&resumed, &url).await;
            let dying = DyingSink {
                inner: StoreSink::new(resumed.clone(), record.as_ref()),
                pages: AtomicUsize::new(0),
                die_at,
            };
            let error = walk(&resumed, &record, &dying).await.expect_err("killed");
            assert!(matches!(error, WalkError::Sink { .. }));
            assert_eq!(
                resumed.feeds().await.expect("feeds")[0].state,
                FeedState::Failing
            );

            // A fresh process starts from the stored cursor.
            let record = resumed.feeds().await.expect("feeds").remove(0);
            let sink = StoreSink::new(resumed.clone(), record.as_ref());
            walk(&resumed, &record, &sink).await.expect("resume");
            assert_eq!(
                resumed.dump().await.expect("dump"),
                expected,
                "{backend}: killed before page {die_at}"
            );
        }
    }
}

/// A loopback TCP proxy to PostgreSQL that can be cut: every open connection is reset and
/// new ones are refused, as clients see a server restart, until it is restored.
#[derive(Clone)]
struct Outage {
    up: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Outage {
    async fn in_front_of(target: String) -> (Outage, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let outage = Outage {
            up: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            connections: Arc::default(),
        };
        let proxy = outage.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !proxy.up.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees its connection reset
                }
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                proxy.connections.lock().expect("lock").push(relay);
            }
        });
        (outage, port)
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for relay in self.connections.lock().expect("lock").drain(..) {
            relay.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A store in a fresh `schema` of the server `database` names, reached through an [`Outage`].
async fn behind_a_proxy(database: &str, schema: &str) -> (Arc<dyn Store>, Outage) {
    let server = url::Url::parse(database).expect("database URL");
    let (outage, port) = Outage::in_front_of(format!(
        "{}:{}",
        server.host_str().unwrap_or("127.0.0.1"),
        server.port().unwrap_or(5432)
    ))
    .await;
    let mut proxied = server.clone();
    proxied.set_port(Some(port)).expect("port");
    let store = PgStore::connect_in_schema(proxied.as_str(), schema)
        .await
        .expect("pg store through the proxy");
    (Arc::new(store), outage)
}

/// Cuts the database off just before page `at` is stored, and restores it `for_how_long`
/// later.
struct CutsTheDatabase {
    inner: StoreSink,
    outage: Outage,
    pages: AtomicUsize,
    at: usize,
    for_how_long: Duration,
}

#[async_trait]
impl PageSink for CutsTheDatabase {
    async fn apply(&self, requested: &str, page: Arc<RpdePage>) -> Result<(), String> {
        if self.pages.fetch_add(1, Ordering::SeqCst) == self.at {
            self.outage.cut();
            let (outage, wait) = (self.outage.clone(), self.for_how_long);
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                outage.restore();
            });
        }
        self.inner.apply(requested, page).await
    }

    fn upcoming(&self, requested: &str, page: &Arc<RpdePage>) {
        self.inner.upcoming(requested, page);
    }

    async fn settle(&self) {
        self.inner.settle().await;
    }
}

#[tokio::test]
async fn postgres_going_away_mid_harvest_is_waited_out_and_nothing_is_lost() {
    let Ok(database) = std::env::var("OA_TEST_DATABASE_URL") else {
        return; // PostgreSQL only: SQLite has no server to lose.
    };
    let url = publisher().await;
    let dir = tempfile::tempdir().expect("dir");
    let reference = store("postgres", &dir, "outage-reference").await;
    let record = feed(&reference, &url).await;
    let sink = StoreSink::new(reference.clone(), record.as_ref());
    walk(&reference, &record, &sink).await.expect("harvest");
    let expected = reference.dump().await.expect("dump");

    let (interrupted, outage) =
        behind_a_proxy(&database, &format!("e2e_outage_{}", std::process::id())).await;
    let record = feed(&interrupted, &url).await;
    let sink = CutsTheDatabase {
        inner: StoreSink::new(interrupted.clone(), record.as_ref())
            .with_store_outage(Duration::from_secs(60)),
        outage: outage.clone(),
        pages: AtomicUsize::new(0),
        at: 1,
        for_how_long: Duration::from_secs(2),
    };
    let started = std::time::Instant::now();
    let summary = walk(&interrupted, &record, &sink)
        .await
        .expect("the harvest waits for the database and finishes");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the database really was away"
    );
    assert_eq!(summary.pages, 4);
    assert_eq!(interrupted.dump().await.expect("dump"), expected);
    let feeds = interrupted.feeds().await.expect("feeds");
    assert_eq!((feeds[0].state, feeds[0].caught_up), (FeedState::Ok, true));

    // An outage longer than the harvester waits fails the page (and the feed) with the
    // database error named, and loses nothing stored before it.
    let record = feed(&interrupted, &format!("{url}?second")).await;
    let sink = CutsTheDatabase {
        inner: StoreSink::new(interrupted.clone(), record.as_ref())
            .with_store_outage(Duration::from_millis(500)),
        outage: outage.clone(),
        pages: AtomicUsize::new(0),
        at: 0,
        for_how_long: Duration::from_secs(4),
    };
    let error = walk(&interrupted, &record, &sink)
        .await
        .expect_err("gave up waiting");
    assert!(matches!(error, WalkError::Sink { .. }), "{error}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        interrupted.dump().await.expect("dump").opportunities,
        expected.opportunities,
        "the first feed's sessions are intact"
    );
}

#[tokio::test]
async fn shutdown_while_waiting_for_postgres_leaves_the_page_unstored_at_once() {
    let Ok(database) = std::env::var("OA_TEST_DATABASE_URL") else {
        return; // PostgreSQL only.
    };
    let url = publisher().await;
    let (store, outage) = behind_a_proxy(
        &database,
        &format!("e2e_outage_stop_{}", std::process::id()),
    )
    .await;
    let record = feed(&store, &url).await;
    let (trigger, shutdown) = oa_harvest::ShutdownTrigger::new();
    let sink = CutsTheDatabase {
        inner: StoreSink::new(store.clone(), record.as_ref())
            .with_store_outage(Duration::from_secs(600))
            .with_shutdown(shutdown.clone()),
        outage: outage.clone(),
        pages: AtomicUsize::new(0),
        at: 0,
        for_how_long: Duration::from_secs(600),
    };
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        trigger.trigger();
    });
    let started = std::time::Instant::now();
    let error = oa_harvest::walk_until(&fetcher(), &sink, &url, &shutdown)
        .await
        .expect_err("not stored");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown does not wait out a 10-minute outage budget"
    );
    assert!(
        error.to_string().contains("waiting for the database"),
        "{error}"
    );
    outage.restore();
    assert!(
        store.dump().await.expect("dump").opportunities.is_empty(),
        "nothing half-stored"
    );
}

#[tokio::test]
async fn pages_are_stored_from_plans_made_while_the_pages_before_were_written() {
    // Events that depend on nothing stored: each page's plan holds when it is applied. The
    // second and third pages are both fetched, and planned, while the first is written.
    let items = (0..12)
        .map(|n| {
            let data = format!(
                r#"{{"@type":"Event","@id":"https://p/event/{n}","name":"Event {n}","startDate":"2030-01-07T10:00:00Z","location":{{"geo":{{"latitude":53.76,"longitude":-2.70}}}}}}"#
            );
            (format!("event-{n}"), "Event", Some(data))
        })
        .collect();
    let url = serve_feed(items).await;
    for backend in backends() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(backend, &dir, "planned.db").await;
        let record = feed(&store, &url).await;
        let sink = StoreSink::new(store.clone(), record.as_ref());
        assert_eq!(sink.pages_ahead(), 2, "{backend}");
        let summary = walk(&store, &record, &sink).await.expect("harvest");
        assert_eq!(summary.pages, 3, "{backend}: 12 items in pages of 4");
        assert_eq!(
            sink.pages_planned(),
            2,
            "{backend}: every page after the first was planned while the pages before were written"
        );
        if backend == "sqlite" {
            assert_eq!(sink.pages_written_ahead(), 0, "one writer");
        }
        assert_eq!(store.dump().await.expect("dump").opportunities.len(), 12);
        let stored = store.feeds().await.expect("feeds").remove(0);
        assert_eq!(stored.pages, 3, "{backend}");
        assert_eq!(
            stored.cursor.as_deref(),
            Some(summary.last_url.as_str()),
            "{backend}: the cursor is the last page's"
        );
    }
}

#[tokio::test]
async fn a_page_naming_an_item_of_the_page_before_is_written_after_it() {
    // Pages of 4: the second page sends event 2 again, renamed (it changed while the feed
    // was walked), so it reads it only once the first page has stored it; the third page
    // shares nothing with the second.
    let event = |id: usize, name: &str| {
        let data = format!(
            r#"{{"@type":"Event","@id":"https://p/event/{id}","name":"{name}","startDate":"2030-01-07T10:00:00Z","location":{{"geo":{{"latitude":53.76,"longitude":-2.70}}}}}}"#
        );
        (format!("event-{id}"), "Event", Some(data))
    };
    let mut items: Vec<_> = (0..4).map(|n| event(n, "First")).collect();
    items.extend([event(4, "First"), event(2, "Renamed"), event(5, "First")]);
    items.extend((6..11).map(|n| event(n, "First")));
    let url = serve_feed(items).await;
    for backend in backends() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(backend, &dir, "shared.db").await;
        let record = feed(&store, &url).await;
        let sink = StoreSink::new(store.clone(), record.as_ref());
        let summary = walk(&store, &record, &sink).await.expect("harvest");
        assert_eq!(summary.pages, 3, "{backend}");
        // The third page may be written beside the second (on PostgreSQL, when its plan is
        // ready before the second is stored); the second never beside the first.
        assert!(sink.pages_written_ahead() <= 1, "{backend}");
        let dump = store.dump().await.expect("dump");
        assert_eq!(dump.items.len(), 11, "{backend}");
        let mut names: Vec<String> = dump
            .opportunities
            .iter()
            .map(|(_, _, doc)| {
                let doc: serde_json::Value = serde_json::from_str(doc).expect("document");
                doc["name"].as_str().unwrap_or_default().to_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names.len(), 11, "{backend}: one session an event");
        assert_eq!(
            names.iter().filter(|n| *n == "Renamed").count(),
            1,
            "{backend}: event 2 as it was last sent: {names:?}"
        );
    }
}

/// Waits until a plan has taken every slot.
async fn all_slots_taken(slots: &tokio::sync::Semaphore) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a plan takes the slot");
}

/// A page of `n` Events of feed `feed`, naming `next`.
fn event_page(feed: &str, n: usize, next: &str) -> Arc<RpdePage> {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"{feed}-{i}","kind":"Event","state":"updated","modified":1,"data":{{"@type":"Event","name":"Walk {i}","startDate":"2030-01-08T10:00:00Z","location":{{"geo":{{"latitude":53.76,"longitude":-2.7}}}}}}}}"#
            )
        })
        .collect();
    let body = format!(r#"{{"next":"{next}","items":[{}]}}"#, items.join(","));
    Arc::new(oa_model::parse_page(body.as_bytes()).expect("page"))
}

#[tokio::test]
async fn feeds_take_turns_for_the_pages_held_parsed_and_none_is_held_up_for_good() {
    for backend in backends() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(backend, &dir, "slots.db").await;
        let (a, b) = (
            feed(&store, "https://a.example/feed").await,
            feed(&store, "https://b.example/feed").await,
        );
        // One slot for both feeds' sinks.
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let sink_a = StoreSink::new(store.clone(), a.as_ref()).with_pages_in_memory(slots.clone());
        let sink_b =
            Arc::new(StoreSink::new(store.clone(), b.as_ref()).with_pages_in_memory(slots.clone()));
        // A's next page is planned ahead: it takes the slot.
        let page_a = event_page("a", 3, "https://a.example/feed?2");
        sink_a.upcoming("https://a.example/feed?1", &page_a);
        all_slots_taken(&slots).await;
        // B's page, applied meanwhile, waits for it rather than being parsed beside A's.
        let applying_b = tokio::spawn({
            let sink_b = sink_b.clone();
            async move {
                sink_b
                    .apply(
                        "https://b.example/feed",
                        event_page("b", 2, "https://b.example/feed?1"),
                    )
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            !applying_b.is_finished(),
            "{backend}: B waits while A's planned page holds the only slot"
        );
        sink_a
            .apply("https://a.example/feed?1", page_a)
            .await
            .expect("A's page is stored");
        assert_eq!(
            sink_a.pages_planned(),
            1,
            "{backend}: A's page came from its plan"
        );
        tokio::time::timeout(Duration::from_secs(10), applying_b)
            .await
            .expect("B goes on once A's page is stored")
            .expect("task")
            .expect("B's page is stored");
        assert_eq!(
            slots.available_permits(),
            1,
            "{backend}: every slot is given back"
        );
        let dump = store.dump().await.expect("dump");
        assert_eq!(dump.opportunities.len(), 5, "{backend}");
    }
}

/// A page of one item of feed `feed`, naming `next`.
fn one_item_page(id: &str, kind: &str, modified: i64, data: &str, next: &str) -> Arc<RpdePage> {
    let body = format!(
        r#"{{"next":"{next}","items":[{{"id":"{id}","kind":"{kind}","state":"updated","modified":{modified},"data":{data}}}]}}"#
    );
    Arc::new(oa_model::parse_page(body.as_bytes()).expect("page"))
}

#[tokio::test]
async fn a_page_whose_plan_failed_is_not_held_up_by_the_plan_of_the_page_after_it() {
    // SQLite only: the slots are the harvester's, whatever the store.
    let dir = tempfile::tempdir().expect("dir");
    let store = store("sqlite", &dir, "failed-plan.db").await;
    let (a, b) = (
        feed(&store, "https://a.example/feed").await,
        feed(&store, "https://b.example/feed").await,
    );
    // A series with a stored session whose data is corrupt: planning any update of the
    // series fails when it recomputes the session.
    let series = |modified| {
        one_item_page(
            "s",
            "SessionSeries",
            modified,
            r#"{"@type":"SessionSeries","@id":"https://a.example/s","name":"Walks"}"#,
            "https://a.example/feed?1",
        )
    };
    let session = r#"{"@type":"ScheduledSession","@id":"https://a.example/c","superEvent":"https://a.example/s","startDate":"2030-01-08T10:00:00Z"}"#;
    for page in [
        series(1),
        one_item_page(
            "c",
            "ScheduledSession",
            1,
            session,
            "https://a.example/feed?1",
        ),
    ] {
        let items = page.valid_items().map(oa_normalise::prepare).collect();
        store
            .apply_page(
                &a.as_ref(),
                items,
                &page.next,
                &oa_normalise::OpenActiveNormaliser::default(),
            )
            .await
            .expect("stored");
    }
    rusqlite::Connection::open(dir.path().join("failed-plan.db"))
        .and_then(|c| c.execute("update items set data = 'not json' where item_id = 'c'", []))
        .expect("the session's data is corrupted");

    let slots = Arc::new(tokio::sync::Semaphore::new(1));
    let sink_a =
        Arc::new(StoreSink::new(store.clone(), a.as_ref()).with_pages_in_memory(slots.clone()));
    let sink_b = StoreSink::new(store.clone(), b.as_ref()).with_pages_in_memory(slots.clone());
    // B's planned page holds the only slot; A's page 1 is planned behind it.
    let page_b = event_page("b", 1, "https://b.example/feed?1");
    sink_b.upcoming("https://b.example/feed", &page_b);
    all_slots_taken(&slots).await;
    sink_a.upcoming("https://a.example/feed?1", &series(2));
    let applying_a = tokio::spawn({
        let sink_a = sink_a.clone();
        async move { sink_a.apply("https://a.example/feed?1", series(2)).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A's page 2 is fetched while page 1 waits for its plan, and planned behind it.
    sink_a.upcoming(
        "https://a.example/feed?2",
        &event_page("a", 1, "https://a.example/feed?3"),
    );
    // B's page is stored: A's page 1 gets the slot, its plan fails and gives it back, and
    // A's page 2 plans with it. Page 1, applied unplanned, must still get a slot.
    sink_b
        .apply("https://b.example/feed", page_b)
        .await
        .expect("B's page is stored");
    let failed = tokio::time::timeout(Duration::from_secs(10), applying_a)
        .await
        .expect("A's page 1 is not held up by the plan of its page 2")
        .expect("task")
        .expect_err("A's page 1 meets the corrupt session");
    assert!(failed.contains("does not parse"), "{failed}");
    assert_eq!(slots.available_permits(), 1, "every slot is given back");
}

#[tokio::test]
async fn a_page_fetched_while_the_page_before_is_stored_is_written_beside_it() {
    let Ok(url) = std::env::var("OA_TEST_DATABASE_URL") else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let store = store("postgres", &dir, "beside.db").await;
    let record = feed(&store, "https://beside.example/feed").await;
    let sink = Arc::new(StoreSink::new(store.clone(), record.as_ref()));
    // The first page's session links to a series whose link another connection holds: the
    // page waits in its transaction, after taking its turn, until that lets go.
    let series = format!(
        "https://beside.example/series/{}",
        std::process::id() as u128 * 1_000_000_000 + dir.path().display().to_string().len() as u128
    );
    let holder = sqlx::PgPool::connect(&url).await.expect("connect");
    let mut holding = holder.begin().await.expect("begin");
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 7305))")
        .bind(&series)
        .execute(&mut *holding)
        .await
        .expect("hold the link");
    let first_next = "https://beside.example/feed?after=1";
    let first = format!(
        r#"{{"next":"{first_next}","items":[{{"id":"s-1","kind":"ScheduledSession","state":"updated","modified":1,"data":{{"@type":"ScheduledSession","superEvent":"{series}","startDate":"2030-01-08T10:00:00Z"}}}}]}}"#
    );
    let first = Arc::new(oa_model::parse_page(first.as_bytes()).expect("page"));
    let storing_first = tokio::spawn({
        let sink = sink.clone();
        async move { sink.apply("https://beside.example/feed", first).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The walk fetches the second page meanwhile.
    let second = event_page("beside", 3, "https://beside.example/feed?after=4");
    sink.upcoming(first_next, &second);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !storing_first.is_finished(),
        "the first page waits for the link"
    );
    let stored = store.feeds().await.expect("feeds").remove(0);
    assert_eq!(stored.cursor, None, "the second page waits for the first");

    holding.rollback().await.expect("let go");
    tokio::time::timeout(Duration::from_secs(10), storing_first)
        .await
        .expect("the first page goes on")
        .expect("task")
        .expect("the first page is stored");
    sink.apply(first_next, second)
        .await
        .expect("the second page is stored");
    assert_eq!(
        sink.pages_written_ahead(),
        1,
        "the second page was written beside the first"
    );
    let stored = store.feeds().await.expect("feeds").remove(0);
    assert_eq!(
        stored.cursor.as_deref(),
        Some("https://beside.example/feed?after=4")
    );
    assert_eq!(stored.pages, 2);
    assert_eq!(store.dump().await.expect("dump").items.len(), 4);
}
