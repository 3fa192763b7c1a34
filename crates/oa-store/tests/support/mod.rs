//! Test stores on every backend, and item builders.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use chrono::{DateTime, Duration, Utc};
use oa_model::{DiscoveredFeed, PreparedItem, parse_page};
use oa_store::index::SessionIndex;
use oa_store::{FeedRef, PgStore, SqliteStore, Store};
use serde_json::{Value, json};

/// One backend under test. The temp dir keeps the SQLite file alive.
pub struct TestStore {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    /// One search index for the whole test, so it follows the store's changes as a serving
    /// process's does.
    pub index: SessionIndex,
    pub sqlite: Option<SqliteStore>,
    pub pg: Option<PgStore>,
    /// The database URL and PostgreSQL schema, to open a second handle as another process would.
    url: String,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// SQLite always; PostgreSQL too when `OA_TEST_DATABASE_URL` names a server. Each test gets
/// a fresh database (SQLite file, PostgreSQL schema) so tests run in parallel.
pub async fn stores(test: &str) -> Vec<TestStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let sqlite = SqliteStore::connect(&url).await.expect("sqlite store");
    let mut all = vec![TestStore {
        name: "sqlite",
        store: Arc::new(sqlite.clone()),
        index: SessionIndex::new(),
        sqlite: Some(sqlite),
        pg: None,
        url,
        schema: None,
        _dir: Some(dir),
    }];
    if let Ok(url) = std::env::var("OA_TEST_DATABASE_URL") {
        let schema = format!(
            "t_{}_{}_{}",
            test,
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default() % 1_000_000_000
        );
        let pg = PgStore::connect_in_schema(&url, &schema)
            .await
            .expect("postgres store");
        all.push(TestStore {
            name: "postgres",
            store: Arc::new(pg.clone()),
            index: SessionIndex::new(),
            sqlite: None,
            pg: Some(pg),
            url,
            schema: Some(schema),
            _dir: None,
        });
    }
    all
}

impl TestStore {
    /// Runs `statement` (SQL ending where its one bound value goes, `... where id = `) with
    /// `value` bound, under the store's feet, as a broken write or a hand edit would.
    pub async fn edit(&self, statement: &str, value: &str) {
        if let Some(sqlite) = &self.sqlite {
            sqlx::query(sqlx::AssertSqlSafe(format!("{statement}?")))
                .bind(value)
                .execute(sqlite.writer_pool())
                .await
                .expect("edit");
        } else if let Some(pg) = &self.pg {
            sqlx::query(sqlx::AssertSqlSafe(format!("{statement}$1")))
                .bind(value)
                .execute(pg.pool())
                .await
                .expect("edit");
        }
    }

    /// The one integer a query (the same text on both backends) returns.
    pub async fn count(&self, query: &str) -> i64 {
        let query = sqlx::AssertSqlSafe(query.to_owned());
        if let Some(sqlite) = &self.sqlite {
            sqlx::query_scalar(query)
                .fetch_one(sqlite.writer_pool())
                .await
                .expect("count")
        } else if let Some(pg) = &self.pg {
            sqlx::query_scalar(query)
                .fetch_one(pg.pool())
                .await
                .expect("count")
        } else {
            unreachable!("a test store is SQLite or PostgreSQL")
        }
    }

