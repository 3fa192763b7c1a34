//! The walker and fetcher against a fake publisher on loopback.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use oa_harvest::{FetchConfig, FetchError, Fetcher, PageSink, WalkError, walk_to_end};
use oa_model::RpdePage;
use oa_model::rpde_publish::{FeedOrdering, PublishedItem, build_page, parse_after};
use serde_json::value::RawValue;

/// A canned answer: status, extra headers, body, delay.
#[derive(Clone)]
struct Canned(u16, Vec<(&'static str, String)>, String, Duration);

#[derive(Clone)]
struct Publisher {
    base: String,
    ordering: FeedOrdering,
    ids: Vec<String>,
    /// Answers to give, in order, before the real feed, per path-and-query.
    script: Arc<Mutex<HashMap<String, VecDeque<Canned>>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn serve_feed(State(p): State<Publisher>, uri: Uri, RawQuery(query): RawQuery) -> Response {
    let key = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    p.requests.lock().expect("lock").push(key.clone());
    let canned = p
        .script
        .lock()
        .expect("lock")
        .get_mut(&key)
        .and_then(VecDeque::pop_front);
    if let Some(Canned(status, headers, body, delay)) = canned {
        tokio::time::sleep(delay).await;
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(name, value.parse().expect("header"));
        }
        return (StatusCode::from_u16(status).expect("status"), map, body).into_response();
    }
    let data =
        RawValue::from_string(r#"{"@type":"Event","startDate":"2026-01-01T10:00:00Z"}"#.into())
            .expect("raw");
    let items: Vec<PublishedItem<'_>> = p
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| PublishedItem {
            id,
            kind: "Event",
            modified: 100 + i as i64,
            data: Some(&data),
        })
        .collect();
    let after = parse_after(query.as_deref()).expect("cursor");
    let body = build_page(
        &format!("{}/feed", p.base),
        p.ordering,
        &items,
        &after,
        3,
        "https://creativecommons.org/licenses/by/4.0/",
    );
    ([("cache-control", "public, max-age=8")], body).into_response()
}

async fn publisher(ordering: FeedOrdering, items: usize) -> Publisher {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let p = Publisher {
        base,
        ordering,
        ids: (0..items).map(|i| format!("item-{i:02}")).collect(),
        script: Arc::default(),
        requests: Arc::default(),
    };
    let app = axum::Router::new()
        .fallback(serve_feed)
        .with_state(p.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    p
}

impl Publisher {
    fn feed(&self) -> String {
        format!("{}/feed", self.base)
    }
    fn script(&self, path_and_query: &str, answers: Vec<Canned>) {
        self.script
            .lock()
            .expect("lock")
            .insert(path_and_query.into(), answers.into());
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Vec<String>)>>);

#[async_trait]
impl PageSink for Recorder {
    async fn apply(&self, requested: &str, page: Arc<RpdePage>) -> Result<(), String> {
        let ids = page.valid_items().map(|i| i.id.clone()).collect();
        self.0
            .lock()
            .expect("lock")
            .push((requested.to_owned(), ids));
        Ok(())
    }
}

impl Recorder {
    fn ids(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|(_, ids)| ids.clone())
            .collect()
    }
}

fn fetcher(max_attempts: usize) -> Fetcher {
    Fetcher::new(FetchConfig {
        max_attempts,
        min_retry_delay: Duration::from_millis(5),
        max_retry_delay: Duration::from_millis(20),
        request_timeout: Duration::from_millis(500),
        max_page_bytes: 4096,
        ..FetchConfig::default()
    })
    .expect("client")
}

fn expected_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("item-{i:02}")).collect()
}

#[tokio::test]
async fn walks_both_orderings_to_the_end_following_next_verbatim() {
    for ordering in [FeedOrdering::ModifiedId, FeedOrdering::ChangeNumber] {
        let p = publisher(ordering, 7).await;
        let sink = Recorder::default();
        let summary = walk_to_end(&fetcher(1), &sink, &p.feed())
            .await
            .expect("walk");
        assert_eq!(sink.ids(), expected_ids(7), "{ordering:?}");
        assert_eq!(summary.pages, 3);
        // The last page is requested once and recognised by its `next` equal to itself.
        let requests = p.requests.lock().expect("lock").clone();
        assert_eq!(requests.len(), 4);
        assert_eq!(format!("{}{}", p.base, requests[3]), summary.last_url);
    }
}

