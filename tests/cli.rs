//! The binary as users run it: `harvest --once` with its summary and exit code, and
//! `serve --demo` answering searches, then shutting down cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_oa-aggregator");

async fn publisher() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let last = format!("{base}/feed?afterChangeNumber=1");
    let app = axum::Router::new().route(
        "/feed",
        axum::routing::get(move |axum::extract::RawQuery(query): axum::extract::RawQuery| {
            let last = last.clone();
            async move {
                let items = if query.is_none() {
                    r#"{"id":"e1","kind":"Event","state":"updated","modified":1,"data":{"@type":"Event","name":"Walk","startDate":"2030-01-07T10:00:00Z","location":{"geo":{"latitude":53.76,"longitude":-2.7}}}}"#
                } else {
                    ""
                };
                format!(r#"{{"next":"{last}","items":[{items}],"license":"L"}}"#)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn harvest_once_prints_a_summary_and_exits_non_zero_when_a_feed_failed() {
    let base = publisher().await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("area.toml");
    std::fs::write(
        &config,
        format!("[[sources]]\nfeed = \"{base}/feed\"\n[[sources]]\nfeed = \"{base}/missing\"\n"),
    )
    .expect("config");
    let db = format!("sqlite://{}", dir.path().join("h.db").display());
    let run = |config: &std::path::Path| {
        let config = config.to_owned();
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(BIN)
                .args(["harvest", "--once", "--config"])
                .arg(config)
                .env("OA__DATABASE__URL", db)
                .output()
                .expect("run")
        })
    };
    let output = run(&config).await.expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a 404 feed fails the run: {stdout}"
    );
    assert!(
        stdout.contains(&format!("ok      {base}/feed  1 pages, 1 items")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("FAILED  {base}/missing")),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 feeds from 2 sources: 1 caught up, 1 failed"),
        "{stdout}"
    );

    std::fs::write(&config, format!("[[sources]]\nfeed = \"{base}/feed\"\n")).expect("config");
    let output = run(&config).await.expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("ok      {base}/feed  0 pages, 0 items")),
        "resumed at the end: {stdout}"
    );
}