    /// Makes the next insert of an opportunity for `item_id` fail inside the database, as a
    /// disk or constraint failure would, mid-page.
    pub async fn fail_on_item(&self, item_id: &str) {
        let item_id = item_id.replace('\'', "");
        if let Some(sqlite) = &self.sqlite {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "create trigger injected before insert on opportunities when new.item_id = '{item_id}' \
                 begin select raise(abort, 'injected failure'); end"
            )))
            .execute(sqlite.writer_pool())
            .await
            .expect("trigger");
        }
        if let Some(pg) = &self.pg {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "create function injected() returns trigger language plpgsql as $$ begin \
                 if new.item_id = '{item_id}' then raise exception 'injected failure'; end if; return new; end $$; \
                 create trigger injected before insert on opportunities for each row execute function injected();"
            )))
            .execute(pg.pool())
            .await
            .expect("trigger");
        }
    }

    pub async fn heal(&self) {
        if let Some(sqlite) = &self.sqlite {
            sqlx::query("drop trigger injected")
                .execute(sqlite.writer_pool())
                .await
                .expect("drop");
        }
        if let Some(pg) = &self.pg {
            sqlx::query("drop trigger injected on opportunities")
                .execute(pg.pool())
                .await
                .expect("drop");
        }
    }

    /// A separate connection to the same database, sharing nothing in memory with `store`:
    /// what another process (a separate `harvest`) would have.
    pub async fn other_process(&self) -> Arc<dyn Store> {
        match &self.schema {
            None => Arc::new(SqliteStore::connect(&self.url).await.expect("sqlite")),
            Some(schema) => Arc::new(
                PgStore::connect_in_schema(&self.url, schema)
                    .await
                    .expect("postgres"),
            ),
        }
    }

    /// Applies a page of RPDE item JSON with the OpenActive normaliser.
    pub async fn apply(
        &self,
        feed: &FeedRef,
        items: Vec<Value>,
        next: &str,
    ) -> oa_store::PageOutcome {
        self.store
            .apply_page(
                feed,
                prepared(items),
                next,
                &oa_normalise::OpenActiveNormaliser::default(),
            )
            .await
            .expect("apply")
    }

    /// Registers a feed and returns its reference.
    pub async fn feed(&self, url: &str) -> FeedRef {
        let feeds = self
            .store
            .sync_source_feeds(
                &format!("feed:{url}"),
                &[DiscoveredFeed {
                    url: url.into(),
                    kind: None,
                    publisher: Some("Test Publisher".into()),
                    dataset_site: None,
                }],
            )
            .await
            .expect("sync");
        feeds[0].as_ref()
    }

    /// A series `x` ("Yoga", at `lat`/`lng`) in one feed and `count` of its sessions (`s0`,
    /// `s1`... from 5 hours on, at `modified`) in another: (series feed, sessions feed).
    pub async fn series_with_sessions(
        &self,
        count: i64,
        modified: i64,
        (lat, lng): (f64, f64),
    ) -> (FeedRef, FeedRef) {
        let series_feed = self.feed("https://p.example/series").await;
        let sessions = self.feed("https://p.example/sessions").await;
        self.apply(&series_feed, vec![series("x", 1, "Yoga", lat, lng)], "n")
            .await;
        let children: Vec<_> = (0..count)
            .map(|n| session(&format!("s{n}"), modified, "x", at(5 + n)))
            .collect();
        self.apply(&sessions, children, "n").await;
        (series_feed, sessions)
    }
}

/// Items prepared from RPDE item JSON values.
pub fn prepared(items: Vec<Value>) -> Vec<PreparedItem> {
    let page = json!({"next": "x", "items": items}).to_string();
    parse_page(page.as_bytes())
        .expect("page")
        .valid_items()
        .map(oa_normalise::prepare)
        .collect()
}

pub fn at(hours_from_now: i64) -> DateTime<Utc> {
    let now = Utc::now();
    now - Duration::seconds(now.timestamp() % 60) + Duration::hours(hours_from_now)
}

pub fn event(id: &str, modified: i64, lat: f64, lng: f64, start: DateTime<Utc>) -> Value {
    json!({"state": "updated", "kind": "Event", "id": id, "modified": modified, "data": {
        "@type": "Event", "@id": format!("https://p.example/events/{id}"), "name": format!("Event {id}"),
        "startDate": start.to_rfc3339(), "duration": "PT1H",
        "activity": [{"@id": "https://openactive.io/activity-list#yoga", "prefLabel": "Yoga"}],
        "location": {"name": "Hall", "geo": {"latitude": lat, "longitude": lng}}
    }})
}

pub fn deleted(id: &str, kind: &str, modified: i64) -> Value {
    json!({"state": "deleted", "kind": kind, "id": id, "modified": modified})
}

pub fn series(id: &str, modified: i64, name: &str, lat: f64, lng: f64) -> Value {
    json!({"state": "updated", "kind": "SessionSeries", "id": id, "modified": modified, "data": {
        "@type": "SessionSeries", "@id": format!("https://p.example/series/{id}"), "name": name,
        "location": {"name": "Park", "geo": {"latitude": lat, "longitude": lng}},
        "offers": [{"price": 2.5, "priceCurrency": "GBP"}]
    }})
}

