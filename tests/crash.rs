//! Crash safety from outside the process: a real `oa-aggregator harvest --once` is killed
//! with SIGKILL at random moments, restarted each time, and the store it ends with must equal
//! that of an uninterrupted run: same items and `modified`, no duplicates, no lost deletes,
//! same opportunities, same cursor. SQLite always; PostgreSQL when `OA_TEST_DATABASE_URL` is
//! set (each run in its own database).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::RawQuery;
use oa_model::rpde_publish::{FeedOrdering, PublishedItem, build_page, parse_after};
use serde_json::value::RawValue;

const BIN: &str = env!("CARGO_BIN_EXE_oa-aggregator");
const SERIES: usize = 600;
const SESSIONS_PER_SERIES: usize = 8;
const KILLS: usize = 20;

/// One feed: sessions before their series, updates of earlier items, and deletes, in
/// modified+id order, 50 items a page.
async fn publisher() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/feed", listener.local_addr().expect("addr"));
    let mut items: Vec<(String, &'static str, Option<Box<RawValue>>)> = Vec::new();
    let raw = |json: String| RawValue::from_string(json).ok();
    for s in 0..SERIES {
        for n in 0..SESSIONS_PER_SERIES {
            items.push((format!("session-{s}-{n}"), "ScheduledSession", raw(format!(
                r#"{{"@type":"ScheduledSession","@id":"https://p/s/{s}/{n}","superEvent":"https://p/series/{s}","startDate":"2030-02-{:02}T10:00:00Z","duration":"PT1H"}}"#,
                1 + n
            ))));
        }
        items.push((format!("series-{s}"), "SessionSeries", raw(format!(
            r#"{{"@type":"SessionSeries","@id":"https://p/series/{s}","name":"Series {s}","description":"Friendly group, tea after.","location":{{"geo":{{"latitude":{},"longitude":-2.70}}}},"offers":[{{"price":{},"priceCurrency":"GBP"}}]}}"#,
            53.7 + (s % 50) as f64 / 1000.0,
            s % 6
        ))));
        if s % 10 == 0 {
            items.push((format!("session-{s}-0"), "ScheduledSession", None));
        }
        if s % 7 == 0 {
            items.push((format!("series-{s}"), "SessionSeries", raw(format!(
                r#"{{"@type":"SessionSeries","@id":"https://p/series/{s}","name":"Series {s} (renamed)","location":{{"geo":{{"latitude":53.75,"longitude":-2.70}}}}}}"#
            ))));
        }
    }
    let app = axum::Router::new().fallback(move |RawQuery(query): RawQuery| {
        let url = url.clone();
        let items: Vec<(String, &'static str, Option<Box<RawValue>>)> = items
            .iter()
            .map(|(id, kind, data)| (id.clone(), *kind, data.clone()))
            .collect();
        async move {
            // Later copies of an id supersede earlier ones with a greater `modified`.
            let published: Vec<PublishedItem<'_>> = items
                .iter()
                .enumerate()
                .map(|(i, (id, kind, data))| PublishedItem {
                    id,
                    kind,
                    modified: 1_000 + i as i64,
                    data: data.as_deref(),
                })
                .collect();
            let after = parse_after(query.as_deref()).expect("cursor");
            build_page(&url, FeedOrdering::ModifiedId, &published, &after, 50, "L")
        }
    });
    let feed = format!("http://{}/feed", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    feed
}

/// A store URL of its own for one run: a SQLite file, or a fresh PostgreSQL database.
async fn database(backend: &str, dir: &std::path::Path, name: &str) -> String {
    if backend == "sqlite" {
        return format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    }
    let admin = std::env::var("OA_TEST_DATABASE_URL").expect("set for postgres");
    let database = format!("crash_{name}_{}_{}", std::process::id(), nanos());
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("admin connection");
    // The name is ours (process id and clock), never input.
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {database}")))
        .execute(&pool)
        .await
        .expect("create database");
    let mut url = url::Url::parse(&admin).expect("url");
    url.set_path(&database);
    url.to_string()
}

async fn drop_databases(urls: &[&str]) {
    let admin = std::env::var("OA_TEST_DATABASE_URL").expect("set for postgres");
    let pool = sqlx::PgPool::connect(&admin)
        .await
        .expect("admin connection");
    for url in urls {
        let name = url::Url::parse(url)
            .map(|u| u.path().trim_start_matches('/').to_owned())
            .unwrap_or_default();
        // Our own generated name again; `force` ends any connection left by a killed run.
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists {name} with (force)"
        )))
        .execute(&pool)
        .await;
    }
}

