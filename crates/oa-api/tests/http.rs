//! The API over HTTP on a seeded SQLite store: results and distances checked against
//! hand-computed answers, paging by `next` without gaps or repeats, problem+json errors.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use oa_store::{DiscoveredFeed, SqliteStore, Store};
use serde_json::Value;
use tower::ServiceExt;

mod support;

const FEED: &str = "https://publisher.example/feeds/events";
const LAT: f64 = 53.759;
const LNG: f64 = -2.699;
/// One hundredth of a degree of latitude on the mean Earth (R = 6371.0088 km).
const KM_PER_CENTIDEGREE: f64 = 1.111_950_8;

/// (id, name, latitude offset in centidegrees, start day in January 2030, status, activity)
const EVENTS: [(&str, &str, f64, u32, &str, &str); 7] = [
    (
        "e1",
        "Walking Football",
        3.0,
        8,
        "Scheduled",
        "Walking Football",
    ),
    ("e2", "Chair Yoga", 1.0, 10, "Scheduled", "Yoga"),
    ("e3", "Health Walk", 4.0, 6, "Scheduled", "Walking"),
    ("e4", "Tai Chi", 2.0, 12, "Scheduled", "Tai Chi"),
    ("e5", "Too Far Swim", 5.0, 7, "Scheduled", "Swimming"),
    ("e6", "Cancelled Bowls", 0.5, 9, "EventCancelled", "Bowls"),
    ("e7", "Later Yoga", 1.5, 25, "Scheduled", "Yoga"),
];

async fn app() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("api.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("store"));
    let feed = DiscoveredFeed {
        url: FEED.into(),
        kind: Some("Event".into()),
        publisher: Some("Preston Active (test)".into()),
        dataset_site: None,
    };
    let items: Vec<String> = EVENTS
        .iter()
        .enumerate()
        .map(|(n, (id, name, offset, day, status, activity))| {
            let lat = LAT + offset / 100.0;
            format!(
                r#"{{"id":"{id}","kind":"Event","state":"updated","modified":{m},"data":{{"@type":"Event","@id":"https://publisher.example/events/{id}","name":"{name}","description":"<p>Friendly group &amp; all abilities welcome.</p>","url":"{url}","startDate":"2030-01-{day:02}T10:00:00Z","duration":"PT1H","eventStatus":"https://schema.org/{status}","activity":[{{"prefLabel":"{activity}"}}],"location":{{"name":"Venue {id}","geo":{{"latitude":{lat},"longitude":{LNG}}}}}}}}}"#,
                m = n + 1,
                // A hostile booking link on one event: the finder must not make it clickable.
                url = if *id == "e3" { "javascript:alert(1)".to_owned() } else { format!("https://publisher.example/book/{id}") }
            )
        })
        .collect();
    let next = format!("{FEED}?afterChangeNumber=7");
    support::apply_items(store.as_ref(), feed, &items, &next).await;
    (oa_api::router(store), dir)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, Value) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        content_type,
        serde_json::from_slice(&bytes).expect("json"),
    )
}

/// Every page from `uri` on, following `next`.
async fn all_pages(app: &axum::Router, uri: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut uri) = (Vec::new(), 0, Some(uri.to_owned()));
    while let Some(next) = uri {
        let (status, _, body) = get(app, &next).await;
        assert_eq!(status, StatusCode::OK, "{next}: {body}");
        pages += 1;
        items.extend(body["items"].as_array().expect("items").iter().cloned());
        uri = body["next"].as_str().map(str::to_owned);
    }
    (items, pages)
}

fn names(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|i| i["name"].as_str().expect("name"))
        .collect()
}

const WINDOW: &str = "lat=53.759&lng=-2.699&from=2030-01-01&to=2030-01-20";