pub fn session(id: &str, modified: i64, series_id: &str, start: DateTime<Utc>) -> Value {
    json!({"state": "updated", "kind": "ScheduledSession", "id": id, "modified": modified, "data": {
        "@type": "ScheduledSession", "@id": format!("https://p.example/sessions/{id}"),
        "superEvent": format!("https://p.example/series/{series_id}"),
        "startDate": start.to_rfc3339(), "duration": "PT1H"
    }})
}

/// The shipped normaliser's output for an item, with each opportunity changed by `alter`:
/// a rule change whose effect a test can see.
pub fn shipped_altered(
    kind: &str,
    item: &Value,
    parent: Option<&Value>,
    alter: impl Fn(&mut oa_model::Opportunity),
) -> oa_model::Normalised {
    use oa_model::Normaliser as _;
    static SHIPPED: std::sync::LazyLock<oa_normalise::OpenActiveNormaliser> =
        std::sync::LazyLock::new(oa_normalise::OpenActiveNormaliser::default);
    match SHIPPED.normalise(kind, item, parent) {
        oa_model::Normalised::Opportunities(mut found) => {
            found.iter_mut().for_each(alter);
            oa_model::Normalised::Opportunities(found)
        }
        other => other,
    }
}

/// Adds " (renormalised)" to every opportunity's name, to see which items a pass reached.
#[derive(Debug)]
pub struct Marking;

impl oa_model::Normaliser for Marking {
    fn normalise(&self, kind: &str, item: &Value, parent: Option<&Value>) -> oa_model::Normalised {
        shipped_altered(kind, item, parent, |o| {
            o.name = o.name.take().map(|n| format!("{n} (renormalised)"));
        })
    }
}

/// A SessionSeries with a weekly schedule from tomorrow (its sessions generated from it)
/// at `place`.
pub fn scheduled_series(id: &str, modified: i64, place: (f64, f64)) -> Value {
    let tomorrow = (Utc::now() + Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    json!({"state": "updated", "kind": "SessionSeries", "id": id, "modified": modified, "data": {
        "@type": "SessionSeries", "@id": format!("https://p.example/series/{id}"), "name": "Scheduled Yoga",
        "location": {"name": "Park", "geo": {"latitude": place.0, "longitude": place.1}},
        "eventSchedule": [{"@type": "Schedule", "repeatFrequency": "P1W", "startDate": tomorrow,
                           "startTime": "10:00", "duration": "PT1H", "scheduleTimezone": "Europe/London"}]
    }})
}

/// Normalises as `inner` does, and the first time it meets an item `pauses_at` picks, waits
/// there until let go: what a test lands beside a transaction it holds open.
pub struct Pausing<N> {
    inner: N,
    pauses_at: fn(&str, &Value) -> bool,
    paused: AtomicBool,
    reached: Mutex<mpsc::Sender<()>>,
    resume: Mutex<mpsc::Receiver<()>>,
}

impl<N> Pausing<N> {
    /// The normaliser, what tells when it has paused, and what lets it go on.
    pub fn new(
        inner: N,
        pauses_at: fn(&str, &Value) -> bool,
    ) -> (Arc<Self>, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (reached, paused) = mpsc::channel();
        let (resume, resumed) = mpsc::channel();
        let pausing = Arc::new(Pausing {
            inner,
            pauses_at,
            paused: AtomicBool::new(false),
            reached: Mutex::new(reached),
            resume: Mutex::new(resumed),
        });
        (pausing, paused, resume)
    }
}

impl<N: oa_model::Normaliser> oa_model::Normaliser for Pausing<N> {
    fn normalise(&self, kind: &str, item: &Value, parent: Option<&Value>) -> oa_model::Normalised {
        if (self.pauses_at)(kind, item) && !self.paused.swap(true, Ordering::SeqCst) {
            let _ = self.reached.lock().expect("lock").send(());
            let _ = self.resume.lock().expect("lock").recv();
        }
        self.inner.normalise(kind, item, parent)
    }
}