fn nanos() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default()
}

fn config(dir: &std::path::Path, feed: &str) -> std::path::PathBuf {
    let path = dir.join("area.toml");
    std::fs::write(&path, format!("[[sources]]\nfeed = \"{feed}\"\n")).expect("config");
    path
}

fn harvest(config: &std::path::Path, db: &str) -> std::process::Child {
    Command::new(BIN)
        .args(["harvest", "--once", "--config"])
        .arg(config)
        .env("OA__DATABASE__URL", db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn harvest")
}

async fn dump(db: &str) -> oa_store::StoreDump {
    oa_store::connect(db)
        .await
        .expect("store")
        .dump()
        .await
        .expect("dump")
}

/// A small deterministic generator: the seed is printed so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_harvest_killed_at_random_moments_resumes_to_exactly_the_uninterrupted_state() {
    let feed = publisher().await;
    let mut backends = vec!["sqlite"];
    if std::env::var("OA_TEST_DATABASE_URL").is_ok() {
        backends.push("postgres");
    }
    // Each backend's uninterrupted run, to compare with the first's: PostgreSQL writes a
    // feed's pages two at a time, SQLite one after another, and both must store the same.
    let mut first_expected: Option<oa_store::StoreDump> = None;
    for backend in backends {
        let dir = tempfile::tempdir().expect("dir");
        let config = config(dir.path(), &feed);

        let reference = database(backend, dir.path(), "reference").await;
        let started = Instant::now();
        let status =
            tokio::task::block_in_place(|| harvest(&config, &reference).wait()).expect("wait");
        assert!(status.success(), "the uninterrupted run succeeds");
        let full_run = started.elapsed();
        let expected = dump(&reference).await;
        assert!(
            expected.items.len() > SERIES * SESSIONS_PER_SERIES,
            "{}",
            expected.items.len()
        );

        match &first_expected {
            None => first_expected = Some(expected.clone()),
            Some(first) => assert_eq!(
                &expected, first,
                "{backend}: the same state as the first backend's uninterrupted run"
            ),
        }

        let seed = u64::from(nanos());
        println!("{backend}: kill seed {seed}, an uninterrupted run takes {full_run:?}");
        let mut random = Lcg(seed);
        let killed = database(backend, dir.path(), "killed").await;
        let mut kills_mid_run = 0;
        // Short waits, so that each run gets a little further and most kills land mid-run.
        // A run that ends before its kill halves them: the uninterrupted run, timed once,
        // may have been slowed by the machine (11 s for a 4 s run once on PostgreSQL, and
        // the feed was then done within a few kills).
        let mut window = (full_run.as_millis() as u64 / 10).max(20);
        for _ in 0..KILLS {
            let mut child = harvest(&config, &killed);
            let wait = Duration::from_millis(20 + random.below(window));
            std::thread::sleep(wait);
            if child.try_wait().expect("poll").is_none() {
                kills_mid_run += 1;
            } else {
                window = (window / 2).max(20);
            }
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        let status =
            tokio::task::block_in_place(|| harvest(&config, &killed).wait()).expect("wait");
        assert!(status.success(), "the last run finishes the feed");
        assert!(
            kills_mid_run >= KILLS / 2,
            "most kills landed mid-harvest ({kills_mid_run})"
        );
        let resumed = dump(&killed).await;
        assert_eq!(resumed.cursors, expected.cursors, "{backend}: same cursor");
        assert_eq!(
            resumed.items, expected.items,
            "{backend}: same items, modified and deletes"
        );
        assert_eq!(
            resumed.opportunities, expected.opportunities,
            "{backend}: same opportunities"
        );
        println!("{backend}: {kills_mid_run} of {KILLS} kills landed mid-harvest");
        if backend == "postgres" {
            drop_databases(&[&reference, &killed]).await;
        }
    }
}