#[tokio::test]
async fn sessions_are_soonest_first_within_radius_and_window_paged_without_gaps() {
    let (app, _dir) = app().await;
    let (items, pages) = all_pages(&app, &format!("/v1/sessions?{WINDOW}&limit=2")).await;
    // Radius 5 km keeps offsets up to 4 centidegrees (4.448 km) and drops 5 (5.560 km);
    // the cancelled one and the one after the window are never returned.
    assert_eq!(
        names(&items),
        ["Health Walk", "Walking Football", "Chair Yoga", "Tai Chi"]
    );
    assert_eq!(pages, 2, "two full pages; the second says there is no more");
    let distances: Vec<f64> = items
        .iter()
        .map(|i| i["distance_km"].as_f64().expect("km"))
        .collect();
    let expected: Vec<f64> = [4.0, 3.0, 1.0, 2.0]
        .iter()
        .map(|c| (c * KM_PER_CENTIDEGREE * 10.0).round() / 10.0)
        .collect();
    assert_eq!(distances, expected);
    assert_eq!(items[0]["source"]["feed_url"], FEED);
    assert_eq!(items[0]["source"]["publisher"], "Preston Active (test)");
    assert_eq!(items[0]["start"], "2030-01-06T10:00:00Z");

    let (nearest, _) = all_pages(
        &app,
        &format!("/v1/sessions?{WINDOW}&sort=distance&limit=3"),
    )
    .await;
    assert_eq!(
        names(&nearest),
        ["Chair Yoga", "Tai Chi", "Walking Football", "Health Walk"]
    );

    let (wider, _) = all_pages(&app, &format!("/v1/sessions?{WINDOW}&radius_km=5.6")).await;
    assert!(
        names(&wider).contains(&"Too Far Swim"),
        "5.560 km is inside 5.6 km"
    );
    let (edge, _) = all_pages(&app, &format!("/v1/sessions?{WINDOW}&radius_km=5.55")).await;
    assert!(
        !names(&edge).contains(&"Too Far Swim"),
        "5.560 km is outside 5.55 km"
    );
}

#[tokio::test]
async fn activity_matches_a_concept_with_everything_beneath_it_by_id_or_label() {
    let (app, _dir) = app().await;
    let window = "lat=53.759&lng=-2.699&from=2030-01-01&to=2030-01-31";
    let (by_label, _) = all_pages(&app, &format!("/v1/sessions?{window}&activity=yoga")).await;
    assert_eq!(names(&by_label), ["Chair Yoga", "Later Yoga"]);
    // Published by label only: matched to the list, so its concept id finds it.
    let tai_chi =
        "https%3A%2F%2Fopenactive.io%2Factivity-list%23c16df6ed-a4a0-4275-a8c3-1c8cff56856f";
    let (by_id, _) = all_pages(&app, &format!("/v1/sessions?{window}&activity={tai_chi}")).await;
    assert_eq!(names(&by_id), ["Tai Chi"]);
    let (broader, _) = all_pages(&app, &format!("/v1/sessions?{window}&activity=football")).await;
    assert_eq!(
        names(&broader),
        ["Walking Football"],
        "Football includes Walking Football"
    );
}

