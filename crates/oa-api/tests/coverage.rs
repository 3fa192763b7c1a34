//! Coverage over HTTP: sessions assigned to the ICS's districts by point-in-polygon, one
//! outside the ICS excluded, and each small area's distance to the nearest session, as JSON,
//! CSV (Excel: BOM) and GeoJSON.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use oa_store::{DiscoveredFeed, SqliteStore, Store};
use serde_json::Value;
use tower::ServiceExt;

mod support;

const FEED: &str = "https://publisher.example/feeds/events";
/// (id, name, lat, lng, days ahead, description)
const EVENTS: [(&str, &str, f64, f64, i64, &str); 3] = [
    (
        "p",
        "Preston Walk",
        53.7590,
        -2.7035,
        2,
        "Friendly group, tea after.",
    ),
    ("k", "Kendal Yoga", 54.3280, -2.7460, 10, "Advanced class."),
    (
        "m",
        "Manchester Run",
        53.4808,
        -2.2426,
        3,
        "Outside the ICS.",
    ),
];

async fn app() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("store"));
    (app_on(store).await, dir)
}

/// The router over `store`, seeded with the three events.
async fn app_on(store: Arc<dyn Store>) -> axum::Router {
    oa_api::router_with(seeded(store).await)
}

/// The API state over `store`, seeded with the three events.
async fn seeded(store: Arc<dyn Store>) -> oa_api::AppState {
    let feed = DiscoveredFeed {
        url: FEED.into(),
        kind: None,
        publisher: Some("Test".into()),
        dataset_site: None,
    };
    let items: Vec<String> = EVENTS
        .iter()
        .enumerate()
        .map(|(n, (id, name, lat, lng, days, description))| {
            let start = (chrono::Utc::now() + chrono::Duration::days(*days)).to_rfc3339();
            format!(
                r#"{{"id":"{id}","kind":"Event","state":"updated","modified":{m},"data":{{"@type":"Event","name":"{name}","description":"{description}","startDate":"{start}","organizer":{{"name":"Org {id}"}},"activity":[{{"prefLabel":"Hatha Yoga"}}],"location":{{"geo":{{"latitude":{lat},"longitude":{lng}}}}}}}}}"#,
                m = n + 1
            )
        })
        .collect();
    support::apply_items(store.as_ref(), feed, &items, &format!("{FEED}?n=3")).await;
    oa_api::AppState::new(store)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, String) {
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
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    (
        status,
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("json")
}

#[tokio::test]
async fn coverage_counts_sessions_per_district_and_excludes_those_outside_the_ics() {
    let (app, _dir) = app().await;
    let (status, _, body) = get(&app, "/v1/coverage").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = json(&body);
    assert_eq!(body["area"]["code"], "E54000048");
    assert_eq!(
        body["sessions_next_28_days"], 2,
        "Manchester is outside the ICS"
    );
    assert_eq!(body["sessions_next_7_days"], 1);
    let districts: Vec<(&str, u64)> = body["districts"]
        .as_array()
        .expect("districts")
        .iter()
        .map(|d| {
            (
                d["district"].as_str().unwrap_or_default(),
                d["sessions_next_28_days"].as_u64().unwrap_or(0),
            )
        })
        .filter(|(_, sessions)| *sessions > 0)
        .collect();
    assert_eq!(districts, [("Preston", 1), ("South Lakeland", 1)]);
    // Districts without sessions are listed too: they are the gaps.
    let all_districts = body["districts"].as_array().map_or(0, Vec::len);
    assert!(all_districts > 10, "{all_districts} districts");
    assert!(body["residents"].is_null(), "no populations configured");
    assert_eq!(body["by_tag"]["social"], 1);
    // Counted at the Activity List's top level: Hatha Yoga under what is above Yoga.
    let by_activity: Vec<(&str, u64)> = body["by_activity"]
        .as_array()
        .expect("by_activity")
        .iter()
        .map(|a| {
            (
                a["activity"].as_str().unwrap_or_default(),
                a["sessions"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let list = oa_normalise::ActivityList::shipped();
    let hatha_yoga = list.resolve("Hatha Yoga").expect("listed");
    let expected: Vec<(&str, u64)> = list
        .top_level(&hatha_yoga.id)
        .iter()
        .map(|c| (c.pref_label.as_str(), 2))
        .collect();
    assert!(
        !expected.is_empty()
            && !expected
                .iter()
                .any(|(l, _)| *l == "Hatha Yoga" || *l == "Yoga")
    );
    assert_eq!(by_activity, expected);
    assert_eq!(
        body["providers_publishing"].as_array().map(Vec::len),
        Some(2)
    );

    let (status, content_type, csv) = get(&app, "/v1/coverage?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    assert!(
        csv.starts_with("\u{feff}district,sessions_next_7_days"),
        "a BOM so Excel reads UTF-8"
    );
    assert!(csv.contains("\r\nPreston,1,1,1,0,0,,\r\n"), "{csv}");

    // The same table for a client that asks by Accept header; `format` wins over it.
    let by_header = app
        .clone()
        .oneshot(
            Request::get("/v1/coverage")
                .header("accept", "text/csv;q=0.9")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert!(
        by_header.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/csv"))
    );
    let geojson = app
        .clone()
        .oneshot(
            Request::get("/v1/coverage/access?format=json")
                .header("accept", "application/geo+json")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert!(
        geojson.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("application/json")),
        "the format parameter wins over Accept"
    );
    let geojson = app
        .clone()
        .oneshot(
            Request::get("/v1/coverage/access")
                .header("accept", "application/geo+json, application/json;q=0.5")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let bytes = axum::body::to_bytes(geojson.into_body(), 1 << 26)
        .await
        .expect("body");
    assert_eq!(
        json(&String::from_utf8_lossy(&bytes))["type"],
        "FeatureCollection"
    );

    let (status, _, problem) = get(&app, "/v1/coverage?area=atlantis").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json(&problem)["detail"]
            .as_str()
            .is_some_and(|d| d.contains("atlantis"))
    );
}

#[tokio::test]
async fn with_populations_configured_sessions_are_counted_per_10000_residents() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let mut state = seeded(Arc::new(SqliteStore::connect(&url).await.expect("store"))).await;
    let file = |name: &str| {
        let path = format!("../../fixtures/geo/{name}");
        (
            path.clone(),
            std::fs::read_to_string(&path).expect("fixture"),
        )
    };
    let (boundary, small_areas) = (
        file("icb-lancashire-south-cumbria.geojson"),
        file("lsoa-lancashire-south-cumbria.geojson"),
    );
    let mut ics = oa_geo::Ics::from_geojson(
        "lancashire-south-cumbria",
        (&boundary.0, &boundary.1),
        (&small_areas.0, &small_areas.1),
    )
    .expect("area");
    // 1,600 residents in every small area.
    let csv: String = std::iter::once("code,population".to_owned())
        .chain(ics.small_areas.iter().map(|r| format!("{},1600", r.code)))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(ics.read_populations("pop.csv", &csv).expect("reads"), 0);
    let preston_areas = ics
        .small_areas
        .iter()
        .filter(|r| oa_geo::district_of(r) == "Preston")
        .count() as u64;
    let total_areas = ics.small_areas.len() as u64;
    state.areas = Arc::new(vec![Box::leak(Box::new(ics))]);
    let app = oa_api::router_with(state);

    let (status, _, body) = get(&app, "/v1/coverage").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = json(&body);
    let preston = body["districts"]
        .as_array()
        .expect("districts")
        .iter()
        .find(|d| d["district"] == "Preston")
        .expect("Preston")
        .clone();
    assert_eq!(preston["residents"], preston_areas * 1600);
    let expected = (10_000.0 / (preston_areas * 1600) as f64 * 10.0).round() / 10.0;
    assert_eq!(preston["sessions_per_10k_residents"], expected);
    assert_eq!(body["residents"], total_areas * 1600);

    let (_, _, csv) = get(&app, "/v1/coverage?format=csv").await;
    let line = csv
        .lines()
        .find(|l| l.starts_with("Preston,"))
        .expect("Preston row");
    assert_eq!(
        line,
        format!("Preston,1,1,1,0,0,{},{expected}", preston_areas * 1600)
    );
}

#[tokio::test]
async fn access_gives_every_small_area_its_distance_to_the_nearest_suitable_session() {
    let (app, _dir) = app().await;
    let (status, _, body) = get(&app, "/v1/coverage/access").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = json(&body);
    let areas = body["small_areas"].as_array().expect("areas");
    assert_eq!(areas.len(), 1058);
    let nearest = |code: &str| {
        areas
            .iter()
            .find(|a| a["code"] == code)
            .and_then(|a| a["nearest_km"].as_f64())
            .expect(code)
    };
    // Every small area has a distance; the LSOA around the Preston session is within 2 km.
    assert!(areas.iter().all(|a| a["nearest_km"].is_number()));
    let preston_centre = areas
        .iter()
        .filter(|a| a["district"] == "Preston")
        .filter_map(|a| a["nearest_km"].as_f64())
        .fold(f64::INFINITY, f64::min);
    assert!(preston_centre < 2.0, "{preston_centre}");
    let barrow = areas
        .iter()
        .find(|a| a["district"] == "Barrow-in-Furness")
        .expect("Barrow");
    assert!(
        nearest(barrow["code"].as_str().unwrap_or_default()) > 20.0,
        "Barrow is far from Kendal and Preston"
    );
    let share = body["summary"]["share_beyond_3_miles"]
        .as_f64()
        .expect("share");
    assert!(share > 0.5 && share < 1.0, "{share}");

    // Only social sessions: Kendal's advanced yoga no longer counts.
    let (_, _, social) = get(&app, "/v1/coverage/access?tags=social").await;
    assert_eq!(json(&social)["sessions"], 1);

    let (_, content_type, csv) = get(&app, "/v1/coverage/access?format=csv").await;
    assert!(content_type.starts_with("text/csv"));
    assert_eq!(
        csv.lines().count(),
        1059,
        "a header and one row per small area"
    );
    let (_, content_type, geojson) = get(&app, "/v1/coverage/access?format=geojson").await;
    assert_eq!(content_type, "application/geo+json");
    let geojson = json(&geojson);
    assert_eq!(geojson["features"].as_array().map(Vec::len), Some(1058));
    assert!(geojson["features"][0]["properties"]["band"].is_string());
    assert_eq!(geojson["features"][0]["geometry"]["type"], "MultiPolygon");
}

#[tokio::test]
async fn the_coverage_page_draws_the_area_offline_with_text_alternatives() {
    let (app, _dir) = app().await;
    let (status, content_type, html) = get(&app, "/coverage").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    assert!(
        html.contains("<strong>2</strong> sessions"),
        "the ICS's own sessions only"
    );
    assert_eq!(
        html.matches("<path ").count(),
        1058,
        "one shape per small area"
    );
    assert!(
        html.contains("<desc id=\"map-desc\">") && html.contains("As a table"),
        "text alternatives"
    );
    assert!(
        !html.contains("http://") && !html.contains("cdn"),
        "no external resources: works offline"
    );
    assert!(html.contains("<td>Preston</td>"));
    let (_, _, filtered) = get(&app, "/coverage?tags=social&activity=&max_price=").await;
    assert!(
        filtered.contains("<strong>1</strong> sessions"),
        "empty form fields are no filter"
    );
    assert!(
        filtered
            .contains("name=\"tags\" placeholder=\"social,beginner_friendly\" value=\"social\""),
        "the form keeps the filters asked for"
    );
}

#[tokio::test]
async fn known_providers_are_matched_to_organisers_and_a_managers_decision_wins() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("store"));
    let app = app_on(store.clone()).await;
    let provider = |name: &str, email: Option<&str>| oa_store::NewProvider {
        key: oa_normalise::providers::provider_key(name, None),
        name: name.into(),
        postcode: None,
        website: None,
        email: email.map(str::to_owned),
        kind: None,
        extra: "{}".into(),
    };
    store
        .import_providers(&[
            provider("Org P Ltd", None),
            provider("Lakes Rowing Club", Some("hi@lakes-rowing.example")),
        ])
        .await
        .expect("import");
    let (status, _, body) = get(&app, "/v1/coverage/providers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = json(&body);
    assert_eq!(
        (body["known"].as_u64(), body["publishing"].as_u64()),
        (Some(2), Some(1))
    );
    let org_p = body["providers"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "Org P Ltd"))
        .expect("Org P");
    assert_eq!(
        (org_p["status"].as_str(), org_p["method"].as_str()),
        (Some("publishing"), Some("name"))
    );
    let unmatched: Vec<&str> = body["unmatched_organizers"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(
        unmatched,
        ["Org k"],
        "Manchester's organiser is outside the ICS; Kendal's is unknown"
    );

    let (_, _, missing) = get(
        &app,
        "/v1/coverage/providers?status=not_publishing&format=csv",
    )
    .await;
    assert!(missing.starts_with("\u{feff}id,name,status"));
    assert!(
        missing.contains("Lakes Rowing Club,not_publishing,,,hi@lakes-rowing.example"),
        "{missing}"
    );

    let id = org_p["id"].as_i64().expect("id");
    store
        .set_provider_link(id, "Org p", false)
        .await
        .expect("unlink");
    store
        .set_provider_link(id, "Org k", true)
        .await
        .expect("link");
    let (_, _, after) = get(&app, "/v1/coverage/providers").await;
    let after = json(&after);
    let org_p = after["providers"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["id"] == id))
        .expect("Org P");
    assert_eq!(org_p["organizer"], "Org k");
    assert_eq!(org_p["method"], "confirmed by a manager");
    let (_, _, coverage) = get(&app, "/v1/coverage").await;
    assert_eq!(json(&coverage)["known_providers"]["publishing"], 1);
}

#[tokio::test]
async fn every_district_gets_the_areas_breakdown_with_known_providers_placed_by_postcode() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("store"));
    let app = app_on(store.clone()).await;
    let provider = |name: &str, postcode: Option<&str>| oa_store::NewProvider {
        key: oa_normalise::providers::provider_key(name, postcode),
        name: name.into(),
        postcode: postcode.map(str::to_owned),
        website: None,
        email: None,
        kind: None,
        extra: "{}".into(),
    };
    store
        .import_providers(&[
            // Preston; matches the organiser of the Preston walk by name.
            provider("Org P Ltd", Some("PR1 3PB")),
            // Kendal, in South Lakeland; publishes nothing.
            provider("Lakes Rowing Club", Some("LA9 5JE")),
            // No postcode: in the area's register, in no district.
            provider("Roaming Walkers", None),
        ])
        .await
        .expect("import");
    let (status, _, body) = get(&app, "/v1/coverage").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = json(&body);
    assert_eq!(
        (
            body["known_providers"]["known"].as_u64(),
            body["known_providers"]["publishing"].as_u64(),
            body["known_providers"]["organizers_matched"].as_u64(),
            body["known_providers"]["organizers_unmatched"].as_u64(),
        ),
        (Some(3), Some(1), Some(1), Some(1)),
        "Org p is matched, Org k is not"
    );
    let district = |name: &str| -> Value {
        body["districts"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["district"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} listed"))
    };
    let preston = district("Preston");
    let lakes = district("South Lakeland");
    assert_eq!(
        (
            preston["known_providers"].as_u64(),
            preston["known_providers_publishing"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            lakes["known_providers"].as_u64(),
            lakes["known_providers_publishing"].as_u64()
        ),
        (Some(1), Some(0))
    );
    // The same breakdown as the area's, for the district's own sessions.
    assert_eq!(preston["by_tag"]["social"], 1);
    assert!(lakes["by_tag"].get("social").is_none(), "{lakes}");
    let preston_start = chrono::Utc::now() + chrono::Duration::days(2);
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][chrono::Datelike::weekday(
        &preston_start.with_timezone(&chrono_tz::Europe::London),
    )
    .num_days_from_monday()
        as usize];
    assert_eq!(preston["by_day"][day], 1, "{preston}");
    assert_eq!(
        preston["by_time_of_day"]
            .as_object()
            .map(|t| t.values().filter_map(Value::as_u64).sum::<u64>()),
        Some(1)
    );
    assert_eq!(
        preston["by_activity"].as_array().map(Vec::len),
        Some(body["by_activity"].as_array().map_or(0, Vec::len))
    );
    let quiet = district("Blackpool");
    assert_eq!(quiet["sessions_next_28_days"], 0);
    assert_eq!(
        quiet["by_tag"],
        serde_json::json!({}),
        "a gap is listed with empty counts"
    );

    let (_, _, csv) = get(&app, "/v1/coverage?format=csv").await;
    assert!(
        csv.contains("known_providers,known_providers_publishing,residents"),
        "{csv}"
    );
    assert!(csv.contains("\r\nPreston,1,1,1,1,1,,\r\n"), "{csv}");
    assert!(csv.contains("\r\nSouth Lakeland,0,1,1,1,0,,\r\n"), "{csv}");
}