#[test]
fn a_bad_config_line_is_named_and_exits_2() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[[sources]]\nfeed = \"https://a.example/\"\ndataset_site = \"https://b.example/\"\n",
    )
    .expect("write");
    let output = Command::new(BIN)
        .args(["harvest", "--once", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sources[0]: has dataset_site and feed; give exactly one"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_demo_answers_searches_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        probe.local_addr().expect("addr").port()
    };
    let mut child = Command::new(BIN)
        .args(["serve", "--demo"])
        .env("OA__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "OA__DEMO__DATABASE_URL",
            format!("sqlite://{}", dir.path().join("demo.db").display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let seed: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/demo/seed.json")).expect("seed");
    let venue = &seed["publishers"][0]["venues"][0];
    let url = format!(
        "http://127.0.0.1:{port}/v1/sessions?lat={}&lng={}&radius_km=2&to={}",
        venue["lat"],
        venue["lng"],
        (chrono::Utc::now() + chrono::Duration::days(28)).format("%Y-%m-%d")
    );
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut found = 0;
    while Instant::now() < deadline {
        if let Ok(response) = client.get(&url).send().await
            && let Ok(bytes) = response.bytes().await
            && let Ok(body) = serde_json::from_slice::<serde_json::Value>(&bytes)
        {
            found = body["items"].as_array().map_or(0, Vec::len);
            if found > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found > 0, "the demo serves sessions near its first venue");
    let feeds = client
        .get(format!("http://127.0.0.1:{port}/v1/feeds"))
        .send()
        .await
        .expect("feeds")
        .bytes()
        .await
        .expect("body");
    let feeds: serde_json::Value = serde_json::from_slice(&feeds).expect("json");
    assert!(feeds["feeds"].as_array().is_some_and(|f| f.len() >= 2));
    // The demo register's publishers are each matched to their own organiser, although all
    // their websites are pages of one host.
    let publishers = seed["publishers"].as_array().map_or(0, Vec::len);
    let mut providers = serde_json::Value::Null;
    while Instant::now() < deadline {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/v1/coverage/providers"))
            .send()
            .await
            && let Ok(bytes) = response.bytes().await
            && let Ok(body) = serde_json::from_slice::<serde_json::Value>(&bytes)
        {
            providers = body;
            if providers["publishing"].as_u64() == Some(publishers as u64) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        providers["publishing"].as_u64(),
        Some(publishers as u64),
        "{providers}"
    );
    for provider in providers["providers"].as_array().into_iter().flatten() {
        if provider["status"] == "publishing" {
            assert_eq!(provider["organizer"], provider["name"], "{provider}");
        }
    }

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let stopped = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "a clean exit after SIGTERM: {status}");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "stops within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn imported_postcodes_locate_sessions_that_have_no_geo() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let last = format!("{base}/feed?afterChangeNumber=1");
    let app = axum::Router::new().route(
        "/feed",
        axum::routing::get(move |axum::extract::RawQuery(query): axum::extract::RawQuery| {
            let last = last.clone();
            async move {
                let items = if query.is_none() {
                    r#"{"id":"e1","kind":"Event","state":"updated","modified":1,"data":{"@type":"Event","name":"Postcode only","startDate":"2030-01-07T10:00:00Z","location":{"name":"Hall","address":{"postalCode":"pr1 2xx"}}}}"#
                } else {
                    ""
                };
                format!(r#"{{"next":"{last}","items":[{items}],"license":"L"}}"#)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().expect("dir");
    let csv = dir.path().join("postcodes.csv");
    std::fs::write(
        &csv,
        "pcds,lat,long\nPR1 2XX,53.7001,-2.7002\nrubbish,1,2\n",
    )
    .expect("csv");
    let config = dir.path().join("area.toml");
    std::fs::write(&config, format!("[[sources]]\nfeed = \"{base}/feed\"\n")).expect("config");
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let run = move |args: Vec<String>| {
        let (db, config) = (db.clone(), config.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(BIN)
                .args(&args)
                .arg("--config")
                .arg(config)
                .env("OA__DATABASE__URL", db)
                .output()
                .expect("run")
        })
    };
    let import = run(vec![
        "import".into(),
        "postcodes".into(),
        csv.display().to_string(),
    ])
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&import.stdout);
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(import.status.success(), "{stderr}");
    assert!(stdout.contains("imported 1 postcodes"), "{stdout}");
    assert!(
        stderr.contains("line 3: \"rubbish\" is not a UK postcode"),
        "{stderr}"
    );
    let harvest = run(vec!["harvest".into(), "--once".into()])
        .await
        .expect("join");
    assert!(
        harvest.status.success(),
        "{}",
        String::from_utf8_lossy(&harvest.stdout)
    );

    let store =
        oa_store::SqliteStore::connect(&format!("sqlite://{}", dir.path().join("p.db").display()))
            .await
            .expect("store");
    let id = oa_model::opportunity_id(&format!("{base}/feed"), "e1", None);
    let detail = oa_store::Store::opportunity(&store, &id)
        .await
        .expect("stored");
    let location = detail.opportunity.location.expect("location");
    assert_eq!((location.lat, location.lng), (Some(53.7001), Some(-2.7002)));
    assert_eq!(location.precision, oa_model::GeoPrecision::Postcode);
    assert_eq!(location.address.postcode.as_deref(), Some("PR1 2XX"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renormalise_applies_an_areas_edited_tag_rules_to_stored_sessions() {
    let base = publisher().await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("area.toml");
    std::fs::write(&config, format!("[[sources]]\nfeed = \"{base}/feed\"\n")).expect("config");
    let db_path = dir.path().join("r.db");
    let db = format!("sqlite://{}", db_path.display());
    let run = |args: &[&str], tags_file: &str| {
        let output = Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("OA__DATABASE__URL", &db)
            .env("OA__NORMALISE__TAGS_FILE", tags_file)
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let base_clone = base.clone();
    let tags = move |db: &str| {
        let db = db.to_owned();
        let base = base_clone.clone();
        async move {
            let store = oa_store::SqliteStore::connect(&db).await.expect("store");
            let id = oa_model::opportunity_id(&format!("{base}/feed"), "e1", None);
            let detail = oa_store::Store::opportunity(&store, &id)
                .await
                .expect("stored");
            detail
                .opportunity
                .tags
                .iter()
                .map(|t| t.name.clone())
                .collect::<Vec<_>>()
        }
    };
    tokio::task::block_in_place(|| run(&["harvest", "--once"], ""));
    assert!(
        tags(&db).await.is_empty(),
        "\"Walk\" earns nothing from the shipped rules"
    );

    let area_rules = dir.path().join("area-tags.toml");
    std::fs::write(
        &area_rules,
        "low_cost_max = 3.0\nnegators = [\"not\"]\nnegation_window = 3\n[[tags]]\nname = \"social\"\nphrases = [\"walk\"]\n",
    )
    .expect("rules");
    let out =
        tokio::task::block_in_place(|| run(&["renormalise"], &area_rules.display().to_string()));
    assert!(
        out.contains("renormalised 1 items into 1 opportunities"),
        "{out}"
    );
    assert_eq!(tags(&db).await, ["social"], "the area's rule now applies");
}

#[test]
fn coverage_prints_the_areas_districts_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("c.db").display());
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("OA__DATABASE__URL", &db)
            .output()
            .expect("run")
    };
    let table = run(&["coverage"]);
    let stdout = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    assert!(
        stdout.starts_with("NHS Lancashire and South Cumbria Integrated Care Board"),
        "{stdout}"
    );
    assert!(
        stdout.contains("sessions in the next 7 days: 0, next 28 days: 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("known providers: 0 of 0 publishing"),
        "{stdout}"
    );
    let csv = run(&["coverage", "--format", "csv"]);
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("\u{feff}district,"));
    let unknown = run(&["coverage", "--area", "atlantis"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("\"atlantis\" is not an area"));
}

#[test]
fn providers_are_imported_without_duplicates_and_links_recorded() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let csv = dir.path().join("providers.csv");
    std::fs::write(
        &csv,
        "name,postcode,website\nAlpha Club,PR1 2XX,https://alpha.example\nBeta CIC,PR1 2XY,\n",
    )
    .expect("csv");
    let run = |args: &[&str]| {
        let output = Command::new(BIN)
            .args(args)
            .env("OA__DATABASE__URL", &db)
            .output()
            .expect("run");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let path = csv.display().to_string();
    let (code, out, _) = run(&["import", "providers", &path]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("imported 2 providers") && out.contains("(2 new, 0 updated"),
        "{out}"
    );
    let (_, again, _) = run(&["import", "providers", &path]);
    assert!(
        again.contains("(0 new, 2 updated"),
        "re-importing updates: {again}"
    );
    let (code, out, _) = run(&[
        "providers",
        "link",
        "--provider",
        "1",
        "--organizer",
        "Alpha Walking",
    ]);
    assert_eq!(code, Some(0));
    assert!(out.contains("\"Alpha Walking\" is provider 1"), "{out}");
    let (code, _, err) = run(&[
        "providers",
        "unlink",
        "--provider",
        "99",
        "--organizer",
        "x",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no known provider has id 99"), "{err}");
}