#[tokio::test]
async fn a_session_comes_with_its_source_item_and_unknown_ids_are_404() {
    let (app, _dir) = app().await;
    let (_, _, list) = get(&app, &format!("/v1/sessions?{WINDOW}&activity=Tai%20Chi")).await;
    let id = list["items"][0]["id"].as_str().expect("id").to_owned();
    let (status, _, detail) = get(&app, &format!("/v1/sessions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["name"], "Tai Chi");
    assert_eq!(detail["source"]["item_id"], "e4");
    assert_eq!(
        detail["source"]["item"]["@id"],
        "https://publisher.example/events/e4"
    );

    let (status, content_type, problem) = get(&app, "/v1/sessions/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["status"], 404);
}

#[tokio::test]
async fn bad_parameters_answer_400_problem_json_naming_the_parameter() {
    let (app, _dir) = app().await;
    for (query, parameter, detail) in [
        ("lat=95&lng=-2.7", "lat", "95 is outside -90..90"),
        (
            "lat=53.7&lng=-2.7&radius_km=80",
            "radius_km",
            "80 is not in (0, 50] km",
        ),
        ("lat=53.7&lng=-2.7&cursor=bm9wZQ", "cursor", "malformed"),
        ("lat=53.7&lng=-2.7&limit=0", "limit", "not a whole number"),
        (
            "lat=53.7&lng=-2.7&walkable=yes",
            "walkable",
            "unknown parameter",
        ),
    ] {
        let (status, content_type, problem) = get(&app, &format!("/v1/sessions?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(content_type, "application/problem+json", "{query}");
        assert_eq!(problem["parameter"], parameter, "{query}");
        let text = problem["detail"].as_str().expect("detail");
        assert!(text.contains(detail), "{query}: {text}");
    }
    let (_, _, first) = get(&app, &format!("/v1/sessions?{WINDOW}&limit=1")).await;
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let (status, _, problem) = get(
        &app,
        &format!("/v1/sessions?{WINDOW}&sort=distance&cursor={cursor}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["parameter"], "cursor");
}

#[tokio::test]
async fn metrics_count_result_documents_from_memory_and_from_the_store() {
    let (app, _dir) = app().await;
    let path = format!("/v1/sessions?{WINDOW}&limit=2");
    let (_, _, first) = get(&app, &path).await;
    let shown = first["items"].as_array().map_or(0, Vec::len);
    assert_eq!(shown, 2, "{first}");
    let (_, _, again) = get(&app, &path).await;
    assert_eq!(again["items"], first["items"]);
    let (_, metrics) = page(&app, "/metrics").await;
    let count = |from: &str| {
        let line = format!("oa_search_documents_read_total{{from=\"{from}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .and_then(|n| n.parse::<usize>().ok())
    };
    assert_eq!(
        (count("store"), count("memory")),
        (Some(2), Some(2)),
        "{metrics}"
    );
    assert!(
        metrics.contains("oa_search_documents_cached 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn feeds_and_health_report_the_harvest() {
    let (app, _dir) = app().await;
    let (status, _, body) = get(&app, "/v1/feeds").await;
    assert_eq!(status, StatusCode::OK);
    let feed = &body["feeds"][0];
    assert_eq!(feed["url"], FEED);
    assert_eq!(feed["items_stored"], 7);
    assert_eq!(feed["cursor"], format!("{FEED}?afterChangeNumber=7"));
    assert_eq!(feed["publisher"], "Preston Active (test)");
    let (status, metrics) = page(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.contains("oa_feeds{state=\"ok\"} 1"), "{metrics}");
    assert!(metrics.contains("oa_items_stored 7"), "{metrics}");
    let (status, _, health) = get(&app, "/health").await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, content_type, _) = get(&app, "/v2/nothing").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
}

#[tokio::test]
async fn feeds_count_data_quality_problems_and_list_them_paged() {
    let (app, _dir) = app().await;
    let (_, _, body) = get(&app, "/v1/feeds").await;
    let feed = &body["feeds"][0];
    assert_eq!(feed["problems"]["missing_organizer_contact"], 7);
    assert_eq!(
        feed["problems"]["html_in_text"], 7,
        "every description is <p>...</p>"
    );
    let id = feed["id"].as_i64().expect("id");

    let mut seen = Vec::new();
    let mut uri = format!("/v1/feeds/{id}/problems?limit=5");
    loop {
        let (status, _, page) = get(&app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().expect("items") {
            seen.push(format!("{}/{}", item["item_id"], item["code"]));
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/v1/feeds/{id}/problems?limit=5&cursor={cursor}"),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(
        (seen.len(), unique.len()),
        (14, 14),
        "every problem once: {seen:?}"
    );

    let (status, _, problem) = get(&app, &format!("/v1/feeds/{id}/problems?limit=0")).await;
    assert_eq!(
        (status, problem["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
    let (status, _, _) = get(&app, "/v1/feeds/999/problems").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, about) = get(&app, "/about").await;
    assert_eq!(status, StatusCode::OK);
    assert!(about.to_string().contains("Contains Royal Mail data"));
}

async fn count(app: &axum::Router, extra: &str) -> (usize, serde_json::Value) {
    let (status, _, body) = get(app, &format!("/v1/sessions?{WINDOW}&limit=1{extra}")).await;
    assert_eq!(status, StatusCode::OK, "{extra}: {body}");
    (body["total"].as_u64().expect("total") as usize, body)
}

#[tokio::test]
async fn every_filter_narrows_the_results_and_is_echoed_back() {
    let (app, _dir) = app().await;
    let (all, body) = count(&app, "").await;
    assert_eq!(all, 4, "the total counts every page");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["filters"]["centre"]["precision"], "exact");
    assert_eq!(body["filters"]["radius_km"], 5.0);

    // 6 January 2030 is a Sunday; every session starts at 10:00 UK time.
    assert_eq!(count(&app, "&days=sun").await.0, 1);
    assert_eq!(
        count(&app, "&days=mon,tue").await.0,
        1,
        "Walking Football, Tuesday 8th"
    );
    assert_eq!(count(&app, "&time_of_day=morning").await.0, 4);
    assert_eq!(count(&app, "&time_of_day=afternoon,evening").await.0, 0);
    assert_eq!(count(&app, "&tags=social,beginner_friendly").await.0, 4);
    assert_eq!(count(&app, "&not_tags=social").await.0, 0);
    assert_eq!(
        count(&app, "&max_price=3").await.0,
        0,
        "no published price: excluded"
    );
    assert_eq!(
        count(&app, "&max_price=3&include_unknown_price=true")
            .await
            .0,
        4
    );
    assert_eq!(count(&app, "&kind=course").await.0, 0);
    assert_eq!(count(&app, "&kind=event").await.0, 4);
    assert_eq!(count(&app, "&q=tai%20chi").await.0, 1);
    assert_eq!(
        count(&app, "&activity=yoga&activity=walking").await.0,
        2,
        "repeatable: any of"
    );

    let (with_pathway, body) = count(&app, "&pathway=loneliness").await;
    assert_eq!(with_pathway, 4);
    assert_eq!(body["filters"]["tags"], serde_json::json!(["social"]));
    assert_eq!(body["filters"]["pathway"], "loneliness");

    let (groups, grouped) = count(&app, "&group=series&group_size=2").await;
    assert_eq!(groups, 4, "standalone events are each their own group");
    assert_eq!(
        grouped["items"][0]["occurrences"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(grouped["filters"]["group_size"], 2);

    let (_, explained) = count(&app, "&explain=true").await;
    assert!(
        explained["items"][0]["tags"][0]["reasons"].is_array(),
        "{explained}"
    );
    // The store keeps tag names; the API works out each reason, shown as an object.
    let reason = &explained["items"][0]["tags"][0]["reasons"][0];
    assert!(
        reason["evidence"].is_string() && reason["rule"].is_string(),
        "{explained}"
    );
}

#[tokio::test]
async fn a_postcode_centre_and_an_unknown_postcode() {
    let (app, _dir) = app().await;
    let (status, _, body) = get(
        &app,
        "/v1/sessions?postcode=PR1%202XX&radius_miles=3&from=2030-01-01&to=2030-01-20",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["filters"]["centre"]["postcode"], "PR1 2XX");
    assert_eq!(body["filters"]["centre"]["precision"], "sector");
    let (status, content_type, problem) = get(&app, "/v1/sessions?postcode=ZZ9%209ZZ").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
    assert_eq!(problem["parameter"], "postcode");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("ZZ9 9ZZ"))
    );
    let (status, _, pathways) = get(&app, "/v1/pathways").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        pathways["pathways"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["name"] == "low_mood"))
    );
}

async fn page(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    support::get_text(app, uri).await
}

#[tokio::test]
async fn the_finder_page_searches_with_a_plain_form_and_shows_readable_cards() {
    let (app, _dir) = app().await;
    let (status, empty) = page(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(empty.contains("<form method=\"get\" action=\"/\""));
    assert!(
        empty.contains("<label for=\"postcode\">Postcode</label>"),
        "every input is labelled"
    );
    assert!(!empty.contains("session found") && !empty.contains("sessions found"));

    let (status, found) = page(
        &app,
        "/?postcode=pr1+2xx&radius_miles=5&days=sun&days=tue&tags=social&from=2030-01-01&to=2030-01-20",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert!(found.contains("2 sessions found"), "{found}");
    assert!(found.contains("<h3>Health Walk</h3>") && found.contains("<h3>Walking Football</h3>"));
    assert!(found.contains("Sun 6 Jan, 10:00–11:00"), "UK local time");
    assert!(
        found.contains("Friendly group &amp; all abilities welcome."),
        "HTML stripped, then escaped"
    );
    assert!(found.contains("Sociable: a chance to chat and meet people"));
    assert!(
        found.contains("(activity: Walking)"),
        "why the tag is there: {found}"
    );
    assert!(
        found.contains("(the listing says “all abilities”)"),
        "why the tag is there"
    );
    assert!(
        found.contains("value=\"pr1 2xx\""),
        "the form keeps what was typed"
    );
    assert!(found.contains("@media print"));
    assert!(!found.contains("javascript:"), "only web links are linked");
    assert!(
        found.contains("<a href=\"https://publisher.example/book/e1\">"),
        "{found}"
    );

    let (status, unknown) = page(&app, "/?postcode=ZZ9+9ZZ").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(unknown.contains("role=\"alert\"") && unknown.contains("ZZ9 9ZZ"));
    let (status, bad) = page(&app, "/?postcode=PR1+2XX&max_price=cheap").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad.contains("Cost: &quot;cheap&quot; is not a number"),
        "{bad}"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_parameter_and_docs_render() {
    let (app, _dir) = app().await;
    let (status, _, spec) = get(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        spec["openapi"]
    );
    let paths: std::collections::BTreeSet<&str> = spec["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let documented: std::collections::BTreeSet<&str> =
        oa_api::openapi::DOCUMENTED.iter().copied().collect();
    assert_eq!(
        paths, documented,
        "the document lists exactly the API's routes"
    );
    for path in &documented {
        let uri = path.replace("{id}", "1");
        let (status, _) = page(&app, &uri).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{uri} is served");
    }
    let documented_params: Vec<&str> = spec["paths"]["/v1/sessions"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for known in oa_api::params::KNOWN {
        assert!(documented_params.contains(known), "`{known}` is documented");
    }
    assert_eq!(
        documented_params.len(),
        oa_api::params::KNOWN.len(),
        "and nothing else"
    );
    let problem = &spec["components"]["schemas"]["ProblemDoc"]["properties"];
    assert!(
        problem.get("type").is_some() && problem.get("errors").is_some(),
        "{problem}"
    );

    let (status, docs) = page(&app, "/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        docs.contains("oa-aggregator"),
        "the reference page embeds the document"
    );
}