#[tokio::test]
async fn an_empty_page_mid_feed_is_not_the_end() {
    let p = publisher(FeedOrdering::ChangeNumber, 4).await;
    // A publisher filtering items out answers an empty page whose `next` moves on.
    let moving_on = format!(
        r#"{{"next":"{}/feed?afterChangeNumber=102&filtered=1","items":[],"license":"L"}}"#,
        p.base
    );
    p.script(
        "/feed?afterChangeNumber=102",
        vec![Canned(200, vec![], moving_on, Duration::ZERO)],
    );
    let sink = Recorder::default();
    walk_to_end(&fetcher(1), &sink, &p.feed())
        .await
        .expect("walk");
    // item-00..02 on the first page, an empty filtered page, then item-03.
    assert_eq!(sink.ids(), expected_ids(4));
}

#[tokio::test]
async fn honours_retry_after_on_429_and_retries_500_bursts() {
    let p = publisher(FeedOrdering::ModifiedId, 2).await;
    p.script(
        "/feed",
        vec![
            Canned(
                429,
                vec![("retry-after", "1".into())],
                "slow down".into(),
                Duration::ZERO,
            ),
            Canned(500, vec![], "oops".into(), Duration::ZERO),
            Canned(503, vec![], "oops".into(), Duration::ZERO),
        ],
    );
    let started = Instant::now();
    let sink = Recorder::default();
    walk_to_end(&fetcher(4), &sink, &p.feed())
        .await
        .expect("walk after retries");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as Retry-After asked"
    );
    assert_eq!(sink.ids(), expected_ids(2));
}

#[tokio::test]
async fn gives_up_after_bounded_attempts_with_the_error_named() {
    let p = publisher(FeedOrdering::ModifiedId, 2).await;
    p.script(
        "/feed",
        vec![Canned(500, vec![], "".into(), Duration::ZERO); 3],
    );
    let sink = Recorder::default();
    let error = walk_to_end(&fetcher(3), &sink, &p.feed())
        .await
        .expect_err("fails");
    assert!(
        matches!(
            &error,
            WalkError::Fetch(FetchError::Status { status: 500, .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains(&p.feed()));
    assert_eq!(p.requests.lock().expect("lock").len(), 3);
    assert!(sink.ids().is_empty());
}

#[tokio::test]
async fn not_found_mid_harvest_means_gone_without_retrying() {
    let p = publisher(FeedOrdering::ChangeNumber, 7).await;
    p.script(
        "/feed?afterChangeNumber=102",
        vec![Canned(404, vec![], "".into(), Duration::ZERO)],
    );
    let sink = Recorder::default();
    let error = walk_to_end(&fetcher(5), &sink, &p.feed())
        .await
        .expect_err("gone");
    assert!(matches!(
        error,
        WalkError::Gone(FetchError::Status { status: 404, .. })
    ));
    assert_eq!(sink.ids(), expected_ids(3), "the pages before stay applied");
    assert_eq!(
        p.requests.lock().expect("lock").len(),
        2,
        "404 is not retried"
    );
}

#[tokio::test]
async fn a_truncated_page_is_retried_then_reported() {
    let p = publisher(FeedOrdering::ModifiedId, 2).await;
    p.script(
        "/feed",
        vec![Canned(
            200,
            vec![],
            r#"{"next":"x","items":[{"state":"upd"#.into(),
            Duration::ZERO,
        )],
    );
    let sink = Recorder::default();
    walk_to_end(&fetcher(2), &sink, &p.feed())
        .await
        .expect("second attempt is whole");
    assert_eq!(sink.ids(), expected_ids(2));

    p.script(
        "/feed",
        vec![Canned(200, vec![], "{\"next\":".into(), Duration::ZERO); 2],
    );
    let error = walk_to_end(&fetcher(2), &Recorder::default(), &p.feed())
        .await
        .expect_err("fails");
    assert!(
        matches!(error, WalkError::Fetch(FetchError::Page { .. })),
        "{error}"
    );
}

#[tokio::test]
async fn a_stalled_publisher_times_out_and_an_oversized_page_is_refused() {
    let p = publisher(FeedOrdering::ModifiedId, 2).await;
    p.script(
        "/feed",
        vec![Canned(200, vec![], "{}".into(), Duration::from_secs(3))],
    );
    let error = walk_to_end(&fetcher(1), &Recorder::default(), &p.feed())
        .await
        .expect_err("times out");
    assert!(
        matches!(error, WalkError::Fetch(FetchError::Timeout { .. })),
        "{error}"
    );

    p.script(
        "/feed",
        vec![Canned(200, vec![], "x".repeat(10_000), Duration::ZERO); 3],
    );
    let error = walk_to_end(&fetcher(3), &Recorder::default(), &p.feed())
        .await
        .expect_err("too large");
    assert!(
        matches!(
            error,
            WalkError::Fetch(FetchError::TooLarge { limit: 4096, .. })
        ),
        "{error}"
    );
    assert_eq!(
        p.requests.lock().expect("lock").len(),
        2,
        "a page too large is not retried"
    );
}

#[tokio::test]
async fn a_non_empty_page_naming_itself_as_next_does_not_spin() {
    let p = publisher(FeedOrdering::ModifiedId, 2).await;
    let page = format!(
        r#"{{"next":"{}/feed","items":[{{"state":"deleted","kind":"Event","id":"z","modified":1}}],"license":"L"}}"#,
        p.base
    );
    p.script("/feed", vec![Canned(200, vec![], page, Duration::ZERO)]);
    let sink = Recorder::default();
    let summary = walk_to_end(&fetcher(1), &sink, &p.feed())
        .await
        .expect("walk");
    assert_eq!(summary.pages, 1);
    assert_eq!(sink.ids(), vec!["z"]);
}

/// Asks for `ahead` pages ahead, and stores the first page only once the publisher has been
/// asked for that many more and the sink told of each, so the walk finishes only if they are
/// fetched (and announced) while a page is being stored; optionally fails that first store.
/// Logs what it is told, in order, and how many pages had been requested when the first page
/// committed.
struct WaitsForPrefetch {
    publisher: Publisher,
    ahead: usize,
    fail_first: bool,
    applied: Mutex<Vec<String>>,
    events: Mutex<Vec<String>>,
    requested_at_first_commit: Mutex<usize>,
}

impl WaitsForPrefetch {
    fn new(publisher: Publisher, fail_first: bool) -> Self {
        Self::ahead(publisher, 2, fail_first)
    }

    fn ahead(publisher: Publisher, ahead: usize, fail_first: bool) -> Self {
        WaitsForPrefetch {
            publisher,
            ahead,
            fail_first,
            applied: Mutex::default(),
            events: Mutex::default(),
            requested_at_first_commit: Mutex::default(),
        }
    }

    fn log(&self, event: String) {
        self.events.lock().expect("lock").push(event);
    }
}

#[async_trait]
impl PageSink for WaitsForPrefetch {
    async fn apply(&self, requested: &str, page: Arc<RpdePage>) -> Result<(), String> {
        let first = self.applied.lock().expect("lock").is_empty();
        self.applied
            .lock()
            .expect("lock")
            .push(requested.to_owned());
        self.log(format!("apply {} items", page.items.len()));
        if first {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.publisher.requests.lock().expect("lock").len() < 1 + self.ahead
                || self.events.lock().expect("lock").len() < 1 + self.ahead
            {
                if Instant::now() > deadline {
                    return Err("the pages ahead were not fetched while this one was stored".into());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if self.fail_first {
                return Err("disk full".into());
            }
            *self.requested_at_first_commit.lock().expect("lock") =
                self.publisher.requests.lock().expect("lock").len();
        }
        self.log("committed".into());
        Ok(())
    }

    fn upcoming(&self, _requested: &str, page: &Arc<RpdePage>) {
        self.log(format!("upcoming {} items", page.items.len()));
    }

    fn pages_ahead(&self) -> usize {
        self.ahead
    }
}

#[tokio::test]
async fn the_next_two_pages_are_fetched_while_one_is_stored_but_handed_on_only_after_it_commits() {
    let p = publisher(FeedOrdering::ModifiedId, 7).await;
    let sink = WaitsForPrefetch::new(p.clone(), false);
    let summary = walk_to_end(&fetcher(1), &sink, &p.feed())
        .await
        .expect("walk");
    assert_eq!(summary.pages, 3);
    assert_eq!(sink.applied.lock().expect("lock").len(), 3);
    assert_eq!(
        *sink.requested_at_first_commit.lock().expect("lock"),
        3,
        "the first page and the next two, no more"
    );
    // Each page ahead is announced once it is fetched (the second and third pages while the
    // first is stored) and before it is applied; the empty last page, never applied, is not.
    let events = sink.events.lock().expect("lock").clone();
    assert_eq!(
        events[..4],
        [
            "apply 3 items",
            "upcoming 3 items",
            "upcoming 1 items",
            "committed"
        ],
        "{events:?}"
    );
    let at = |wanted: &str, nth: usize| {
        events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.starts_with(wanted))
            .nth(nth)
            .map(|(at, e)| (at, e.clone()))
    };
    for (page, items) in [(1, "3 items"), (2, "1 items")] {
        let (announced, told) = at("upcoming", page - 1).expect("announced");
        let (applied, stored) = at("apply", page).expect("applied");
        assert!(announced < applied, "{events:?}");
        assert_eq!(
            (told, stored),
            (format!("upcoming {items}"), format!("apply {items}"))
        );
    }
    assert_eq!(at("upcoming", 2), None, "{events:?}");

    let p = publisher(FeedOrdering::ModifiedId, 7).await;
    let failing = WaitsForPrefetch::new(p.clone(), true);
    let error = walk_to_end(&fetcher(1), &failing, &p.feed())
        .await
        .expect_err("the store failed");
    assert!(
        matches!(&error, WalkError::Sink { url, reason } if *url == p.feed() && reason == "disk full"),
        "{error}"
    );
    assert_eq!(
        *failing.applied.lock().expect("lock"),
        [p.feed()],
        "the pages fetched ahead are dropped, never stored, when their predecessor fails"
    );
}

#[tokio::test]
async fn a_sink_that_wants_one_page_ahead_is_fetched_only_the_next() {
    let p = publisher(FeedOrdering::ModifiedId, 7).await;
    let sink = WaitsForPrefetch::ahead(p.clone(), 1, false);
    let summary = walk_to_end(&fetcher(1), &sink, &p.feed())
        .await
        .expect("walk");
    assert_eq!(summary.pages, 3);
    assert_eq!(
        *sink.requested_at_first_commit.lock().expect("lock"),
        2,
        "the first page and the next, not the one after"
    );
    let events = sink.events.lock().expect("lock").clone();
    assert_eq!(
        events[..3],
        ["apply 3 items", "upcoming 3 items", "committed"],
        "{events:?}"
    );
}

#[tokio::test]
async fn a_next_page_on_another_host_is_followed_and_logged_or_refused_by_config() {
    let p = publisher(FeedOrdering::ModifiedId, 0).await;
    let port = p.base.rsplit(':').next().expect("port").to_owned();
    let elsewhere = format!("http://localhost:{port}/feed?page=2");
    let first = format!(
        r#"{{"next":"{elsewhere}","items":[{{"id":"a","kind":"Event","state":"updated","modified":1,"data":{{"@type":"Event"}}}}],"license":"L"}}"#
    );
    let last = format!(r#"{{"next":"{elsewhere}","items":[],"license":"L"}}"#);
    let script = |p: &Publisher| {
        p.script(
            "/feed",
            vec![Canned(200, vec![], first.clone(), Duration::ZERO)],
        );
        p.script(
            "/feed?page=2",
            vec![Canned(200, vec![], last.clone(), Duration::ZERO)],
        );
    };

    script(&p);
    let sink = Recorder::default();
    let summary = walk_to_end(&fetcher(1), &sink, &p.feed())
        .await
        .expect("followed");
    assert_eq!(
        (summary.pages, summary.last_url.as_str()),
        (1, elsewhere.as_str())
    );
    assert_eq!(sink.ids(), ["a"]);

    script(&p);
    let strict = Fetcher::new(FetchConfig {
        allow_cross_host_next: false,
        max_attempts: 1,
        ..FetchConfig::default()
    })
    .expect("client");
    let sink = Recorder::default();
    let error = walk_to_end(&strict, &sink, &p.feed())
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, WalkError::CrossHost { url, next } if *url == p.feed() && *next == elsewhere),
        "{error}"
    );
    assert!(
        sink.ids().is_empty(),
        "the page is not stored, so the cursor never moves to the other host"
    );
}
